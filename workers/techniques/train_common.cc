// Shared pieces of the training techniques (see train_common.h).
#include "techniques/train_common.h"

#include "absl/strings/str_cat.h"
#include "techniques/builtin.h"
#include "train/teacher.h"
#include "util/mapped_file.h"
#include "util/status_macros.h"

namespace squeeze {

std::vector<ParamSpec> TrainingParams(const char* steps, const char* lr) {
  std::vector<ParamSpec> p = {
      MakeParam("steps", ParamType::kInt, steps, {}, "training steps"),
      MakeParam("lr", ParamType::kFloat, lr, {}, "peak learning rate (AdamW, cosine decay)"),
      MakeParam("batch", ParamType::kInt, "8", {}, "sequences per step"),
      MakeParam("seq", ParamType::kInt, "128", {}, "tokens per sequence (BOS included)"),
      MakeParam("text", ParamType::kString, kTextFromTeacher, {},
                "training text file, or \"teacher\": text sampled from the teacher (data-free)"),
      MakeParam("samples", ParamType::kInt, "256", {},
                "sequences sampled from the teacher when no text is given"),
      MakeParam("seed", ParamType::kInt, "1", {}, "random seed (batches, sampling, init)"),
  };
  p[0].min = 1, p[0].max = 1e7;
  p[1].min = 1e-7, p[1].max = 1;
  p[2].min = 1, p[2].max = 1024;
  p[3].min = 2, p[3].max = 1 << 16;
  p[5].min = 1, p[5].max = 1e6;
  p[6].min = 0;
  return p;
}

TrainingRun ReadTrainingParams(const Params& p) {
  TrainingRun r;
  r.steps = p.GetInt("steps");
  r.lr = p.GetFloat("lr");
  r.batch = int(p.GetInt("batch"));
  r.seq = int(p.GetInt("seq"));
  r.text = p.GetString("text");
  if (r.text == kTextFromTeacher) r.text.clear();
  r.samples = int(p.GetInt("samples"));
  r.seed = uint64_t(p.GetInt("seed"));
  return r;
}

TrainerOptions MakeTrainerOptions(const TrainingRun& run, int max_seq_len) {
  TrainerOptions o;
  o.steps = run.steps;
  o.batch = run.batch;
  o.seq = std::min(run.seq, max_seq_len);
  o.lr.peak = run.lr;
  o.lr.warmup = std::max<int64_t>(1, std::min<int64_t>(50, run.steps / 10));
  o.adamw.weight_decay = 0;
  o.seed = run.seed;
  return o;
}

absl::Status RequireTrainableModel(const Model& model, const std::string& technique) {
  auto refuse = [&](const std::string& what) {
    return absl::InvalidArgumentError(
        absl::StrCat(technique, ": ", what, "; apply ", technique, " before it in the pipeline"));
  };
  if (model.has_layer_shapes()) {
    return refuse(
        "the layers have shapes of their own (head_prune, ffn_prune, gqa or mqa), "
        "which training does not support");
  }
  if (!model.attention.full()) {
    return refuse("the model attends through a " + AttentionSummary(model.attention) +
                  " mask, and training uses full causal attention");
  }
  for (const auto& [name, t] : model.Matrices()) {
    if (t->split()) return refuse(name + " has columns kept apart (llm_int8)");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Engine>> TeacherEngine(const Model& teacher,
                                                      const TechniqueContext& ctx) {
  EngineOptions eo;
  eo.threads = ctx.threads;
  eo.isa = ctx.isa;
  return Engine::Create(teacher, eo);
}

absl::StatusOr<std::vector<int32_t>> TrainingTokens(const std::string& technique,
                                                    const TrainingRun& run,
                                                    const TechniqueContext& ctx,
                                                    const std::string& model_source,
                                                    Engine& teacher) {
  const ModelConfig& c = teacher.model().config;
  std::vector<int32_t> tokens;
  if (run.text.empty()) {
    SampleOptions so;
    so.sequences = run.samples;
    so.length = std::min(run.seq, teacher.max_context() - 1);
    so.seed = run.seed;
    so.temperature = run.sample_temperature;
    so.top_k = run.top_k;
    ASSIGN_OR_RETURN(tokens, SampleStream(teacher, c.bos_id, c.eos_id, so));
  } else {
    std::unique_ptr<Tokenizer> own;
    const Tokenizer* tok = ctx.tokenizer;
    if (tok == nullptr) {
      absl::StatusOr<std::string> path = FindTokenizerFor(model_source);
      if (!path.ok()) {
        return absl::FailedPreconditionError(absl::StrCat(
            technique, ".text: no tokenizer for the model: ", path.status().message()));
      }
      ASSIGN_OR_RETURN(own, LoadTokenizer(*path));
      tok = own.get();
    }
    ASSIGN_OR_RETURN(std::string text, ReadFileToString(run.text));
    tokens = tok->Encode(text, /*add_bos=*/false);
  }
  if (int64_t(tokens.size()) < std::min(run.seq, teacher.max_context())) {
    return absl::InvalidArgumentError(
        absl::StrCat(technique, ": the training text has ", tokens.size(),
                     " tokens, fewer than one sequence of ", run.seq,
                     run.text.empty() ? " (sampled from the teacher)" : ""));
  }
  for (int32_t& t : tokens) {
    if (t >= c.vocab_size) {
      return absl::InvalidArgumentError(
          absl::StrCat(technique, ".text: token id ", t, " is outside the model's vocabulary"));
    }
  }
  return tokens;
}

void StoreParams(const ParamLayout& layout, const std::vector<float>& values, Model& model) {
  auto store = [&](int idx, WeightTensor& t) {
    const ParamTensor& p = layout.at(idx);
    // CSR storage stays CSR (fine-tuning keeps the zeros, so the sparsity is the same).
    t = t.Repacked(p.rows, p.cols, values.data() + p.offset);
  };
  auto store_vec = [&](int idx, std::vector<float>& v) {
    const ParamTensor& p = layout.at(idx);
    v.assign(values.begin() + p.offset, values.begin() + p.offset + p.size());
  };
  store(layout.embedding, model.embedding);
  for (size_t i = 0; i < layout.layers.size(); ++i) {
    const LayerParams& lp = layout.layers[i];
    LayerWeights& w = model.layers[i];
    store_vec(lp.attn_norm, w.attn_norm);
    store(lp.wq, w.wq), store(lp.wk, w.wk), store(lp.wv, w.wv), store(lp.wo, w.wo);
    store_vec(lp.ffn_norm, w.ffn_norm);
    store(lp.w_gate, w.w_gate), store(lp.w_up, w.w_up), store(lp.w_down, w.w_down);
  }
  store_vec(layout.final_norm, model.final_norm);
  if (layout.lm_head >= 0) store(layout.lm_head, *model.lm_head);
}

}  // namespace squeeze
