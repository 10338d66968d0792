// `finetune`: recovery fine-tuning as a pipeline step (after pruning or quantization). With
// lora_rank = 0 every weight trains in f32 and is stored back in its tensor's format (weights
// that are exactly zero, as pruning leaves them, stay zero). With lora_rank > 0 the weights are
// frozen and low-rank adapters (A: rank x cols, B: rows x rank, scale alpha / rank) are trained
// on every layer matrix; merge=true folds them into the matrices (repacked in their formats:
// ready for a following quantization step), merge=false keeps them beside the matrices, where
// the engine runs them as two extra small products, so their bytes and time are measured.
// Loss: cross-entropy on the text (loss=ce) or KL to the model as loaded before the pipeline
// (loss=kd). Without a text file the text is sampled from that original model.
#include <memory>

#include "absl/strings/str_cat.h"
#include "techniques/builtin.h"
#include "techniques/train_common.h"
#include "train/teacher.h"
#include "util/status_macros.h"

namespace squeeze {
namespace {

struct FinetuneConfig {
  std::string spec;
  TrainingRun run;
  int64_t rank = 0;
  double alpha = 0;  // 0: 2 * rank
  bool merge = false, kd = false;
};

std::shared_ptr<const WeightTensor> F32Tensor(const ParamTensor& t, const std::vector<float>& v) {
  return std::make_shared<const WeightTensor>(
      WeightTensor::FromFloat(WeightFormat::kF32, t.rows, t.cols, v.data() + t.offset));
}

class FinetuneTechnique : public Technique {
 public:
  explicit FinetuneTechnique(FinetuneConfig c) : c_(std::move(c)) {}

  absl::Status Apply(Model& model, const TechniqueContext& ctx) const override {
    RETURN_IF_ERROR(RequireTrainableModel(model, "finetune"));
    const Model& original = ctx.original ? *ctx.original : model;
    if (original.config.vocab_size != model.config.vocab_size) {
      return absl::InvalidArgumentError(
          "finetune: the model's vocabulary differs from the original model's");
    }
    ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, TeacherEngine(original, ctx));
    ASSIGN_OR_RETURN(std::vector<int32_t> tokens,
                     TrainingTokens("finetune", c_.run, ctx, original.source, *engine));
    ParamLayout layout = ParamLayout::For(model.config);
    const float alpha = float(c_.alpha > 0 ? c_.alpha : 2.0 * double(c_.rank));
    if (c_.rank > 0) layout.AddLora(int(c_.rank), alpha);
    std::vector<float> params(size_t(layout.total));
    ParamsFromModel(model, layout, params.data());
    if (c_.rank > 0) InitLora(layout, c_.run.seed, params.data());
    ThreadPool pool(ctx.threads);
    Trainer trainer(layout, std::move(params), {&pool, ctx.isa},
                    MakeTrainerOptions(c_.run, model.config.max_seq_len));
    if (c_.kd) trainer.SetTeacher(EngineTeacher(*engine), {1.0f, 1.0f});
    if (c_.rank == 0) trainer.KeepZeros();
    RETURN_IF_ERROR(trainer.Run(tokens, {}));
    std::vector<float> trained = trainer.params();
    if (c_.rank == 0 || c_.merge) {
      if (c_.rank > 0) Merge(layout, trained);
      StoreParams(layout, trained, model);
      return absl::OkStatus();
    }
    // Adapters kept apart, in f32, beside each layer matrix.
    for (size_t i = 0; i < layout.layers.size(); ++i) {
      const LayerParams& lp = layout.layers[i];
      LayerWeights& w = model.layers[i];
      WeightTensor* ts[] = {&w.wq, &w.wk, &w.wv, &w.wo, &w.w_gate, &w.w_up, &w.w_down};
      for (int k = 0; k < 7; ++k) {
        const LoraAdapter& a = lp.lora[k];
        *ts[k] = ts[k]->WithAdapter(
            {F32Tensor(layout.at(a.a), trained), F32Tensor(layout.at(a.b), trained), a.scale});
      }
    }
    return absl::OkStatus();
  }

