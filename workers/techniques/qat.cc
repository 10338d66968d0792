// `qat`: quantization-aware training into the integer formats of `rtn`. Every layer matrix
// is replaced in the forward pass by its fake-quantized value on the format's grid (scales
// recomputed from the current weights exactly as the reference quantizer does, so the values
// trained against are the values packed at the end); the gradient passes straight through
// to the f32 weights. Training starts from the model as loaded (whose fake-quantized form is
// RTN) and, by default, minimizes the KL divergence to the unquantized model's logits
// (loss=kd; loss=ce: cross-entropy on the text). At the end every layer matrix is packed in
// the real format; norms (and the embedding, unless embeddings=true) stay f32 and are
// trained too.
#include <memory>

#include "absl/strings/str_cat.h"
#include "techniques/builtin.h"
#include "techniques/int_grid.h"
#include "techniques/train_common.h"
#include "train/teacher.h"
#include "util/status_macros.h"

namespace squeeze {
namespace {

class QatTechnique : public Technique {
 public:
  QatTechnique(std::string spec, IntQuant q, TrainingRun run, bool kd)
      : spec_(std::move(spec)), q_(std::move(q)), run_(std::move(run)), kd_(kd) {}

  absl::Status Apply(Model& model, const TechniqueContext& ctx) const override {
    RETURN_IF_ERROR(RequireTrainableModel(model, "qat"));
    ASSIGN_OR_RETURN(WeightFormat format, LookUpFormat("qat", q_.format));
    ASSIGN_OR_RETURN(IntGrid grid, IntGridFor(format));
    const Model teacher = model;  // the unquantized model (shares storage)
    ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, TeacherEngine(teacher, ctx));
    ASSIGN_OR_RETURN(std::vector<int32_t> tokens,
                     TrainingTokens("qat", run_, ctx, teacher.source, *engine));
    const ParamLayout layout = ParamLayout::For(model.config);
    std::vector<float> params(size_t(layout.total));
    ParamsFromModel(model, layout, params.data());
    ThreadPool pool(ctx.threads);
    Trainer trainer(layout, std::move(params), {&pool, ctx.isa},
                    MakeTrainerOptions(run_, model.config.max_seq_len));
    trainer.SetWeightTransform([grid](const float* w, float* out, int64_t rows, int64_t cols) {
      for (int64_t r = 0; r < rows; ++r) FakeQuantizeRow(grid, w + r * cols, out + r * cols, cols);
    });
    if (kd_) trainer.SetTeacher(EngineTeacher(*engine), {1.0f, 1.0f});
    RETURN_IF_ERROR(trainer.Run(tokens, {}));
    StoreParams(layout, trainer.params(), model);  // norms and embedding in their formats
    ConvertLayerMatrices(model, format, q_.embeddings);
    return absl::OkStatus();
  }

  std::string Describe() const override {
    return absl::StrCat(spec_, ": quantization-aware training to ", DescribeIntQuant(q_), ", ",
                        run_.steps, " steps of ", run_.batch, " x ", run_.seq, " tokens on ",
                        run_.text.empty() ? "text sampled from the model" : run_.text,
                        kd_ ? " against the unquantized model's logits (KL)" : " (cross-entropy)",
                        ", straight-through gradients, then packed; ",
                        q_.embeddings ? "embedding and classifier quantized too"
                                      : "embedding and classifier kept in their formats");
  }

 private:
  std::string spec_;
  IntQuant q_;
  TrainingRun run_;
  bool kd_;
};

}  // namespace

TechniqueInfo QatTechniqueInfo() {
  TechniqueInfo info;
  info.name = "qat";
  info.family = "quantization";
  info.summary =
      "Quantization-aware training: fake-quantized forward on the rtn grid with "
      "straight-through gradients, starting from RTN, then packed into the real integer format.";
  info.params = IntQuantParams();
  info.params.push_back(EmbeddingsParam("also quantize the embedding and the classifier"));
  for (ParamSpec& p : TrainingParams("200", "0.0005")) info.params.push_back(std::move(p));
  info.params.push_back(
      MakeParam("loss", ParamType::kEnum, "kd", {"kd", "ce"},
                "kd: KL to the unquantized model; ce: cross-entropy on the text"));
  info.factory = [](const Params& p) -> absl::StatusOr<std::unique_ptr<Technique>> {
    ASSIGN_OR_RETURN(IntQuant q, ResolveIntQuant("qat", p));
    return std::make_unique<QatTechnique>(p.ToSpec(), std::move(q), ReadTrainingParams(p),
                                          p.GetString("loss") == "kd");
  };
  return info;
}

}  // namespace squeeze
