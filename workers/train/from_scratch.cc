// Training from scratch (see from_scratch.h).
#include "train/from_scratch.h"

#include <chrono>
#include <filesystem>

#include "absl/strings/str_format.h"
#include "measure/accuracy.h"
#include "model/loader.h"
#include "model/tokenizer_hf.h"
#include "train/bpe_trainer.h"
#include "train/checkpoint.h"
#include "train/story_corpus.h"
#include "train/text_data.h"
#include "util/mapped_file.h"
#include "util/status_macros.h"

namespace squeeze {
namespace {

using Clock = std::chrono::steady_clock;

ScratchPreset Preset(const char* name, int dim, int hidden, int layers, int heads, int kv_heads,
                     int vocab, int64_t steps, int batch, int seq, double lr) {
  ScratchPreset p;
  p.name = name;
  ModelConfig& c = p.config;
  c.dim = dim, c.hidden_dim = hidden, c.n_layers = layers, c.n_heads = heads;
  c.n_kv_heads = kv_heads, c.vocab_size = vocab, c.max_seq_len = seq;
  c.tied_embeddings = true, c.bos_id = kTrainBosId, c.eos_id = kTrainEosId;
  p.steps = steps, p.batch = batch, p.seq = seq, p.lr = lr;
  return p;
}

// Text tokens of a split, without BOS.
std::vector<int32_t> Tokens(const Tokenizer& tok, const std::string& text) {
  return tok.Encode(text, /*add_bos=*/false);
}

}  // namespace

absl::StatusOr<ScratchPreset> FindPreset(const std::string& name) {
  // tiny: 1.8M parameters (0.2M of them the embedding); small: 11M.
  if (name == "tiny") return Preset("tiny", 192, 512, 4, 6, 2, 1024, 400, 16, 128, 2e-3);
  if (name == "small") return Preset("small", 384, 1024, 6, 6, 2, 4096, 3000, 16, 256, 1e-3);
  return absl::InvalidArgumentError(absl::StrCat("preset ", name, " is not one of tiny, small"));
}

absl::StatusOr<ScratchResult> TrainFromScratch(
    const ScratchOptions& o, const std::function<void(const std::string&)>& log,
    const std::function<void(const StepInfo&)>& on_step) {
  const Clock::time_point start = Clock::now();
  ASSIGN_OR_RETURN(ScratchPreset preset, FindPreset(o.preset));
  if (o.out.empty()) return absl::InvalidArgumentError("no output folder given");
  if (o.tokenizer != "bpe" && o.tokenizer != "byte") {
    return absl::InvalidArgumentError("tokenizer " + o.tokenizer + " is not one of bpe, byte");
  }
  // Text.
  TextSplit split;
  if (o.text_path.empty()) {
    const StoryCorpus corpus = MakeStoryCorpus();
    split = {corpus.train, corpus.valid};
    log(absl::StrFormat("text: built-in story corpus, %d bytes for training, %d held out",
                        split.train.size(), split.valid.size()));
  } else {
    ASSIGN_OR_RETURN(std::string text, ReadFileToString(o.text_path));
    split = SplitText(text, 0.05);
    if (split.train.empty() || split.valid.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(o.text_path, ": too short to hold out a validation split"));
    }
    log(absl::StrFormat("text: %s, %d bytes for training, last %d held out", o.text_path,
                        split.train.size(), split.valid.size()));
  }
  // Tokenizer.
  BpeTrainerOptions bo;
  bo.vocab_size = o.tokenizer == "byte" ? kByteLevelVocab
                  : o.vocab > 0         ? o.vocab
                                        : preset.config.vocab_size;
  ASSIGN_OR_RETURN(TrainedTokenizer trained, TrainByteLevelBpe(split.train, bo));
  ASSIGN_OR_RETURN(std::unique_ptr<HfTokenizer> tok,
                   HfTokenizer::FromJson(trained.json, "trained tokenizer.json"));
  log(absl::StrFormat("tokenizer: byte-level %s, %d tokens (%d merges)",
                      o.tokenizer == "byte" ? "bytes" : "BPE", trained.vocab_size, trained.merges));
  const std::vector<int32_t> train = Tokens(*tok, split.train), valid = Tokens(*tok, split.valid);

  ScratchResult r;
  ModelConfig& c = r.config;
  c = preset.config;
  c.vocab_size = trained.vocab_size;
  TrainerOptions to;
  to.steps = o.steps > 0 ? o.steps : preset.steps;
  to.batch = o.batch > 0 ? o.batch : preset.batch;
  to.seq = o.seq > 0 ? o.seq : preset.seq;
  c.max_seq_len = to.seq;
  to.lr.peak = o.lr > 0 ? o.lr : preset.lr;
  to.lr.warmup = std::max<int64_t>(1, std::min<int64_t>(100, to.steps / 10));
  to.seed = o.seed;
  to.eval_every = o.eval_every > 0 ? o.eval_every : std::max<int64_t>(1, to.steps / 10);
  to.eval_windows = 8;
  RETURN_IF_ERROR(ValidateConfig(c, "preset " + preset.name));
  const ParamLayout layout = ParamLayout::For(c);
  r.params = layout.total;
  r.train_tokens = int64_t(train.size());
  r.valid_tokens = int64_t(valid.size());
  r.unigram_perplexity = UnigramPerplexity(train, valid, c.vocab_size);
  log(
      absl::StrFormat("data: %d training tokens, %d held-out tokens; unigram perplexity of the "
                      "held-out text %.2f",
                      r.train_tokens, r.valid_tokens, r.unigram_perplexity));
  log(
      absl::StrFormat("model: dim=%d hidden=%d layers=%d heads=%d kv_heads=%d vocab=%d, "
                      "%d parameters; %d steps of %d x %d tokens, lr %.2g",
                      c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size,
                      r.params, to.steps, to.batch, to.seq, to.lr.peak));

  std::vector<float> params(size_t(layout.total));
  InitParams(layout, o.seed, params.data());
  ThreadPool pool(o.threads);
  Trainer trainer(layout, std::move(params), {&pool, ActiveIsa()}, to);
  trainer.on_step = on_step;
  const Clock::time_point train_start = Clock::now();
  RETURN_IF_ERROR(trainer.Run(train, valid));
  r.train_seconds = std::chrono::duration<double>(Clock::now() - train_start).count();
  r.tokens_per_s = double(to.steps * to.batch * to.seq) / std::max(1e-9, r.train_seconds);

  RETURN_IF_ERROR(WriteCheckpoint(layout, trainer.params().data(), o.out, trained.json));
  r.valid_path = (std::filesystem::path(o.out) / "valid.txt").string();
  RETURN_IF_ERROR(WriteTextFile(r.valid_path, split.valid));
  log("wrote " + o.out + " (config.json, model.safetensors, tokenizer.json, valid.txt)");

  // The held-out perplexity of the saved checkpoint, as `squeeze eval` measures it.
  ASSIGN_OR_RETURN(Model saved, LoadModel(o.out));
  EngineOptions eo;
  eo.threads = o.threads;
  ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, Engine::Create(saved, eo));
  EvalSettings es;
  es.context = to.seq;
  es.max_tokens = 20000;
  ASSIGN_OR_RETURN(AccuracyReport acc, MeasureAccuracy(*engine, valid, es, tok->bos_id(), nullptr));
  r.valid_perplexity = acc.perplexity;
  r.scored_tokens = acc.tokens_scored;
  r.total_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return r;
}

}  // namespace squeeze
