// gen_graphs: writes gnnkit's standard benchmark inputs (../shared/docs/BENCHMARKING.md,
// "Standard inputs": G1, G2, G5, G6, G7) as raw little-endian int64 arrays plus meta.json, so
// every library is fed the same bytes and the same seed lists (rule 2).
//
// Standalone on purpose (standard library + OpenMP only): the anchors' bench venv and any
// machine can build it without gnnkit's CMake project.
//
//   g++ -O3 -march=native -fopenmp -std=c++20 -o gen_graphs bench/gen/gen_graphs.cpp
//   ./gen_graphs --graph G2 --out ~/.cache/gnnkit-bench [--seed 1] [--scale-down K] [--threads T]
//
// Every random draw is splitmix64 of (seed, stream, index): the output is bit-identical for
// any thread count (checked by bench/gen/README.md's command), and changing one graph's
// parameters never shifts the draws of another stream.
#include <omp.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(__SHA__) && defined(__SSE4_1__) && !defined(GEN_NO_SHANI)
#include <immintrin.h>
#define GEN_HAVE_SHANI 1
#endif

namespace gen {

constexpr int kGeneratorVersion = 1;
constexpr std::uint64_t kGolden = 0x9e3779b97f4a7c15ull;

// ---- counter-based randomness ----------------------------------------------------------------

/// splitmix64's output function: a bijective 64-bit mixer.
inline std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/// A named random stream: draw(i) is the i-th output of splitmix64 seeded with
/// mix64(seed, stream), so any element can be drawn by any thread in any order.
struct Stream {
  std::uint64_t key;
  Stream(std::uint64_t seed, std::uint64_t stream) : key(mix64(mix64(seed) ^ (stream * kGolden))) {}
  std::uint64_t draw(std::uint64_t i) const { return mix64(key + (i + 1) * kGolden); }
  /// Uniform in [0, 1) with 53 bits.
  double uniform(std::uint64_t i) const { return double(draw(i) >> 11) * 0x1.0p-53; }
  /// Uniform integer in [0, n) (Lemire's multiply-shift; bias < n / 2^64, irrelevant here).
  std::uint64_t below(std::uint64_t i, std::uint64_t n) const {
    return std::uint64_t((unsigned __int128)draw(i) * n >> 64);
  }
};

// Stream ids: fixed forever (generator_version bumps if one changes meaning).
enum : std::uint64_t {
  kStreamRmat = 1,
  kStreamPermute = 2,  // + node type index
  kStreamScramble = 20,
  kStreamSeeds = 30,
  kStreamSeedTimes = 31,
  kStreamRelation = 100,  // + 10 * relation index (+0 src, +1 dst, +2 ts, +3 extra)
};

// ---- timing / logging -------------------------------------------------------------------------

struct Clock {
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now(), last = t0;
  double lap() {
    auto now = std::chrono::steady_clock::now();
    double s = std::chrono::duration<double>(now - last).count();
    last = now;
    return s;
  }
  double total() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
};

// ---- SHA-256 (FIPS 180-4), SHA-NI when the compiler targets it -------------------------------

constexpr std::array<std::uint32_t, 64> kSha256K = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

class Sha256 {
 public:
  void update(const void* data, std::size_t n) {
    auto* p = static_cast<const std::uint8_t*>(data);
    total_ += n;
    if (fill_) {
      const std::size_t take = std::min(n, std::size_t(64) - fill_);
      std::memcpy(buf_ + fill_, p, take);
      fill_ += take, p += take, n -= take;
      if (fill_ == 64) blocks(buf_, 1), fill_ = 0;
    }
    if (n >= 64) blocks(p, n / 64), p += n / 64 * 64, n %= 64;
    std::memcpy(buf_, p, n);
    fill_ = n;
  }
  std::string hex() {
    const std::uint64_t bits = total_ * 8;
    std::uint8_t pad[72] = {0x80};
    const std::size_t pad_len = (fill_ < 56 ? 56 : 120) - fill_;
    for (int i = 0; i < 8; ++i) pad[pad_len + i] = std::uint8_t(bits >> (56 - 8 * i));
    update(pad, pad_len + 8);
    char out[65];
    for (int i = 0; i < 8; ++i) std::snprintf(out + 8 * i, 9, "%08x", h_[i]);
    return std::string(out, 64);
  }

