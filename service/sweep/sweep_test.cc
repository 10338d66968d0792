// Sweep specifications: YAML parsing, validation with field-path errors, data-root checks,
// cartesian expansion, and the ready-made sweeps in examples/.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_split.h"
#include "service/sweep/expand.h"
#include "service/sweep/yaml_spec.h"
#include "testutil/assets.h"

namespace squeeze::sweep {
namespace {

namespace fs = std::filesystem;

// A data root with empty stand-ins for a model, its tokenizer and texts (validation only
// checks that paths exist inside the root).
std::string MakeRoot(const std::string& name) {
  const std::string root = testing::TempDir(name) + "/root";
  fs::create_directories(root + "/text");
  for (const char* f : {"m.bin", "tok.bin", "text/eval.txt", "text/calib.txt"})
    std::ofstream(root + "/" + f) << "x";
  return root;
}

v1::SweepSpec Parse(const std::string& yaml) {
  absl::StatusOr<v1::SweepSpec> s = ParseSweepYaml(yaml, "sweep.yaml");
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : v1::SweepSpec();
}

absl::StatusOr<ExpandedSweep> Expand(const std::string& root, const std::string& yaml) {
  return ExpandSweep(Parse(yaml), {.data_root = root});
}

std::vector<std::string> Lines(const absl::Status& s) {
  return absl::StrSplit(s.message(), '\n');
}

constexpr char kHead[] = R"(
model: m.bin
tokenizer: tok.bin
eval: {text: text/eval.txt, context: 64}
calibration: {text: text/calib.txt, samples: 4, context: 32}
)";

TEST(SweepTest, ListsExpandAsACartesianProductWithTheBaselineFirst) {
  const std::string root = MakeRoot("sweep-expand");
  absl::StatusOr<ExpandedSweep> e = Expand(root, std::string(kHead) + R"(
name: study
latency: {prompt: 8, generate: 4, repeats: 2}
configs:
  - precision: {format: [f16, bf16, fp8_e4m3]}
  - rtn: {bits: [8, 4], group: [32, 128], symmetric: [true, false]}
  - gptq: {bits: 4, group: 128}
  - nf4
  - pipeline: [{smoothquant: {alpha: [0.5, 0.8]}}, {kv_cache: {format: int8}}]
)");
  ASSERT_TRUE(e.ok()) << e.status();
  // baseline + 3 + 2*2*2 + 1 + 1 + 2
  ASSERT_EQ(e->configs.size(), 16u);
  EXPECT_TRUE(e->configs[0].empty());
  EXPECT_EQ(e->configs[1], std::vector<std::string>{"precision:format=f16"});
  EXPECT_EQ(e->configs[4][0], "rtn:bits=8,group=32,symmetric=true,embeddings=false");
  EXPECT_EQ(e->configs[11][0], "rtn:bits=4,group=128,symmetric=false,embeddings=false");
  EXPECT_EQ(e->configs[13], std::vector<std::string>{"nf4:embeddings=false"});
  EXPECT_EQ(e->configs[15],
            (std::vector<std::string>{"smoothquant:alpha=0.8", "kv_cache:format=int8"}));
  EXPECT_EQ(e->name, "study");
  EXPECT_EQ(e->targets, std::vector<std::string>{"cpu"});
  EXPECT_EQ(e->settings.model(), "m.bin");
  EXPECT_EQ(e->settings.eval_text(), "text/eval.txt");
  EXPECT_EQ(e->settings.context(), 64);
  EXPECT_EQ(e->settings.calibration_samples(), 4);
  EXPECT_EQ(e->settings.repeats(), 2);
  EXPECT_EQ(e->settings.warmup(), 1);              // default
  EXPECT_EQ(e->settings.context_curve(), "auto");  // default
  EXPECT_EQ(TechniqueLabel(e->configs[0]), "baseline");
  EXPECT_EQ(TechniqueLabel(e->configs[1]), "precision");
  EXPECT_EQ(TechniqueLabel(e->configs[15]), "pipeline");
}

TEST(SweepTest, EveryProblemIsListedByFieldPath) {
  const std::string root = MakeRoot("sweep-errors");
  absl::StatusOr<ExpandedSweep> e = Expand(root, R"(
model: m.bin
tokenizer: tok.bin
eval: {text: text/eval.txt, context: 1}
targets: [cpu, tpu]
configs:
  - precision: {format: f16}
  - nf4
  - frobnicate: {x: 1}
  - rtn: {bits: [4, 5], group: 32}
  - pipeline: [{precision: {format: f16}}, {rtn: {bitz: 4}}]
  - gptq: {bits: 4}
)");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
  const std::vector<std::string> lines = Lines(e.status());
  auto has = [&](const std::string& want) {
    for (const std::string& l : lines)
      if (l.find(want) != std::string::npos) return true;
    return false;
  };
  EXPECT_TRUE(has("configs[3].rtn.bits: 5 is not one of 2, 3, 4, 8")) << e.status();
  EXPECT_TRUE(has("configs[2]: unknown technique \"frobnicate\"")) << e.status();
  EXPECT_TRUE(has("configs[4].pipeline[1].rtn: unknown parameter \"bitz\" (valid: bits"))
      << e.status();
  EXPECT_TRUE(has("configs[5].gptq: needs calibration text: set calibration.text")) << e.status();
  EXPECT_TRUE(has("targets[1]: \"tpu\" is not one of cpu, cuda")) << e.status();
  EXPECT_TRUE(has("eval.context: 1 is not in 2..")) << e.status();
  // The error of bits=5 is listed once, not once per combination.
  int bits5 = 0;
  for (const std::string& l : lines) bits5 += l.find("rtn.bits: 5") != std::string::npos;
  EXPECT_EQ(bits5, 1) << e.status();
}

// latency.context_curve: a string or a list of contexts, handed to every job; a bad context is
// named with the field.
TEST(SweepTest, ContextCurveIsAStringOrAListOfContexts) {
  const std::string root = MakeRoot("sweep-curve");
  for (const auto& [given, want] : std::vector<std::pair<std::string, std::string>>{
           {"\"auto:256,1k\"", "auto:256,1k"}, {"none", "none"}, {"[256, 1k]", "256,1k"}}) {
    SCOPED_TRACE(given);
    absl::StatusOr<ExpandedSweep> e = Expand(
        root, std::string(kHead) + "latency: {context_curve: " + given + "}\nconfigs:\n  - mqa\n");
    ASSERT_TRUE(e.ok()) << e.status();
    EXPECT_EQ(e->settings.context_curve(), want);
  }
  absl::StatusOr<ExpandedSweep> bad =
      Expand(root, std::string(kHead) +
                       "latency: {context_curve: \"auto:256,lots\"}\n"
                       "configs:\n  - mqa\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("latency.context_curve: context \"lots\""),
            std::string::npos)
      << bad.status();
}

