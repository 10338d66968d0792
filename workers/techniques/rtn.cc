// `rtn`: round-to-nearest integer quantization of the layer matrices, per group of weights
// along each row (or per output channel), symmetric or with a zero point. The packing itself
// is the integer format's reference quantizer; this file picks the format and the matrices.
#include <memory>

#include "absl/strings/str_cat.h"
#include "techniques/builtin.h"
#include "util/status_macros.h"

namespace squeeze {
namespace {

class RtnTechnique : public Technique {
 public:
  RtnTechnique(std::string spec, IntQuant q) : spec_(std::move(spec)), q_(std::move(q)) {}

  absl::Status Apply(Model& model, const TechniqueContext&) const override {
    RETURN_IF_ERROR(RejectSparseLayers(model, "rtn"));
    absl::StatusOr<WeightFormat> to = LookUpFormat("rtn", q_.format);
    if (!to.ok()) return to.status();
    ConvertLayerMatrices(model, *to, q_.embeddings);
    return absl::OkStatus();
  }

  std::string Describe() const override {
    return absl::StrCat(spec_, ": round-to-nearest ", DescribeIntQuant(q_),
                        " on every layer matrix (q, k, v, o, gate, up, down); ",
                        q_.embeddings ? "embedding and classifier quantized too"
                                      : "embedding and classifier kept in their formats");
  }

 private:
  std::string spec_;
  IntQuant q_;
};

}  // namespace

TechniqueInfo RtnTechniqueInfo() {
  TechniqueInfo info;
  info.name = "rtn";
  info.family = "quantization";
  info.summary =
      "Round-to-nearest integer quantization of every layer matrix with one scale (and, when "
      "asymmetric, one zero point) per group of weights; embedding and classifier stay as they "
      "are unless embeddings=true.";
  info.params = IntQuantParams();
  info.params.push_back(EmbeddingsParam("also quantize the embedding and the classifier"));
  info.factory = [](const Params& p) -> absl::StatusOr<std::unique_ptr<Technique>> {
    ASSIGN_OR_RETURN(IntQuant q, ResolveIntQuant("rtn", p));
    return std::make_unique<RtnTechnique>(p.ToSpec(), std::move(q));
  };
  return info;
}

}  // namespace squeeze