 private:
  static std::uint32_t rotr(std::uint32_t x, int r) { return std::rotr(x, r); }
  void blocks(const std::uint8_t* p, std::size_t count) {
#ifdef GEN_HAVE_SHANI
    blocks_shani(p, count);
#else
    for (std::size_t b = 0; b < count; ++b, p += 64) block_portable(p);
#endif
  }
  void block_portable(const std::uint8_t* p) {
    std::uint32_t w[64];
    for (int i = 0; i < 16; ++i)
      w[i] = std::uint32_t(p[4 * i]) << 24 | std::uint32_t(p[4 * i + 1]) << 16 |
             std::uint32_t(p[4 * i + 2]) << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; ++i) {
      const std::uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      const std::uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    std::uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4], f = h_[5], g = h_[6],
                  h = h_[7];
    for (int i = 0; i < 64; ++i) {
      const std::uint32_t t1 =
          h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + kSha256K[i] + w[i];
      const std::uint32_t t2 =
          (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      h = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    h_[0] += a, h_[1] += b, h_[2] += c, h_[3] += d, h_[4] += e, h_[5] += f, h_[6] += g, h_[7] += h;
  }
#ifdef GEN_HAVE_SHANI
  // Intel SHA extensions: 4 rounds per sha256rnds2 pair; the message schedule is
  // W[i] = msg2(msg1(W[i-4], W[i-3]) + alignr(W[i-1], W[i-2], 4), W[i-1]).
  void blocks_shani(const std::uint8_t* p, std::size_t count) {
#ifdef __AVX__
    // sha256rnds2 has only a legacy-SSE encoding; run with dirty upper YMM state it went at
    // 8 MB/s instead of 1.4 GB/s on our VMs. vzeroupper first.
    _mm256_zeroupper();
#endif
    const __m128i kShuffle = _mm_set_epi64x(0x0c0d0e0f08090a0bll, 0x0405060700010203ll);
    __m128i tmp = _mm_loadu_si128(reinterpret_cast<const __m128i*>(&h_[0]));
    __m128i state1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(&h_[4]));
    tmp = _mm_shuffle_epi32(tmp, 0xB1);                // CDAB
    state1 = _mm_shuffle_epi32(state1, 0x1B);          // EFGH
    __m128i state0 = _mm_alignr_epi8(tmp, state1, 8);  // ABEF
    state1 = _mm_blend_epi16(state1, tmp, 0xF0);       // CDGH
    for (std::size_t b = 0; b < count; ++b, p += 64) {
      const __m128i abef = state0, cdgh = state1;
      __m128i w[16];
      for (int i = 0; i < 16; ++i) {
        if (i < 4) {
          w[i] = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * i)),
                                  kShuffle);
        } else {
          w[i] = _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32(w[i - 4], w[i - 3]),
                                                    _mm_alignr_epi8(w[i - 1], w[i - 2], 4)),
                                      w[i - 1]);
        }
        __m128i msg = _mm_add_epi32(
            w[i], _mm_loadu_si128(reinterpret_cast<const __m128i*>(&kSha256K[4 * i])));
        state1 = _mm_sha256rnds2_epu32(state1, state0, msg);
        msg = _mm_shuffle_epi32(msg, 0x0E);
        state0 = _mm_sha256rnds2_epu32(state0, state1, msg);
      }
      state0 = _mm_add_epi32(state0, abef);
      state1 = _mm_add_epi32(state1, cdgh);
    }
    tmp = _mm_shuffle_epi32(state0, 0x1B);        // FEBA
    state1 = _mm_shuffle_epi32(state1, 0xB1);     // DCHG
    state0 = _mm_blend_epi16(tmp, state1, 0xF0);  // DCBA
    state1 = _mm_alignr_epi8(state1, tmp, 8);     // ABEF
    _mm_storeu_si128(reinterpret_cast<__m128i*>(&h_[0]), state0);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(&h_[4]), state1);
  }
#endif

  std::uint32_t h_[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                         0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::uint8_t buf_[64] = {};
  std::size_t fill_ = 0;
  std::uint64_t total_ = 0;
};

std::string sha256_hex(const void* data, std::size_t n) {
  Sha256 s;
  s.update(data, n);
  return s.hex();
}

// ---- arrays and parallel helpers --------------------------------------------------------------

using I64 = std::vector<std::int64_t>;

/// Splits [0, n) into omp_get_num_threads() contiguous chunks; returns this thread's.
inline std::pair<std::size_t, std::size_t> my_chunk(std::size_t n) {
  const std::size_t t = omp_get_thread_num(), nt = omp_get_num_threads();
  return {n * t / nt, n * (t + 1) / nt};
}

/// Stable parallel LSD radix sort of `keys` (only the low `bits` bits are set). Stable and
/// chunk-ordered, so the result does not depend on the thread count.
void radix_sort(std::vector<std::uint64_t>& keys, int bits) {
  const std::size_t n = keys.size();
  if (n < 2 || bits <= 0) return;
  const int passes = (bits + 10) / 11;
  const int digit_bits = (bits + passes - 1) / passes;
  const std::size_t buckets = std::size_t(1) << digit_bits;
  std::vector<std::uint64_t> tmp(n);
  std::uint64_t* from = keys.data();
  std::uint64_t* to = tmp.data();
  const int threads = omp_get_max_threads();
  std::vector<std::size_t> hist(std::size_t(threads) * buckets);
  for (int pass = 0; pass < passes; ++pass) {
    const int shift = pass * digit_bits;
    const std::uint64_t mask = buckets - 1;
#pragma omp parallel num_threads(threads)
    {
      const int t = omp_get_thread_num(), team = omp_get_num_threads();
      const auto [lo, hi] = my_chunk(n);
      std::size_t* h = hist.data() + std::size_t(t) * buckets;
      std::fill(h, h + buckets, 0);
      for (std::size_t i = lo; i < hi; ++i) ++h[(from[i] >> shift) & mask];
#pragma omp barrier
#pragma omp single
      {
        std::size_t sum = 0;
        for (std::size_t d = 0; d < buckets; ++d)
          for (int u = 0; u < team; ++u) {
            std::size_t& c = hist[std::size_t(u) * buckets + d];
            const std::size_t count = c;
            c = sum;
            sum += count;
          }
      }
      for (std::size_t i = lo; i < hi; ++i) to[h[(from[i] >> shift) & mask]++] = from[i];
    }
    std::swap(from, to);
  }
  if (from != keys.data()) keys.swap(tmp);
}

