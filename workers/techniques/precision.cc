// `precision`: converts every matrix to another floating-point element format (f16, bf16,
// ...), rounding to nearest. Norm vectors stay F32.
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "techniques/builtin.h"
#include "util/status_macros.h"

namespace squeeze {
namespace {

// The N:M format of `sparse`'s pattern holding `values` (f32 or f16), or an error naming the
// matrix.
absl::StatusOr<WeightFormat> SparseWithValues(WeightFormat sparse, WeightFormat values,
                                              const std::string& matrix) {
  const bool two_of_four = sparse == WeightFormat::kSp24F32 || sparse == WeightFormat::kSp24F16;
  if (values == WeightFormat::kF32)
    return two_of_four ? WeightFormat::kSp24F32 : WeightFormat::kSp48F32;
  if (values == WeightFormat::kF16)
    return two_of_four ? WeightFormat::kSp24F16 : WeightFormat::kSp48F16;
  return absl::InvalidArgumentError(
      absl::StrCat("precision: ", matrix, " is N:M sparse (", GetFormatTraits(sparse).name,
                   "), whose values can be f32 or f16, not ", GetFormatTraits(values).name));
}

class PrecisionTechnique : public Technique {
 public:
  PrecisionTechnique(std::string spec, std::string format)
      : spec_(std::move(spec)), format_(std::move(format)) {}

  absl::Status Apply(Model& model, const TechniqueContext&) const override {
    absl::StatusOr<WeightFormat> to = LookUpFormat("precision", format_);
    if (!to.ok()) return to.status();
    // MutableMatrices lists a tied classifier once (as the embedding), so it stays tied.
    for (auto& [name, t] : model.MutableMatrices()) {
      WeightFormat target = *to;
      if (IsSparseFormat(t->format())) {
        // An N:M sparse matrix keeps its pattern: only its values change precision.
        ASSIGN_OR_RETURN(target, SparseWithValues(t->format(), *to, name));
      }
      if (t->format() != target) *t = ConvertWeightTensor(*t, target);
    }
    return absl::OkStatus();
  }

  std::string Describe() const override {
    return absl::StrCat(spec_, ": every matrix (embedding and classifier included) converted to ",
                        format_, ", rounding to nearest; norms stay f32");
  }

 private:
  std::string spec_, format_;
};

}  // namespace

TechniqueInfo PrecisionTechniqueInfo() {
  TechniqueInfo info;
  info.name = "precision";
  info.family = "precision";
  info.summary =
      "Stores every matrix (embedding and classifier included) in another floating-point "
      "format, rounding each weight to nearest.";
  ParamSpec format;
  format.name = "format";
  format.type = ParamType::kEnum;
  format.allowed = PrecisionFormatNames();
  format.help = "target format of every matrix";
  info.params = {format};
  info.factory = [](const Params& p) -> absl::StatusOr<std::unique_ptr<Technique>> {
    const std::string& f = p.GetString("format");
    absl::StatusOr<WeightFormat> ok = LookUpFormat("precision", f);
    if (!ok.ok()) return ok.status();
    return std::make_unique<PrecisionTechnique>(p.ToSpec(), f);
  };
  return info;
}

}  // namespace squeeze
