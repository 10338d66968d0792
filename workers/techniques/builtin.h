// The built-in techniques' registry rows and the helpers they share. Internal to
// techniques/: everything else goes through registry.h.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/engine.h"
#include "model/model.h"
#include "model/weight_tensor.h"
#include "techniques/technique.h"

namespace squeeze {

TechniqueInfo PrecisionTechniqueInfo();        // precision.cc
TechniqueInfo RtnTechniqueInfo();              // rtn.cc
TechniqueInfo Nf4TechniqueInfo();              // bnb4.cc
TechniqueInfo Fp4TechniqueInfo();              // bnb4.cc
TechniqueInfo KvCacheTechniqueInfo();          // kv_cache.cc
TechniqueInfo LlmInt8TechniqueInfo();          // llm_int8.cc
TechniqueInfo SmoothQuantTechniqueInfo();      // smoothquant.cc
TechniqueInfo GptqTechniqueInfo();             // gptq.cc
TechniqueInfo AwqTechniqueInfo();              // awq.cc
TechniqueInfo MagnitudeTechniqueInfo();        // prune.cc
TechniqueInfo WandaTechniqueInfo();            // prune.cc
TechniqueInfo NmSparseTechniqueInfo();         // prune.cc
TechniqueInfo SparseGptTechniqueInfo();        // prune.cc
TechniqueInfo GqaTechniqueInfo();              // attention_variants.cc
TechniqueInfo MqaTechniqueInfo();              // attention_variants.cc
TechniqueInfo SlidingWindowTechniqueInfo();    // attention_variants.cc
TechniqueInfo SinksTechniqueInfo();            // attention_variants.cc
TechniqueInfo BlockSparseTechniqueInfo();      // attention_variants.cc
TechniqueInfo FlashTechniqueInfo();            // attention_variants.cc
TechniqueInfo AttentionKernelTechniqueInfo();  // attention_variants.cc
TechniqueInfo HeadPruneTechniqueInfo();        // structured_prune.cc
TechniqueInfo FfnPruneTechniqueInfo();         // structured_prune.cc
TechniqueInfo DistillTechniqueInfo();          // distill.cc
TechniqueInfo QatTechniqueInfo();              // qat.cc
TechniqueInfo FinetuneTechniqueInfo();         // finetune.cc

// Names of the formats `precision` converts to: element-wise floating-point formats of the
// traits table (one weight per block, no scales; "f32", "f16", "bf16", "fp8_..."), in enum
// order. Integer and block-scaled formats belong to the quantization techniques.
std::vector<std::string> PrecisionFormatNames();

// The format called `name`, or an error saying it is not available in this build.
absl::StatusOr<WeightFormat> LookUpFormat(const std::string& technique, const std::string& name);

// A ParamSpec in one expression (the schemas below are lists of them).
ParamSpec MakeParam(const char* name, ParamType type, const char* default_value,
                    std::vector<std::string> allowed, const char* help);

// The integer grid that rtn, gptq and awq quantize to: parameters bits, group, symmetric
// (IntQuantParams, first in each of their schemas) and embeddings (EmbeddingsParam, last),
// resolved to a packed format ("q4_g32", "q8_channel", ...).
struct IntQuant {
  int64_t bits = 4, group = 32;
  bool symmetric = true, embeddings = false;
  std::string format;
};
std::vector<ParamSpec> IntQuantParams();
ParamSpec EmbeddingsParam(const char* help);
// Errors name "technique.group" for a per-channel grid (group=0) that is not 8-bit symmetric,
// or the format when this build lacks it.
absl::StatusOr<IntQuant> ResolveIntQuant(const std::string& technique, const Params& p);
// "4-bit symmetric integers (one scale per 32 weights of a row, format q4_g32)".
std::string DescribeIntQuant(const IntQuant& q);

// The layer matrices that read `site`'s input (q, k, v; o; gate, up; down).
std::vector<WeightTensor*> SiteMatrices(LayerWeights& layer, LinearSite site);

// An error naming `technique` when a layer matrix is stored N:M sparse (sp24_*, sp48_*):
// quantizing it would store its zeros densely, and this build has no format that is both
// sparse and quantized.
absl::Status RejectSparseLayers(const Model& model, const std::string& technique);
// Whether `f` is one of the N:M sparse formats.
bool IsSparseFormat(WeightFormat f);
// An error naming `technique` when a layer matrix has columns kept apart (llm_int8) or is
// stored N:M sparse: the structural techniques (head_prune, ffn_prune, gqa) rebuild rows and
// columns and would undo those layouts; they must come first in a pipeline.
absl::Status RejectRepackedLayouts(const Model& model, const std::string& technique);

// `t` repacked in format `to`: each row unpacked to float and packed with the format's
// reference quantizer (round to nearest). The result owns its bytes. Sparse (CSR) storage stays
// sparse when `to` is f32 or f16 (only the values change precision); otherwise it turns dense.
WeightTensor ConvertWeightTensor(const WeightTensor& t, WeightFormat to);

// Repacks every layer matrix (q, k, v, o, gate, up, down) in format `to`, and the embedding
// and classifier too when `embeddings` (a tied classifier stays tied). Tensors already in
// `to` are left as they are.
void ConvertLayerMatrices(Model& model, WeightFormat to, bool embeddings);
// The embedding and a separate classifier repacked in format `to` (round to nearest).
void ConvertEmbeddings(Model& model, WeightFormat to);

}  // namespace squeeze