/// Removes adjacent duplicates of a sorted vector in parallel (deterministic).
std::size_t unique_sorted(std::vector<std::uint64_t>& keys) {
  const std::size_t n = keys.size();
  if (n == 0) return 0;
  const int threads = omp_get_max_threads();
  std::vector<std::size_t> counts(threads + 1, 0);
  std::vector<std::uint64_t> out;
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    const auto [lo, hi] = my_chunk(n);
    std::size_t c = 0;
    for (std::size_t i = lo; i < hi; ++i) c += (i == 0 || keys[i] != keys[i - 1]);
    counts[t + 1] = c;
#pragma omp barrier
#pragma omp single
    {
      const int team = omp_get_num_threads();
      for (int u = 0; u < team; ++u) counts[u + 1] += counts[u];
      out.resize(counts[team]);
    }
    std::size_t o = counts[t];
    for (std::size_t i = lo; i < hi; ++i)
      if (i == 0 || keys[i] != keys[i - 1]) out[o++] = keys[i];
  }
  keys.swap(out);
  return keys.size();
}

/// A seeded uniform permutation of [0, n) (Fisher-Yates; sequential but O(n) and cheap).
std::vector<std::uint32_t> permutation(std::size_t n, const Stream& s) {
  std::vector<std::uint32_t> p(n);
  std::iota(p.begin(), p.end(), 0u);
  for (std::size_t i = n; i > 1; --i) std::swap(p[i - 1], p[s.below(i, i)]);
  return p;
}

/// A bijection on `bits`-bit integers (xorshift / odd multiply rounds, each invertible). Sorting
/// by it puts edges in a seeded pseudo-random order while duplicates stay adjacent.
struct Scrambler {
  int bits;
  std::uint64_t mask, add, m1, m2, inv1, inv2;
  int s1, s2;
  static std::uint64_t inverse_odd(std::uint64_t a) {
    std::uint64_t x = a;  // Newton: each step doubles the correct low bits (3 -> 96).
    for (int i = 0; i < 5; ++i) x *= 2 - a * x;
    return x;
  }
  Scrambler(int b, const Stream& s) : bits(b) {
    mask = b >= 64 ? ~0ull : (1ull << b) - 1;
    add = s.draw(0) & mask;
    m1 = s.draw(1) | 1, m2 = s.draw(2) | 1;
    inv1 = inverse_odd(m1), inv2 = inverse_odd(m2);
    s1 = std::max(1, (b + 1) / 2), s2 = std::max(1, b / 3);
  }
  static std::uint64_t unxorshift(std::uint64_t y, int s, int b) {
    std::uint64_t x = y;
    for (int k = s; k < b; k += s) x = y ^ (x >> s);
    return x;
  }
  std::uint64_t fwd(std::uint64_t x) const {
    x = (x + add) & mask;
    x ^= x >> s1;
    x = (x * m1) & mask;
    x ^= x >> s2;
    x = (x * m2) & mask;
    x ^= x >> s1;
    return x;
  }
  std::uint64_t inv(std::uint64_t x) const {
    x = unxorshift(x, s1, bits);
    x = (x * inv2) & mask;
    x = unxorshift(x, s2, bits);
    x = (x * inv1) & mask;
    x = unxorshift(x, s1, bits);
    return (x - add) & mask;
  }
};

/// Walker/Vose alias table over weights (rank i has weight (i + 1)^-exponent): O(1) draws.
struct ZipfTable {
  std::vector<std::uint32_t> threshold, alias;
  std::size_t n = 0;
  ZipfTable(std::size_t count, double exponent) : threshold(count), alias(count), n(count) {
    std::vector<double> w(count);
    double total = 0;
    for (std::size_t i = 0; i < count; ++i) total += (w[i] = std::pow(double(i + 1), -exponent));
    std::vector<std::uint32_t> small, large;
    for (std::size_t i = 0; i < count; ++i) {
      w[i] *= double(count) / total;
      (w[i] < 1.0 ? small : large).push_back(std::uint32_t(i));
    }
    while (!small.empty() && !large.empty()) {
      const std::uint32_t s = small.back(), l = large.back();
      small.pop_back();
      threshold[s] = std::uint32_t(std::min(w[s], 1.0) * 4294967295.0);
      alias[s] = l;
      w[l] -= 1.0 - w[s];
      if (w[l] < 1.0) large.pop_back(), small.push_back(l);
    }
    for (auto v : small) threshold[v] = 0xffffffffu, alias[v] = v;
    for (auto v : large) threshold[v] = 0xffffffffu, alias[v] = v;
  }
  /// A rank drawn from one 64-bit random word.
  std::uint32_t sample(std::uint64_t r) const {
    const auto column = std::uint32_t((r >> 32) * n >> 32);
    return std::uint32_t(r) < threshold[column] ? column : alias[column];
  }
};

