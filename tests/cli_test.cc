// Black-box tests of the `squeeze` CLI as a user runs it: exit codes, error messages that
// name the file, JSON output whose numbers mean what they say.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/process.h"
#include "testutil/assets.h"
#include "testutil/fixtures.h"

namespace {

using squeeze::testing::CmdResult;

// Runs the squeeze binary; out holds stdout and stderr, or stdout only.
CmdResult Squeeze(const std::string& args, bool with_stderr = true) {
  return squeeze::testing::RunCommand(std::string(SQUEEZE_BIN) + " " + args, !with_stderr);
}

// Only stdout (for JSON).
CmdResult SqueezeStdout(const std::string& args) {
  return Squeeze(args, /*with_stderr=*/false);
}

TEST(CliTest, HelpAndUsageErrors) {
  EXPECT_EQ(Squeeze("--help").code, 0);
  EXPECT_EQ(Squeeze("eval --help").code, 0);
  const CmdResult none = Squeeze("");
  EXPECT_EQ(none.code, 2) << none.out;
  const CmdResult bad = Squeeze("frobnicate");
  EXPECT_EQ(bad.code, 2) << bad.out;
  const CmdResult missing = Squeeze("eval");
  EXPECT_EQ(missing.code, 2) << missing.out;
  EXPECT_NE(missing.out.find("--model"), std::string::npos) << missing.out;
}

TEST(CliTest, SweepCommandsHaveHelpUsageErrorsAndReportAnUnreachableCoordinator) {
  for (const char* c : {"submit", "status", "list", "cancel", "results"}) {
    EXPECT_EQ(Squeeze(std::string(c) + " --help").code, 0) << c;
  }
  EXPECT_EQ(Squeeze("submit").code, 2);                  // no sweep file
  EXPECT_EQ(Squeeze("status abc").code, 2);              // not an id
  EXPECT_EQ(Squeeze("results 1 --format xml").code, 2);  // unknown format
  const CmdResult pareto = Squeeze("results 1 --pareto speed --coordinator 127.0.0.1:1");
  EXPECT_EQ(pareto.code, 2) << pareto.out;  // checked before connecting
  EXPECT_NE(pareto.out.find("unknown metric \"speed\""), std::string::npos) << pareto.out;
  const CmdResult missing = Squeeze("submit /nonexistent/sweep.yaml");
  EXPECT_EQ(missing.code, 2) << missing.out;
  EXPECT_NE(missing.out.find("/nonexistent/sweep.yaml"), std::string::npos) << missing.out;
  // Nothing listens on port 1: a server error (1) that says so.
  const CmdResult down = Squeeze("list --coordinator 127.0.0.1:1 --timeout 3");
  EXPECT_EQ(down.code, 1) << down.out;
  EXPECT_NE(down.out.find("127.0.0.1:1: coordinator unavailable"), std::string::npos) << down.out;
}

TEST(CliTest, MissingModelNamesThePath) {
  const CmdResult r =
      Squeeze("eval --model /nonexistent/model.bin --no-latency --text /etc/hostname");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("/nonexistent/model.bin"), std::string::npos) << r.out;
}

TEST(CliTest, RandomModelEvalReportsSizeAndLatencyAsJson) {
  const std::string dir = squeeze::testing::TempDir("cli-random");
  const CmdResult made =
      Squeeze("make-model --out " + dir +
              "/m --dim 64 --hidden 96 --layers 2 "
              "--heads 4 --kv-heads 2 --vocab 300 --seq-len 128 --format f16 --untied");
  ASSERT_EQ(made.code, 0) << made.out;
  const CmdResult r = SqueezeStdout("eval --model " + dir +
                                    "/m --json --prompt 16 --generate 8 "
                                    "--repeats 2");
  ASSERT_EQ(r.code, 0) << r.out;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  // 300x64 embedding + 2 layers of (64x64 + 32x64 + 32x64 + 64x64 + 3 x 96x64) in f16, plus
  // 5 norm vectors of 64 in f32; untied classifier 300x64.
  const int64_t matrices = 2 * 300 * 64 + 2 * (2 * 64 * 64 + 2 * 32 * 64 + 3 * 96 * 64);
  EXPECT_EQ(j["size"]["bytes"].get<int64_t>(), 2 * matrices + 4 * 5 * 64);
  EXPECT_EQ(j["size"]["bytes_by_format"]["f16"].get<int64_t>(), 2 * matrices);
  EXPECT_GT(j["latency"]["decode_ms_per_token"]["median"].get<double>(), 0);
  EXPECT_EQ(j["latency"]["kv_bytes_per_token"].get<int64_t>(), 2 * 2 * 32 * 4);
}

