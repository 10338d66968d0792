// `squeeze bench`: end-to-end prefill and decode speed of a model in one or several weight
// formats and technique variants, next to this machine's decode limit (weight bytes read per
// token / measured memory read bandwidth); with --contexts, latency and memory against
// context length.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "engine/engine.h"
#include "measure/bandwidth.h"
#include "measure/context_curve.h"
#include "measure/latency.h"
#include "measure/size.h"
#include "service/cli/commands.h"
#include "service/cli/common.h"
#include "techniques/registry.h"
#include "util/status_macros.h"

namespace squeeze::cli {
namespace {

struct BenchArgs {
  std::string model;
  std::string format;  // formats to convert every matrix to, comma-separated; empty: as loaded
  // Technique pipelines to compare, each "spec spec ..." (applied in order); "" or "none":
  // the model as loaded.
  std::vector<std::string> variants;
  std::string contexts;  // "256,1k,4k,16k": latency and memory against context length
  int threads = 0;
  int rounds = 5;   // measurement rounds; each runs every format once
  int batch = 128;  // engine prefill batch (tokens per step)
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

// One weight format under test: its converted model, engine and per-round measurements.
struct FormatRun {
  std::string name;
  std::unique_ptr<Model> model;
  std::unique_ptr<Engine> engine;
  int64_t bytes_per_token = 0;
  SizeReport size;
  std::vector<double> decode_ms, prefill_tps;
  LatencyReport last;
};

absl::StatusOr<std::vector<std::string>> ParseFormats(const std::string& list) {
  std::vector<std::string> names;
  if (list.empty()) return std::vector<std::string>{""};
  for (absl::string_view part : absl::StrSplit(list, ',')) {
    WeightFormat f;
    const std::string name(absl::StripAsciiWhitespace(part));
    if (!FormatFromName(name, &f))
      return absl::InvalidArgumentError("--format: " + name + " is not a weight format name");
    names.push_back(name);
  }
  return names;
}

void PrintOne(const BenchArgs& a, const FormatRun& r, const BandwidthReport& bw) {
  const Stats decode = ComputeStats(r.decode_ms), prefill = ComputeStats(r.prefill_tps);
  const double limit_ms = double(r.bytes_per_token) / (bw.gb_per_s * 1e9) * 1e3;
  const Model& model = *r.model;
  std::printf("model                 %s\n", a.model.c_str());
  std::printf("shape                 %s\n", ConfigSummary(model.config).c_str());
  std::printf(
      "weights               %s, %.1f MB\n",
      GetFormatTraits(model.layers.empty() ? model.embedding.format() : model.layers[0].wq.format())
          .name,
      double(r.size.bytes) / 1e6);
  std::printf("threads / kernels     %d / %s\n", r.last.threads, r.last.isa.c_str());
  std::printf("read bandwidth        %.2f GB/s (median of 5 passes over %lld MB)\n", bw.gb_per_s,
              static_cast<long long>(bw.buffer_bytes / 1000000));
  std::printf("weight bytes / token  %.2f MB\n", double(r.bytes_per_token) / 1e6);
  std::printf("prefill               %.1f tokens/s (median of %d rounds, prompt %d, cv %.1f%%)\n",
              prefill.median, a.rounds, r.last.prompt_tokens, 100 * prefill.cv);
  std::printf("decode                %.3f ms/token (median of %d rounds; p90 %.3f; cv %.1f%%)\n",
              decode.median, a.rounds, decode.p90, 100 * decode.cv);
  std::printf("decode limit          %.3f ms/token (weight bytes / bandwidth)\n", limit_ms);
  std::printf("share of limit        %.1f%%\n", 100.0 * limit_ms / decode.median);
}

// Several formats: a Markdown table; speed-ups are medians of the per-round ratios to the
// first format, measured in the same round (runs of different formats alternate, so a machine
// that slows down for a while slows every format alike).
void PrintTable(const BenchArgs& a, const std::vector<FormatRun>& runs, double gb_per_s) {
  const FormatRun& base = runs.front();
  std::printf(
      "model: %s (%s), %d threads, %s kernels, read bandwidth %.2f GB/s, %d rounds of "
      "prompt %d + %d decoded tokens\n\n",
      a.model.c_str(), ConfigSummary(base.model->config).c_str(), base.last.threads,
      base.last.isa.c_str(), gb_per_s, a.rounds, a.latency.prompt, a.latency.generate);
  // Variants (techniques) change the bytes a token reads: that column is added for them.
  const bool variants = a.variants.size() > 1;
  std::printf(
      "| %s | bits/weight | model MB |%s decode ms/token (median) | speed-up vs %s | "
      "%% of bandwidth limit |\n",
      variants ? "variant" : "format", variants ? " weight MB read/token |" : "",
      base.name.c_str());
  std::printf("|---|---:|---:|%s---:|---:|---:|\n", variants ? "---:|" : "");
  for (const FormatRun& r : runs) {
    std::vector<double> ratios;
    for (size_t i = 0; i < r.decode_ms.size(); ++i)
      ratios.push_back(base.decode_ms[i] / r.decode_ms[i]);
    const double ms = ComputeStats(r.decode_ms).median;
    const double limit_ms = double(r.bytes_per_token) / (gb_per_s * 1e9) * 1e3;
    const std::string read =
        variants ? absl::StrFormat(" %.1f |", double(r.bytes_per_token) / 1e6) : "";
    std::printf("| %s | %.2f | %.1f |%s %.2f | %.2fx | %.1f%% |\n", r.name.c_str(),
                r.size.bits_per_weight, double(r.size.bytes) / 1e6, read.c_str(), ms,
                ComputeStats(ratios).median, 100.0 * limit_ms / ms);
  }
}

// The variant's pipeline applied to `m` (no calibration: techniques that need it fail with
// their own message).
absl::Status ApplyVariant(const std::string& variant, Model& m) {
  std::vector<std::string> specs;
  for (absl::string_view part : absl::StrSplit(variant, ' ', absl::SkipEmpty())) {
    if (part != "none") specs.emplace_back(part);
  }
  if (specs.empty()) return absl::OkStatus();
  absl::StatusOr<Pipeline> p = MakePipeline(specs);
  if (!p.ok())
    return absl::Status(p.status().code(), "--variant " + std::string(p.status().message()));
  absl::StatusOr<std::vector<std::string>> applied = ApplyPipeline(*p, m);
  if (!applied.ok())
    return absl::Status(applied.status().code(),
                        "--variant " + std::string(applied.status().message()));
  return absl::OkStatus();
}

std::string VariantName(const std::string& variant) {
  const std::string v(absl::StripAsciiWhitespace(variant));
  return v.empty() || v == "none" ? "as loaded" : v;
}

// Latency and memory against context length: for each context, rounds alternate the runs.
absl::Status RunContexts(const BenchArgs& a, std::vector<FormatRun>& runs) {
  ASSIGN_OR_RETURN(std::vector<int64_t> contexts, ParseContexts(a.contexts));
  ContextCurveSettings cs;
  cs.generate = a.latency.generate;
  cs.threads = a.threads;
  cs.max_batch = a.batch;
  std::printf(
      "model: %s (%s), %d threads, %d rounds per point (medians), prompt of `context` random "
      "tokens then %d decoded, prefill batch %d\n\n",
      a.model.c_str(), ConfigSummary(runs.front().model->config).c_str(),
      a.threads > 0 ? a.threads : ThreadPool::DefaultThreads(), a.rounds, a.latency.generate,
      a.batch);
  std::printf(
      "| variant | context | prefill tokens/s | decode ms/token | KV cache MiB | attention "
      "scratch MiB | peak RSS MiB | attention kernels (prefill / decode) |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---|\n");
  for (int64_t c : contexts) {
    std::vector<std::vector<ContextPoint>> points(runs.size());
    for (int round = 0; round < a.rounds; ++round) {
      for (size_t i = 0; i < runs.size(); ++i) {
        if (!a.quiet)
          std::fprintf(stderr, "context %lld, round %d of %d: %s\n", static_cast<long long>(c),
                       round + 1, a.rounds, runs[i].name.c_str());
        ASSIGN_OR_RETURN(ContextPoint p, MeasureContextPoint(*runs[i].model, c, cs));
        points[i].push_back(p);
      }
    }
    for (size_t i = 0; i < runs.size(); ++i) {
      std::vector<double> prefill, decode;
      int64_t rss = 0;
      for (const ContextPoint& p : points[i]) {
        prefill.push_back(p.prefill_tokens_per_s);
        decode.push_back(p.decode_ms_per_token);
        rss = std::max(rss, p.peak_rss_bytes);
      }
      const ContextPoint& last = points[i].back();
      const double mib = 1024.0 * 1024.0;
      std::printf("| %s | %lld | %.1f | %.3f | %.2f | %.2f | %.1f | %s / %s |\n",
                  runs[i].name.c_str(), static_cast<long long>(c), ComputeStats(prefill).median,
                  ComputeStats(decode).median, double(last.kv_cache_bytes) / mib,
                  double(last.attention_scratch_bytes) / mib, double(rss) / mib,
                  last.kernel_prefill.c_str(), last.kernel_decode.c_str());
      std::fflush(stdout);
    }
  }
  return absl::OkStatus();
}

absl::Status RunBench(const BenchArgs& a) {
  if (a.rounds < 1) return absl::InvalidArgumentError("--rounds must be at least 1");
  if (a.batch < 1) return absl::InvalidArgumentError("--batch must be at least 1");
  ASSIGN_OR_RETURN(std::vector<std::string> formats, ParseFormats(a.format));
  std::vector<std::string> variants =
      a.variants.empty() ? std::vector<std::string>{""} : a.variants;
  // Every spec is checked before the model loads.
  for (const std::string& v : variants) {
    std::vector<std::string> specs;
    for (absl::string_view part : absl::StrSplit(v, ' ', absl::SkipEmpty())) {
      if (part != "none") specs.emplace_back(part);
    }
    if (absl::StatusOr<Pipeline> p = MakePipeline(specs); !p.ok())
      return absl::Status(p.status().code(), "--variant " + std::string(p.status().message()));
  }
  if (!a.contexts.empty()) RETURN_IF_ERROR(ParseContexts(a.contexts).status());
  ASSIGN_OR_RETURN(Model loaded, LoadModelVerbose(a.model, a.quiet));
  EngineOptions eo;
  eo.threads = a.threads;
  eo.max_batch = a.batch;
  eo.max_context = std::min(loaded.config.max_seq_len, a.latency.prompt + a.latency.generate);
  std::vector<FormatRun> runs;
  for (const std::string& variant : variants) {
    for (const std::string& name : formats) {
      FormatRun r;
      r.model = std::make_unique<Model>(loaded);
      RETURN_IF_ERROR(ApplyVariant(variant, *r.model));
      if (!name.empty()) {
        WeightFormat f;
        FormatFromName(name, &f);
        if (!a.quiet) std::fprintf(stderr, "converting every matrix to %s\n", name.c_str());
        ConvertAllMatrices(*r.model, f);
      }
      r.name = name.empty()          ? VariantName(variant)
               : variants.size() > 1 ? VariantName(variant) + " / " + name
                                     : name;
      r.size = MeasureSize(*r.model, nullptr);
      r.bytes_per_token = DecodeBytesPerToken(*r.model);
      if (a.contexts.empty()) {
        ASSIGN_OR_RETURN(r.engine, Engine::Create(*r.model, eo));
      }
      runs.push_back(std::move(r));
    }
  }
  if (!a.contexts.empty()) return RunContexts(a, runs);
  if (!a.quiet)
    std::fprintf(stderr, "measuring memory read bandwidth (%d threads)\n",
                 runs.front().engine->threads());
  ThreadPool pool(runs.front().engine->threads());
  const BandwidthReport bw = MeasureReadBandwidth(pool);
  for (int round = 0; round < a.rounds; ++round) {
    if (!a.quiet) std::fprintf(stderr, "round %d of %d:", round + 1, a.rounds);
    // Rounds alternate direction, so that no run always follows the same one (the state a
    // run leaves behind, caches, memory traffic, clocks, favours no other).
    for (size_t i = 0; i < runs.size(); ++i) {
      FormatRun& r = runs[round % 2 == 0 ? i : runs.size() - 1 - i];
      if (!a.quiet) std::fprintf(stderr, " %s", r.name.c_str());
      LatencySettings s = a.latency;
      s.repeats = 1;
      s.warmup = round == 0 ? 1 : 0;
      ASSIGN_OR_RETURN(r.last, MeasureLatency(*r.engine, s, {}));
      r.decode_ms.push_back(r.last.decode_ms_per_token.median);
      r.prefill_tps.push_back(r.last.prefill_tokens_per_s.median);
    }
    if (!a.quiet) std::fprintf(stderr, "\n");
  }
  if (runs.size() == 1) {
    PrintOne(a, runs.front(), bw);
  } else {
    PrintTable(a, runs, bw.gb_per_s);
  }
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
                "format before measuring (e.g. q8_channel, q4_g32, nf4; default: as loaded); "
                "a comma-separated list measures each, round by round, and prints a table "
                "with speed-ups relative to the first");
  c->add_option("--prompt", a->latency.prompt, "prompt tokens")->default_val(128);
  c->add_option("--generate", a->latency.generate, "generated tokens")->default_val(32);
  c->add_option("--variant", a->variants,
                "technique pipeline to compare, as specs separated by spaces (e.g. "
                "\"ffn_prune:fraction=0.25\" or \"gqa:groups=2 rtn:bits=4\"; \"none\": as "
                "loaded); repeatable, measured round by round")
      ->allow_extra_args(false);
  c->add_option("--contexts", a->contexts,
                "latency and memory against context length instead: contexts like "
                "256,1k,4k,16k (prompt of that many random tokens, then --generate decoded)");
  c->add_option("--batch", a->batch, "tokens per prefill step of the engine")->default_val(128);
  c->add_option("--rounds", a->rounds,
                "measured rounds: each runs the prompt and the generated tokens once per format "
                "(after one warm-up run)")
      ->default_val(5);
  c->add_flag("-q,--quiet", a->quiet, "no progress messages on stderr");
  c->callback([a, exit_code] {
    const absl::Status s = RunBench(*a);
    *exit_code = s.ok() ? kExitOk : ReportError("bench", s);
  });
}

}  // namespace squeeze::cli