// ---- graph description and writing -----------------------------------------------------------

struct Relation {
  std::string src_type, rel, dst_type;
  I64 src, dst, ts;  // ts empty when the graph has no timestamps
  std::string name() const { return src_type + "__" + rel + "__" + dst_type; }
};

struct Graph {
  std::string id, description;
  std::vector<std::pair<std::string, std::int64_t>> node_types;
  std::vector<Relation> relations;
  std::string seed_type;
  I64 seeds, seed_times;
  int num_batches = 100, batch_size = 1024;
  std::vector<std::pair<std::string, std::string>> params;  // (key, JSON value)
  std::int64_t count(const std::string& type) const {
    for (auto& [t, c] : node_types)
      if (t == type) return c;
    throw std::runtime_error("unknown node type " + type);
  }
};

std::string json_str(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o + "\"";
}

/// Chooses the seed lists (rule 2: fixed, shared by every library): num_batches x batch_size
/// distinct nodes of `seed_type` that have at least one edge (a seed with no neighbours
/// samples nothing), drawn without replacement (wrapping around if there are too few).
void choose_seeds(Graph& g, std::uint64_t seed) {
  const std::int64_t n = g.count(g.seed_type);
  std::vector<std::uint8_t> touched(n, 0);
  for (auto& r : g.relations) {
    for (const I64* side : {&r.src, &r.dst}) {
      if ((side == &r.src ? r.src_type : r.dst_type) != g.seed_type) continue;
      const I64& ids = *side;
#pragma omp parallel for schedule(static)
      for (std::size_t i = 0; i < ids.size(); ++i)
        std::atomic_ref<std::uint8_t>(touched[ids[i]]).store(1, std::memory_order_relaxed);
    }
  }
  std::vector<std::int64_t> candidates;
  for (std::int64_t v = 0; v < n; ++v)
    if (touched[v]) candidates.push_back(v);
  const std::size_t want = std::size_t(g.num_batches) * g.batch_size, m = candidates.size();
  if (m == 0) throw std::runtime_error("no node of type " + g.seed_type + " has an edge");
  const Stream s(seed, kStreamSeeds);
  const std::size_t k = std::min(want, m);
  for (std::size_t i = 0; i < k; ++i) std::swap(candidates[i], candidates[i + s.below(i, m - i)]);
  g.seeds.resize(want);
  for (std::size_t i = 0; i < want; ++i) g.seeds[i] = candidates[i % k];
}

struct FileEntry {
  std::string name, sha256;
  std::size_t bytes;
};

void write_array(const std::filesystem::path& path, const I64& a) {
  static_assert(std::endian::native == std::endian::little, "files are little-endian");
  const auto tmp = path.string() + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw std::runtime_error("cannot open " + tmp + ": " + std::strerror(errno));
  const std::size_t chunk = std::size_t(1) << 22;
  for (std::size_t i = 0; i < a.size(); i += chunk) {
    const std::size_t k = std::min(chunk, a.size() - i);
    if (std::fwrite(a.data() + i, 8, k, f) != k) {
      std::fclose(f);
      throw std::runtime_error("cannot write " + tmp + ": " + std::strerror(errno));
    }
  }
  if (std::fclose(f) != 0) throw std::runtime_error("cannot close " + tmp);
  std::filesystem::rename(tmp, path);
}