TEST(CliTest, Stories260KAgainstItselfHasZeroKldAndFullAgreement) {
  SQUEEZE_REQUIRE_ASSET(model, "models/stories260K/stories260K.bin");
  SQUEEZE_REQUIRE_ASSET(text, "text/tinystories-valid-100.noeot.txt");
  const std::string cache = squeeze::testing::TempDir("cli-cache");
  const std::string args = "eval --model " + model + " --baseline " + model + " --text " + text +
                           " --max-tokens 3000 --json --no-latency --cache-dir " + cache;
  for (int run = 0; run < 2; ++run) {  // the second run reads the baseline from the cache
    const CmdResult r = SqueezeStdout(args);
    ASSERT_EQ(r.code, 0) << r.out;
    const nlohmann::json j = nlohmann::json::parse(r.out);
    const auto& acc = j["accuracy"];
    EXPECT_EQ(acc["tokens_scored"].get<int>(), 3000);
    EXPECT_EQ(acc["kld"]["mean"].get<double>(), 0.0);
    EXPECT_EQ(acc["kld"]["max"].get<double>(), 0.0);
    EXPECT_EQ(acc["top1_agreement"].get<double>(), 1.0);
    EXPECT_EQ(acc["baseline_from_cache"].get<bool>(), run == 1);
    // A trained model is far better than uniform over 512 tokens.
    EXPECT_LT(acc["perplexity"].get<double>(), 20.0);
    EXPECT_GT(acc["perplexity"].get<double>(), 1.0);
    EXPECT_EQ(j["size"]["params"].get<int64_t>(), 260032);
  }
}

TEST(CliTest, TruncatedAndCorruptedCheckpointsGiveClearErrors) {
  SQUEEZE_REQUIRE_ASSET(model, "models/stories260K/stories260K.bin");
  SQUEEZE_REQUIRE_ASSET(tok, "models/stories260K/tok512.bin");
  SQUEEZE_REQUIRE_ASSET(text, "text/tinystories-valid-100.noeot.txt");
  const std::string dir = squeeze::testing::TempDir("cli-corrupt");
  std::ifstream in(model, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  {
    std::ofstream(dir + "/truncated.bin", std::ios::binary).write(bytes.data(), bytes.size() / 2);
    std::string bad = bytes;
    const int32_t heads = 7;  // dim 64 is not divisible by 7
    std::memcpy(bad.data() + 12, &heads, 4);
    std::ofstream(dir + "/corrupt.bin", std::ios::binary).write(bad.data(), bad.size());
  }
  for (const std::string name : {"truncated.bin", "corrupt.bin"}) {
    const CmdResult r = Squeeze("eval --model " + dir + "/" + name + " --tokenizer " + tok +
                                " --text " + text + " --no-latency");
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find(dir + "/" + name), std::string::npos)
        << "error must name the file: " << r.out;
    EXPECT_NE(r.out.find("error"), std::string::npos) << r.out;
  }
}

// A random model from make-model, a llama2.c tokenizer of byte pieces and a text, for the
// `eval --apply` tests. Returns the folder holding m/, tok.bin and text.txt.
std::string MakeApplyFixture(const std::string& name) {
  const std::string dir = squeeze::testing::TempDir(name);
  const CmdResult made = Squeeze("make-model --out " + dir +
                                 "/m --dim 64 --hidden 96 --layers 2 --heads 4 --kv-heads 2 "
                                 "--vocab 300 --seq-len 128 --untied");
  EXPECT_EQ(made.code, 0) << made.out;
  squeeze::testing::WriteByteTokenizer(dir + "/tok.bin");
  squeeze::testing::WriteStoryText(dir + "/text.txt", 40);
  return dir;
}

