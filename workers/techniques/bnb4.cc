// `nf4` and `fp4`: the bitsandbytes 4-bit formats (NormalFloat4 and E2M1 floating point) with
// one absmax scale per block of 64 weights, applied to every layer matrix. The packing is the
// format's reference quantizer; this file only picks the format and the matrices.
#include <memory>

#include "absl/strings/str_cat.h"
#include "techniques/builtin.h"
#include "util/status_macros.h"

namespace squeeze {
namespace {

class Bnb4Technique : public Technique {
 public:
  Bnb4Technique(std::string spec, std::string format, std::string codes, bool embeddings)
      : spec_(std::move(spec)),
        format_(std::move(format)),
        codes_(std::move(codes)),
        embeddings_(embeddings) {}

  absl::Status Apply(Model& model, const TechniqueContext&) const override {
    RETURN_IF_ERROR(RejectSparseLayers(model, format_));
    absl::StatusOr<WeightFormat> to = LookUpFormat(format_, format_);
    if (!to.ok()) return to.status();
    ConvertLayerMatrices(model, *to, embeddings_);
    return absl::OkStatus();
  }

  std::string Describe() const override {
    return absl::StrCat(spec_, ": 4-bit ", codes_,
                        " codes with one f16 absmax scale per 64 weights (format ", format_,
                        ") on every layer matrix (q, k, v, o, gate, up, down); ",
                        embeddings_ ? "embedding and classifier quantized too"
                                    : "embedding and classifier kept in their formats");
  }

 private:
  std::string spec_, format_, codes_;
  bool embeddings_;
};

TechniqueInfo Bnb4Info(const char* name, const char* codes, const char* summary) {
  TechniqueInfo info;
  info.name = name;
  info.family = "quantization";
  info.summary = summary;
  ParamSpec emb;
  emb.name = "embeddings";
  emb.type = ParamType::kBool;
  emb.default_value = "false";
  emb.help = "also quantize the embedding and the classifier";
  info.params = {emb};
  info.factory = [name, codes](const Params& p) -> absl::StatusOr<std::unique_ptr<Technique>> {
    absl::StatusOr<WeightFormat> ok = LookUpFormat(name, name);
    if (!ok.ok()) return ok.status();
    return std::make_unique<Bnb4Technique>(p.ToSpec(), name, codes, p.GetBool("embeddings"));
  };
  return info;
}

}  // namespace

TechniqueInfo Nf4TechniqueInfo() {
  return Bnb4Info("nf4", "NormalFloat (quantiles of a normal distribution)",
                  "bitsandbytes NF4: 4-bit codes at the quantiles of N(0, 1), one absmax scale "
                  "per 64 weights, on every layer matrix.");
}

TechniqueInfo Fp4TechniqueInfo() {
  return Bnb4Info("fp4", "E2M1 floating-point",
                  "bitsandbytes-style FP4: 4-bit E2M1 floats {0, 0.5, ..., 6}, one absmax scale "
                  "per 64 weights, on every layer matrix.");
}

}  // namespace squeeze