/// Writes every array (hashing them in parallel, one file per thread) and meta.json.
void write_graph(const Graph& g, const std::filesystem::path& dir, std::uint64_t seed,
                 std::int64_t scale_down) {
  std::filesystem::create_directories(dir);
  std::vector<std::pair<std::string, const I64*>> arrays;
  for (auto& r : g.relations) {
    arrays.push_back({r.name() + ".src.i64", &r.src});
    arrays.push_back({r.name() + ".dst.i64", &r.dst});
    if (!r.ts.empty()) arrays.push_back({r.name() + ".ts.i64", &r.ts});
  }
  arrays.push_back({"seeds.i64", &g.seeds});
  if (!g.seed_times.empty()) arrays.push_back({"seed_times.i64", &g.seed_times});
  std::vector<FileEntry> files(arrays.size());
  std::vector<std::string> errors(arrays.size());
#pragma omp parallel for schedule(dynamic, 1)
  for (std::size_t i = 0; i < arrays.size(); ++i) {
    try {
      const I64& a = *arrays[i].second;
      files[i] = {arrays[i].first, sha256_hex(a.data(), a.size() * 8), a.size() * 8};
      write_array(dir / arrays[i].first, a);
    } catch (const std::exception& e) {
      errors[i] = e.what();
    }
  }
  for (auto& e : errors)
    if (!e.empty()) throw std::runtime_error(e);
  // input_hash: sha256 over "name sha256\n" lines sorted by name; common.py recomputes it.
  auto sorted = files;
  std::sort(sorted.begin(), sorted.end(), [](auto& a, auto& b) { return a.name < b.name; });
  std::string lines;
  for (auto& f : sorted) lines += f.name + " " + f.sha256 + "\n";
  const std::string input_hash = sha256_hex(lines.data(), lines.size());

  std::ostringstream o;
  std::int64_t total_edges = 0;
  for (auto& r : g.relations) total_edges += std::int64_t(r.src.size());
  o << "{\n  \"graph\": " << json_str(g.id) << ",\n  \"description\": " << json_str(g.description)
    << ",\n  \"generator\": \"bench/gen/gen_graphs.cpp\",\n  \"generator_version\": "
    << kGeneratorVersion << ",\n  \"seed\": " << seed << ",\n  \"scale_down\": " << scale_down
    << ",\n  \"dtype\": \"<i8\",\n  \"params\": {";
  for (std::size_t i = 0; i < g.params.size(); ++i)
    o << (i ? ", " : "") << json_str(g.params[i].first) << ": " << g.params[i].second;
  o << "},\n  \"node_types\": [";
  for (std::size_t i = 0; i < g.node_types.size(); ++i)
    o << (i ? ", " : "") << "{\"name\": " << json_str(g.node_types[i].first)
      << ", \"count\": " << g.node_types[i].second << "}";
  o << "],\n  \"num_nodes_total\": "
    << std::accumulate(g.node_types.begin(), g.node_types.end(), std::int64_t(0),
                       [](auto s, auto& p) { return s + p.second; })
    << ",\n  \"relations\": [";
  for (std::size_t i = 0; i < g.relations.size(); ++i) {
    auto& r = g.relations[i];
    o << (i ? "," : "") << "\n    {\"name\": " << json_str(r.name())
      << ", \"src_type\": " << json_str(r.src_type) << ", \"rel\": " << json_str(r.rel)
      << ", \"dst_type\": " << json_str(r.dst_type) << ", \"num_edges\": " << r.src.size()
      << ", \"src\": " << json_str(r.name() + ".src.i64")
      << ", \"dst\": " << json_str(r.name() + ".dst.i64");
    if (!r.ts.empty()) o << ", \"ts\": " << json_str(r.name() + ".ts.i64");
    o << "}";
  }
  o << "\n  ],\n  \"num_edges_total\": " << total_edges
    << ",\n  \"seeds\": {\"file\": \"seeds.i64\""
    << ", \"node_type\": " << json_str(g.seed_type) << ", \"num_batches\": " << g.num_batches
    << ", \"batch_size\": " << g.batch_size;
  if (!g.seed_times.empty()) o << ", \"times\": \"seed_times.i64\"";
  o << "},\n  \"files\": {";
  for (std::size_t i = 0; i < sorted.size(); ++i)
    o << (i ? "," : "") << "\n    " << json_str(sorted[i].name)
      << ": {\"bytes\": " << sorted[i].bytes << ", \"sha256\": " << json_str(sorted[i].sha256)
      << "}";
  o << "\n  },\n  \"input_hash\": " << json_str(input_hash) << "\n}\n";
  const auto meta = dir / "meta.json";
  std::FILE* f = std::fopen((meta.string() + ".tmp").c_str(), "wb");
  if (!f) throw std::runtime_error("cannot write " + meta.string());
  const std::string text = o.str();
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
  std::filesystem::rename(meta.string() + ".tmp", meta);
  std::printf("  input_hash %s\n", input_hash.c_str());
}

// ---- RMAT (G1, G2) ---------------------------------------------------------------------------

