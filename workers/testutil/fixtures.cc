// Test inputs made on the fly (see fixtures.h).
#include "testutil/fixtures.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

#include "model/loader.h"

namespace squeeze::testing {

void WriteByteTokenizer(const std::string& path) {
  std::ofstream tok(path, std::ios::binary);
  auto put32 = [&](int32_t v) { tok.write(reinterpret_cast<const char*>(&v), 4); };
  put32(6);  // max_token_length
  std::vector<std::string> pieces = {"<unk>", "<s>", "</s>"};
  for (int b = 0; b < 256; ++b) {
    char p[8];
    std::snprintf(p, sizeof p, "<0x%02X>", b);
    pieces.push_back(p);
  }
  for (const std::string& p : pieces) {
    const float score = 0;
    tok.write(reinterpret_cast<const char*>(&score), 4);
    put32(int32_t(p.size()));
    tok.write(p.data(), p.size());
  }
}

void WriteStoryText(const std::string& path, int lines) {
  std::ofstream text(path);
  for (int i = 0; i < lines; ++i) text << "Once upon a time, " << i << " small foxes ran home.\n";
}

TinyModelFiles MakeTinyModelFiles(const std::string& dir, int dim, int hidden, int layers) {
  RandomModelOptions o;
  o.config.dim = dim;
  o.config.hidden_dim = hidden;
  o.config.n_layers = layers;
  o.config.n_heads = 4;
  o.config.n_kv_heads = 2;
  o.config.vocab_size = 300;
  o.config.max_seq_len = 128;
  o.config.tied_embeddings = false;
  TinyModelFiles f{dir + "/m", dir + "/tok.bin", dir + "/text.txt"};
  std::filesystem::create_directories(dir);
  if (!SaveHfModel(MakeRandomModel(o), f.model).ok()) std::abort();
  WriteByteTokenizer(f.tokenizer);
  WriteStoryText(f.text, 40);
  return f;
}

}  // namespace squeeze::testing
