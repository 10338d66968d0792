// `squeeze train`: trains a model from scratch (train/from_scratch.h) and prints loss,
// tokens/s and a progress bar with ETA as it goes, then the held-out perplexity next to the
// unigram baseline's.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>

#include "absl/strings/str_format.h"
#include "service/cli/commands.h"
#include "service/cli/common.h"
#include "train/from_scratch.h"

namespace squeeze::cli {
namespace {

struct TrainArgs {
  ScratchOptions o;
  bool quiet = false;
};

std::string Duration(double s) {
  const int64_t t = int64_t(std::lround(std::max(0.0, s)));
  return t >= 3600 ? absl::StrFormat("%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60)
                   : absl::StrFormat("%d:%02d", t / 60, t % 60);
}

// One line of progress: "step 120/1200 [====>     ] loss 3.21  9800 tok/s  lr 2.0e-03 ETA 2:10".
// On a terminal the line is redrawn in place; otherwise a line is printed at each validation.
void PrintProgress(const StepInfo& s, bool tty) {
  constexpr int kWidth = 24;
  const int done = int(kWidth * s.step / std::max<int64_t>(1, s.steps));
  std::string bar(size_t(done), '=');
  if (done < kWidth) bar += '>' + std::string(size_t(kWidth - done - 1), ' ');
  std::string line =
      absl::StrFormat("step %d/%d [%s] loss %.3f  %.0f tok/s  lr %.1e  ETA %s", s.step, s.steps,
                      bar, s.loss.loss, s.tokens_per_s, s.lr, Duration(s.eta_s));
  const bool valid = s.valid_loss >= 0;
  if (valid)
    line += absl::StrFormat("  valid loss %.3f (ppl %.2f)", s.valid_loss, std::exp(s.valid_loss));
  if (tty) {
    std::fprintf(stderr, "\r%-120s%s", line.c_str(), valid || s.step == s.steps ? "\n" : "");
  } else if (valid || s.step == 1) {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

absl::Status RunTrain(const TrainArgs& a) {
  const bool tty = !a.quiet && isatty(fileno(stderr));
  auto log = [&](const std::string& m) {
    if (!a.quiet) std::fprintf(stderr, "%s\n", m.c_str());
  };
  auto step = [&](const StepInfo& s) {
    if (!a.quiet) PrintProgress(s, tty);
  };
  absl::StatusOr<ScratchResult> r = TrainFromScratch(a.o, log, step);
  if (!r.ok()) return r.status();
  std::printf("model         %s\n", a.o.out.c_str());
  std::printf("parameters    %lld\n", static_cast<long long>(r->params));
  std::printf("training      %.1f s, %.0f tokens/s (%lld training tokens available)\n",
              r->train_seconds, r->tokens_per_s, static_cast<long long>(r->train_tokens));
  std::printf("held-out text %s (%lld tokens, %lld scored)\n", r->valid_path.c_str(),
              static_cast<long long>(r->valid_tokens), static_cast<long long>(r->scored_tokens));
  std::printf("perplexity    %.3f (unigram baseline %.2f: %.1fx lower)\n", r->valid_perplexity,
              r->unigram_perplexity, r->unigram_perplexity / r->valid_perplexity);
  std::printf("total time    %s\n", Duration(r->total_seconds).c_str());
  std::printf("next          squeeze eval --model %s --text %s\n", a.o.out.c_str(),
              r->valid_path.c_str());
  return absl::OkStatus();
}

}  // namespace

void AddTrainCommand(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<TrainArgs>();
  CLI::App* c = app.add_subcommand(
      "train",
      "Train a model from scratch on a text (default: a built-in corpus of generated stories)");
  c->add_option("--out", a->o.out, "output folder (Hugging Face model + tokenizer.json)")
      ->required();
  c->add_option("--text", a->o.text_path,
                "UTF-8 training text; its last 5% is held out (default: the built-in stories)");
  c->add_option("--preset", a->o.preset, "model shape: tiny (~1.8M parameters) or small (~11M)")
      ->default_val("tiny");
  c->add_option("--steps", a->o.steps, "training steps (0: the preset's)")
      ->default_val(0)
      ->check(CLI::NonNegativeNumber);
  c->add_option("--tokenizer", a->o.tokenizer, "bpe (trained on the text) or byte")
      ->default_val("bpe");
  c->add_option("--vocab", a->o.vocab, "BPE vocabulary size (0: the preset's)")
      ->default_val(0)
      ->check(CLI::NonNegativeNumber);
  c->add_option("--batch", a->o.batch, "sequences per step (0: the preset's)")
      ->default_val(0)
      ->check(CLI::NonNegativeNumber);
  c->add_option("--seq", a->o.seq, "tokens per sequence, also the model's context (0: preset's)")
      ->default_val(0)
      ->check(CLI::NonNegativeNumber);
  c->add_option("--lr", a->o.lr, "peak learning rate (0: the preset's)")->default_val(0);
  c->add_option("--eval-every", a->o.eval_every, "steps between validations (0: 10 per run)")
      ->default_val(0)
      ->check(CLI::NonNegativeNumber);
  c->add_option("--threads", a->o.threads, "threads (0: all cores)")->default_val(0);
  c->add_option("--seed", a->o.seed, "random seed (initial weights, batches)")->default_val(1);
  c->add_flag("-q,--quiet", a->quiet, "no progress on stderr");
  c->callback([a, exit_code] {
    const absl::Status s = RunTrain(*a);
    *exit_code = s.ok() ? kExitOk : ReportError("train", s);
  });
}

}  // namespace squeeze::cli
