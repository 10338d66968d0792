// Malformed model files: every truncation, bad headers, wrong shapes, missing pieces and random
// byte flips must give an error naming the file (or OK), never a crash. Also run under ASan.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "model/loader.h"
#include "model/safetensors.h"
#include "testutil/assets.h"

namespace squeeze {
namespace {

namespace fs = std::filesystem;

void WriteString(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool Contains(const absl::Status& s, const std::string& phrase) {
  return s.message().find(phrase) != std::string::npos;
}

// A valid llama2.c checkpoint: header + the float count its arrays need, counted here.
std::string SmallLlama2c(int32_t vocab) {
  const int32_t dim = 4, hidden = 6, layers = 1, heads = 2, kv_heads = 1, seq = 2;
  const int32_t h[7] = {dim, hidden, layers, heads, kv_heads, vocab, seq};
  const int V = vocab < 0 ? -vocab : vocab, hd = dim / heads, kv = hd * kv_heads;
  const size_t floats = size_t(V) * dim + layers * dim + layers * dim * dim +
                        2 * layers * kv * dim + layers * dim * dim + layers * dim +
                        3 * layers * hidden * dim + dim + 2 * seq * hd / 2 +
                        (vocab < 0 ? size_t(V) * dim : 0);
  std::string out(reinterpret_cast<const char*>(h), sizeof(h));
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1, 1);
  for (size_t i = 0; i < floats; ++i) {
    const float f = u(rng);
    out.append(reinterpret_cast<const char*>(&f), 4);
  }
  return out;
}

TEST(CorruptLlama2cTest, EveryTruncationIsAnError) {
  const std::string dir = testing::TempDir("trunc-l2c");
  for (int32_t vocab : {5, -5}) {
    const std::string full = SmallLlama2c(vocab);
    const std::string path = dir + "/m.bin";
    WriteString(path, full);
    auto ok = LoadModel(path);
    ASSERT_TRUE(ok.ok()) << ok.status();
    for (size_t n = 0; n < full.size(); ++n) {
      WriteString(path, full.substr(0, n));
      auto m = LoadModel(path);
      ASSERT_FALSE(m.ok()) << "truncated to " << n << " bytes";
      EXPECT_TRUE(Contains(m.status(), path)) << m.status();
      EXPECT_TRUE(Contains(m.status(), "truncated")) << m.status();
    }
    WriteString(path, full + "xyz");
    auto trailing = LoadModel(path);
    ASSERT_FALSE(trailing.ok());
    EXPECT_TRUE(Contains(trailing.status(), "trailing bytes")) << trailing.status();
    EXPECT_TRUE(Contains(trailing.status(), std::to_string(full.size()) +
                                                " bytes, but the file has " +
                                                std::to_string(full.size() + 3)))
        << trailing.status();
  }
}

TEST(CorruptLlama2cTest, BadHeaders) {
  const std::string dir = testing::TempDir("bad-l2c");
  const std::string path = dir + "/m.bin";
  struct Case {
    int32_t h[7];
    const char* phrase;
  };
  const int32_t big = 0x7fffffff;
  const Case cases[] = {
      {{0, 12, 1, 2, 1, 16, 4}, "dim = 0 is invalid"},
      {{8, -12, 1, 2, 1, 16, 4}, "hidden_dim = -12 is invalid"},
      {{8, 12, 1, 2, 1, 0, 4}, "vocab_size = 0 is invalid"},
      {{8, 12, 1, 2, 1, INT32_MIN, 4}, "vocab_size"},
      {{8, 12, 1, 2, 1, 16, 0}, "seq_len = 0 is invalid"},
      {{8, 12, 1, 3, 1, 16, 4}, "not divisible by n_heads"},
      {{8, 12, 1, 2, 4, 16, 4}, "n_kv_heads"},
      {{6, 12, 1, 2, 2, 16, 4}, "must be even"},
      {{big - 1, big, big, 1, 1, big, big}, "too large to address"},
      {{1 << 20, 1 << 20, 1 << 20, 2, 2, 1 << 20, 8}, ""},  // no overflow, but a size mismatch
  };
  for (const Case& c : cases) {
    std::string bytes(reinterpret_cast<const char*>(c.h), sizeof(c.h));
    bytes.append(4096, '\0');
    WriteString(path, bytes);
    auto m = LoadLlama2cModel(path);
    ASSERT_FALSE(m.ok()) << c.phrase;
    EXPECT_TRUE(Contains(m.status(), path)) << m.status();
    EXPECT_TRUE(Contains(m.status(), c.phrase)) << m.status() << "\nexpected: " << c.phrase;
  }
}

// A tiny Hugging Face folder made by SaveHfModel.
std::string SaveSmallHf(const std::string& name, bool tied = true) {
  RandomModelOptions o;
  o.config.dim = 8;
  o.config.hidden_dim = 12;
  o.config.n_layers = 1;
  o.config.n_heads = 2;
  o.config.n_kv_heads = 1;
  o.config.vocab_size = 10;
  o.config.max_seq_len = 16;
  o.config.tied_embeddings = tied;
  const std::string dir = testing::TempDir(name);
  EXPECT_TRUE(SaveHfModel(MakeRandomModel(o), dir).ok());
  return dir;
}

TEST(CorruptSafetensorsTest, EveryTruncationIsAnError) {
  const std::string dir = SaveSmallHf("trunc-st");
  const std::string path = dir + "/model.safetensors";
  const std::string full = ReadAll(path);
  ASSERT_TRUE(LoadModel(dir).ok());
  for (size_t n = 0; n < full.size(); ++n) {
    WriteString(path, full.substr(0, n));
    auto st = OpenSafetensors(path);
    ASSERT_FALSE(st.ok()) << "truncated to " << n;
    auto m = LoadModel(dir);
    ASSERT_FALSE(m.ok()) << "truncated to " << n;
    EXPECT_EQ(m.status().message(), st.status().message());
    EXPECT_TRUE(Contains(m.status(), path)) << m.status();
    EXPECT_TRUE(Contains(m.status(), "truncated") ||
                Contains(m.status(), "runs past the end of the file") ||
                Contains(m.status(), "run past the end of the data"))
        << m.status();
  }
}

// Rewrites a saved model.safetensors with `edit` applied to its parsed header.
void EditHeader(const std::string& path, const std::function<void(nlohmann::json&)>& edit) {
  const std::string raw = ReadAll(path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | uint8_t(raw[i]);
  nlohmann::json h = nlohmann::json::parse(raw.substr(8, n));
  edit(h);
  const std::string header = h.dump();
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(char((header.size() >> (8 * i)) & 0xff));
  WriteString(path, out + header + raw.substr(8 + n));
}

TEST(CorruptSafetensorsTest, LoaderErrorsNameFileAndTensor) {
  struct Case {
    const char* what;
    std::function<void(nlohmann::json&)> edit;
    const char* phrase;
  };
  const Case cases[] = {
      {"unknown dtype", [](auto& h) { h["model.norm.weight"]["dtype"] = "F4"; },
       "tensor model.norm.weight: unknown dtype \"F4\""},
      {"unsupported dtype",
       [](auto& h) {
         auto& t = h["model.layers.0.mlp.up_proj.weight"];
         t["dtype"] = "I8";
         t["shape"] = {12, 8 * 4};  // same bytes as F32 [12, 8]
       },
       "tensor model.layers.0.mlp.up_proj.weight: dtype I8 is not supported"},
      {"shape vs config",
       [](auto& h) {
         h["model.layers.0.self_attn.k_proj.weight"]["shape"] = {8, 4};
       },
       "tensor model.layers.0.self_attn.k_proj.weight has shape [8, 4], expected [4, 8]"},
      {"norm shape",
       [](auto& h) {
         h["model.norm.weight"]["shape"] = {2, 4};
       },
       "tensor model.norm.weight has shape [2, 4], expected [8]"},
      {"missing tensor", [](auto& h) { h.erase("model.layers.0.mlp.down_proj.weight"); },
       "missing tensor model.layers.0.mlp.down_proj.weight"},
      {"bias", [](auto& h) { h["model.layers.0.self_attn.q_proj.bias"] = h["model.norm.weight"]; },
       "tensor model.layers.0.self_attn.q_proj.bias: biases are not supported"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const std::string dir = SaveSmallHf(std::string("edit-") + c.what);
    const std::string path = dir + "/model.safetensors";
    EditHeader(path, c.edit);
    auto m = LoadModel(dir);
    ASSERT_FALSE(m.ok());
    EXPECT_TRUE(Contains(m.status(), path)) << m.status();
    EXPECT_TRUE(Contains(m.status(), c.phrase)) << m.status() << "\nexpected: " << c.phrase;
  }

  // A separate classifier that is missing.
  const std::string dir = SaveSmallHf("no-head", /*tied=*/false);
  EditHeader(dir + "/model.safetensors", [](auto& h) { h.erase("lm_head.weight"); });
  auto m = LoadModel(dir);
  ASSERT_FALSE(m.ok());
  EXPECT_TRUE(Contains(m.status(), "missing tensor lm_head.weight")) << m.status();
}

TEST(CorruptSafetensorsTest, BadJsonAndMissingFiles) {
  {
    const std::string dir = SaveSmallHf("bad-config");
    WriteString(dir + "/config.json", "{\"hidden_size\": 8,");
    auto m = LoadModel(dir);
    ASSERT_FALSE(m.ok());
    EXPECT_TRUE(Contains(m.status(), dir + "/config.json: bad JSON")) << m.status();
  }
  {
    const std::string dir = SaveSmallHf("bad-header");
    const std::string path = dir + "/model.safetensors";
    std::string raw = ReadAll(path);
    raw[8] = '[';  // the header's opening brace
    raw[9] = '}';
    WriteString(path, raw);
    auto m = LoadModel(dir);
    ASSERT_FALSE(m.ok());
    EXPECT_TRUE(Contains(m.status(), path + ": bad JSON in safetensors header")) << m.status();
  }
  {
    const std::string dir = SaveSmallHf("past-eof");
    const std::string path = dir + "/model.safetensors";
    std::string raw = ReadAll(path);
    raw[5] = 1;  // header length + 2^40
    WriteString(path, raw);
    auto m = LoadModel(dir);
    ASSERT_FALSE(m.ok());
    EXPECT_TRUE(Contains(m.status(), path)) << m.status();
    EXPECT_TRUE(Contains(m.status(), "absurdly large")) << m.status();
    raw[5] = 0;
    raw[2] = 1;  // + 65536: past the end of this small file
    WriteString(path, raw);
    m = LoadModel(dir);
    ASSERT_FALSE(m.ok());
    EXPECT_TRUE(Contains(m.status(), "runs past the end of the file")) << m.status();
  }
  {
    const std::string dir = SaveSmallHf("no-weights");
    fs::remove(dir + "/model.safetensors");
    auto m = LoadModel(dir);
    ASSERT_FALSE(m.ok());
    EXPECT_TRUE(Contains(m.status(), "no model.safetensors or model.safetensors.index.json"))
        << m.status();
  }
  {
    const std::string dir = SaveSmallHf("no-config");
    fs::remove(dir + "/config.json");
    auto m = LoadModel(dir);
    ASSERT_FALSE(m.ok());
    EXPECT_TRUE(Contains(m.status(), dir + "/config.json: no such file")) << m.status();
  }
}

TEST(CorruptSafetensorsTest, ShardIndexErrors) {
  const std::string dir = SaveSmallHf("index");
  // Turn the single file into a one-shard checkpoint with an index.
  fs::rename(dir + "/model.safetensors", dir + "/model-00001-of-00001.safetensors");
  auto st = OpenSafetensors(dir + "/model-00001-of-00001.safetensors");
  ASSERT_TRUE(st.ok());
  nlohmann::json map = nlohmann::json::object();
  for (const auto& [name, t] : st->tensors) map[name] = "model-00001-of-00001.safetensors";
  const std::string index = dir + "/model.safetensors.index.json";
  WriteString(index, nlohmann::json({{"weight_map", map}}).dump());
  auto good = LoadModel(dir);
  ASSERT_TRUE(good.ok()) << good.status();

  auto expect = [&](const nlohmann::json& j, const std::string& phrase) {
    WriteString(index, j.dump());
    auto m = LoadModel(dir);
    ASSERT_FALSE(m.ok()) << phrase;
    EXPECT_TRUE(Contains(m.status(), index)) << m.status();
    EXPECT_TRUE(Contains(m.status(), phrase)) << m.status() << "\nexpected: " << phrase;
  };
  nlohmann::json missing_shard = map;
  missing_shard["model.norm.weight"] = "model-00002-of-00002.safetensors";
  expect({{"weight_map", missing_shard}},
         "shard model-00002-of-00002.safetensors (of tensor model.norm.weight)");
  nlohmann::json outside = map;
  outside["model.norm.weight"] = "../elsewhere.safetensors";
  expect({{"weight_map", outside}}, "must be a file inside the model folder");
  nlohmann::json not_string = map;
  not_string["model.norm.weight"] = 3;
  expect({{"weight_map", not_string}}, "is not a file name");
  nlohmann::json wrong_place = map;
  wrong_place["model.extra.weight"] = "model-00001-of-00001.safetensors";
  expect({{"weight_map", wrong_place}}, "tensor model.extra.weight is listed in shard");
  expect({{"metadata", {}}}, "weight_map is missing");
  nlohmann::json incomplete = map;
  incomplete.erase("model.layers.0.mlp.gate_proj.weight");
  WriteString(index, nlohmann::json({{"weight_map", incomplete}}).dump());
  auto m = LoadModel(dir);
  ASSERT_FALSE(m.ok());
  EXPECT_TRUE(Contains(m.status(), "missing tensor model.layers.0.mlp.gate_proj.weight"))
      << m.status();

  WriteString(index, "{\"weight_map\": {");
  m = LoadModel(dir);
  ASSERT_FALSE(m.ok());
  EXPECT_TRUE(Contains(m.status(), index + ": bad JSON")) << m.status();
  // The missing-shard error says the file is missing.
  WriteString(index, nlohmann::json({{"weight_map", missing_shard}}).dump());
  m = LoadModel(dir);
  EXPECT_TRUE(Contains(m.status(), "model-00002-of-00002.safetensors: no such file")) << m.status();
}

TEST(CorruptSafetensorsTest, RandomHeaderByteFlips) {
  const std::string dir = SaveSmallHf("flips");
  const std::string path = dir + "/model.safetensors";
  const std::string full = ReadAll(path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | uint8_t(full[i]);
  ASSERT_LT(8 + n, full.size());
  std::vector<size_t> digits;  // positions of the numbers in the header (shapes, offsets)
  for (size_t i = 8; i < 8 + n; ++i) {
    if (full[i] >= '0' && full[i] <= '9') digits.push_back(i);
  }
  ASSERT_FALSE(digits.empty());
  std::mt19937 rng(12345);
  int ok = 0, errors = 0;
  for (int iter = 0; iter < 400; ++iter) {
    std::string bytes = full;
    const int flips = 1 + int(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      // Mostly inside the JSON header; now and then in the length field.
      size_t pos = rng() % 16 == 0 ? rng() % 8 : 8 + rng() % n;
      const int mode = int(rng() % 3);
      if (mode == 0) {
        bytes[pos] = char(bytes[pos] ^ (1u << (rng() % 8)));
      } else if (mode == 1) {
        pos = digits[rng() % digits.size()];
        bytes[pos] = char('0' + rng() % 10);  // keeps the JSON valid, changes a number
      } else {
        static const char kJsonish[] = "{}[]\":,0123456789-eE. ";
        bytes[pos] = kJsonish[rng() % (sizeof(kJsonish) - 1)];
      }
    }
    WriteString(path, bytes);
    auto m = LoadModel(dir);
    if (m.ok()) {
      ++ok;
      EXPECT_TRUE(ValidateModel(*m, dir).ok());
    } else {
      ++errors;
      EXPECT_TRUE(Contains(m.status(), dir)) << m.status();
    }
  }
  EXPECT_GT(errors, 0);
  std::cout << "byte flips: " << ok << " loaded, " << errors << " rejected\n";
}

}  // namespace
}  // namespace squeeze
