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
#pragma once

#include <cstdint>

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

}  // namespace
}  // namespace squeeze::cpu
