#include "app/progress.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>

namespace gnnkit::app {
namespace {
double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

ProgressLine::ProgressLine(bool enabled) : enabled_(enabled && ::isatty(2)), start_(now_s()) {}

void ProgressLine::update(const std::string& prefix, std::int64_t done, std::int64_t total,
                          const std::string& suffix) {
  if (!enabled_) return;
  const double elapsed = now_s() - start_;
  const double eta = done > 0 ? elapsed * double(total - done) / double(done) : 0;
  constexpr int kWidth = 24;
  const int filled = total > 0 ? int(kWidth * done / total) : kWidth;
  std::string bar(std::size_t(filled), '=');
  if (filled < kWidth) bar += '>' + std::string(std::size_t(kWidth - filled - 1), ' ');
  std::fprintf(stderr, "\r%s [%s] %lld/%lld, %s, ETA %.0f s   ", prefix.c_str(), bar.c_str(),
               (long long)done, (long long)total, suffix.c_str(), eta);
  std::fflush(stderr);
}

void ProgressLine::finish() {
  if (!enabled_) return;
  std::fprintf(stderr, "\n");
  start_ = now_s();
}

}  // namespace gnnkit::app
