// `squeeze bench`: end-to-end prefill and decode speed of a model, next to this machine's
// decode limit (weight bytes read per token / measured memory read bandwidth).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <vector>

#include "absl/strings/str_format.h"
#include "engine/engine.h"
#include "measure/bandwidth.h"
#include "measure/latency.h"
#include "measure/size.h"
#include "service/cli/commands.h"
#include "service/cli/common.h"
#include "util/status_macros.h"

namespace squeeze::cli {
namespace {

struct BenchArgs {
  std::string model;
  std::string format;  // convert every matrix to this format first; empty: as loaded
  int threads = 0;
  bool quiet = false;
  LatencySettings latency;
};

// Weight bytes that one decode step reads: every matrix but the embedding (one row of it is
// read), the classifier in full, and the norms.
int64_t DecodeBytesPerToken(const Model& m) {
  const SizeReport s = MeasureSize(m, nullptr);
  int64_t bytes = s.bytes - m.embedding.bytes() + m.embedding.row_bytes();
  if (!m.lm_head) bytes += m.embedding.bytes();  // tied: the classifier reads it all
  return bytes;
}

// Converts every matrix of the model (embedding and classifier included) to format f with the
// format's reference quantizer, so that a speed comparison between formats covers all bytes.
void ConvertAllMatrices(Model& m, WeightFormat f) {
  for (auto& [name, t] : m.MutableMatrices()) {
    if (t->format() == f && !t->split()) continue;
    const std::vector<float> v = t->ToFloat();
    *t = WeightTensor::FromFloat(f, t->rows(), t->cols(), v.data());
  }
}

absl::Status RunBench(const BenchArgs& a) {
  ASSIGN_OR_RETURN(Model model, LoadModelVerbose(a.model, a.quiet));
  if (!a.format.empty()) {
    WeightFormat f;
    if (!FormatFromName(a.format, &f))
      return absl::InvalidArgumentError("--format: " + a.format + " is not a weight format name");
    if (!a.quiet) std::fprintf(stderr, "converting every matrix to %s\n", a.format.c_str());
    ConvertAllMatrices(model, f);
  }
  EngineOptions eo;
  eo.threads = a.threads;
  eo.max_context = std::min(model.config.max_seq_len, a.latency.prompt + a.latency.generate);
  ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, Engine::Create(model, eo));
  if (!a.quiet)
    std::fprintf(stderr, "measuring memory read bandwidth (%d threads)\n", engine->threads());
  ThreadPool pool(engine->threads());
  const BandwidthReport bw = MeasureReadBandwidth(pool);
  if (!a.quiet) std::fprintf(stderr, "measuring prefill and decode\n");
  ASSIGN_OR_RETURN(LatencyReport lat, MeasureLatency(*engine, a.latency, {}));
  const int64_t bytes = DecodeBytesPerToken(model);
  const double limit_ms = double(bytes) / (bw.gb_per_s * 1e9) * 1e3;
  const double decode_ms = lat.decode_ms_per_token.median;
  std::printf("model                 %s\n", a.model.c_str());
  std::printf("shape                 %s\n", ConfigSummary(model.config).c_str());
  std::printf(
      "weights               %s, %.1f MB\n",
      GetFormatTraits(model.layers.empty() ? model.embedding.format() : model.layers[0].wq.format())
          .name,
      double(MeasureSize(model, nullptr).bytes) / 1e6);
  std::printf("threads / kernels     %d / %s\n", lat.threads, lat.isa.c_str());
  std::printf("read bandwidth        %.2f GB/s (median of 5 passes over %lld MB)\n", bw.gb_per_s,
              static_cast<long long>(bw.buffer_bytes / 1000000));
  std::printf("weight bytes / token  %.2f MB\n", double(bytes) / 1e6);
  std::printf("prefill               %.1f tokens/s (median, prompt %d, cv %.1f%%)\n",
              lat.prefill_tokens_per_s.median, lat.prompt_tokens,
              100 * lat.prefill_tokens_per_s.cv);
  std::printf("decode                %.3f ms/token (median; p90 %.3f; cv %.1f%%)\n", decode_ms,
              lat.decode_ms_per_token.p90, 100 * lat.decode_ms_per_token.cv);
  std::printf("decode limit          %.3f ms/token (weight bytes / bandwidth)\n", limit_ms);
  std::printf("share of limit        %.1f%%\n", 100.0 * limit_ms / decode_ms);
  return absl::OkStatus();
}

}  // namespace

void AddBenchCommand(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* c = app.add_subcommand(
      "bench", "Prefill/decode speed of a model next to the memory-bandwidth limit for decode");
  c->add_option("--model", a->model, "Hugging Face folder or llama2.c .bin checkpoint")->required();
  c->add_option("--threads", a->threads, "threads (0: all cores)")->default_val(0);
  c->add_option("--format", a->format,
                "convert every matrix (embedding and classifier included) to this weight "
                "format before measuring (e.g. q8_channel, q4_g32, nf4; default: as loaded)");
  c->add_option("--prompt", a->latency.prompt, "prompt tokens")->default_val(128);
  c->add_option("--generate", a->latency.generate, "generated tokens")->default_val(32);
  c->add_option("--repeats", a->latency.repeats, "measured repeats")->default_val(5);
  c->add_flag("-q,--quiet", a->quiet, "no progress messages on stderr");
  c->callback([a, exit_code] {
    const absl::Status s = RunBench(*a);
    *exit_code = s.ok() ? kExitOk : ReportError("bench", s);
  });
}

}  // namespace squeeze::cli
