// `kv_cache`: stores the engine's KV cache as int8 or fp8 (E4M3) codes with one f32 scale
// per (token, kv head) instead of f32. The weights are untouched; the engine quantizes each
// key and value as it is appended and decodes on the fly in attention (engine/attention.h).
#include <memory>

#include "absl/strings/str_cat.h"
#include "techniques/builtin.h"

namespace squeeze {
namespace {

class KvCacheTechnique : public Technique {
 public:
  KvCacheTechnique(std::string spec, KvCacheFormat format)
      : spec_(std::move(spec)), format_(format) {}

  absl::Status Apply(Model& model, const TechniqueContext&) const override {
    model.kv_cache = format_;
    return absl::OkStatus();
  }

  std::string Describe() const override {
    const char* codes = format_ == KvCacheFormat::kInt8 ? "int8 codes, scale absmax / 127"
                                                        : "fp8 E4M3 codes, scale absmax / 448";
    return absl::StrCat(spec_, ": KV cache stored as ", codes,
                        " (one f32 scale per token and kv head), decoded on the fly in "
                        "attention; weights unchanged");
  }

 private:
  std::string spec_;
  KvCacheFormat format_;
};

}  // namespace

TechniqueInfo KvCacheTechniqueInfo() {
  TechniqueInfo info;
  info.name = "kv_cache";
  info.family = "kv_cache";
  info.summary =
      "Stores the KV cache as 8-bit codes (int8 or fp8 E4M3) with one f32 scale per token and "
      "kv head: 4·head_dim / (head_dim + 4) times fewer bytes per token of context (3.8x at "
      "head_dim 64); weights stay as they are.";
  ParamSpec format;
  format.name = "format";
  format.type = ParamType::kEnum;
  format.default_value = "int8";
  format.allowed = {KvCacheFormatName(KvCacheFormat::kInt8),
                    KvCacheFormatName(KvCacheFormat::kFp8E4M3)};
  format.help = "code format of cached keys and values";
  info.params = {format};
  info.factory = [](const Params& p) -> absl::StatusOr<std::unique_ptr<Technique>> {
    const KvCacheFormat f = p.GetString("format") == KvCacheFormatName(KvCacheFormat::kInt8)
                                ? KvCacheFormat::kInt8
                                : KvCacheFormat::kFp8E4M3;
    return std::make_unique<KvCacheTechnique>(p.ToSpec(), f);
  };
  return info;
}

}  // namespace squeeze
