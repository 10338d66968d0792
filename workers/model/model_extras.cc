// What a model carries beyond a Llama config.json: per-layer sizes left by structured pruning
// or gqa ("squeeze_layers") and the attention settings ("squeeze_attention"), written next to
// the standard fields of config.json and read back by the Hugging Face loader.
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "model/loader.h"

namespace squeeze {
namespace {

using json = nlohmann::ordered_json;

absl::Status FieldError(const std::string& origin, const std::string& field,
                        const std::string& problem) {
  return absl::InvalidArgumentError(absl::StrCat(origin, ": field ", field, ": ", problem));
}

// The non-negative int32 `key` of `j`, 0 when absent; errors name `field`.
absl::StatusOr<int32_t> Count(const json& j, const std::string& origin, const std::string& key,
                              const std::string& field) {
  auto it = j.find(key);
  if (it == j.end()) return 0;
  if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > (1 << 30))
    return FieldError(origin, field, absl::StrCat("expected a count, got ", it->dump()));
  return int32_t(it->get<int64_t>());
}

}  // namespace

std::string HfConfigJsonFor(const Model& m) {
  ModelConfig config = m.config;
  config.tied_embeddings = !m.lm_head.has_value();
  json j = json::parse(HfConfigJson(config));
  if (m.has_layer_shapes()) {
    json layers = json::array();
    for (const LayerWeights& w : m.layers) {
      json l = json::object();
      if (w.n_heads > 0) l["n_heads"] = w.n_heads;
      if (w.n_kv_heads > 0) l["n_kv_heads"] = w.n_kv_heads;
      if (w.hidden_dim > 0) l["hidden_dim"] = w.hidden_dim;
      if (!w.kv_head_of.empty()) l["kv_head_of"] = w.kv_head_of;
      layers.push_back(l);
    }
    j["squeeze_layers"] = layers;
  }
  const AttentionSettings& a = m.attention;
  if (!(a == AttentionSettings{})) {
    j["squeeze_attention"] = {{"window", a.window},
                              {"sinks", a.sinks},
                              {"block", a.block},
                              {"local_blocks", a.local_blocks},
                              {"global_stride", a.global_stride},
                              {"kernel", AttentionKernelName(a.kernel)},
                              {"tile_q", a.tile_q},
                              {"tile_k", a.tile_k}};
  }
  return j.dump(2) + "\n";
}

absl::Status ParseModelExtras(const std::string& config_text, const std::string& origin, Model* m) {
  json j;
  try {
    j = json::parse(config_text);
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": bad JSON: ", e.what()));
  }
  m->layers.resize(m->config.n_layers);
  if (auto it = j.find("squeeze_layers"); it != j.end()) {
    if (!it->is_array() || int64_t(it->size()) != m->config.n_layers) {
      return FieldError(origin, "squeeze_layers",
                        absl::StrCat("expected an array of ", m->config.n_layers, " objects"));
    }
    for (int32_t i = 0; i < m->config.n_layers; ++i) {
      const json& l = (*it)[i];
      const std::string f = absl::StrCat("squeeze_layers[", i, "]");
      if (!l.is_object()) return FieldError(origin, f, "expected an object");
      LayerWeights& w = m->layers[i];
      for (auto [key, out] :
           {std::pair{"n_heads", &w.n_heads}, std::pair{"n_kv_heads", &w.n_kv_heads},
            std::pair{"hidden_dim", &w.hidden_dim}}) {
        absl::StatusOr<int32_t> v = Count(l, origin, key, f + "." + key);
        if (!v.ok()) return v.status();
        *out = *v;
      }
      if (auto map = l.find("kv_head_of"); map != l.end()) {
        if (!map->is_array()) return FieldError(origin, f + ".kv_head_of", "expected an array");
        for (const json& h : *map) {
          if (!h.is_number_integer() || h.get<int64_t>() < 0 || h.get<int64_t>() > (1 << 20))
            return FieldError(origin, f + ".kv_head_of",
                              absl::StrCat("expected head indices, got ", h.dump()));
          w.kv_head_of.push_back(int32_t(h.get<int64_t>()));
        }
      }
    }
  }
  if (auto it = j.find("squeeze_attention"); it != j.end()) {
    if (!it->is_object()) return FieldError(origin, "squeeze_attention", "expected an object");
    AttentionSettings& a = m->attention;
    for (auto [key, out] :
         {std::pair{"window", &a.window}, std::pair{"sinks", &a.sinks},
          std::pair{"block", &a.block}, std::pair{"local_blocks", &a.local_blocks},
          std::pair{"global_stride", &a.global_stride}, std::pair{"tile_q", &a.tile_q},
          std::pair{"tile_k", &a.tile_k}}) {
      absl::StatusOr<int32_t> v = Count(*it, origin, key, absl::StrCat("squeeze_attention.", key));
      if (!v.ok()) return v.status();
      *out = *v;
    }
    if (auto k = it->find("kernel"); k != it->end()) {
      bool found = false;
      for (AttentionKernel c : {AttentionKernel::kAuto, AttentionKernel::kNaive,
                                AttentionKernel::kRowwise, AttentionKernel::kFlash}) {
        if (k->is_string() && k->get<std::string>() == AttentionKernelName(c)) {
          a.kernel = c;
          found = true;
        }
      }
      if (!found) {
        return FieldError(origin, "squeeze_attention.kernel",
                          absl::StrCat(k->dump(), " is not one of auto, naive, rowwise, flash"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace squeeze
