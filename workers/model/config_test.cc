// Tests of ModelConfig validation and the Hugging Face config.json reader/writer.
#include "model/config.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace squeeze {
namespace {

using json = nlohmann::json;

// A TinyLlama-like config.json (as Hugging Face writes it).
json LlamaJson() {
  return json::parse(R"({
    "architectures": ["LlamaForCausalLM"],
    "attention_bias": false,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "hidden_act": "silu",
    "hidden_size": 2048,
    "initializer_range": 0.02,
    "intermediate_size": 5632,
    "max_position_embeddings": 2048,
    "model_type": "llama",
    "num_attention_heads": 32,
    "num_hidden_layers": 22,
    "num_key_value_heads": 4,
    "pretraining_tp": 1,
    "rms_norm_eps": 1e-05,
    "rope_scaling": null,
    "rope_theta": 10000.0,
    "tie_word_embeddings": false,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.35.0",
    "use_cache": true,
    "vocab_size": 32000
  })");
}

absl::Status ParseError(const json& j) {
  auto c = ParseHfConfig(j.dump(), "dir/config.json");
  return c.ok() ? absl::OkStatus() : c.status();
}

void ExpectError(const json& j, const std::string& phrase) {
  const absl::Status s = ParseError(j);
  ASSERT_FALSE(s.ok()) << j.dump();
  EXPECT_NE(s.message().find("dir/config.json"), std::string::npos) << s;
  EXPECT_NE(s.message().find(phrase), std::string::npos) << s << "\nexpected: " << phrase;
}

TEST(HfConfigTest, ParsesLlama) {
  auto c = ParseHfConfig(LlamaJson().dump(), "config.json");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->dim, 2048);
  EXPECT_EQ(c->hidden_dim, 5632);
  EXPECT_EQ(c->n_layers, 22);
  EXPECT_EQ(c->n_heads, 32);
  EXPECT_EQ(c->n_kv_heads, 4);
  EXPECT_EQ(c->vocab_size, 32000);
  EXPECT_EQ(c->max_seq_len, 2048);
  EXPECT_FLOAT_EQ(c->norm_eps, 1e-5f);
  EXPECT_FLOAT_EQ(c->rope_theta, 10000.0f);
  EXPECT_FALSE(c->tied_embeddings);
  EXPECT_EQ(c->bos_id, 1);
  EXPECT_EQ(c->eos_id, 2);
  EXPECT_EQ(c->head_dim(), 64);
  EXPECT_EQ(c->kv_dim(), 256);
}

TEST(HfConfigTest, DefaultsAndVariants) {
  json j = LlamaJson();
  j.erase("num_key_value_heads");
  j.erase("tie_word_embeddings");
  j["eos_token_id"] = {128001, 128009};
  j["bos_token_id"] = nullptr;
  j["vocab_size"] = 128256;
  j["head_dim"] = 64;
  j["rope_scaling"] = {{"rope_type", "default"}};
  auto c = ParseHfConfig(j.dump(), "config.json");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->n_kv_heads, 32);  // multi-head attention by default
  EXPECT_FALSE(c->tied_embeddings);
  EXPECT_EQ(c->eos_id, 128001);  // the first of a list
  EXPECT_EQ(c->bos_id, -1);

  json mistral = LlamaJson();
  mistral["architectures"] = {"MistralForCausalLM"};
  mistral["model_type"] = "mistral";
  mistral["max_position_embeddings"] = 32768;
  mistral["sliding_window"] = 4096;
  auto m = ParseHfConfig(mistral.dump(), "config.json");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->max_seq_len, 4096);  // full attention equals the window up to its length
  mistral["sliding_window"] = nullptr;
  m = ParseHfConfig(mistral.dump(), "config.json");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->max_seq_len, 32768);
}

