// Tokenizer lookup and the model shape summary shared by the CLI and the worker.
#include "job/inputs.h"

#include "absl/strings/str_format.h"

namespace squeeze {

std::string ConfigSummary(const ModelConfig& c) {
  return absl::StrFormat("dim=%d hidden=%d layers=%d heads=%d kv_heads=%d vocab=%d ctx=%d%s", c.dim,
                         c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size,
                         c.max_seq_len, c.tied_embeddings ? " tied" : "");
}

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizerFor(const std::string& path,
                                                            const Model& model,
                                                            std::string* used_path) {
  std::string p = path;
  if (p.empty()) {
    absl::StatusOr<std::string> found = FindTokenizerFor(model.source);
    if (!found.ok()) return found.status();
    p = *found;
  }
  absl::StatusOr<std::unique_ptr<Tokenizer>> tok = LoadTokenizer(p);
  if (!tok.ok()) return tok.status();
  if ((*tok)->vocab_size() > model.config.vocab_size) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: tokenizer has %d tokens but the model's vocabulary has %d", p,
                        (*tok)->vocab_size(), model.config.vocab_size));
  }
  if (used_path) *used_path = p;
  return tok;
}

}  // namespace squeeze
