// `distill`: knowledge distillation from the loaded model (the teacher) into a smaller
// student. White-box: loss = alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE on
// the training text (a file, or text sampled from the teacher). Black-box: the student learns
// only from text the teacher generates (cross-entropy on its samples). The student is either
// the teacher with a subset of its layers (evenly spaced, first and last kept) or a fresh
// model of a chosen shape. Each listed checkpoint step is written as a model folder and
// reported in TechniqueContext::checkpoints, so a sweep measures the student's trajectory.
#include <filesystem>
#include <memory>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "techniques/builtin.h"
#include "techniques/train_common.h"
#include "train/checkpoint.h"
#include "train/teacher.h"
#include "util/hash.h"
#include "util/status_macros.h"

namespace squeeze {
namespace {

struct DistillConfig {
  std::string spec;
  bool blackbox = false, from_teacher_layers = true;
  int64_t layers = 0, dim = 0, heads = 0, kv_heads = 0, hidden = 0;  // 0: the teacher's
  DistillSettings loss;
  TrainingRun run;
  std::string checkpoints, out;
};

// "100/200/300" (also separated by ';', ':' or spaces), or "end": sorted distinct steps in
// [1, steps], the last step always included.
absl::StatusOr<std::vector<int64_t>> ParseSteps(const std::string& list, int64_t steps) {
  std::vector<int64_t> out;
  if (list != "end") {
    for (absl::string_view item :
         absl::StrSplit(list, absl::ByAnyChar("/;: "), absl::SkipEmpty())) {
      int64_t v = 0;
      if (!absl::SimpleAtoi(item, &v) || v < 1 || v > steps) {
        return absl::InvalidArgumentError(absl::StrCat("distill.checkpoints: \"", std::string(item),
                                                       "\" is not a step in [1, ", steps, "]"));
      }
      out.push_back(v);
    }
  }
  out.push_back(steps);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// `count` layer indices of `n`, evenly spaced, the first and the last included.
std::vector<int> PickLayers(int n, int count) {
  std::vector<int> out;
  for (int i = 0; i < count; ++i)
    out.push_back(count == 1 ? 0 : int(std::lround(double(i) * (n - 1) / (count - 1))));
  return out;
}

class DistillTechnique : public Technique {
 public:
  explicit DistillTechnique(DistillConfig c) : c_(std::move(c)) {}

  absl::Status Apply(Model& model, const TechniqueContext& ctx) const override {
    RETURN_IF_ERROR(RequireTrainableModel(model, "distill"));
    const Model teacher = model;  // shares the teacher's storage
    const ModelConfig& tc = teacher.config;
    ModelConfig sc = tc;
    sc.n_layers = int32_t(c_.layers > 0 ? c_.layers : std::max(1, (tc.n_layers + 1) / 2));
    if (c_.from_teacher_layers) {
      for (const auto& [name, v] :
           {std::pair{"dim", c_.dim}, std::pair{"heads", c_.heads},
            std::pair{"kv_heads", c_.kv_heads}, std::pair{"hidden", c_.hidden}}) {
        if (v != 0) {
          return absl::InvalidArgumentError(
              absl::StrCat("distill.", name,
                           ": a student initialised from the teacher's layers keeps the "
                           "teacher's shape; give init=random to change it"));
        }
      }
      if (sc.n_layers > tc.n_layers) {
        return absl::InvalidArgumentError(absl::StrCat(
            "distill.layers: ", sc.n_layers, " is more than the teacher's ", tc.n_layers));
      }
    } else {
      if (c_.dim > 0) sc.dim = int32_t(c_.dim);
      if (c_.heads > 0) sc.n_heads = int32_t(c_.heads);
      sc.n_kv_heads = int32_t(c_.kv_heads > 0 ? c_.kv_heads : std::min(sc.n_heads, tc.n_kv_heads));
      if (c_.hidden > 0) sc.hidden_dim = int32_t(c_.hidden);
    }
    RETURN_IF_ERROR(ValidateConfig(sc, "distill student"));
    const ParamLayout layout = ParamLayout::For(sc);
    std::vector<float> params(size_t(layout.total));
    if (c_.from_teacher_layers) {
      InitFromTeacher(teacher, layout, params);
    } else {
      InitParams(layout, c_.run.seed, params.data());
    }

    ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, TeacherEngine(teacher, ctx));
    TrainingRun run = c_.run;
    if (c_.blackbox) run.text.clear();  // the teacher's samples only
    ASSIGN_OR_RETURN(std::vector<int32_t> tokens,
                     TrainingTokens("distill", run, ctx, teacher.source, *engine));
    TrainerOptions to = MakeTrainerOptions(run, sc.max_seq_len);
    ASSIGN_OR_RETURN(to.checkpoints, ParseSteps(c_.checkpoints, run.steps));
    ThreadPool pool(ctx.threads);
    Trainer trainer(layout, std::move(params), {&pool, ctx.isa}, to);
    if (!c_.blackbox) trainer.SetTeacher(EngineTeacher(*engine), c_.loss);

    const std::string out = OutDir(teacher);
    absl::StatusOr<std::string> tokenizer = FindTokenizerFor(teacher.source);
    std::string last;
    trainer.on_checkpoint = [&](int64_t step, const std::vector<float>& p) -> absl::Status {
      const std::string dir = (std::filesystem::path(out) / absl::StrCat("step-", step)).string();
      RETURN_IF_ERROR(WriteCheckpoint(layout, p.data(), dir, ""));
      if (tokenizer.ok()) RETURN_IF_ERROR(CopyTokenizer(*tokenizer, dir));
      if (ctx.checkpoints) ctx.checkpoints->push_back({"distill", step, dir});
      last = dir;
      return absl::OkStatus();
    };
    RETURN_IF_ERROR(trainer.Run(tokens, {}));
    Model student = ModelFromParams(layout, trainer.params().data());
    student.source = last;
    student.kv_cache = teacher.kv_cache;
    model = std::move(student);
    out_ = out;
    return absl::OkStatus();
  }

  std::string Describe() const override {
    return absl::StrCat(
        c_.spec, ": ", c_.blackbox ? "black-box" : "white-box", " distillation into a student ",
        c_.from_teacher_layers ? "made of a subset of the teacher's layers" : "of random weights",
        ", ", c_.run.steps, " steps of ", c_.run.batch, " x ", c_.run.seq, " tokens on ",
        c_.run.text.empty() || c_.blackbox ? "text sampled from the teacher" : c_.run.text,
        c_.blackbox ? " (cross-entropy only)"
                    : absl::StrCat(" (alpha ", c_.loss.alpha, ", T ", c_.loss.temperature, ")"),
        out_.empty() ? "" : "; checkpoints in " + out_);
  }

 private:
  // The student's values from the teacher: embedding, final norm, classifier, and the picked
  // layers.
  static void InitFromTeacher(const Model& teacher, const ParamLayout& layout,
                              std::vector<float>& params) {
    const ParamLayout full = ParamLayout::For(teacher.config);
    std::vector<float> all(size_t(full.total));
    ParamsFromModel(teacher, full, all.data());
    auto copy = [&](int from, int to) {
      const ParamTensor &f = full.at(from), &t = layout.at(to);
      std::copy(all.begin() + f.offset, all.begin() + f.offset + f.size(),
                params.begin() + t.offset);
    };
    copy(full.embedding, layout.embedding);
    copy(full.final_norm, layout.final_norm);
    if (layout.lm_head >= 0) copy(full.lm_head, layout.lm_head);
    const std::vector<int> pick = PickLayers(teacher.config.n_layers, int(layout.layers.size()));
    for (size_t i = 0; i < pick.size(); ++i) {
      const LayerParams &f = full.layers[size_t(pick[i])], &t = layout.layers[i];
      for (auto [a, b] : {std::pair{f.attn_norm, t.attn_norm},
                          {f.wq, t.wq},
                          {f.wk, t.wk},
                          {f.wv, t.wv},
                          {f.wo, t.wo},
                          {f.ffn_norm, t.ffn_norm},
                          {f.w_gate, t.w_gate},
                          {f.w_up, t.w_up},
                          {f.w_down, t.w_down}}) {
        copy(a, b);
      }
    }
  }

  std::string OutDir(const Model& teacher) const {
    if (c_.out != "auto") return c_.out;
    Hasher h;
    h.Field(teacher.content_hash);
    h.Field(c_.spec);
    return (std::filesystem::temp_directory_path() / ("squeeze-distill-" + h.Hex().substr(0, 12)))
        .string();
  }

  DistillConfig c_;
  mutable std::string out_;  // where the last Apply wrote its checkpoints (for Describe)
};

}  // namespace

TechniqueInfo DistillTechniqueInfo() {
  TechniqueInfo info;
  info.name = "distill";
  info.family = "distillation";
  info.summary =
      "Knowledge distillation from the loaded model (teacher) into a smaller student: "
      "white-box (KL to the teacher's softened logits + cross-entropy) or black-box (the "
      "teacher's samples only); each checkpoint step is written as a model and measured.";
  auto range = [](ParamSpec p, double lo, double hi) {
    p.min = lo, p.max = hi;
    return p;
  };
  info.params = {
      MakeParam("mode", ParamType::kEnum, "whitebox", {"whitebox", "blackbox"},
                "whitebox: teacher logits (KL + CE); blackbox: teacher-generated text only"),
      MakeParam("init", ParamType::kEnum, "teacher_layers", {"teacher_layers", "random"},
                "student from an evenly spaced subset of the teacher's layers, or random"),
      range(MakeParam("layers", ParamType::kInt, "0", {}, "student layers (0: half the teacher's)"),
            0, 1024),
      range(MakeParam("dim", ParamType::kInt, "0", {}, "student width (init=random; 0: teacher's)"),
            0, 1 << 16),
      range(MakeParam("heads", ParamType::kInt, "0", {}, "student heads (0: teacher's)"), 0, 1024),
      range(MakeParam("kv_heads", ParamType::kInt, "0", {}, "student kv heads (0: teacher's)"), 0,
            1024),
      range(MakeParam("hidden", ParamType::kInt, "0", {}, "student FFN width (0: teacher's)"), 0,
            1 << 20),
      range(MakeParam("alpha", ParamType::kFloat, "0.5", {}, "weight of the KL term"), 0, 1),
      range(MakeParam("temperature", ParamType::kFloat, "2", {}, "softmax temperature T"), 0.05,
            100),
  };
  for (ParamSpec& p : TrainingParams("300", "0.002")) info.params.push_back(std::move(p));
  info.params.push_back(MakeParam("checkpoints", ParamType::kString, "end", {},
                                  "steps written and measured, e.g. 100/200/300 (the last step "
                                  "always); end: the last only"));
  info.params.push_back(range(MakeParam("sample_temperature", ParamType::kFloat, "1", {},
                                        "temperature of sampling from the teacher"),
                              0, 10));
  info.params.push_back(range(MakeParam("top_k", ParamType::kInt, "0", {},
                                        "sample among the k most likely tokens (0: all)"),
                              0, 1 << 20));
  info.params.push_back(MakeParam("out", ParamType::kString, "auto", {},
                                  "folder for the checkpoints (auto: a temporary folder)"));
  info.factory = [](const Params& p) -> absl::StatusOr<std::unique_ptr<Technique>> {
    DistillConfig c;
    c.spec = p.ToSpec();
    c.blackbox = p.GetString("mode") == "blackbox";
    c.from_teacher_layers = p.GetString("init") == "teacher_layers";
    c.layers = p.GetInt("layers"), c.dim = p.GetInt("dim"), c.heads = p.GetInt("heads");
    c.kv_heads = p.GetInt("kv_heads"), c.hidden = p.GetInt("hidden");
    c.loss.alpha = float(p.GetFloat("alpha"));
    c.loss.temperature = float(p.GetFloat("temperature"));
    c.run = ReadTrainingParams(p);
    c.run.sample_temperature = float(p.GetFloat("sample_temperature"));
    c.run.top_k = int(p.GetInt("top_k"));
    c.checkpoints = p.GetString("checkpoints");
    c.out = p.GetString("out");
    if (c.blackbox && !c.run.text.empty()) {
      return absl::InvalidArgumentError(
          "distill.text: mode=blackbox learns only from text the teacher generates; drop text");
    }
    RETURN_IF_ERROR(ParseSteps(c.checkpoints, c.run.steps).status());
    return std::make_unique<DistillTechnique>(std::move(c));
  };
  return info;
}

}  // namespace squeeze
