// Small inputs that tests make themselves, so they never need ../shared/assets: a llama2.c
// tokenizer of byte pieces, a text, and a random-weight model folder that fits them.
#pragma once

#include <string>

namespace squeeze::testing {

// A llama2.c tokenizer.bin with <unk>, <s>, </s> and the 256 byte pieces <0x00>..<0xFF>
// (259 tokens, BOS 1, EOS 2): any text encodes, one token per byte.
void WriteByteTokenizer(const std::string& path);

// `lines` lines of short English sentences.
void WriteStoryText(const std::string& path, int lines);

struct TinyModelFiles {
  std::string model;      // a Hugging Face folder
  std::string tokenizer;  // byte tokenizer (WriteByteTokenizer)
  std::string text;       // WriteStoryText(40 lines)
};

// Writes dir/m (random weights, vocabulary 300, 128 context, f32), dir/tok.bin and
// dir/text.txt. dim, hidden and layers set the model's size.
TinyModelFiles MakeTinyModelFiles(const std::string& dir, int dim = 64, int hidden = 96,
                                  int layers = 2);

}  // namespace squeeze::testing
