// ModelConfig validation and the Hugging Face config.json reader/writer (Llama family only:
// anything the engine does not implement, like biases or scaled RoPE, is rejected by name).
#include "model/config.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "util/status_macros.h"

namespace squeeze {
namespace {

using json = nlohmann::json;

absl::Status FieldError(const std::string& origin, const std::string& field,
                        const std::string& problem) {
  return absl::InvalidArgumentError(absl::StrCat(origin, ": field ", field, ": ", problem));
}

// Reads an integer field that fits int32. Missing → `fallback` when given, else an error.
absl::StatusOr<int32_t> GetInt(const json& j, const std::string& origin, const std::string& field,
                               std::optional<int32_t> fallback = std::nullopt) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) {
    if (fallback) return *fallback;
    return FieldError(origin, field, "missing");
  }
  if (!it->is_number_integer()) {
    return FieldError(origin, field, absl::StrCat("expected an integer, got ", it->dump()));
  }
  if (it->is_number_unsigned()) {
    const uint64_t v = it->get<uint64_t>();
    if (v > uint64_t(std::numeric_limits<int32_t>::max())) {
      return FieldError(origin, field, absl::StrCat("value ", v, " is out of range"));
    }
    return int32_t(v);
  }
  const int64_t v = it->get<int64_t>();
  if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max()) {
    return FieldError(origin, field, absl::StrCat("value ", v, " is out of range"));
  }
  return int32_t(v);
}

absl::StatusOr<double> GetNumber(const json& j, const std::string& origin, const std::string& field,
                                 double fallback) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_number()) {
    return FieldError(origin, field, absl::StrCat("expected a number, got ", it->dump()));
  }
  return it->get<double>();
}

absl::StatusOr<bool> GetBool(const json& j, const std::string& origin, const std::string& field,
                             bool fallback) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) {
    return FieldError(origin, field, absl::StrCat("expected true or false, got ", it->dump()));
  }
  return it->get<bool>();
}

// A token id field: an integer, a list of integers (the first is taken), or null (-1).
absl::StatusOr<int32_t> GetTokenId(const json& j, const std::string& origin,
                                   const std::string& field, int32_t fallback) {
  auto it = j.find(field);
  if (it == j.end()) return fallback;
  if (it->is_null()) return -1;
  if (it->is_array()) {
    if (it->empty()) return -1;
    json first = json::object();
    first[field] = (*it)[0];
    return GetInt(first, origin, field);
  }
  return GetInt(j, origin, field);
}

// The float as its shortest decimal, so that 1e-5f is written as 1e-05 and not 9.99999974e-06.
double ShortestDouble(float f) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), f);
  if (ec != std::errc()) return f;
  return std::strtod(std::string(buf, end).c_str(), nullptr);
}

}  // namespace

