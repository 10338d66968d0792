// llama2.c legacy (version 0) checkpoints: a 7 x int32 header, then F32 arrays in a fixed order.
// The header is validated before any offset is computed; the file size must match exactly.
// Matrices are views into the mapped file except wq/wk, whose rows are permuted per head.
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>

#include "absl/strings/str_cat.h"
#include "model/loader.h"
#include "util/hash.h"
#include "util/mapped_file.h"
#include "util/status_macros.h"

namespace squeeze {
namespace {

constexpr uint64_t kHeaderBytes = 7 * sizeof(int32_t);

// a * b, or false when it overflows uint64.
bool CheckedMul(uint64_t a, uint64_t b, uint64_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}
bool CheckedAdd(uint64_t a, uint64_t b, uint64_t* out) {
  return !__builtin_add_overflow(a, b, out);
}

// Walks the F32 arrays of the file in order, handing out byte offsets.
class Layout {
 public:
  // Reserves `count` floats; false on overflow.
  bool Take(uint64_t count, uint64_t* offset) {
    uint64_t bytes;
    if (!CheckedMul(count, sizeof(float), &bytes)) return false;
    *offset = end_;
    return CheckedAdd(end_, bytes, &end_);
  }
  uint64_t end() const { return end_; }

 private:
  uint64_t end_ = kHeaderBytes;
};

// A (rows, cols) F32 matrix at `offset`: a view when aligned, else a copy.
WeightTensor F32Matrix(const std::shared_ptr<const MappedFile>& file, uint64_t offset, int64_t rows,
                       int64_t cols) {
  const uint8_t* p = file->data() + offset;
  if (reinterpret_cast<uintptr_t>(p) % alignof(float) == 0) {
    return WeightTensor::View(WeightFormat::kF32, rows, cols, p, file);
  }
  std::vector<uint8_t> bytes(p, p + uint64_t(rows) * uint64_t(cols) * sizeof(float));
  return WeightTensor::Owned(WeightFormat::kF32, rows, cols, std::move(bytes));
}

std::vector<float> F32Vector(const MappedFile& file, uint64_t offset, int64_t n) {
  std::vector<float> v(n);
  if (n > 0) std::memcpy(v.data(), file.data() + offset, n * sizeof(float));
  return v;
}

// Copies `heads` heads of `head_dim` rows each (cols wide) from llama2.c's interleaved RoPE
// order (pairs 2i, 2i+1) to the half-split order (pairs i, i + head_dim/2):
//   new row j        = old row 2j       for j < head_dim/2
//   new row j + hd/2 = old row 2j + 1
WeightTensor PermutedRopeMatrix(const MappedFile& file, uint64_t offset, int64_t heads,
                                int64_t head_dim, int64_t cols) {
  const int64_t rows = heads * head_dim, half = head_dim / 2;
  const uint64_t row_bytes = uint64_t(cols) * sizeof(float);
  std::vector<uint8_t> bytes(uint64_t(rows) * row_bytes);
  const uint8_t* src = file.data() + offset;
  for (int64_t h = 0; h < heads; ++h) {
    const int64_t base = h * head_dim;
    for (int64_t j = 0; j < head_dim; ++j) {
      const int64_t old_row = j < half ? 2 * j : 2 * (j - half) + 1;
      std::memcpy(bytes.data() + uint64_t(base + j) * row_bytes,
                  src + uint64_t(base + old_row) * row_bytes, row_bytes);
    }
  }
  return WeightTensor::Owned(WeightFormat::kF32, rows, cols, std::move(bytes));
}

}  // namespace

absl::StatusOr<Model> LoadLlama2cModel(const std::string& path) {
  ASSIGN_OR_RETURN(std::shared_ptr<const MappedFile> file, MappedFile::Open(path));
  if (file->size() < kHeaderBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": llama2.c checkpoint is truncated: ", file->size(),
                     " bytes, shorter than the 28-byte header"));
  }
  int32_t h[7];
  std::memcpy(h, file->data(), sizeof(h));
  const char* names[7] = {"dim",        "hidden_dim", "n_layers", "n_heads",
                          "n_kv_heads", "vocab_size", "seq_len"};
  for (int i = 0; i < 7; ++i) {
    const bool bad =
        i == 5 ? (h[i] == 0 || h[i] == std::numeric_limits<int32_t>::min()) : h[i] <= 0;
    if (bad) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": llama2.c header field ", names[i],
                                                     " = ", h[i], " is invalid (must be ",
                                                     i == 5 ? "non-zero" : "positive", ")"));
    }
  }
  ModelConfig c;
  c.dim = h[0];
  c.hidden_dim = h[1];
  c.n_layers = h[2];
  c.n_heads = h[3];
  c.n_kv_heads = h[4];
  c.vocab_size = h[5] > 0 ? h[5] : -h[5];
  c.max_seq_len = h[6];
  c.norm_eps = 1e-5f;
  c.rope_theta = 10000.0f;
  c.tied_embeddings = h[5] > 0;
  c.bos_id = 1;
  c.eos_id = 2;
  RETURN_IF_ERROR(ValidateConfig(c, path));

  // Every field is a positive int32 now, so pairwise products fit in uint64; longer products
  // and the running offset are checked.
  const uint64_t dim = c.dim, hidden = c.hidden_dim, L = c.n_layers, vocab = c.vocab_size;
  const uint64_t hd = c.head_dim(), kv_dim = uint64_t(c.kv_dim()), seq = c.max_seq_len;
  const uint64_t q_dim = uint64_t(c.n_heads) * hd;
  Layout lay;
  uint64_t o_emb, o_rms_att, o_wq, o_wk, o_wv, o_wo, o_rms_ffn, o_w1, o_w2, o_w3, o_rms_final,
      o_freq_re, o_freq_im, o_wcls = 0;
  uint64_t n;
  bool ok = lay.Take(vocab * dim, &o_emb) && lay.Take(L * dim, &o_rms_att) &&
            CheckedMul(L, q_dim * dim, &n) && lay.Take(n, &o_wq) &&
            CheckedMul(L, kv_dim * dim, &n) && lay.Take(n, &o_wk) && lay.Take(n, &o_wv) &&
            CheckedMul(L, dim * q_dim, &n) && lay.Take(n, &o_wo) && lay.Take(L * dim, &o_rms_ffn) &&
            CheckedMul(L, hidden * dim, &n) && lay.Take(n, &o_w1) && lay.Take(n, &o_w2) &&
            lay.Take(n, &o_w3) && lay.Take(dim, &o_rms_final) &&
            lay.Take(seq * (hd / 2), &o_freq_re) && lay.Take(seq * (hd / 2), &o_freq_im);
  if (ok && !c.tied_embeddings) ok = lay.Take(vocab * dim, &o_wcls);
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": llama2.c header describes a model too large to address"));
  }
  if (file->size() != lay.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": llama2.c checkpoint size mismatch: the header (dim=", c.dim,
        ", hidden_dim=", c.hidden_dim, ", n_layers=", c.n_layers, ", n_heads=", c.n_heads,
        ", n_kv_heads=", c.n_kv_heads, ", vocab_size=", h[5], ", seq_len=", c.max_seq_len,
        ") expects ", lay.end(), " bytes, but the file has ", file->size(),
        file->size() < lay.end() ? " (truncated)" : " (trailing bytes)"));
  }

  Model m;
  m.config = c;
  m.source = path;
  m.embedding = F32Matrix(file, o_emb, c.vocab_size, c.dim);
  m.layers.resize(c.n_layers);
  for (uint64_t l = 0; l < L; ++l) {
    LayerWeights& lw = m.layers[l];
    lw.attn_norm = F32Vector(*file, o_rms_att + l * dim * 4, c.dim);
    lw.wq = PermutedRopeMatrix(*file, o_wq + l * q_dim * dim * 4, c.n_heads, hd, c.dim);
    lw.wk = PermutedRopeMatrix(*file, o_wk + l * kv_dim * dim * 4, c.n_kv_heads, hd, c.dim);
    lw.wv = F32Matrix(file, o_wv + l * kv_dim * dim * 4, kv_dim, c.dim);
    lw.wo = F32Matrix(file, o_wo + l * dim * q_dim * 4, c.dim, q_dim);
    lw.ffn_norm = F32Vector(*file, o_rms_ffn + l * dim * 4, c.dim);
    lw.w_gate = F32Matrix(file, o_w1 + l * hidden * dim * 4, c.hidden_dim, c.dim);
    lw.w_down = F32Matrix(file, o_w2 + l * dim * hidden * 4, c.dim, c.hidden_dim);
    lw.w_up = F32Matrix(file, o_w3 + l * hidden * dim * 4, c.hidden_dim, c.dim);
  }
  m.final_norm = F32Vector(*file, o_rms_final, c.dim);
  if (!c.tied_embeddings) m.lm_head = F32Matrix(file, o_wcls, c.vocab_size, c.dim);
  RETURN_IF_ERROR(ValidateModel(m, path));

  Hasher hasher;
  hasher.Update(file->data(), file->size());
  m.content_hash = hasher.Hex();
  return m;
}

}  // namespace squeeze