TEST(SweepTest, PathsMustExistInsideTheDataRoot) {
  const std::string root = MakeRoot("sweep-paths");
  const std::string outside = fs::path(root).parent_path().string() + "/outside.bin";
  std::ofstream(outside) << "x";
  fs::create_symlink(outside, root + "/link.bin");
  struct Case {
    std::string model, want;
  };
  for (const Case& c : std::vector<Case>{
           {"../outside.bin", "model: ../outside.bin is outside the data root"},
           {outside, "model: " + outside + " is outside the data root"},
           {"link.bin", "model: link.bin is outside the data root"},  // a symlink out
           {"missing.bin", "model: missing.bin: no such file or directory"},
           {root + "/m.bin", ""},  // absolute inside: fine
       }) {
    absl::StatusOr<ExpandedSweep> e =
        Expand(root, "model: " + c.model + "\ntokenizer: tok.bin\nlatency: {repeats: 1}\n");
    if (c.want.empty()) {
      EXPECT_TRUE(e.ok()) << e.status();
      if (e.ok()) {
        EXPECT_EQ(e->settings.model(), "m.bin");
      }
    } else {
      ASSERT_FALSE(e.ok()) << c.model;
      EXPECT_NE(e.status().message().find(c.want), std::string::npos) << e.status();
    }
  }
}

TEST(SweepTest, TokenizerMustBeGivenOrFoundWhenTextIsTokenized) {
  const std::string root = MakeRoot("sweep-tok");
  fs::create_directories(root + "/sub");
  std::ofstream(root + "/sub/model.bin") << "x";
  absl::StatusOr<ExpandedSweep> e =
      Expand(root, "model: sub/model.bin\neval: {text: text/eval.txt}\n");
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("tokenizer: none given"), std::string::npos) << e.status();
}