/// RMAT edges (a, b, c, d = 1-a-b-c), symmetrised ((u,v) and (v,u)), deduplicated, ids
/// permuted, written in a seeded random edge order (sorting by a bijective scramble of the
/// (src, dst) key dedups and shuffles in one pass), so no library gets presorted input.
Graph rmat_graph(const std::string& id, int scale, std::int64_t edge_factor, std::uint64_t seed,
                 Clock& clock) {
  const double a = 0.57, b = 0.19, c = 0.19;
  const std::int64_t n = std::int64_t(1) << scale;
  const std::int64_t generated = edge_factor * n;
  const int key_bits = 2 * scale;
  const Stream rmat(seed, kStreamRmat);
  const auto perm = permutation(std::size_t(n), Stream(seed, kStreamPermute));
  const Scrambler scramble(key_bits, Stream(seed, kStreamScramble));
  const std::uint32_t ta = std::uint32_t(a * 4294967296.0),
                      tab = std::uint32_t((a + b) * 4294967296.0),
                      tabc = std::uint32_t((a + b + c) * 4294967296.0);
  const int words = (scale + 1) / 2;  // two 32-bit uniforms per 64-bit draw

  std::vector<std::uint64_t> keys(std::size_t(generated) * 2);
  std::int64_t self_loops = 0;
#pragma omp parallel for schedule(static) reduction(+ : self_loops)
  for (std::int64_t e = 0; e < generated; ++e) {
    std::uint64_t u = 0, v = 0;
    for (int w = 0; w < words; ++w) {
      const std::uint64_t r = rmat.draw(std::uint64_t(e) * words + w);
      for (int half = 0; half < 2 && 2 * w + half < scale; ++half) {
        const auto x = std::uint32_t(r >> (32 * half));
        const std::uint64_t bit_u = x >= tab, bit_v = (x >= ta && x < tab) || x >= tabc;
        u = (u << 1) | bit_u;
        v = (v << 1) | bit_v;
      }
    }
    u = perm[u], v = perm[v];
    self_loops += u == v;
    keys[2 * e] = scramble.fwd((u << scale) | v);
    keys[2 * e + 1] = scramble.fwd((v << scale) | u);
  }
  std::printf("  generated %" PRId64 " RMAT edges (scale %d, edge factor %" PRId64 ", %" PRId64
              " self-loops), symmetrised to %zu  [%.2f s]\n",
              generated, scale, edge_factor, self_loops, keys.size(), clock.lap());
  radix_sort(keys, key_bits);
  const std::size_t before = keys.size();
  unique_sorted(keys);
  std::printf("  sorted + deduplicated: %zu -> %zu edges (%.1f %% duplicates)  [%.2f s]\n", before,
              keys.size(), 100.0 * double(before - keys.size()) / double(before), clock.lap());

  Graph g;
  g.id = id;
  g.node_types = {{"node", n}};
  Relation r{"node", "to", "node"};
  r.src.resize(keys.size());
  r.dst.resize(keys.size());
  const std::uint64_t low = (std::uint64_t(1) << scale) - 1;
#pragma omp parallel for schedule(static)
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const std::uint64_t k = scramble.inv(keys[i]);
    r.src[i] = std::int64_t(k >> scale);
    r.dst[i] = std::int64_t(k & low);
  }
  keys = {};
  g.relations.push_back(std::move(r));
  g.seed_type = "node";
  std::ostringstream d;
  d << "RMAT a=0.57 b=c=0.19 scale " << scale << " edge factor " << edge_factor
    << ", symmetrised, deduplicated (self-loops kept once), ids permuted, edges in random order";
  g.description = d.str();
  g.params = {{"scale", std::to_string(scale)},
              {"edge_factor", std::to_string(edge_factor)},
              {"a", "0.57"},
              {"b", "0.19"},
              {"c", "0.19"},
              {"generated_edges", std::to_string(generated)},
              {"self_loops_generated", std::to_string(self_loops)}};
  return g;
}

// ---- hetero / bipartite graphs (G5, G6, G7) --------------------------------------------------

/// Fills one relation with `count` edges whose endpoints are Zipf-ranked (exponent per side;
/// 0 = uniform) and mapped through the node type's permutation, so hubs are scattered ids.
/// With `dst_identity_first` the first count(dst_type) edges take dst = 0, 1, 2, ... (every
/// card has an owner).
void zipf_relation(Relation& r, std::int64_t count, const ZipfTable& src_z, const ZipfTable& dst_z,
                   const std::vector<std::uint32_t>& src_perm,
                   const std::vector<std::uint32_t>& dst_perm, const Stream& s_src,
                   const Stream& s_dst, bool dst_identity_first) {
  r.src.resize(count);
  r.dst.resize(count);
  const auto n_dst = std::int64_t(dst_perm.size());
#pragma omp parallel for schedule(static)
  for (std::int64_t e = 0; e < count; ++e) {
    r.src[e] = src_perm[src_z.sample(s_src.draw(e))];
    r.dst[e] = dst_identity_first && e < n_dst
                   ? std::int64_t(dst_perm[e])
                   : std::int64_t(dst_perm[dst_z.sample(s_dst.draw(e))]);
  }
}

Relation reversed(const Relation& r, const std::string& rel) {
  Relation o{r.dst_type, rel, r.src_type};
  o.src = r.dst, o.dst = r.src, o.ts = r.ts;
  return o;
}

std::int64_t scaled(std::int64_t x, std::int64_t k) { return std::max<std::int64_t>(1, x / k); }

std::string fmt_double(double x) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", x);
  return b;
}

