// Size of a model as held for inference: the bytes of its packed tensors (scales and zero
// points included), counted once per storage (a tied classifier is not counted twice).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "model/model.h"

namespace squeeze {

struct SizeReport {
  int64_t bytes = 0;         // all weights: packed matrices + F32 norm vectors
  int64_t matrix_bytes = 0;  // packed matrices only
  int64_t params = 0;        // number of weights (matrices + norms), tied ones once
  double bits_per_weight = 0;
  // The transformer layers' matrices only (q, k, v, o, gate, up, down): what quantization
  // methods change when embedding and classifier are left alone.
  int64_t layer_matrix_bytes = 0;
  int64_t layer_params = 0;
  double layer_bits_per_weight = 0;
  // The KV cache as the engine stores it for this model (the `kv_cache` technique changes it).
  std::string kv_cache_format;  // "f32", "int8", "fp8_e4m3"
  int64_t kv_bytes_per_token = 0;
  // With a sliding window the cache stops growing at sinks + window positions; 0: it grows
  // with the context.
  int64_t kv_max_positions = 0;
  double ratio_to_baseline = 0;                    // bytes / baseline bytes; 0 without a baseline
  std::map<std::string, int64_t> bytes_by_format;  // format name -> matrix bytes
};

// baseline may be null.
SizeReport MeasureSize(const Model& model, const Model* baseline);

}  // namespace squeeze