TEST(CliTest, ApplyPrecisionF16MeasuresAgainstTheUnmodifiedModel) {
  const std::string dir = MakeApplyFixture("cli-apply");
  const CmdResult r =
      SqueezeStdout("eval --model " + dir + "/m --tokenizer " + dir + "/tok.bin --text " + dir +
                    "/text.txt --context 64 --no-latency --no-cache --json "
                    "--apply precision:format=f16");
  ASSERT_EQ(r.code, 0) << r.out;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  // Embedding + classifier 300x64 and 2 layers of (2 x 64x64 + 2 x 32x64 + 3 x 96x64)
  // weights: 4 bytes each as made (f32), 2 after the conversion; 5 f32 norms of 64.
  const int64_t weights = 2 * 300 * 64 + 2 * (2 * 64 * 64 + 2 * 32 * 64 + 3 * 96 * 64);
  const int64_t norms = 4 * 5 * 64;
  EXPECT_EQ(j["size"]["matrix_bytes"].get<int64_t>(), 2 * weights);
  EXPECT_EQ(j["size"]["bytes_by_format"]["f16"].get<int64_t>(), 2 * weights);
  EXPECT_FALSE(j["size"]["bytes_by_format"].contains("f32"));
  EXPECT_NEAR(j["size"]["ratio_to_baseline"].get<double>(),
              double(2 * weights + norms) / double(4 * weights + norms), 1e-9);
  ASSERT_EQ(j["techniques"].size(), 1u);
  EXPECT_NE(j["techniques"][0].get<std::string>().find("precision:format=f16"), std::string::npos);
  EXPECT_EQ(j["baseline"]["path"].get<std::string>(), dir + "/m");
  const auto& acc = j["accuracy"];
  EXPECT_GT(acc["kld"]["mean"].get<double>(), 0.0);   // rounding to f16 changes the logits
  EXPECT_LT(acc["kld"]["mean"].get<double>(), 1e-3);  // but only slightly
  EXPECT_GT(acc["tokens_scored"].get<int>(), 1000);
}

TEST(CliTest, ApplyStepsRunInOrder) {
  const std::string dir = MakeApplyFixture("cli-apply-order");
  const CmdResult ok =
      SqueezeStdout("eval --model " + dir + "/m --tokenizer " + dir + "/tok.bin --text " + dir +
                    "/text.txt --context 64 --max-tokens 200 --no-latency "
                    "--no-cache --json --apply precision:format=f16 "
                    "--apply precision:format=bf16");
  ASSERT_EQ(ok.code, 0) << ok.out;
  const nlohmann::json j = nlohmann::json::parse(ok.out);
  ASSERT_EQ(j["techniques"].size(), 2u);
  EXPECT_EQ(j["techniques"][0].get<std::string>().rfind("precision:format=f16", 0), 0u);
  EXPECT_EQ(j["techniques"][1].get<std::string>().rfind("precision:format=bf16", 0), 0u);
  EXPECT_TRUE(j["size"]["bytes_by_format"].contains("bf16"));
  EXPECT_FALSE(j["size"]["bytes_by_format"].contains("f16"));
}

TEST(CliTest, BadApplySpecsExitTwoNamingTheParameter) {
  const std::string dir = MakeApplyFixture("cli-apply-bad");
  const std::string base = "eval --model " + dir + "/m --no-latency --text " + dir +
                           "/text.txt --tokenizer " + dir + "/tok.bin --apply ";
  const CmdResult bits = Squeeze(base + "rtn:bits=5");
  EXPECT_EQ(bits.code, 2) << bits.out;
  EXPECT_NE(bits.out.find("rtn.bits: 5 is not one of 2, 3, 4, 8"), std::string::npos) << bits.out;
  const CmdResult unknown = Squeeze(base + "precision:fmt=f16");
  EXPECT_EQ(unknown.code, 2) << unknown.out;
  EXPECT_NE(unknown.out.find("\"fmt\""), std::string::npos) << unknown.out;
  EXPECT_NE(unknown.out.find("format"), std::string::npos) << unknown.out;
  const CmdResult value = Squeeze(base + "precision:format=f17");
  EXPECT_EQ(value.code, 2) << value.out;
  EXPECT_NE(value.out.find("precision.format: f17 is not one of"), std::string::npos) << value.out;
  const CmdResult syntax = Squeeze(base + "rtn:bits");
  EXPECT_EQ(syntax.code, 2) << syntax.out;
  EXPECT_NE(syntax.out.find("not key=value"), std::string::npos) << syntax.out;
  const CmdResult technique = Squeeze(base + "gptq99");
  EXPECT_EQ(technique.code, 2) << technique.out;
  EXPECT_NE(technique.out.find("unknown technique \"gptq99\""), std::string::npos) << technique.out;
}