/// G5 (and G6 with timestamps): a fraud graph. user -owns-> card (every card has an owner,
/// plus 7 % extra owners of shared cards, Zipf 0.5), user -uses-> device (devices Zipf 1.0:
/// emulators / shared phones are hubs), card -pays-> merchant (transactions; cards Zipf 0.6,
/// merchants Zipf 1.0), users Zipf 0.5 on both of their relations, and the three reverses
/// (same edges, src/dst swapped, same order). Multigraph: a repeated pair is a repeated
/// event, as in a transaction log.
Graph fraud_graph(const std::string& id, bool temporal, std::int64_t k, std::uint64_t seed,
                  Clock& clock) {
  Graph g;
  g.id = id;
  g.node_types = {{"user", scaled(900000, k)},
                  {"card", scaled(700000, k)},
                  {"device", scaled(300000, k)},
                  {"merchant", scaled(100000, k)}};
  struct Spec {
    const char *src, *rel, *dst;
    std::int64_t edges;
    double src_exp, dst_exp;
    bool identity;
  };
  const Spec specs[] = {{"user", "owns", "card", 750000, 0.5, 0.5, true},
                        {"user", "uses", "device", 3250000, 0.5, 1.0, false},
                        {"card", "pays", "merchant", 26000000, 0.6, 1.0, false}};
  std::map<std::string, std::vector<std::uint32_t>> perms;
  for (std::size_t t = 0; t < g.node_types.size(); ++t)
    perms[g.node_types[t].first] =
        permutation(g.node_types[t].second, Stream(seed, kStreamPermute + t));
  const std::int64_t t0 = 1700000000, span = 365ll * 86400;  // one year of unix seconds
  std::vector<Relation> forward;
  for (std::size_t i = 0; i < 3; ++i) {
    const Spec& sp = specs[i];
    Relation r{sp.src, sp.rel, sp.dst};
    const ZipfTable zs(g.count(sp.src), sp.src_exp), zd(g.count(sp.dst), sp.dst_exp);
    const std::uint64_t base = kStreamRelation + 10 * i;
    zipf_relation(r, scaled(sp.edges, k), zs, zd, perms[sp.src], perms[sp.dst], Stream(seed, base),
                  Stream(seed, base + 1), sp.identity);
    if (temporal) {
      const Stream st(seed, base + 2);
      r.ts.resize(r.src.size());
#pragma omp parallel for schedule(static)
      for (std::size_t e = 0; e < r.ts.size(); ++e) r.ts[e] = t0 + std::int64_t(st.below(e, span));
    }
    g.params.push_back({std::string(sp.rel) + "_zipf",
                        "[" + fmt_double(sp.src_exp) + ", " + fmt_double(sp.dst_exp) + "]"});
    forward.push_back(std::move(r));
  }
  for (auto& r : forward) g.relations.push_back(r);
  for (auto& r : forward) g.relations.push_back(reversed(r, "rev_" + r.rel));
  std::printf("  relations built  [%.2f s]\n", clock.lap());
  g.seed_type = "card";
  choose_seeds(g, seed);
  if (temporal) {
    // Seed times in the last quarter of the year, so a seed has history before it.
    const Stream st(seed, kStreamSeedTimes);
    g.seed_times.resize(g.seeds.size());
    for (std::size_t i = 0; i < g.seeds.size(); ++i)
      g.seed_times[i] = t0 + span * 3 / 4 + std::int64_t(st.below(i, span / 4));
    g.params.push_back(
        {"time_range", "[" + std::to_string(t0) + ", " + std::to_string(t0 + span) + "]"});
  }
  g.description = std::string(
                      "fraud graph: user/card/device/merchant, owns/uses/pays + reverses, "
                      "Zipf-skewed degrees, ids permuted, multigraph") +
                  (temporal ? ", int64 unix-second edge timestamps (uniform over one year) and "
                              "seed times (last quarter)"
                            : "");
  return g;
}

/// G7: bipartite interactions user -clicks-> item; item popularity Zipf 0.8, user activity
/// Zipf 0.5; one relation (libraries add reverses themselves if they need them); multigraph.
Graph bipartite_graph(std::int64_t k, std::uint64_t seed, Clock& clock) {
  Graph g;
  g.id = "G7";
  g.node_types = {{"user", scaled(1000000, k)}, {"item", scaled(200000, k)}};
  const auto pu = permutation(g.count("user"), Stream(seed, kStreamPermute));
  const auto pi = permutation(g.count("item"), Stream(seed, kStreamPermute + 1));
  const ZipfTable zu(g.count("user"), 0.5), zi(g.count("item"), 0.8);
  Relation r{"user", "clicks", "item"};
  zipf_relation(r, scaled(100000000, k), zu, zi, pu, pi, Stream(seed, kStreamRelation),
                Stream(seed, kStreamRelation + 1), false);
  g.relations.push_back(std::move(r));
  std::printf("  relation built  [%.2f s]\n", clock.lap());
  g.seed_type = "user";
  choose_seeds(g, seed);
  g.params = {{"user_zipf", "0.5"}, {"item_zipf", "0.8"}};
  g.description =
      "bipartite users x items interactions, Zipf item popularity (0.8) and user "
      "activity (0.5), ids permuted, multigraph";
  return g;
}

void print_summary(const Graph& g) {
  for (auto& [t, c] : g.node_types) std::printf("  nodes %-9s %12" PRId64 "\n", t.c_str(), c);
  std::int64_t total = 0;
  for (auto& r : g.relations) {
    // Max in-degree: a quick skew check.
    std::vector<std::uint32_t> deg(g.count(r.dst_type), 0);
    for (auto v : r.dst) ++deg[v];
    const auto mx = *std::max_element(deg.begin(), deg.end());
    const auto isolated = std::count(deg.begin(), deg.end(), 0u);
    std::printf("  edges %-30s %12zu  max in-degree %u, %zu of %zu dst nodes without in-edges%s\n",
                r.name().c_str(), r.src.size(), mx, std::size_t(isolated), deg.size(),
                r.ts.empty() ? "" : ", timestamps");
    total += std::int64_t(r.src.size());
  }
  std::printf("  edges total %" PRId64 "; seeds %zu x %d of type %s%s\n", total,
              std::size_t(g.num_batches), g.batch_size, g.seed_type.c_str(),
              g.seed_times.empty() ? "" : " with seed times");
}

