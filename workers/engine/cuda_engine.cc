// The GPU forward pass (see cuda_engine.h). Host code only: the kernels are in kernels/cuda.
// The KV cache keeps every position (max_context rows of n_kv_heads * head_dim floats per layer,
// keys and values): the attention kernel applies sliding windows and sinks as a mask, which
// gives the same results as the CPU engine's ring.
#include "engine/cuda_engine.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cuda/cuda_backend.h"
#include "cuda/cuda_gemv.h"
#include "cuda/cuda_ops.h"
#include "util/status_macros.h"

namespace squeeze {

namespace {

// A packed matrix on the device.
struct DeviceMatrix {
  DeviceBuffer bytes;
  WeightFormat format = WeightFormat::kF32;
  int64_t rows = 0, cols = 0, row_bytes = 0;
};

absl::StatusOr<DeviceBuffer> Upload(const void* host, size_t bytes) {
  absl::StatusOr<DeviceBuffer> buf = DeviceBuffer::Create(bytes);
  if (!buf.ok()) return buf.status();
  if (absl::Status s = buf->CopyFromHost(host, bytes); !s.ok()) return s;
  return buf;
}

absl::StatusOr<DeviceMatrix> UploadMatrix(const WeightTensor& w, const std::string& name) {
  if (!CudaGemvSupports(w.format())) {
    return absl::UnimplementedError(absl::StrCat("cuda engine: ", name, ": format ",
                                                 GetFormatTraits(w.format()).name,
                                                 " has no CUDA gemv kernel yet"));
  }
  if (w.sparse() != nullptr) {
    return absl::UnimplementedError(
        absl::StrCat("cuda engine: ", name, ": sparse (CSR) storage has no CUDA kernel yet"));
  }
  if (w.split() != nullptr) {
    return absl::UnimplementedError(absl::StrCat(
        "cuda engine: ", name, ": split columns (llm_int8) do not run on the GPU yet"));
  }
  DeviceMatrix m;
  m.format = w.format();
  m.rows = w.rows();
  m.cols = w.cols();
  m.row_bytes = w.row_bytes();
  absl::StatusOr<DeviceBuffer> b = Upload(w.data(), size_t(w.rows() * w.row_bytes()));
  if (!b.ok()) return b.status();
  m.bytes = std::move(*b);
  return m;
}

absl::StatusOr<DeviceBuffer> Floats(int64_t n) {
  return DeviceBuffer::Create(size_t(n) * sizeof(float));
}

}  // namespace

struct CudaEngine::Buffers {
  struct Layer {
    DeviceBuffer attn_norm, ffn_norm, kv_head_of, k_cache, v_cache;
    DeviceMatrix wq, wk, wv, wo, w_gate, w_up, w_down;
    LayerShape shape;
  };
  std::vector<Layer> layers;
  DeviceBuffer final_norm, rope_cos, rope_sin;
  DeviceMatrix classifier;
  // Activations of one token: x, xb (dim); q, att (max q_dim); hb, hb2 (max hidden); logits.
  DeviceBuffer x, xb, q, att, hb, hb2, logits, scratch;
  std::vector<float> host_row;  // (dim) the embedding row of the current token
  int64_t bytes = 0;
};

CudaEngine::CudaEngine(const Model& model, int max_context)
    : model_(model), max_context_(max_context), b_(std::make_unique<Buffers>()) {}

CudaEngine::~CudaEngine() = default;

int64_t CudaEngine::device_bytes() const {
  return b_->bytes;
}

absl::StatusOr<std::unique_ptr<CudaEngine>> CudaEngine::Create(const Model& model,
                                                               const CudaEngineOptions& opts) {
  std::string why;
  if (!CudaAvailable(&why)) return absl::UnavailableError("cuda engine: no CUDA device: " + why);
  if (absl::Status s = ValidateModel(model, model.source.empty() ? "model" : model.source);
      !s.ok()) {
    return s;
  }
  if (model.kv_cache != KvCacheFormat::kF32) {
    return absl::UnimplementedError(absl::StrCat("cuda engine: KV cache format ",
                                                 KvCacheFormatName(model.kv_cache),
                                                 " does not run on the GPU yet (f32 only)"));
  }
  const ModelConfig& c = model.config;
  const int max_context = opts.max_context > 0 ? opts.max_context : c.max_seq_len;
  if (max_context <= 0) return absl::InvalidArgumentError("cuda engine: max_context must be > 0");
  const int64_t hd = c.head_dim(), half = hd / 2, dim = c.dim;
  if (hd <= 0 || hd % 2 != 0 || hd > 256) {
    return absl::UnimplementedError(absl::StrCat("cuda engine: head_dim ", hd,
                                                 " (the GPU path needs an even head_dim <= 256)"));
  }

  std::unique_ptr<CudaEngine> e(new CudaEngine(model, max_context));
  Buffers& b = *e->b_;
  int64_t max_q = 0, max_hidden = 0, max_scratch = 0;
  auto note = [&](const DeviceMatrix& m) {
    b.bytes += int64_t(m.bytes.size());
    max_scratch = std::max(max_scratch, CudaGemvScratchBytes(m.format, m.cols));
  };
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const LayerWeights& w = model.layers[l];
    Buffers::Layer L;
    L.shape = model.Shape(l);
    const std::string p = absl::StrCat("layer ", l, " ");
    ASSIGN_OR_RETURN(L.attn_norm, Upload(w.attn_norm.data(), w.attn_norm.size() * sizeof(float)));
    ASSIGN_OR_RETURN(L.ffn_norm, Upload(w.ffn_norm.data(), w.ffn_norm.size() * sizeof(float)));
    ASSIGN_OR_RETURN(L.kv_head_of, Upload(L.shape.kv_head_of.data(),
                                          L.shape.kv_head_of.size() * sizeof(int32_t)));
    ASSIGN_OR_RETURN(L.wq, UploadMatrix(w.wq, p + "wq"));
    ASSIGN_OR_RETURN(L.wk, UploadMatrix(w.wk, p + "wk"));
    ASSIGN_OR_RETURN(L.wv, UploadMatrix(w.wv, p + "wv"));
    ASSIGN_OR_RETURN(L.wo, UploadMatrix(w.wo, p + "wo"));
    ASSIGN_OR_RETURN(L.w_gate, UploadMatrix(w.w_gate, p + "w_gate"));
    ASSIGN_OR_RETURN(L.w_up, UploadMatrix(w.w_up, p + "w_up"));
    ASSIGN_OR_RETURN(L.w_down, UploadMatrix(w.w_down, p + "w_down"));
    for (const DeviceMatrix* m : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) {
      note(*m);
    }
    const int64_t cache = int64_t(max_context) * L.shape.kv_dim();
    ASSIGN_OR_RETURN(L.k_cache, Floats(cache));
    ASSIGN_OR_RETURN(L.v_cache, Floats(cache));
    b.bytes += 2 * cache * int64_t(sizeof(float)) + 2 * dim * int64_t(sizeof(float));
    max_q = std::max(max_q, L.shape.q_dim());
    max_hidden = std::max<int64_t>(max_hidden, L.shape.hidden_dim);
    b.layers.push_back(std::move(L));
  }
  ASSIGN_OR_RETURN(b.final_norm,
                   Upload(model.final_norm.data(), model.final_norm.size() * sizeof(float)));
  ASSIGN_OR_RETURN(b.classifier, UploadMatrix(model.classifier(), "classifier"));
  note(b.classifier);

