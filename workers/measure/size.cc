// Byte accounting over the model's tensors.
#include "measure/size.h"

#include <set>

#include "engine/attention.h"

namespace squeeze {

SizeReport MeasureSize(const Model& model, const Model* baseline) {
  SizeReport r;
  std::set<const void*> seen;
  for (const auto& [name, t] : model.Matrices()) {
    if (!seen.insert(t->storage_id()).second) continue;
    r.matrix_bytes += t->bytes();
    r.params += t->rows() * t->cols();
    // A split tensor's dense part (LLM.int8() outlier columns) and an adapter's A and B count
    // under their own formats. (Adapters add bytes, not parameters: bits per weight grows.)
    const SplitColumns* split = t->split();
    const LowRankAdapter* ad = t->adapter();
    const int64_t ad_bytes = ad ? ad->a->bytes() + ad->b->bytes() : 0;
    const int64_t split_bytes = split ? t->bytes() - t->main_bytes() - ad_bytes : 0;
    r.bytes_by_format[t->StorageName()] += t->main_bytes();
    if (split) r.bytes_by_format[GetFormatTraits(split->dense->format()).name] += split_bytes;
    if (ad) {
      r.bytes_by_format[GetFormatTraits(ad->a->format()).name] += ad->a->bytes();
      r.bytes_by_format[GetFormatTraits(ad->b->format()).name] += ad->b->bytes();
    }
  }
  int64_t norms = int64_t(model.final_norm.size());
  for (const LayerWeights& l : model.layers)
    norms += int64_t(l.attn_norm.size() + l.ffn_norm.size());
  r.params += norms;
  r.bytes = r.matrix_bytes + norms * int64_t(sizeof(float));
  r.bits_per_weight = r.params ? 8.0 * double(r.bytes) / double(r.params) : 0.0;
  for (const LayerWeights& l : model.layers) {
    for (const WeightTensor* t : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) {
      r.layer_matrix_bytes += t->bytes();
      r.layer_params += t->rows() * t->cols();
    }
  }
  r.layer_bits_per_weight =
      r.layer_params ? 8.0 * double(r.layer_matrix_bytes) / double(r.layer_params) : 0.0;
  r.kv_cache_format = KvCacheFormatName(model.kv_cache);
  r.kv_bytes_per_token = KvBytesPerPosition(model);
  if (model.attention.window > 0)
    r.kv_max_positions = int64_t(model.attention.sinks) + model.attention.window;
  if (baseline) {
    const SizeReport b = MeasureSize(*baseline, nullptr);
    r.ratio_to_baseline = b.bytes ? double(r.bytes) / double(b.bytes) : 0.0;
  }
  return r;
}

}  // namespace squeeze