int run(int argc, char** argv) {
  std::string graphs, out;
  std::uint64_t seed = 1;
  std::int64_t scale_down = 1;
  int threads = 0;
  bool self_test = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--graph")
      graphs = value();
    else if (arg == "--out")
      out = value();
    else if (arg == "--seed")
      seed = std::stoull(value());
    else if (arg == "--scale-down")
      scale_down = std::stoll(value());
    else if (arg == "--threads")
      threads = std::stoi(value());
    else if (arg == "--self-test")
      self_test = true;
    else if (arg == "-h" || arg == "--help") {
      std::printf(
          "usage: gen_graphs --graph G1|G2|G5|G6|G7|all[,...] --out DIR [--seed 1]\n"
          "                  [--scale-down K] [--threads T]\n"
          "       gen_graphs --self-test\n"
          "Writes DIR/<G>/meta.json and raw little-endian int64 arrays (BENCHMARKING.md inputs).\n"
          "--scale-down K divides node and edge counts by K (RMAT: scale -= floor(log2 K)).\n");
      return 0;
    } else {
      throw std::runtime_error("unknown argument " + arg + " (see --help)");
    }
  }
  if (threads > 0) omp_set_num_threads(threads);
  if (self_test) {
    // Known-answer tests for the pieces whose bugs would be silent.
    if (sha256_hex("abc", 3) !=
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" ||
        sha256_hex("", 0) != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
      throw std::runtime_error("self-test: sha256 known answers differ");
    std::string million(1000000, 'a');
    if (sha256_hex(million.data(), million.size()) !=
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
      throw std::runtime_error("self-test: sha256 of a million 'a' differs");
    for (int bits : {2, 7, 36, 42, 64}) {
      const Scrambler s(bits, Stream(seed, 7));
      const std::uint64_t mask = bits >= 64 ? ~0ull : (1ull << bits) - 1;
      for (std::uint64_t i = 0; i < 100000; ++i) {
        const std::uint64_t x = mix64(i) & mask;
        if (s.fwd(x) > mask || s.inv(s.fwd(x)) != x)
          throw std::runtime_error("self-test: scrambler not a bijection at " +
                                   std::to_string(bits));
      }
    }
    std::vector<std::uint64_t> v(1000003);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = mix64(i) & ((1ull << 42) - 1);
    auto w = v;
    radix_sort(v, 42);
    std::sort(w.begin(), w.end());
    if (v != w) throw std::runtime_error("self-test: radix sort differs from std::sort");
    std::printf("self-test passed (sha256 %s)\n",
#ifdef GEN_HAVE_SHANI
                "SHA-NI"
#else
                "portable"
#endif
    );
    return 0;
  }
  if (graphs.empty() || out.empty())
    throw std::runtime_error("--graph and --out are required (see --help)");
  if (scale_down < 1) throw std::runtime_error("--scale-down must be >= 1");
  if (graphs == "all") graphs = "G1,G2,G5,G6,G7";
  std::vector<std::string> list;
  std::stringstream ss(graphs);
  for (std::string item; std::getline(ss, item, ',');) list.push_back(item);
  const int shift = std::bit_width(std::uint64_t(scale_down)) - 1;  // floor(log2 K)
  for (const auto& id : list) {
    Clock clock;
    std::printf("%s (seed %" PRIu64 ", scale-down %" PRId64 ", %d threads)\n", id.c_str(), seed,
                scale_down, omp_get_max_threads());
    Graph g;
    if (id == "G1")
      g = rmat_graph("G1", std::max(1, 18 - shift), 16, seed, clock);
    else if (id == "G2")
      g = rmat_graph("G2", std::max(1, 21 - shift), 30, seed, clock);
    else if (id == "G5")
      g = fraud_graph("G5", false, scale_down, seed, clock);
    else if (id == "G6")
      g = fraud_graph("G6", true, scale_down, seed, clock);
    else if (id == "G7")
      g = bipartite_graph(scale_down, seed, clock);
    else
      throw std::runtime_error("unknown graph " + id + " (G1, G2, G5, G6, G7, all)");
    if (g.seeds.empty()) choose_seeds(g, seed);
    std::printf("  seeds chosen  [%.2f s]\n", clock.lap());
    print_summary(g);
    write_graph(g, std::filesystem::path(out) / id, seed, scale_down);
    std::printf("  written to %s  [%.2f s]\n", (std::filesystem::path(out) / id).c_str(),
                clock.lap());
    std::printf("%s done in %.2f s\n", id.c_str(), clock.total());
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace gen

int main(int argc, char** argv) {
  try {
    return gen::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gen_graphs: %s\n", e.what());
    return 1;
  }
}
