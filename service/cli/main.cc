// squeeze: measure what an LLM optimization really costs and buys (size, accuracy, latency).
#include <CLI/CLI.hpp>

#include "service/cli/commands.h"
#include "service/cli/common.h"

int main(int argc, char** argv) {
  CLI::App app{"squeeze: measures what LLM optimizations cost and buy (size, accuracy, latency)"};
  app.require_subcommand(1);
  int exit_code = squeeze::cli::kExitOk;
  squeeze::cli::AddEvalCommand(app, &exit_code);
  squeeze::cli::AddGenerateCommand(app, &exit_code);
  squeeze::cli::AddMakeModelCommand(app, &exit_code);
  squeeze::cli::AddBenchCommand(app, &exit_code);
  squeeze::cli::AddTechniquesCommand(app, &exit_code);
  squeeze::cli::AddSweepCommands(app, &exit_code);
  squeeze::cli::AddTrainCommand(app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    // --help and --version are successes; every other parse error is a usage error.
    return code == 0 ? 0 : squeeze::cli::kExitBadInput;
  }
  return exit_code;
}
