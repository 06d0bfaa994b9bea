#pragma once
// The subcommands of gnnkit-fraud beyond `generate`: train (GNN + XGBoost baselines + report).
#include <string>
#include <vector>

#include "app/cli.hpp"

namespace gnnkit::fraud {

// The command-line helpers shared with the other apps.
using app::join_list;
using app::option_value;
using app::parse_list;
using app::parse_number;
using app::parse_threads;
using app::UsageError;

/// `gnnkit-fraud train --graph FILE --out DIR [options]`: trains the GNN with early stopping,
/// the two XGBoost baselines (own features; features + neighbour aggregates), writes the
/// checkpoint (DIR/model.ckpt) and the report (DIR/report.md, .html, metrics.json, plots) and
/// prints a summary table. Returns the exit code.
int train_command(const std::vector<std::string>& args);

/// Usage text of the train subcommand.
const char* train_usage();

}  // namespace gnnkit::fraud
