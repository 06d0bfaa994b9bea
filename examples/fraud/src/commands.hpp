#pragma once
// The subcommands of gnnkit-fraud beyond `generate`: train (GNN + XGBoost baselines + report).
#include <string>
#include <vector>

namespace gnnkit::fraud {

/// Thrown for bad command lines: main prints the message and the usage, exit code 2.
struct UsageError {
  std::string message;
};

/// `gnnkit-fraud train --graph FILE --out DIR [options]`: trains the GNN with early stopping,
/// the two XGBoost baselines (own features; features + neighbour aggregates), writes the
/// checkpoint (DIR/model.ckpt) and the report (DIR/report.md, .html, metrics.json, plots) and
/// prints a summary table. Returns the exit code.
int train_command(const std::vector<std::string>& args);

/// Usage text of the train subcommand.
const char* train_usage();

}  // namespace gnnkit::fraud
