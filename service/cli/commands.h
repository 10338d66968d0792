// The CLI's subcommands; each registers itself on the app and runs when selected.
#pragma once

namespace CLI {
class App;
}

namespace squeeze::cli {

// Each Add*Command registers a subcommand whose callback stores its exit code in *exit_code.
void AddEvalCommand(CLI::App& app, int* exit_code);
void AddGenerateCommand(CLI::App& app, int* exit_code);
void AddMakeModelCommand(CLI::App& app, int* exit_code);
void AddBenchCommand(CLI::App& app, int* exit_code);
void AddTechniquesCommand(CLI::App& app, int* exit_code);
// submit, status, list, cancel, results: clients of a squeeze-coordinator.
void AddSweepCommands(CLI::App& app, int* exit_code);
void AddTrainCommand(CLI::App& app, int* exit_code);

}  // namespace squeeze::cli
