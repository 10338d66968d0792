// Row and token blocking shared by the SIMD kernel files. A gemv walks the rows GemvRows at a
// time; a gemm walks tiles of Rows weight rows x Tokens tokens, rows outermost, so that a
// tile's weight rows stay in cache while every token group passes over them and each weight is
// read from memory once. Tails use tiles of 1 row and/or 1 token.
//
// `Tile` provides `template <int R, int T> static void Run(w, row_bytes, x, y, ldy, cols)`,
// computing y[j * ldy + i] = W[i] · x[j] for i < R, j < T.
//
// Internal linkage on purpose: each SIMD file includes this and gets its own copy, compiled
// for its instruction set, so no copy can be shared with code built for another one.
//
// The integer formats round the activations to int8 blocks first (matmul.h, "Activation
// rounding"); GemvRoundedX / GemmRoundedX give a float tile exactly those rounded values
// (RoundActivationBlocks below computes them with the reference's float operations), so a
// file without integer dot products still meets the reference's semantics.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>

namespace squeeze::cpu {
namespace {

template <class Tile, int GemvRows>
void GemvByRows(const void* w, int64_t row_bytes, const float* x, float* y, int64_t rows,
                int64_t cols) {
  const uint8_t* p = static_cast<const uint8_t*>(w);
  int64_t r = 0;
  for (; r + GemvRows <= rows; r += GemvRows)
    Tile::template Run<GemvRows, 1>(p + r * row_bytes, row_bytes, x, y + r, 0, cols);
  for (; r < rows; ++r) Tile::template Run<1, 1>(p + r * row_bytes, row_bytes, x, y + r, 0, cols);
}

template <class Tile, int Rows, int Tokens, int R>
void GemmRowBlock(const uint8_t* wr, int64_t row_bytes, const float* x, int64_t n, float* y,
                  int64_t ldy, int64_t cols) {
  int64_t t = 0;
  for (; t + Tokens <= n; t += Tokens)
    Tile::template Run<R, Tokens>(wr, row_bytes, x + t * cols, y + t * ldy, ldy, cols);
  for (; t < n; ++t) Tile::template Run<R, 1>(wr, row_bytes, x + t * cols, y + t * ldy, ldy, cols);
}

template <class Tile, int Rows, int Tokens>
void GemmByTiles(const void* w, int64_t row_bytes, const float* x, int64_t n, float* y, int64_t ldy,
                 int64_t rows, int64_t cols) {
  const uint8_t* p = static_cast<const uint8_t*>(w);
  int64_t r = 0;
  for (; r + Rows <= rows; r += Rows)
    GemmRowBlock<Tile, Rows, Tokens, Rows>(p + r * row_bytes, row_bytes, x, n, y + r, ldy, cols);
  for (; r < rows; ++r)
    GemmRowBlock<Tile, Rows, Tokens, 1>(p + r * row_bytes, row_bytes, x, n, y + r, ldy, cols);
}

// Software prefetch for kernels that read their weights front to back (a gemv walking its rows
// one after another is one linear stream): PrefetchAhead<kBytes>(p) requests the cache lines of
// [p + kPrefetchBytes, p + kPrefetchBytes + kBytes). Called once per kBytes consumed (a block),
// it requests every line once or more, about kPrefetchBytes before it is read, with no
// branches. With rows of a few KB (the matrices of small and mid-sized models) the hardware
// prefetcher alone left f16 gemv at ~55% of the single-core read rate on the 2-core AMD EPYC
// (AVX2) development VM, this at ~95% (1 KB to 8 KB ahead measured alike; 2 KB chosen).
// Prefetches never fault, so running past the end of the weights is harmless.
constexpr int64_t kPrefetchBytes = 2048;

template <int64_t kBytes>
inline __attribute__((always_inline)) void PrefetchAhead(const void* p) {
  const char* c = static_cast<const char*>(p) + kPrefetchBytes;
#pragma GCC unroll 8
  for (int64_t o = 0; o < kBytes; o += 64) __builtin_prefetch(c + o, 0, 3);
}

// A per-thread scratch buffer of at least `bytes` bytes (64-byte aligned), kept between calls.
// Each kernel file has its own. Returns null when memory runs out.
void* ThreadScratch(size_t bytes) {
  struct Buffer {
    void* p = nullptr;
    size_t size = 0;
    ~Buffer() { std::free(p); }
  };
  thread_local Buffer buf;
  if (bytes == 0) bytes = 64;
  if (buf.size < bytes) {
    std::free(buf.p);
    const size_t size = (bytes + 63) / 64 * 64;
    buf.p = std::aligned_alloc(64, size);
    buf.size = buf.p ? size : 0;
  }
  return buf.p;
}

// Activation rounding (matmul.h): per block of 32 values (the last one may be shorter),
// d = absmax / 127, q = nearbyint(x * (127 / absmax)) (0 when absmax is 0), out = d * q.
// Builtins rather than std::fabs / std::nearbyint, whose inline copies could be shared with
// code built for another instruction set.
[[maybe_unused]] void RoundActivationBlocks(const float* x, int64_t n, float* out) {
  for (int64_t b = 0; b < n; b += 32) {
    const int64_t e = n - b < 32 ? n : b + 32;
    float amax = 0;
    for (int64_t c = b; c < e; ++c) {
      const float a = __builtin_fabsf(x[c]);
      amax = a > amax ? a : amax;
    }
    const float d = amax / 127.0f, id = amax > 0 ? 127.0f / amax : 0.0f;
    for (int64_t c = b; c < e; ++c) out[c] = d * __builtin_nearbyintf(x[c] * id);
  }
}

// x rounded to bf16 (round to nearest even; NaN stays NaN) and widened back to f32: the
// inputs of the bf16 format (matmul.h, "Activation rounding").
[[maybe_unused]] void RoundToBf16(const float* x, int64_t n, float* out) {
  for (int64_t c = 0; c < n; ++c) {
    uint32_t u;
    __builtin_memcpy(&u, x + c, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) {
      u |= 0x00400000u;  // quiet NaN
    } else {
      u += 0x7fffu + ((u >> 16) & 1u);
    }
    u &= 0xffff0000u;
    __builtin_memcpy(out + c, &u, 4);
  }
}

// gemv / gemm of a float tile on the rounded activations (Round: RoundActivationBlocks for
// the integer formats, RoundToBf16 for bf16).
template <class Tile, int GemvRows,
          void (*Round)(const float*, int64_t, float*) = RoundActivationBlocks>
void GemvRoundedX(const void* w, int64_t row_bytes, const float* x, float* y, int64_t rows,
                  int64_t cols) {
  float* xr = static_cast<float*>(ThreadScratch(size_t(cols) * sizeof(float)));
  if (xr == nullptr) std::abort();
  Round(x, cols, xr);
  GemvByRows<Tile, GemvRows>(w, row_bytes, xr, y, rows, cols);
}

template <class Tile, int Rows, int Tokens,
          void (*Round)(const float*, int64_t, float*) = RoundActivationBlocks>
void GemmRoundedX(const void* w, int64_t row_bytes, const float* x, int64_t n, float* y,
                  int64_t ldy, int64_t rows, int64_t cols) {
  float* xr = static_cast<float*>(ThreadScratch(size_t(n * cols) * sizeof(float)));
  if (xr == nullptr) std::abort();
  for (int64_t t = 0; t < n; ++t) Round(x + t * cols, cols, xr + t * cols);
  GemmByTiles<Tile, Rows, Tokens>(w, row_bytes, xr, n, y, ldy, rows, cols);
}

// ---- Kernels on prepared inputs, one weight row at a time ----
// For files whose kernels first transform the inputs (matmul.h, PreparedGemv) and then run one
// weight row against T prepared tokens. `K` is default-constructible (whatever a call needs
// once, such as table registers, is built in its constructor) and provides
//   static int64_t Bytes(int64_t cols);                        one token's prepared bytes
//   static void Prepare(const float* x, int64_t cols, void* buf);
//   using View = ...; static View ViewOf(const void* buf, int64_t cols);  a prepared token
//   template <int T> void Row(const uint8_t* row, const View* xs, float* y, int64_t ldy,
//                             int64_t cols) const;               y[j * ldy] = row · token j
// and, for a gemv that walks kSplit parts of its rows side by side (GemvOnPrepared),
//   static constexpr int kSplit;   (1: one row after another)
//   void Rows(const uint8_t* row, int64_t stride, const View& x, float* y, int64_t ys,
//             int64_t cols) const;                 y[i * ys] = (row + i * stride) · x, i < kSplit
// A gemv takes its token's view once, a gemm each group's once per row.

// This thread's buffer for `bytes` bytes of prepared inputs (ThreadScratch; aborts when memory
// runs out, as a kernel has no way to report it).
inline uint8_t* PreparedScratch(int64_t bytes) {
  void* p = ThreadScratch(size_t(bytes));
  if (p == nullptr) std::abort();
  return static_cast<uint8_t*>(p);
}

// The row loop of a gemv that walks S far-apart parts of its rows side by side, A adjacent rows
// of each at a time: split(r, part) for r = 0, A, 2A, ... < part covers rows r + a + s * part
// (a < A, s < S); one(r) then takes each row left over, one at a time.
template <int S, int A, class Split, class One>
inline __attribute__((always_inline)) void SplitRowLoop(int64_t rows, Split split, One one) {
  const int64_t part = rows / S / A * A;
  for (int64_t r = 0; r < part; r += A) split(r, part);
  for (int64_t r = S * part; r < rows; ++r) one(r);
}

// With kSplit > 1 the rows are cut into kSplit parts walked side by side (rows i, i + part,
// i + 2 part, ...): kSplit streams from memory, as far apart as the rows allow. On the 2-core
// Zen 5 development VM one thread read q8_g32 and q4_g128 from memory ~1.6x as fast this way as
// one row after another or a few adjacent rows at a time, whose streams lie a few KB apart
// (README, "On an AVX-512 machine").
template <class K>
void GemvOnPrepared(const void* w, int64_t row_bytes, const void* prepared, float* y, int64_t rows,
                    int64_t cols) {
  const K k;
  const typename K::View v = K::ViewOf(prepared, cols);
  const uint8_t* p = static_cast<const uint8_t*>(w);
  auto one = [&](int64_t r) { k.template Row<1>(p + r * row_bytes, &v, y + r, 0, cols); };
  if constexpr (K::kSplit > 1) {
    SplitRowLoop<K::kSplit, 1>(
        rows,
        [&](int64_t r, int64_t part) {
          k.Rows(p + r * row_bytes, part * row_bytes, v, y + r, part, cols);
        },
        one);
  } else {
    for (int64_t r = 0; r < rows; ++r) one(r);
  }
}

template <class K>
void GemvPreparing(const void* w, int64_t row_bytes, const float* x, float* y, int64_t rows,
                   int64_t cols) {
  uint8_t* buf = PreparedScratch(K::Bytes(cols));
  K::Prepare(x, cols, buf);
  GemvOnPrepared<K>(w, row_bytes, buf, y, rows, cols);
}

// Every token prepared once (each 64-byte aligned), then rows outermost: a row stays in cache
// while the tokens pass over it, 4 at a time.
template <class K>
void GemmPreparing(const void* w, int64_t row_bytes, const float* x, int64_t n, float* y,
                   int64_t ldy, int64_t rows, int64_t cols) {
  constexpr int kTokens = 4;
  const int64_t stride = (K::Bytes(cols) + 63) / 64 * 64;
  uint8_t* buf = PreparedScratch(n * stride);
  for (int64_t t = 0; t < n; ++t) K::Prepare(x + t * cols, cols, buf + t * stride);
  const K k;
  const uint8_t* p = static_cast<const uint8_t*>(w);
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* row = p + r * row_bytes;
    int64_t t = 0;
    for (; t + kTokens <= n; t += kTokens) {
      typename K::View vs[kTokens];
      for (int j = 0; j < kTokens; ++j) vs[j] = K::ViewOf(buf + (t + j) * stride, cols);
      k.template Row<kTokens>(row, vs, y + t * ldy + r, ldy, cols);
    }
    for (; t < n; ++t) {
      const typename K::View v = K::ViewOf(buf + t * stride, cols);
      k.template Row<1>(row, &v, y + t * ldy + r, 0, cols);
    }
  }
}

}  // namespace
}  // namespace squeeze::cpu
