// Techniques: transformations of a loaded Model (precision change, quantization, ...) and the
// parameter schema that validates their settings before any work is done. A configuration
// is a pipeline of techniques applied in order; registry.h maps names to factories.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "calibration/calibration.h"
#include "model/model.h"
#include "model/tokenizer.h"

namespace squeeze {

// A model folder written by a technique that trains (distill writes one per checkpoint step),
// to be measured as its own configuration.
struct CheckpointRecord {
  std::string technique;  // "distill"
  int64_t step = 0;       // training step after which it was written
  std::string path;       // Hugging Face folder (config.json, model.safetensors, tokenizer)
};

// What a technique may use besides the model: calibration sequences and the shared
// statistics cache, and the engine settings to run calibration passes with.
struct TechniqueContext {
  const CalibrationSet* calibration = nullptr;  // null: no calibration text was given
  StatsCache* stats = nullptr;                  // null: collect without caching
  int threads = 0;
  Isa isa = ActiveIsa();
  // Training techniques (distill, qat, finetune): the tokenizer of their `text` parameter
  // (null: the one beside model.source), and the model as loaded before the pipeline's first
  // step (the teacher of finetune's loss=kd and of its data-free text; null: none).
  const Tokenizer* tokenizer = nullptr;
  const Model* original = nullptr;
  // Where training techniques list the checkpoint folders they write (null: not collected).
  std::vector<CheckpointRecord>* checkpoints = nullptr;
};

// The calibration set of `ctx`, or an error naming `technique` that says it needs
// calibration text (`--calib-text` on the CLI).
absl::StatusOr<const CalibrationSet*> RequireCalibration(const TechniqueContext& ctx,
                                                         const std::string& technique);

class Technique {
 public:
  virtual ~Technique() = default;

  // Transforms `model` in place. Tensors it replaces are new Owned tensors, so a copy of the
  // model taken before (which shares the old storage) stays unchanged. On error the model
  // may be partly transformed and should be discarded.
  // Techniques that need no calibration ignore ctx.
  virtual absl::Status Apply(Model& model, const TechniqueContext& ctx) const = 0;

  // True when the result depends on the calibration set (it enters the model's hash then).
  virtual bool uses_calibration() const { return false; }

  // One line: the canonical spec with every parameter resolved ("rtn:bits=4,group=32,...")
  // followed by what it does and to which matrices, for reports and logs.
  virtual std::string Describe() const = 0;
};

enum class ParamType { kInt, kFloat, kBool, kString, kEnum };

// "int", "float", "bool", "string", "enum".
const char* ParamTypeName(ParamType t);

// One parameter of a technique. Values arrive as text (CLI `key=value`, sweep specs turn
// their scalars into text) and are checked against this schema.
struct ParamSpec {
  std::string name;
  ParamType type = ParamType::kInt;
  std::optional<std::string> default_value;  // nullopt: the parameter is required
  // kEnum, kInt: the only accepted values (in their canonical text form). Empty: any value
  // of the type (within [min, max] for kInt/kFloat when those are set).
  std::vector<std::string> allowed;
  std::optional<double> min, max;  // kInt, kFloat: inclusive range
  std::string help;
};

using ParamValue = std::variant<int64_t, double, bool, std::string>;

// Raw parameters as written by a user: key -> value text.
using ParamMap = std::map<std::string, std::string>;

// Parameters after validation: every schema parameter has a typed value (given or default),
// in schema order. Getters must name a parameter of the schema with the matching type
// (kEnum and kString are read with GetString); anything else is a programming error.
class Params {
 public:
  Params() = default;
  Params(std::string technique, std::vector<std::pair<std::string, ParamValue>> values)
      : technique_(std::move(technique)), values_(std::move(values)) {}

  const std::string& technique() const { return technique_; }
  int64_t GetInt(std::string_view name) const;
  double GetFloat(std::string_view name) const;
  bool GetBool(std::string_view name) const;
  const std::string& GetString(std::string_view name) const;

  // The canonical spec: "name:key=value,..." with every parameter, in schema order ("name"
  // alone when the technique has none). ParseApplySpec + MakeTechnique accept it back.
  std::string ToSpec() const;

 private:
  const ParamValue* Find(std::string_view name) const;

  std::string technique_;
  std::vector<std::pair<std::string, ParamValue>> values_;
};

using TechniqueFactory = std::function<absl::StatusOr<std::unique_ptr<Technique>>(const Params&)>;

struct TechniqueInfo {
  std::string name;     // "rtn"
  std::string family;   // "precision", "quantization", "pruning", ...
  std::string summary;  // one sentence for `squeeze techniques`
  std::vector<ParamSpec> params;
  bool needs_calibration = false;  // Apply fails without ctx.calibration
  // Builds the technique from validated params. May still fail on combinations the schema
  // cannot express (e.g. rtn group=0 with bits=4), with an error naming the parameters.
  TechniqueFactory factory;
};

// Checks `raw` against info's schema: unknown keys, values of the wrong type, values not
// allowed or out of range, required parameters missing. Errors name "technique.param" and
// what is accepted, e.g. "rtn.bits: 5 is not one of 2, 3, 4, 8".
absl::StatusOr<Params> ValidateParams(const TechniqueInfo& info, const ParamMap& raw);

}  // namespace squeeze
