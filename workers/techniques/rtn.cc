// `rtn`: round-to-nearest integer quantization of the layer matrices, per group of weights
// along each row (or per output channel), symmetric or with a zero point. The packing itself
// is the integer format's reference quantizer; this file picks the format and the matrices.
#include <memory>

#include "absl/strings/str_cat.h"
#include "techniques/builtin.h"

namespace squeeze {
namespace {

// "q4_g32", "q4_g32_asym", "q8_channel", "q8_channel_asym".
std::string RtnFormatName(int64_t bits, int64_t group, bool symmetric) {
  std::string name =
      group == 0 ? absl::StrCat("q", bits, "_channel") : absl::StrCat("q", bits, "_g", group);
  if (!symmetric) name += "_asym";
  return name;
}

class RtnTechnique : public Technique {
 public:
  RtnTechnique(std::string spec, std::string format, int64_t bits, int64_t group, bool symmetric,
               bool embeddings)
      : spec_(std::move(spec)),
        format_(std::move(format)),
        bits_(bits),
        group_(group),
        symmetric_(symmetric),
        embeddings_(embeddings) {}

  absl::Status Apply(Model& model, const TechniqueContext&) const override {
    absl::StatusOr<WeightFormat> to = LookUpFormat("rtn", format_);
    if (!to.ok()) return to.status();
    ConvertLayerMatrices(model, *to, embeddings_);
    return absl::OkStatus();
  }

  std::string Describe() const override {
    const std::string scales = group_ == 0
                                   ? "one scale per output channel"
                                   : absl::StrCat("one scale per ", group_, " weights of a row");
    return absl::StrCat(spec_, ": round-to-nearest ", bits_, "-bit ",
                        symmetric_ ? "symmetric integers" : "integers with a zero point", " (",
                        scales, ", format ", format_,
                        ") on every layer matrix (q, k, v, o, gate, "
                        "up, down); ",
                        embeddings_ ? "embedding and classifier quantized too"
                                    : "embedding and classifier kept in their formats");
  }

 private:
  std::string spec_, format_;
  int64_t bits_, group_;
  bool symmetric_, embeddings_;
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
  auto param = [](const char* name, ParamType type, const char* default_value,
                  std::vector<std::string> allowed, const char* help) {
    ParamSpec p;
    p.name = name;
    p.type = type;
    p.default_value = default_value;
    p.allowed = std::move(allowed);
    p.help = help;
    return p;
  };
  info.params = {
      param("bits", ParamType::kInt, "4", {"2", "3", "4", "8"}, "bits per weight (before scales)"),
      param("group", ParamType::kInt, "32", {"0", "32", "64", "128"},
            "weights per scale along a row; 0: one scale per output channel (bits=8 only)"),
      param("symmetric", ParamType::kBool, "true", {},
            "true: scale only (zero maps to zero); false: scale and zero point"),
      param("embeddings", ParamType::kBool, "false", {},
            "also quantize the embedding and the classifier"),
  };
  info.factory = [](const Params& p) -> absl::StatusOr<std::unique_ptr<Technique>> {
    const int64_t b = p.GetInt("bits"), g = p.GetInt("group");
    if (g == 0 && b != 8) {
      return absl::InvalidArgumentError(
          absl::StrCat("rtn.group: 0 (one scale per output channel) needs bits=8, not bits=", b));
    }
    const bool sym = p.GetBool("symmetric");
    const std::string format = RtnFormatName(b, g, sym);
    absl::StatusOr<WeightFormat> ok = LookUpFormat("rtn", format);
    if (!ok.ok()) return ok.status();
    return std::make_unique<RtnTechnique>(p.ToSpec(), format, b, g, sym, p.GetBool("embeddings"));
  };
  return info;
}

}  // namespace squeeze
