#pragma once
/// @file
/// A terminal progress line for the example apps' long loops (epochs, batches).
#include <cstdint>
#include <string>

namespace gnnkit::app {

/// "\r epoch 2/10 [=====>    ] 120/400 batches, loss 0.123, ETA 12 s" on stderr, only when
/// stderr is a terminal (quiet in pipes, logs and CI).
class ProgressLine {
 public:
  explicit ProgressLine(bool enabled);
  void update(const std::string& prefix, std::int64_t done, std::int64_t total,
              const std::string& suffix);
  /// Ends the line and restarts the ETA clock for the next loop.
  void finish();

 private:
  bool enabled_;
  double start_ = 0;
};

}  // namespace gnnkit::app