TEST(CliTest, CalibratedTechniquesNeedCalibrationTextAndThenRun) {
  const std::string dir = MakeApplyFixture("cli-apply-calib");
  const std::string base = "eval --model " + dir + "/m --tokenizer " + dir + "/tok.bin --text " +
                           dir + "/text.txt --context 64 --max-tokens 300 --no-latency --no-cache ";
  for (const char* spec : {"gptq", "awq", "smoothquant", "llm_int8"}) {
    const CmdResult r = Squeeze(base + "--apply " + spec);
    EXPECT_EQ(r.code, 2) << spec << ": " << r.out;
    EXPECT_NE(r.out.find("--calib-text"), std::string::npos) << spec << ": " << r.out;
  }
  const std::string calib = "--calib-text " + dir + "/text.txt --calib-sequences 4 " +
                            "--calib-context 32 --json --apply ";
  const CmdResult gptq = SqueezeStdout(base + calib + "gptq:bits=4,group=32");
  ASSERT_EQ(gptq.code, 0) << gptq.out;
  const nlohmann::json g = nlohmann::json::parse(gptq.out);
  EXPECT_NE(g["calibration"].get<std::string>().find("4 sequences x 32 tokens"), std::string::npos)
      << g["calibration"];
  EXPECT_TRUE(g["size"]["bytes_by_format"].contains("q4_g32"));
  EXPECT_GT(g["accuracy"]["kld"]["mean"].get<double>(), 0.0);
  // W8A8 matrices after smoothquant; the KV cache of kv_cache:format=int8 is one byte per
  // element plus one f32 scale per (token, kv head): 2 layers x (k, v) x 2 heads x (16 + 4).
  const CmdResult sq = SqueezeStdout(base + calib + "smoothquant --apply kv_cache:format=int8");
  ASSERT_EQ(sq.code, 0) << sq.out;
  const nlohmann::json j = nlohmann::json::parse(sq.out);
  EXPECT_TRUE(j["size"]["bytes_by_format"].contains("w8a8")) << j["size"];
  EXPECT_EQ(j["size"]["kv_cache_format"], "int8");
  EXPECT_EQ(j["size"]["kv_bytes_per_token"].get<int64_t>(), 2 * 2 * 2 * (16 + 4));
}

TEST(CliTest, TechniquesListsEveryTechniqueWithItsSchema) {
  const CmdResult r = Squeeze("techniques");
  ASSERT_EQ(r.code, 0) << r.out;
  for (const char* want :
       {"precision (precision)", "rtn (quantization)", "bits", "default 4", "one of 2, 3, 4, 8",
        "one of 0, 32, 64, 128", "symmetric", "embeddings", "format"}) {
    EXPECT_NE(r.out.find(want), std::string::npos) << want << "\n" << r.out;
  }
  const CmdResult js = SqueezeStdout("techniques --json");
  ASSERT_EQ(js.code, 0) << js.out;
  const nlohmann::json j = nlohmann::json::parse(js.out);
  bool found_rtn = false;
  for (const auto& t : j) {
    if (t["name"] != "rtn") continue;
    found_rtn = true;
    EXPECT_EQ(t["family"], "quantization");
    EXPECT_EQ(t["params"][0]["name"], "bits");
    EXPECT_EQ(t["params"][0]["allowed"], nlohmann::json({"2", "3", "4", "8"}));
  }
  EXPECT_TRUE(found_rtn) << js.out;
}

// The same without the shared assets: a model the test makes, then truncates.
TEST(CliTest, TruncatedSafetensorsGivesAClearError) {
  const std::string dir = squeeze::testing::TempDir("cli-truncated-st");
  const CmdResult made = Squeeze("make-model --out " + dir +
                                 "/m --dim 32 --hidden 64 --layers 1 "
                                 "--heads 4 --vocab 64 --seq-len 32");
  ASSERT_EQ(made.code, 0) << made.out;
  const std::string st = dir + "/m/model.safetensors";
  std::filesystem::resize_file(st, std::filesystem::file_size(st) - 100);
  const CmdResult r = Squeeze("eval --model " + dir + "/m --prompt 4 --generate 2 --repeats 1");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find(st), std::string::npos) << "error must name the file: " << r.out;
}

}  // namespace