  // RoPE tables computed exactly as the CPU engine does (double angles rounded to float).
  std::vector<float> cs(size_t(max_context) * half), sn(cs.size());
  for (int64_t pos = 0; pos < max_context; ++pos) {
    for (int64_t i = 0; i < half; ++i) {
      const double angle =
          double(pos) * std::pow(double(c.rope_theta), -2.0 * double(i) / double(hd));
      cs[pos * half + i] = float(std::cos(angle));
      sn[pos * half + i] = float(std::sin(angle));
    }
  }
  ASSIGN_OR_RETURN(b.rope_cos, Upload(cs.data(), cs.size() * sizeof(float)));
  ASSIGN_OR_RETURN(b.rope_sin, Upload(sn.data(), sn.size() * sizeof(float)));
  ASSIGN_OR_RETURN(b.x, Floats(dim));
  ASSIGN_OR_RETURN(b.xb, Floats(dim));
  ASSIGN_OR_RETURN(b.q, Floats(max_q));
  ASSIGN_OR_RETURN(b.att, Floats(max_q));
  ASSIGN_OR_RETURN(b.hb, Floats(max_hidden));
  ASSIGN_OR_RETURN(b.hb2, Floats(max_hidden));
  ASSIGN_OR_RETURN(b.logits, Floats(c.vocab_size));
  ASSIGN_OR_RETURN(b.scratch, DeviceBuffer::Create(size_t(std::max<int64_t>(max_scratch, 16))));
  b.bytes += int64_t(b.rope_cos.size() + b.rope_sin.size() + b.x.size() + b.xb.size() + b.q.size() +
                     b.att.size() + b.hb.size() + b.hb2.size() + b.logits.size() +
                     b.scratch.size() + b.final_norm.size());
  b.host_row.resize(size_t(dim));
  return e;
}

