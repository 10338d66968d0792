// `squeeze make-model`: a random-weight model of a chosen shape, written as a Hugging Face
// folder, for speed work on models larger than the caches.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "absl/strings/str_format.h"
#include "measure/size.h"
#include "model/loader.h"
#include "service/cli/commands.h"
#include "service/cli/common.h"

namespace squeeze::cli {
namespace {

struct MakeModelArgs {
  std::string out, format = "f32", preset;
  ModelConfig c;
  uint64_t seed = 1;
};

absl::Status RunMakeModel(MakeModelArgs a) {
  if (a.preset == "125m") {
    // ~125M parameters, Llama-like proportions (GQA 12/4), 500 MB in F32: far above L3.
    a.c.dim = 768, a.c.hidden_dim = 2048, a.c.n_layers = 12, a.c.n_heads = 12;
    a.c.n_kv_heads = 4, a.c.vocab_size = 32000, a.c.max_seq_len = 2048;
    a.c.tied_embeddings = false;
  } else if (!a.preset.empty()) {
    return absl::InvalidArgumentError("--preset: " + a.preset + " is not one of 125m");
  }
  if (a.c.n_kv_heads == 0) a.c.n_kv_heads = a.c.n_heads;
  if (absl::Status s = ValidateConfig(a.c, "make-model"); !s.ok()) return s;
  RandomModelOptions o;
  o.config = a.c;
  o.seed = a.seed;
  if (!FormatFromName(a.format, &o.format) || a.format.empty())
    return absl::InvalidArgumentError("--format: " + a.format + " is not one of f32, f16, bf16");
  Model m = MakeRandomModel(o);
  if (absl::Status s = SaveHfModel(m, a.out); !s.ok()) return s;
  const SizeReport size = MeasureSize(m, nullptr);
  std::printf("wrote %s: %s, %lld parameters, %.1f MB (%s)\n", a.out.c_str(),
              ConfigSummary(m.config).c_str(), static_cast<long long>(size.params),
              double(size.bytes) / 1e6, a.format.c_str());
  return absl::OkStatus();
}

}  // namespace

void AddMakeModelCommand(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<MakeModelArgs>();
  CLI::App* c = app.add_subcommand(
      "make-model", "Write a random-weight model (Hugging Face folder) of a chosen shape");
  c->add_option("--out", a->out, "output folder")->required();
  c->add_option("--preset", a->preset,
                "125m: ~125M parameters, 500 MB in f32 (overrides the shape options)");
  c->add_option("--dim", a->c.dim, "model width")->default_val(288);
  c->add_option("--hidden", a->c.hidden_dim, "FFN width")->default_val(768);
  c->add_option("--layers", a->c.n_layers, "layers")->default_val(6);
  c->add_option("--heads", a->c.n_heads, "attention heads")->default_val(6);
  c->add_option("--kv-heads", a->c.n_kv_heads, "key/value heads (default: = heads)")
      ->default_val(0);
  c->add_option("--vocab", a->c.vocab_size, "vocabulary size")->default_val(32000);
  c->add_option("--seq-len", a->c.max_seq_len, "maximum context")->default_val(1024);
  c->add_option("--format", a->format, "weight format: f32, f16, bf16")->default_val("f32");
  c->add_option("--seed", a->seed, "random seed")->default_val(1);
  c->add_flag(
      "--untied", [a](int64_t) { a->c.tied_embeddings = false; },
      "separate classifier (default: tied to the embedding)");
  c->callback([a, exit_code] {
    const absl::Status s = RunMakeModel(*a);
    *exit_code = s.ok() ? kExitOk : ReportError("make-model", s);
  });
}

}  // namespace squeeze::cli
