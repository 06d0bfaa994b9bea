#pragma once
// Reading bench/gen's standard inputs (raw little-endian int64 arrays next to a meta.json) and
// small helpers the C++ benchmarks share.
#include <chrono>
#include <cstdint>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "gnnkit/core/host_array.hpp"

namespace gnnkit::bench {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

/// A whole raw int64 file (bench/gen output).
inline HostArray read_i64(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw std::runtime_error("cannot open " + path + " (run bench/gen/gen_graphs first)");
  const auto bytes = std::int64_t(in.tellg());
  HostArray a = HostArray::of<std::int64_t>(bytes / 8);
  in.seekg(0);
  in.read(static_cast<char*>(a.data()), bytes);
  if (!in) throw std::runtime_error("short read of " + path);
  return a;
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path + " (run bench/gen/gen_graphs first)");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// The node count of a homogeneous input (G1, G2) from its meta.json.
inline std::int64_t meta_node_count(const std::string& dir) {
  std::smatch m;
  const std::string text = read_text(dir + "/meta.json");
  if (!std::regex_search(text, m, std::regex("\"count\": ([0-9]+)")))
    throw std::runtime_error("no node count in " + dir + "/meta.json");
  return std::stoll(m[1]);
}

/// "15,10,5" -> {15, 10, 5}
inline std::vector<std::int64_t> parse_list(const std::string& s) {
  std::vector<std::int64_t> out;
  std::stringstream ss(s);
  for (std::string tok; std::getline(ss, tok, ',');) out.push_back(std::stoll(tok));
  return out;
}

}  // namespace gnnkit::bench