TEST(HfConfigTest, RejectsUnsupportedModels) {
  json qwen = LlamaJson();
  qwen["architectures"] = {"Qwen2ForCausalLM"};
  ExpectError(qwen, "biases");
  json other = LlamaJson();
  other["architectures"] = {"GPT2LMHeadModel"};
  ExpectError(other, "architectures: GPT2LMHeadModel is not supported");
  json type = LlamaJson();
  type["model_type"] = "qwen2";
  ExpectError(type, "model_type");
  json scaled = LlamaJson();
  scaled["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}};
  ExpectError(scaled, "rope_scaling: RoPE scaling type \"llama3\" is not supported");
  json linear = LlamaJson();
  linear["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  ExpectError(linear, "\"linear\"");
  json bias = LlamaJson();
  bias["attention_bias"] = true;
  ExpectError(bias, "attention_bias");
  json mlp_bias = LlamaJson();
  mlp_bias["mlp_bias"] = true;
  ExpectError(mlp_bias, "mlp_bias");
  json act = LlamaJson();
  act["hidden_act"] = "gelu";
  ExpectError(act, "hidden_act");
  json head_dim = LlamaJson();
  head_dim["head_dim"] = 128;
  ExpectError(head_dim, "head_dim: value 128 differs from hidden_size / num_attention_heads");
}

TEST(HfConfigTest, FieldErrorsNameTheField) {
  for (const char* field : {"hidden_size", "intermediate_size", "num_hidden_layers",
                            "num_attention_heads", "vocab_size"}) {
    json j = LlamaJson();
    j.erase(field);
    ExpectError(j, std::string("field ") + field + ": missing");
    j[field] = "12";
    ExpectError(j, std::string("field ") + field + ": expected an integer");
    j[field] = 1.5;
    ExpectError(j, std::string("field ") + field + ": expected an integer");
    j[field] = -4;
    ExpectError(j, std::string("field ") + field + ": value -4 must be positive");
    j[field] = 1ull << 40;
    ExpectError(j, std::string("field ") + field + ": value 1099511627776 is out of range");
  }
  json eps = LlamaJson();
  eps["rms_norm_eps"] = "small";
  ExpectError(eps, "rms_norm_eps");
  eps["rms_norm_eps"] = 0;
  ExpectError(eps, "rms_norm_eps");
  json theta = LlamaJson();
  theta["rope_theta"] = -1;
  ExpectError(theta, "rope_theta");
  json tie = LlamaJson();
  tie["tie_word_embeddings"] = "yes";
  ExpectError(tie, "tie_word_embeddings");
  json eos = LlamaJson();
  eos["eos_token_id"] = {"x"};
  ExpectError(eos, "eos_token_id");
  json kv = LlamaJson();
  kv["num_key_value_heads"] = 5;  // 32 heads are not a multiple of 5
  ExpectError(kv, "n_kv_heads");
  json bos = LlamaJson();
  bos["bos_token_id"] = 32000;
  ExpectError(bos, "bos_id = 32000 is outside the vocabulary");
}

TEST(HfConfigTest, BadJson) {
  for (const std::string text : {"", "{", "{\"hidden_size\": }", "[1, 2]", "42", "nul"}) {
    auto c = ParseHfConfig(text, "dir/config.json");
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_NE(c.status().message().find("dir/config.json"), std::string::npos);
    const bool json_error =
        c.status().message().find("bad JSON") != std::string::npos ||
        c.status().message().find("expected a JSON object") != std::string::npos;
    EXPECT_TRUE(json_error) << c.status();
  }
}

TEST(HfConfigTest, WriterRoundTrips) {
  ModelConfig c;
  c.dim = 96;
  c.hidden_dim = 250;
  c.n_layers = 3;
  c.n_heads = 6;
  c.n_kv_heads = 2;
  c.vocab_size = 1000;
  c.max_seq_len = 777;
  c.norm_eps = 1e-5f;
  c.rope_theta = 500000.0f;
  c.tied_embeddings = false;
  c.bos_id = 0;
  c.eos_id = -1;
  const std::string text = HfConfigJson(c);
  const json j = json::parse(text);
  EXPECT_EQ(j["architectures"][0], "LlamaForCausalLM");
  EXPECT_EQ(j["hidden_size"], 96);
  EXPECT_EQ(j["head_dim"], 16);
  EXPECT_EQ(j["rms_norm_eps"].get<double>(), 1e-5);  // the float's shortest decimal
  EXPECT_TRUE(j["eos_token_id"].is_null());
  auto back = ParseHfConfig(text, "config.json");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->dim, c.dim);
  EXPECT_EQ(back->hidden_dim, c.hidden_dim);
  EXPECT_EQ(back->n_layers, c.n_layers);
  EXPECT_EQ(back->n_heads, c.n_heads);
  EXPECT_EQ(back->n_kv_heads, c.n_kv_heads);
  EXPECT_EQ(back->vocab_size, c.vocab_size);
  EXPECT_EQ(back->max_seq_len, c.max_seq_len);
  EXPECT_EQ(back->norm_eps, c.norm_eps);
  EXPECT_EQ(back->rope_theta, c.rope_theta);
  EXPECT_EQ(back->tied_embeddings, c.tied_embeddings);
  EXPECT_EQ(back->bos_id, c.bos_id);
  EXPECT_EQ(back->eos_id, c.eos_id);
}

TEST(ValidateConfigTest, ChecksConsistency) {
  ModelConfig good;
  good.dim = 64, good.hidden_dim = 172, good.n_layers = 5, good.n_heads = 8;
  good.n_kv_heads = 4, good.vocab_size = 512, good.max_seq_len = 512;
  EXPECT_TRUE(ValidateConfig(good, "m.bin").ok());

  auto expect_bad = [&](ModelConfig c, const std::string& phrase) {
    const absl::Status s = ValidateConfig(c, "m.bin");
    ASSERT_FALSE(s.ok()) << phrase;
    EXPECT_NE(s.message().find("m.bin: "), std::string::npos) << s;
    EXPECT_NE(s.message().find(phrase), std::string::npos) << s;
  };
  ModelConfig c = good;
  c.dim = 0;
  expect_bad(c, "dim = 0 must be positive");
  c = good;
  c.n_layers = -1;
  expect_bad(c, "n_layers = -1 must be positive");
  c = good;
  c.dim = 60;
  expect_bad(c, "not divisible by n_heads");
  c = good;
  c.n_kv_heads = 3;
  expect_bad(c, "not a multiple of n_kv_heads");
  c = good;
  c.n_kv_heads = 16;
  expect_bad(c, "not a multiple of n_kv_heads");
  c = good;
  c.dim = 24;  // head_dim 3
  expect_bad(c, "must be even");
  c = good;
  c.norm_eps = 0;
  expect_bad(c, "norm_eps");
  c = good;
  c.eos_id = 512;
  expect_bad(c, "eos_id = 512 is outside the vocabulary");
}

}  // namespace
}  // namespace squeeze