TEST(SweepTest, DuplicatesAreDroppedAndTheSizeIsCapped) {
  const std::string root = MakeRoot("sweep-dup");
  const std::string yaml =
      std::string(kHead) + "configs:\n  - rtn: {bits: [4, 8]}\n  - rtn: {bits: 4, group: 32}\n";
  absl::StatusOr<ExpandedSweep> e = Expand(root, yaml);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->configs.size(), 3u);  // baseline, bits 4, bits 8 (the third equals the first)
  EXPECT_EQ(e->duplicates, 1);
  absl::StatusOr<ExpandedSweep> capped =
      ExpandSweep(Parse(yaml), {.data_root = root, .max_configurations = 2});
  ASSERT_FALSE(capped.ok());
  EXPECT_NE(capped.status().message().find("more than 2 configurations"), std::string::npos)
      << capped.status();
}

TEST(SweepTest, YamlShapeErrorsNameTheFileLineAndField) {
  absl::StatusOr<v1::SweepSpec> bad = ParseSweepYaml("model: [unclosed\n", "s.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("s.yaml:"), std::string::npos) << bad.status();
  EXPECT_NE(bad.status().message().find("malformed YAML"), std::string::npos) << bad.status();

  absl::StatusOr<v1::SweepSpec> types = ParseSweepYaml(
      "model: m.bin\neval: {context: abc}\ncolour: red\nconfigs:\n  - {rtn: {}, nf4: {}}\n",
      "s.yaml");
  ASSERT_FALSE(types.ok());
  const std::string msg(types.status().message());
  EXPECT_NE(msg.find("s.yaml:2:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("eval.context: \"abc\" is not an integer"), std::string::npos) << msg;
  EXPECT_NE(msg.find("colour: unknown field"), std::string::npos) << msg;
  EXPECT_NE(msg.find("configs[0]: expected a technique name or a map with one technique"),
            std::string::npos)
      << msg;
  absl::StatusOr<v1::SweepSpec> no_model = ParseSweepYaml("name: x\n", "s.yaml");
  ASSERT_FALSE(no_model.ok());
  EXPECT_NE(no_model.status().message().find("model: required"), std::string::npos);
}

TEST(SweepTest, JsonIsAcceptedToo) {
  v1::SweepSpec s = Parse(R"({"model": "m.bin", "latency": false,
      "configs": [{"rtn": {"bits": [4, 8]}}, {"pipeline": [{"nf4": null}, "kv_cache"]}]})");
  EXPECT_EQ(s.model(), "m.bin");
  EXPECT_FALSE(s.latency().enabled());
  ASSERT_EQ(s.configs_size(), 2);
  EXPECT_EQ(s.configs(0).steps(0).params().at("bits").values_size(), 2);
  EXPECT_TRUE(s.configs(1).pipeline());
  EXPECT_EQ(s.configs(1).steps(1).technique(), "kv_cache");
}

// Every ready-made sweep parses and validates: those on models/ (../shared/assets) against
// that folder when present, the others against a data root holding their model folder.
TEST(SweepTest, ExamplesAreValid) {
  const fs::path dir = fs::path(SQUEEZE_SOURCE_DIR) / "examples";
  int n = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".yaml" && entry.path().extension() != ".json") continue;
    ++n;
    absl::StatusOr<v1::SweepSpec> s = LoadSweepFile(entry.path().string());
    ASSERT_TRUE(s.ok()) << s.status();
    std::string root = testing::AssetsDir();
    if (s->model().rfind("models/", 0) != 0) {
      // A stand-in data root: the model folder with a tokenizer, and the texts it names.
      root = testing::TempDir("sweep-example-" + std::to_string(n));
      fs::create_directories(root + "/" + s->model());
      std::ofstream(root + "/" + s->model() + "/tokenizer.json") << "{}";
      for (const std::string& text : {s->eval().text(), s->calibration().text()}) {
        if (text.empty()) continue;
        fs::create_directories((fs::path(root) / text).parent_path());
        std::ofstream(root + "/" + text) << "text\n";
      }
    } else if (root.empty()) {
      continue;
    }
    absl::StatusOr<ExpandedSweep> e = ExpandSweep(*s, {.data_root = root});
    EXPECT_TRUE(e.ok()) << entry.path() << ": " << e.status();
  }
  EXPECT_GT(n, 0);
}

}  // namespace
}  // namespace squeeze::sweep