absl::Status CudaEngine::Forward(std::span<const int32_t> tokens, float* logits) {
  const int64_t n = int64_t(tokens.size());
  if (n == 0) return absl::InvalidArgumentError("cuda engine: no tokens to run");
  for (int64_t i = 0; i < n; ++i) {
    if (tokens[i] < 0 || tokens[i] >= model_.config.vocab_size) {
      return absl::InvalidArgumentError(
          absl::StrCat("cuda engine: token id ", tokens[i], " at index ", i, " is outside the ",
                       "vocabulary [0, ", model_.config.vocab_size, ")"));
    }
  }
  if (pos_ + n > max_context_) {
    return absl::OutOfRangeError(absl::StrCat("cuda engine: context of ", pos_ + n,
                                              " tokens exceeds max_context ", max_context_));
  }
  for (int64_t i = 0; i < n; ++i) {
    if (absl::Status s = Step(tokens[i], logits != nullptr && i == n - 1); !s.ok()) return s;
  }
  if (absl::Status s = CudaSynchronize(nullptr); !s.ok()) return s;
  if (logits == nullptr) return absl::OkStatus();
  return b_->logits.CopyToHost(logits, size_t(model_.config.vocab_size) * sizeof(float));
}

// One token at position pos_: queues every kernel on the default stream.
absl::Status CudaEngine::Step(int32_t token, bool want_logits) {
  const ModelConfig& c = model_.config;
  Buffers& b = *b_;
  const int64_t dim = c.dim, hd = c.head_dim(), half = hd / 2, pos = pos_;
  float* x = b.x.as<float>();
  float* xb = b.xb.as<float>();
  float* q = b.q.as<float>();
  float* att = b.att.as<float>();
  float* hb = b.hb.as<float>();
  float* hb2 = b.hb2.as<float>();
  void* scratch = b.scratch.data();
  auto gemv = [&](const DeviceMatrix& m, const float* in, float* out) {
    return cuda_gemv(m.format, m.bytes.data(), m.row_bytes, in, out, m.rows, m.cols, scratch,
                     nullptr);
  };
  const AttentionSettings& a = model_.attention;
  const CudaAttentionMask mask{a.window, a.sinks, a.block, a.local_blocks, a.global_stride};
  const float* cs = b.rope_cos.as<float>() + pos * half;
  const float* sn = b.rope_sin.as<float>() + pos * half;

  model_.embedding.RowToFloat(token, b.host_row.data());
  absl::Status s = b.x.CopyFromHost(b.host_row.data(), size_t(dim) * sizeof(float));
  for (size_t l = 0; l < b.layers.size() && s.ok(); ++l) {
    const Buffers::Layer& L = b.layers[l];
    const LayerShape& sh = L.shape;
    float* k_row = L.k_cache.as<float>() + pos * sh.kv_dim();
    float* v_row = L.v_cache.as<float>() + pos * sh.kv_dim();
    // The statuses chain: the first failure skips the rest of the step.
    auto run = [&s](const absl::Status& next) {
      if (s.ok()) s = next;
    };
    run(cuda_rmsnorm(xb, x, L.attn_norm.as<float>(), 1, dim, c.norm_eps, nullptr));
    run(gemv(L.wq, xb, q));
    run(gemv(L.wk, xb, k_row));  // straight into the cache row of this position
    run(gemv(L.wv, xb, v_row));
    run(cuda_rope(q, sh.n_heads, hd, cs, sn, nullptr));
    run(cuda_rope(k_row, sh.n_kv_heads, hd, cs, sn, nullptr));
    run(cuda_attention_decode(q, L.k_cache.as<float>(), L.v_cache.as<float>(),
                              L.kv_head_of.as<int32_t>(), att, sh.n_heads, sh.n_kv_heads, hd, pos,
                              mask, nullptr));
    run(gemv(L.wo, att, xb));
    run(cuda_add(x, xb, dim, nullptr));
    run(cuda_rmsnorm(xb, x, L.ffn_norm.as<float>(), 1, dim, c.norm_eps, nullptr));
    run(gemv(L.w_gate, xb, hb));
    run(gemv(L.w_up, xb, hb2));
    run(cuda_swiglu(hb, hb2, sh.hidden_dim, nullptr));
    run(gemv(L.w_down, hb, xb));
    run(cuda_add(x, xb, dim, nullptr));
  }
  if (s.ok() && want_logits) {
    s = cuda_rmsnorm(x, x, b.final_norm.as<float>(), 1, dim, c.norm_eps, nullptr);
    if (s.ok()) s = gemv(b.classifier, x, b.logits.as<float>());
  }
  if (s.ok()) ++pos_;
  return s;
}

}  // namespace squeeze
