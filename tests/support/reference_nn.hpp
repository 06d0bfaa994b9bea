#pragma once
// Reference implementations of the layer formulas (plain loops over an edge list, in double)
// and a central finite-difference checker. Written from the published formulas, independent
// of the library's kernels.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

namespace gnnkit::test {

/// A small bipartite block: destinations 0..num_dst-1 are also sources 0..num_dst-1 (the
/// sampled-block convention), with duplicate edges, self loops, a destination without
/// in-edges and a source without out-edges.
struct EdgeListGraph {
  std::int64_t num_src = 0, num_dst = 0;
  std::vector<std::int64_t> src, dst;  // edge e: src[e] -> dst[e], in CSC order
  std::vector<std::int64_t> indptr;
};

inline EdgeListGraph random_block(std::int64_t num_src, std::int64_t num_dst,
                                  std::int64_t num_edges, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  EdgeListGraph g;
  g.num_src = num_src;
  g.num_dst = num_dst;
  std::vector<std::pair<std::int64_t, std::int64_t>> edges;  // (dst, src)
  for (std::int64_t e = 0; e < num_edges; ++e) {
    const std::int64_t v = std::int64_t(rng() % std::uint64_t(num_dst - 1));  // last: no edges
    const std::int64_t u = std::int64_t(rng() % std::uint64_t(num_src - 1));  // last: isolated
    edges.push_back({v, u});
  }
  edges.push_back({0, 0});                          // a self loop
  edges.push_back({1, 2});                          // a duplicate edge
  edges.push_back({1, 2});
  std::stable_sort(edges.begin(), edges.end(),
                   [](auto a, auto b) { return a.first < b.first; });
  g.indptr.assign(std::size_t(num_dst + 1), 0);
  for (auto [v, u] : edges) {
    g.dst.push_back(v);
    g.src.push_back(u);
    ++g.indptr[std::size_t(v) + 1];
  }
  for (std::int64_t v = 0; v < num_dst; ++v) g.indptr[std::size_t(v) + 1] += g.indptr[std::size_t(v)];
  return g;
}

/// Central differences of loss() w.r.t. every element of x, compared with analytic.
inline void check_gradient(const std::function<double()>& loss, double* x, std::int64_t n,
                           const double* analytic, const char* what, double h = 1e-6) {
  for (std::int64_t i = 0; i < n; ++i) {
    const double saved = x[i];
    x[i] = saved + h;
    const double lp = loss();
    x[i] = saved - h;
    const double lm = loss();
    x[i] = saved;
    const double numeric = (lp - lm) / (2 * h);
    INFO(what << "[" << i << "]: numeric " << numeric << " analytic " << analytic[i]);
    CHECK(std::abs(numeric - analytic[i]) <= 1e-6 + 1e-5 * std::abs(numeric));
  }
}

/// Reference SAGE: out[v] = W_n^T aggr(x_src) + b + W_r^T x_dst[v]; x row-major.
inline std::vector<double> reference_sage(const EdgeListGraph& g, const std::vector<double>& x,
                                          std::int64_t in, const std::vector<double>& w_neigh,
                                          const std::vector<double>& bias,
                                          const std::vector<double>& w_root, std::int64_t out,
                                          int aggr /*0 mean 1 sum 2 max*/, bool normalize) {
  std::vector<double> result(std::size_t(g.num_dst * out), 0.0);
  for (std::int64_t v = 0; v < g.num_dst; ++v) {
    std::vector<double> a(std::size_t(in), aggr == 2 ? -std::numeric_limits<double>::infinity() : 0.0);
    std::int64_t deg = 0;
    for (std::size_t e = 0; e < g.src.size(); ++e) {
      if (g.dst[e] != v) continue;
      ++deg;
      for (std::int64_t c = 0; c < in; ++c) {
        const double m = x[std::size_t(g.src[e] * in + c)];
        a[std::size_t(c)] = aggr == 2 ? std::max(a[std::size_t(c)], m) : a[std::size_t(c)] + m;
      }
    }
    for (auto& val : a) {
      if (deg == 0) val = 0;
      else if (aggr == 0) val /= double(deg);
    }
    for (std::int64_t o = 0; o < out; ++o) {
      double acc = bias.empty() ? 0.0 : bias[std::size_t(o)];
      for (std::int64_t c = 0; c < in; ++c) acc += a[std::size_t(c)] * w_neigh[std::size_t(c * out + o)];
      if (!w_root.empty())
        for (std::int64_t c = 0; c < in; ++c)
          acc += x[std::size_t(v * in + c)] * w_root[std::size_t(c * out + o)];
      result[std::size_t(v * out + o)] = acc;
    }
    if (normalize) {
      double s = 0;
      for (std::int64_t o = 0; o < out; ++o) s += result[std::size_t(v * out + o)] * result[std::size_t(v * out + o)];
      const double n = std::max(std::sqrt(s), 1e-12);
      for (std::int64_t o = 0; o < out; ++o) result[std::size_t(v * out + o)] /= n;
    }
  }
  return result;
}

/// Reference GAT (PyG GATConv, shared W, self loops removed then added for v < min(n_src, n_dst)).
inline std::vector<double> reference_gat(const EdgeListGraph& g, const std::vector<double>& x,
                                         std::int64_t in, const std::vector<double>& w, int heads,
                                         std::int64_t C, const std::vector<double>& att_src,
                                         const std::vector<double>& att_dst,
                                         const std::vector<double>& bias, bool concat,
                                         double slope, bool self_loops) {
  const std::int64_t HC = heads * C;
  std::vector<double> h(std::size_t(g.num_src * HC), 0.0);
  for (std::int64_t i = 0; i < g.num_src; ++i)
    for (std::int64_t o = 0; o < HC; ++o)
      for (std::int64_t c = 0; c < in; ++c)
        h[std::size_t(i * HC + o)] += x[std::size_t(i * in + c)] * w[std::size_t(c * HC + o)];
  std::vector<std::pair<std::int64_t, std::int64_t>> edges;  // (src, dst)
  for (std::size_t e = 0; e < g.src.size(); ++e)
    if (!self_loops || g.src[e] != g.dst[e]) edges.push_back({g.src[e], g.dst[e]});
  if (self_loops)
    for (std::int64_t v = 0; v < std::min(g.num_src, g.num_dst); ++v) edges.push_back({v, v});
  const std::int64_t width = concat ? HC : C;
  std::vector<double> out(std::size_t(g.num_dst * width), 0.0);
  for (std::int64_t v = 0; v < g.num_dst; ++v) {
    for (int k = 0; k < heads; ++k) {
      auto dot = [&](std::int64_t node, const std::vector<double>& att) {
        double s = 0;
        for (std::int64_t c = 0; c < C; ++c) s += h[std::size_t(node * HC + k * C + c)] * att[std::size_t(k * C + c)];
        return s;
      };
      std::vector<double> logits;
      std::vector<std::int64_t> srcs;
      for (auto [u, d] : edges)
        if (d == v) {
          const double z = dot(u, att_src) + dot(v, att_dst);
          logits.push_back(z > 0 ? z : slope * z);
          srcs.push_back(u);
        }
      double m = -std::numeric_limits<double>::infinity(), sum = 0;
      for (double l : logits) m = std::max(m, l);
      for (double l : logits) sum += std::exp(l - m);
      for (std::size_t j = 0; j < srcs.size(); ++j) {
        const double a = std::exp(logits[j] - m) / sum;
        for (std::int64_t c = 0; c < C; ++c) {
          const double msg = a * h[std::size_t(srcs[j] * HC + k * C + c)];
          if (concat) out[std::size_t(v * width + k * C + c)] += msg;
          else out[std::size_t(v * width + c)] += msg / heads;
        }
      }
    }
    if (!bias.empty())
      for (std::int64_t o = 0; o < width; ++o) out[std::size_t(v * width + o)] += bias[std::size_t(o)];
  }
  return out;
}

}  // namespace gnnkit::test