// `bench` with several formats: one table row per format, in the order given, with the sizes
// of the converted models (bits/weight from the real packed bytes) and the first format's
// speed-up exactly 1; a bad format name or round count exits 2 naming it.
TEST(CliTest, BenchComparesFormatsInOneTable) {
  const std::string dir = squeeze::testing::TempDir("cli-bench");
  const CmdResult made = Squeeze("make-model --out " + dir +
                                 "/m --dim 64 --hidden 128 --layers 2 --heads 4 --vocab 256 "
                                 "--seq-len 64");
  ASSERT_EQ(made.code, 0) << made.out;
  const CmdResult r = SqueezeStdout("bench --model " + dir +
                                    "/m --format f32,q8_channel,q4_g32 --threads 1 --prompt 4 "
                                    "--generate 4 --rounds 2 --quiet");
  ASSERT_EQ(r.code, 0) << r.out;
  std::vector<std::string> rows;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("| ", 0) == 0 && line.rfind("| format", 0) != 0) rows.push_back(line);
  ASSERT_EQ(rows.size(), 3u) << r.out;
  EXPECT_EQ(rows[0].rfind("| f32 | 32.00 |", 0), 0u) << rows[0];
  EXPECT_NE(rows[0].find("| 1.00x |"), std::string::npos) << rows[0];
  EXPECT_EQ(rows[1].rfind("| q8_channel |", 0), 0u) << rows[1];
  EXPECT_EQ(rows[2].rfind("| q4_g32 |", 0), 0u) << rows[2];
  // q4_g32: 18 bytes per 32 weights (4.5 bits) for every matrix; the 5 f32 norm vectors of 64
  // weights raise the average a little.
  const double params = 256 * 64 + 2 * (4 * 64 * 64 + 3 * 128 * 64) + 5 * 64;
  const double bytes = (256 * 64 + 2 * (4 * 64 * 64 + 3 * 128 * 64)) * 18.0 / 32 + 5 * 64 * 4;
  char want[32];
  std::snprintf(want, sizeof(want), "| %.2f |", 8 * bytes / params);
  EXPECT_NE(rows[2].find(want), std::string::npos) << rows[2] << " wants " << want;

  const CmdResult bad = Squeeze("bench --model " + dir + "/m --format f32,q5_g32 --quiet");
  EXPECT_EQ(bad.code, 2) << bad.out;
  EXPECT_NE(bad.out.find("q5_g32"), std::string::npos) << bad.out;
  const CmdResult zero = Squeeze("bench --model " + dir + "/m --rounds 0 --quiet");
  EXPECT_EQ(zero.code, 2) << zero.out;
  EXPECT_NE(zero.out.find("--rounds"), std::string::npos) << zero.out;
}