absl::Status ValidateConfig(const ModelConfig& c, const std::string& origin) {
  const std::pair<const char*, int32_t> positive[] = {{"dim", c.dim},
                                                      {"hidden_dim", c.hidden_dim},
                                                      {"n_layers", c.n_layers},
                                                      {"n_heads", c.n_heads},
                                                      {"n_kv_heads", c.n_kv_heads},
                                                      {"vocab_size", c.vocab_size},
                                                      {"max_seq_len", c.max_seq_len}};
  for (const auto& [name, v] : positive) {
    if (v <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(origin, ": config ", name, " = ", v, " must be positive"));
    }
  }
  if (c.dim % c.n_heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": config dim = ", c.dim,
                                                   " is not divisible by n_heads = ", c.n_heads));
  }
  if (c.n_kv_heads > c.n_heads || c.n_heads % c.n_kv_heads != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": config n_heads = ", c.n_heads,
                     " is not a multiple of n_kv_heads = ", c.n_kv_heads));
  }
  if (c.head_dim() % 2 != 0) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": config head_dim = ", c.head_dim(),
                                                   " (dim / n_heads) must be even for RoPE"));
  }
  if (!std::isfinite(c.norm_eps) || c.norm_eps <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": config norm_eps = ", c.norm_eps, " must be positive"));
  }
  if (!std::isfinite(c.rope_theta) || c.rope_theta <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": config rope_theta = ", c.rope_theta, " must be positive"));
  }
  for (const auto& [name, id] : {std::pair{"bos_id", c.bos_id}, std::pair{"eos_id", c.eos_id}}) {
    if (id < -1 || id >= c.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat(origin, ": config ", name, " = ", id,
                                                     " is outside the vocabulary (", c.vocab_size,
                                                     " tokens)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ModelConfig> ParseHfConfig(const std::string& json_text, const std::string& origin) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": bad JSON: ", e.what()));
  }
  if (!j.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": expected a JSON object"));
  }

  // Architecture: Llama and Mistral share the layout; Qwen2 adds q/k/v biases.
  static const char* kSupported[] = {"LlamaForCausalLM", "MistralForCausalLM"};
  if (auto it = j.find("architectures"); it != j.end() && !it->is_null()) {
    if (!it->is_array() || it->empty()) {
      return FieldError(origin, "architectures", "expected a non-empty list of names");
    }
    for (const json& a : *it) {
      if (!a.is_string()) return FieldError(origin, "architectures", "expected strings");
      const std::string name = a.get<std::string>();
      if (name.starts_with("Qwen2")) {
        return FieldError(origin, "architectures",
                          name +
                              " is not supported: Qwen2 has q/k/v projection biases, which "
                              "this engine does not implement");
      }
      bool known = false;
      for (const char* s : kSupported) known |= name == s;
      if (!known) {
        return FieldError(origin, "architectures",
                          absl::StrCat(name, " is not supported (expected one of ",
                                       absl::StrJoin(kSupported, ", "), ")"));
      }
    }
  }
  if (auto it = j.find("model_type"); it != j.end() && !it->is_null()) {
    if (!it->is_string()) return FieldError(origin, "model_type", "expected a string");
    const std::string t = it->get<std::string>();
    if (t != "llama" && t != "mistral") {
      return FieldError(origin, "model_type",
                        absl::StrCat("\"", t, "\" is not supported (expected llama or mistral)"));
    }
  }

  // Features the engine does not implement.
  if (auto it = j.find("rope_scaling"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return FieldError(origin, "rope_scaling", "expected an object or null");
    std::string type = "(none)";
    for (const char* key : {"rope_type", "type"}) {
      if (auto t = it->find(key); t != it->end() && t->is_string()) type = t->get<std::string>();
    }
    if (type != "default") {
      return FieldError(
          origin, "rope_scaling",
          absl::StrCat("RoPE scaling type \"", type, "\" is not supported (only plain RoPE)"));
    }
  }
  for (const char* field : {"attention_bias", "mlp_bias"}) {
    ASSIGN_OR_RETURN(bool bias, GetBool(j, origin, field, false));
    if (bias) return FieldError(origin, field, "biases are not supported");
  }
  if (auto it = j.find("hidden_act"); it != j.end() && !it->is_null()) {
    if (!it->is_string() || it->get<std::string>() != "silu") {
      return FieldError(origin, "hidden_act",
                        absl::StrCat(it->dump(), " is not supported (only \"silu\")"));
    }
  }

  ModelConfig c;
  ASSIGN_OR_RETURN(c.dim, GetInt(j, origin, "hidden_size"));
  ASSIGN_OR_RETURN(c.hidden_dim, GetInt(j, origin, "intermediate_size"));
  ASSIGN_OR_RETURN(c.n_layers, GetInt(j, origin, "num_hidden_layers"));
  ASSIGN_OR_RETURN(c.n_heads, GetInt(j, origin, "num_attention_heads"));
  ASSIGN_OR_RETURN(c.n_kv_heads, GetInt(j, origin, "num_key_value_heads", c.n_heads));
  ASSIGN_OR_RETURN(c.vocab_size, GetInt(j, origin, "vocab_size"));
  ASSIGN_OR_RETURN(c.max_seq_len, GetInt(j, origin, "max_position_embeddings", 2048));
  ASSIGN_OR_RETURN(double eps, GetNumber(j, origin, "rms_norm_eps", 1e-6));
  ASSIGN_OR_RETURN(double theta, GetNumber(j, origin, "rope_theta", 10000.0));
  c.norm_eps = float(eps);
  c.rope_theta = float(theta);
  ASSIGN_OR_RETURN(c.tied_embeddings, GetBool(j, origin, "tie_word_embeddings", false));
  ASSIGN_OR_RETURN(c.bos_id, GetTokenId(j, origin, "bos_token_id", 1));
  ASSIGN_OR_RETURN(c.eos_id, GetTokenId(j, origin, "eos_token_id", 2));

  for (const auto& [field, v] :
       {std::pair{"hidden_size", c.dim}, std::pair{"intermediate_size", c.hidden_dim},
        std::pair{"num_hidden_layers", c.n_layers}, std::pair{"num_attention_heads", c.n_heads},
        std::pair{"num_key_value_heads", c.n_kv_heads}, std::pair{"vocab_size", c.vocab_size},
        std::pair{"max_position_embeddings", c.max_seq_len}}) {
    if (v <= 0) return FieldError(origin, field, absl::StrCat("value ", v, " must be positive"));
  }
  if (auto it = j.find("head_dim"); it != j.end() && !it->is_null()) {
    ASSIGN_OR_RETURN(int32_t head_dim, GetInt(j, origin, "head_dim"));
    if (c.dim % c.n_heads != 0 || head_dim != c.dim / c.n_heads) {
      return FieldError(origin, "head_dim",
                        absl::StrCat("value ", head_dim,
                                     " differs from hidden_size / "
                                     "num_attention_heads = ",
                                     c.dim, " / ", c.n_heads, " (not supported)"));
    }
  }
  // Mistral's sliding window equals full attention for contexts no longer than the window,
  // so the usable context is capped at the window instead of rejecting the model.
  if (auto it = j.find("sliding_window"); it != j.end() && !it->is_null()) {
    ASSIGN_OR_RETURN(int32_t window, GetInt(j, origin, "sliding_window"));
    if (window <= 0) {
      return FieldError(origin, "sliding_window",
                        absl::StrCat("value ", window, " must be positive"));
    }
    c.max_seq_len = std::min(c.max_seq_len, window);
  }
  if (!std::isfinite(eps) || eps <= 0) {
    return FieldError(origin, "rms_norm_eps", absl::StrCat("value ", eps, " must be positive"));
  }
  if (!std::isfinite(theta) || theta <= 0) {
    return FieldError(origin, "rope_theta", absl::StrCat("value ", theta, " must be positive"));
  }
  RETURN_IF_ERROR(ValidateConfig(c, origin));
  return c;
}

std::string HfConfigJson(const ModelConfig& c) {
  nlohmann::ordered_json j;
  j["architectures"] = {"LlamaForCausalLM"};
  j["model_type"] = "llama";
  j["hidden_act"] = "silu";
  j["hidden_size"] = c.dim;
  j["intermediate_size"] = c.hidden_dim;
  j["num_hidden_layers"] = c.n_layers;
  j["num_attention_heads"] = c.n_heads;
  j["num_key_value_heads"] = c.n_kv_heads;
  j["head_dim"] = c.head_dim();
  j["vocab_size"] = c.vocab_size;
  j["max_position_embeddings"] = c.max_seq_len;
  j["rms_norm_eps"] = ShortestDouble(c.norm_eps);
  j["rope_theta"] = ShortestDouble(c.rope_theta);
  j["rope_scaling"] = nullptr;
  j["attention_bias"] = false;
  j["mlp_bias"] = false;
  j["tie_word_embeddings"] = c.tied_embeddings;
  j["bos_token_id"] = c.bos_id >= 0 ? json(c.bos_id) : json(nullptr);
  j["eos_token_id"] = c.eos_id >= 0 ? json(c.eos_id) : json(nullptr);
  return j.dump(2) + "\n";
}

}  // namespace squeeze