  std::string Describe() const override {
    const std::string how =
        c_.rank == 0
            ? "full fine-tuning of every weight (zeros kept), stored in each tensor's format"
            : absl::StrCat("rank-", c_.rank, " LoRA adapters on every layer matrix (alpha ",
                           c_.alpha > 0 ? c_.alpha : 2.0 * double(c_.rank), "), ",
                           c_.merge ? "merged into the matrices (repacked in their formats)"
                                    : "kept separate in f32 (run as extra products)");
    return absl::StrCat(c_.spec, ": ", how, "; ", c_.run.steps, " steps of ", c_.run.batch, " x ",
                        c_.run.seq, " tokens on ",
                        c_.run.text.empty() ? "text sampled from the original model" : c_.run.text,
                        c_.kd ? ", KL to the original model" : ", cross-entropy");
  }

 private:
  // W += scale * B A for every adapted matrix (in the f32 values).
  static void Merge(const ParamLayout& layout, std::vector<float>& v) {
    for (const LayerParams& lp : layout.layers) {
      const std::vector<int> ms = ParamLayout::LayerMatrices(lp);
      for (size_t k = 0; k < ms.size(); ++k) {
        const LoraAdapter& a = lp.lora[k];
        const ParamTensor &w = layout.at(ms[k]), &ta = layout.at(a.a), &tb = layout.at(a.b);
        for (int64_t r = 0; r < w.rows; ++r) {
          for (int64_t j = 0; j < ta.rows; ++j) {
            const float s = a.scale * v[size_t(tb.offset + r * tb.cols + j)];
            const float* arow = v.data() + ta.offset + j * ta.cols;
            float* wrow = v.data() + w.offset + r * w.cols;
            for (int64_t c = 0; c < w.cols; ++c) wrow[c] += s * arow[c];
          }
        }
      }
    }
  }

  FinetuneConfig c_;
};

}  // namespace

TechniqueInfo FinetuneTechniqueInfo() {
  TechniqueInfo info;
  info.name = "finetune";
  info.family = "training";
  info.summary =
      "Recovery fine-tuning after pruning or quantization: every weight (zeros kept), or "
      "low-rank adapters (lora_rank) merged into the matrices or kept separate and measured.";
  info.params = TrainingParams("200", "0.0002");
  ParamSpec rank =
      MakeParam("lora_rank", ParamType::kInt, "0", {}, "rank of the adapters; 0: full fine-tuning");
  rank.min = 0, rank.max = 4096;
  info.params.push_back(rank);
  ParamSpec alpha = MakeParam("lora_alpha", ParamType::kFloat, "0", {},
                              "adapter scale is lora_alpha / lora_rank (0: alpha = 2 * rank)");
  alpha.min = 0;
  info.params.push_back(alpha);
  info.params.push_back(MakeParam("merge", ParamType::kBool, "false", {},
                                  "fold the adapters into the matrices (else keep them apart)"));
  info.params.push_back(MakeParam("loss", ParamType::kEnum, "ce", {"ce", "kd"},
                                  "ce: cross-entropy on the text; kd: KL to the original model"));
  info.factory = [](const Params& p) -> absl::StatusOr<std::unique_ptr<Technique>> {
    FinetuneConfig c;
    c.spec = p.ToSpec();
    c.run = ReadTrainingParams(p);
    c.rank = p.GetInt("lora_rank");
    c.alpha = p.GetFloat("lora_alpha");
    c.merge = p.GetBool("merge");
    c.kd = p.GetString("loss") == "kd";
    if (c.merge && c.rank == 0) {
      return absl::InvalidArgumentError("finetune.merge: needs lora_rank > 0 (adapters to merge)");
    }
    return std::make_unique<FinetuneTechnique>(std::move(c));
  };
  return info;
}

}  // namespace squeeze