// Attention variants and structured pruning as a user tries them: a sliding window reports
// its bounded KV cache and a context curve whose cache stops growing; pruning composes with
// 4-bit quantization and the report gives the layers' own sizes; bench compares variants
// against context length.
TEST(CliTest, AttentionVariantsAndPruningReportTheirCurveAndShapes) {
  const std::string dir = MakeApplyFixture("cli-attention");
  const std::string base = "eval --model " + dir + "/m --tokenizer " + dir + "/tok.bin --text " +
                           dir + "/text.txt --context 64 --max-tokens 300 --no-cache --json ";
  const CmdResult w = SqueezeStdout(base +
                                    "--apply sliding_window:window=16 --prompt 8 --generate 4 "
                                    "--repeats 1 --context-curve 32,128");
  ASSERT_EQ(w.code, 0) << w.out;
  const nlohmann::json j = nlohmann::json::parse(w.out);
  EXPECT_EQ(j["model"]["attention"], "window 16, kernel auto");
  // 2 layers x (k, v) x 2 kv heads x 16 floats per position; the ring holds 16 positions.
  const int64_t per_position = 2 * 2 * 2 * 16 * 4;
  EXPECT_EQ(j["size"]["kv_bytes_per_token"].get<int64_t>(), per_position);
  EXPECT_EQ(j["size"]["kv_max_positions"].get<int64_t>(), 16);
  ASSERT_EQ(j["context_curve"].size(), 2u);
  for (const auto& p : j["context_curve"]) {
    EXPECT_EQ(p["kv_cache_bytes"].get<int64_t>(), 16 * per_position) << p;
    EXPECT_GT(p["decode_ms_per_token"].get<double>(), 0.0) << p;
  }
  EXPECT_GT(j["accuracy"]["kld"]["mean"].get<double>(), 0.0);  // context 64 > window 16
  // auto:<contexts>: the curve at those contexts, for attention and KV-cache variants only.
  const std::string short_run = "--prompt 8 --generate 4 --repeats 1 --context-curve auto:48 ";
  const CmdResult win = SqueezeStdout(base + short_run + "--apply sliding_window:window=16");
  ASSERT_EQ(win.code, 0) << win.out;
  const nlohmann::json jw = nlohmann::json::parse(win.out);
  ASSERT_EQ(jw["context_curve"].size(), 1u);
  EXPECT_EQ(jw["context_curve"][0]["context"].get<int64_t>(), 48);
  const CmdResult q = SqueezeStdout(base + short_run + "--apply rtn:bits=4");
  ASSERT_EQ(q.code, 0) << q.out;
  EXPECT_FALSE(nlohmann::json::parse(q.out).contains("context_curve"));
  const CmdResult bad_curve = Squeeze(base + "--context-curve auto:48,x --apply mqa");
  EXPECT_NE(bad_curve.code, 0);
  EXPECT_NE(bad_curve.out.find("--context-curve: context \"x\""), std::string::npos)
      << bad_curve.out;

  const CmdResult pruned = SqueezeStdout(base +
                                         "--no-latency --apply head_prune:fraction=0.5 "
                                         "--apply ffn_prune:fraction=0.25 --apply rtn:bits=4");
  ASSERT_EQ(pruned.code, 0) << pruned.out;
  const nlohmann::json p = nlohmann::json::parse(pruned.out);
  // 2 of 4 heads per layer (here both kept heads read the same kv head, so one kv head is
  // left), 72 of 96 FFN channels, every layer matrix in q4_g32.
  EXPECT_EQ(p["model"]["layers"], "L0 2/1 72, L1 2/1 72") << p["model"];
  EXPECT_EQ(p["size"]["kv_bytes_per_token"].get<int64_t>(), 2 * 2 * 1 * 16 * 4);
  EXPECT_TRUE(p["size"]["bytes_by_format"].contains("q4_g32"));
  EXPECT_FALSE(p.contains("context_curve"));

  const CmdResult bench = SqueezeStdout("bench --model " + dir +
                                        "/m --contexts 24,96 --generate 3 --rounds 1 --threads 1 "
                                        "--variant none --variant sinks:sinks=2,window=14 --quiet");
  ASSERT_EQ(bench.code, 0) << bench.out;
  std::vector<std::string> rows;
  std::istringstream lines(bench.out);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("| ", 0) == 0 && line.rfind("| variant", 0) != 0) rows.push_back(line);
  ASSERT_EQ(rows.size(), 4u) << bench.out;
  EXPECT_EQ(rows[0].rfind("| as loaded | 24 |", 0), 0u) << rows[0];
  EXPECT_EQ(rows[3].rfind("| sinks:sinks=2,window=14 | 96 |", 0), 0u) << rows[3];
  const CmdResult bad = Squeeze("bench --model " + dir + "/m --contexts 1k,zero --quiet");
  EXPECT_EQ(bad.code, 2) << bad.out;
  EXPECT_NE(bad.out.find("\"zero\""), std::string::npos) << bad.out;
}

// --- squeeze train and the training techniques --------------------------------------------

// The number after `label` in the output ("perplexity    3.21 (unigram ...").
double NumberAfter(const std::string& out, const std::string& label) {
  const size_t at = out.find(label);
  if (at == std::string::npos) return -1;
  return std::stod(out.substr(at + label.size()));
}

