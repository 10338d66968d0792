// `squeeze generate`: greedy text generation, a quick end-to-end check of a model.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "engine/generate.h"
#include "service/cli/commands.h"
#include "service/cli/common.h"
#include "util/status_macros.h"

namespace squeeze::cli {
namespace {

struct GenerateArgs {
  std::string model, tokenizer, prompt;
  int steps = 256, threads = 0;
  bool quiet = false;
};

absl::Status RunGenerate(const GenerateArgs& a) {
  ASSIGN_OR_RETURN(Model model, LoadModelVerbose(a.model, a.quiet));
  ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tok, LoadTokenizerFor(a.tokenizer, model, nullptr));
  EngineOptions eo;
  eo.threads = a.threads;
  ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, Engine::Create(model, eo));
  std::vector<int32_t> ids = tok->Encode(a.prompt, /*add_bos=*/true);
  if (ids.empty())
    return absl::InvalidArgumentError("the tokenizer has no BOS and the prompt is empty");
  const size_t prompt_len = ids.size();
  // Stream the text: decode everything so far and print what is new.
  std::string printed;
  ASSIGN_OR_RETURN(printed, tok->Decode(ids));
  std::fputs(printed.c_str(), stdout);
  absl::Status stream_status;
  auto on_token = [&](int32_t id) {
    ids.push_back(id);
    absl::StatusOr<std::string> text = tok->Decode(ids);
    if (!text.ok()) {
      stream_status = text.status();
      return;
    }
    if (text->size() > printed.size() && text->compare(0, printed.size(), printed) == 0) {
      std::fputs(text->c_str() + printed.size(), stdout);
      std::fflush(stdout);
    }
    printed = *text;
  };
  ASSIGN_OR_RETURN(std::vector<int32_t> out,
                   GenerateGreedy(*engine, std::span<const int32_t>(ids.data(), prompt_len),
                                  a.steps, tok->eos_id(), on_token));
  std::fputs("\n", stdout);
  return stream_status;
}

}  // namespace

void AddGenerateCommand(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<GenerateArgs>();
  CLI::App* c = app.add_subcommand("generate", "Generate text greedily (temperature 0)");
  c->add_option("--model", a->model, "Hugging Face folder or llama2.c .bin checkpoint")->required();
  c->add_option("--tokenizer", a->tokenizer, "tokenizer file (default: found beside the model)");
  c->add_option("--prompt", a->prompt, "prompt text (default: BOS alone)");
  c->add_option("--steps", a->steps, "tokens to generate at most")
      ->default_val(256)
      ->check(CLI::PositiveNumber);
  c->add_option("--threads", a->threads, "threads (0: all cores)")->default_val(0);
  c->add_flag("-q,--quiet", a->quiet, "no progress messages on stderr");
  c->callback([a, exit_code] {
    const absl::Status s = RunGenerate(*a);
    *exit_code = s.ok() ? kExitOk : ReportError("generate", s);
  });
}

}  // namespace squeeze::cli