TEST(CliTest, TrainMakesAModelThatEvalLoadsAndThatBeatsUnigram) {
  const std::string dir = squeeze::testing::TempDir("cli-train") + "/m";
  // A short run on the built-in stories: a small vocabulary and batch keep it to seconds.
  const CmdResult r =
      SqueezeStdout("train --out " + dir + " --steps 80 --vocab 320 --batch 8 --seq 64 --lr 0.005");
  ASSERT_EQ(r.code, 0) << r.out;
  const double ppl = NumberAfter(r.out, "perplexity");
  const double unigram = NumberAfter(r.out, "unigram baseline");
  EXPECT_GT(ppl, 1.0) << r.out;
  EXPECT_LT(ppl, 0.5 * unigram) << r.out;
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "valid.txt"})
    EXPECT_TRUE(std::filesystem::exists(dir + "/" + f)) << f;
  // squeeze eval finds the tokenizer in the folder and, with the same settings as the final
  // measurement of train (context capped at the model's 64, 20000 tokens), the same figure.
  const CmdResult e = SqueezeStdout("eval --model " + dir + " --text " + dir +
                                    "/valid.txt --max-tokens 20000 --no-latency --json");
  ASSERT_EQ(e.code, 0) << e.out;
  const nlohmann::json j = nlohmann::json::parse(e.out);
  EXPECT_NEAR(j["accuracy"]["perplexity"].get<double>(), ppl, 1e-3 * ppl);
  // A corrupted checkpoint is refused with the file named.
  std::filesystem::resize_file(dir + "/model.safetensors", 100);
  const CmdResult bad =
      Squeeze("eval --model " + dir + " --no-latency --text " + dir + "/valid.txt");
  EXPECT_EQ(bad.code, 2) << bad.out;
  EXPECT_NE(bad.out.find("model.safetensors"), std::string::npos) << bad.out;
}

TEST(CliTest, TrainOnAFileWithBytesAndBadArguments) {
  const std::string dir = squeeze::testing::TempDir("cli-train-text");
  {
    std::ofstream t(dir + "/t.txt");
    for (int i = 0; i < 400; ++i) t << "The cat sat on the mat number " << i % 7 << ".\n";
  }
  const CmdResult r = Squeeze("train --text " + dir + "/t.txt --tokenizer byte --out " + dir +
                              "/m --steps 5 --batch 2 --seq 32 --preset tiny");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("tok/s"), std::string::npos) << r.out;  // progress on stderr
  EXPECT_NE(r.out.find("258 tokens"), std::string::npos) << r.out;
  const CmdResult preset = Squeeze("train --out " + dir + "/x --preset huge");
  EXPECT_EQ(preset.code, 2) << preset.out;
  EXPECT_NE(preset.out.find("tiny, small"), std::string::npos) << preset.out;
  const CmdResult missing = Squeeze("train --out " + dir + "/y --text /nonexistent.txt");
  EXPECT_EQ(missing.code, 2) << missing.out;
  EXPECT_NE(missing.out.find("/nonexistent.txt"), std::string::npos) << missing.out;
}

TEST(CliTest, DistillReportsOneMeasuredRowPerCheckpoint) {
  SQUEEZE_REQUIRE_ASSET(model, "models/stories260K/stories260K.bin");
  SQUEEZE_REQUIRE_ASSET(text, "text/tinystories-valid-100.noeot.txt");
  const std::string dir = squeeze::testing::TempDir("cli-distill");
  // Student: 2 of the teacher's 5 layers, trained on text sampled from the teacher (the
  // evaluation text is never trained on).
  const CmdResult r = SqueezeStdout(
      "eval --model " + model + " --text " + text +
      " --max-tokens 3000 --no-latency --json --apply "
      "distill:layers=2,steps=60,checkpoints=10/20/40,batch=4,seq=64,samples=64,out=" +
      dir + "/ckpt");
  ASSERT_EQ(r.code, 0) << r.out;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["checkpoints"].size(), 4u) << r.out;  // 10, 20, 40 and the last step, 60
  std::vector<double> kld;
  for (const auto& c : j["checkpoints"]) {
    EXPECT_TRUE(std::filesystem::exists(c["model"]["path"].get<std::string>() + "/config.json"));
    EXPECT_EQ(c["size"]["params"].get<int64_t>(), j["size"]["params"].get<int64_t>());
    kld.push_back(c["accuracy"]["kld"]["mean"].get<double>());
  }
  EXPECT_EQ(j["checkpoints"][3]["step"].get<int>(), 60);
  // The student's KL divergence to the teacher falls from checkpoint to checkpoint.
  for (size_t i = 1; i < kld.size(); ++i) EXPECT_LT(kld[i], kld[i - 1]) << "checkpoint " << i;
  // The final model is the last checkpoint: the same figures.
  EXPECT_EQ(j["accuracy"]["kld"]["mean"].get<double>(), kld.back());
}
