#pragma once
// The device sampler's algorithm (include/gnnkit/sampling/device_sampler.hpp), written once
// over an execution interface `Exec` and built for the CPU (device_sampler.cpp) and for CUDA
// (cuda/sampler.cu). Exec provides:
//   Device device() const;                                 where its arrays live
//   template <class F> void for_each(std::int64_t n, F f);  f(i) for i in [0, n), in parallel
//   std::int64_t exclusive_scan(const std::int64_t* in, std::int64_t* out, std::int64_t n);
//       out[i] = sum of in[0, i); returns the total (read back to the host)
//   const Context& context() const;                         for tensors and copies
// Lambdas passed to for_each are GNNKIT_HOST_DEVICE and capture plain pointers by value.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <vector>

#include "gnnkit/core/host_device.hpp"
#include "gnnkit/sampling/device_sampler.hpp"
#include "gnnkit/sampling/random.hpp"

namespace gnnkit::sampling_detail {

constexpr std::int64_t kEmptyKey = -1;

GNNKIT_HOST_DEVICE inline std::int64_t load_relaxed(const std::int64_t* p) {
#if defined(__CUDA_ARCH__)
  return *static_cast<const volatile std::int64_t*>(p);
#else
  return std::atomic_ref<std::int64_t>(*const_cast<std::int64_t*>(p)).load(std::memory_order_relaxed);
#endif
}
/// Compare-and-swap; returns the value found (expected on success).
GNNKIT_HOST_DEVICE inline std::int64_t compare_swap(std::int64_t* p, std::int64_t expected, std::int64_t desired) {
#if defined(__CUDA_ARCH__)
  return std::int64_t(atomicCAS(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(expected),
                                static_cast<unsigned long long>(desired)));
#else
  std::atomic_ref<std::int64_t>(*p).compare_exchange_strong(expected, desired);
  return expected;
#endif
}
GNNKIT_HOST_DEVICE inline void fetch_min(std::int64_t* p, std::int64_t value) {
#if defined(__CUDA_ARCH__)
  atomicMin(reinterpret_cast<long long*>(p), static_cast<long long>(value));
#else
  std::atomic_ref<std::int64_t> a(*p);
  std::int64_t cur = a.load(std::memory_order_relaxed);
  while (value < cur && !a.compare_exchange_weak(cur, value)) {
  }
#endif
}

/// Open-addressing table global id -> slot (linear probing, power-of-two size). Slots carry
/// the first edge (or seed) index that reached the key and the key's local id.
struct NodeTable {
  std::int64_t* keys;   // kEmptyKey when free
  std::int64_t* first;  // smallest index that inserted the key (2^62 before)
  std::int64_t* local;  // local id, -1 until numbered
  std::int64_t mask;

  GNNKIT_HOST_DEVICE std::int64_t insert(std::int64_t key) const {
    std::int64_t h = std::int64_t(mix64(std::uint64_t(key)) & std::uint64_t(mask));
    while (true) {
      const std::int64_t k = load_relaxed(keys + h);
      if (k == key) return h;
      if (k == kEmptyKey) {
        const std::int64_t found = compare_swap(keys + h, kEmptyKey, key);
        if (found == kEmptyKey || found == key) return h;
      }
      h = (h + 1) & mask;
    }
  }
  /// The key must be present.
  GNNKIT_HOST_DEVICE std::int64_t find(std::int64_t key) const {
    std::int64_t h = std::int64_t(mix64(std::uint64_t(key)) & std::uint64_t(mask));
    while (load_relaxed(keys + h) != key) h = (h + 1) & mask;
    return h;
  }
};

/// Uniform in [0, n) for n < 2^32 from 64 random bits (multiply-shift on the top 32).
GNNKIT_HOST_DEVICE inline std::int64_t below(std::uint64_t bits, std::int64_t n) {
  return std::int64_t(((bits >> 32) * std::uint64_t(n)) >> 32);
}

template <typename T>
Tensor device_array(const Context& ctx, std::int64_t n) {
  return Tensor::empty({std::max<std::int64_t>(n, 1)}, dtype_of<T>, ctx.device());
}

/// Numbers the keys `keys[0, n)` (inserting them into the table): a key not numbered before
/// gets the next local id in the order of its first occurrence in `keys`; writes every key's
/// local id to out_local (int32) and the new keys to nodes[count, ...). Returns the number
/// of new keys.
template <typename Exec>
std::int64_t relabel(Exec& exec, const NodeTable& table, const std::int64_t* keys, std::int64_t n,
                     std::int64_t count, std::int64_t* nodes, std::int32_t* out_local) {
  if (n == 0) return 0;
  const Context& ctx = exec.context();
  exec.for_each(n, [=] GNNKIT_HOST_DEVICE(std::int64_t e) { fetch_min(table.first + table.insert(keys[e]), e); });
  Tensor flags_t = device_array<std::int64_t>(ctx, n + 1), prefix_t = device_array<std::int64_t>(ctx, n + 1);
  std::int64_t* flags = flags_t.data_as<std::int64_t>();
  std::int64_t* prefix = prefix_t.data_as<std::int64_t>();
  exec.for_each(n, [=] GNNKIT_HOST_DEVICE(std::int64_t e) {
    const std::int64_t s = table.find(keys[e]);
    flags[e] = table.local[s] < 0 && table.first[s] == e ? 1 : 0;
  });
  const std::int64_t added = exec.exclusive_scan(flags, prefix, n);
  exec.for_each(n, [=] GNNKIT_HOST_DEVICE(std::int64_t e) {
    if (!flags[e]) return;
    const std::int64_t s = table.find(keys[e]);
    table.local[s] = count + prefix[e];
    nodes[count + prefix[e]] = keys[e];
  });
  exec.for_each(n, [=] GNNKIT_HOST_DEVICE(std::int64_t e) {
    out_local[e] = std::int32_t(table.local[table.find(keys[e])]);
  });
  return added;
}

/// A 1-d tensor of n elements of `dtype` viewing the front of t (the arrays are allocated at
/// their bound and trimmed to what was sampled).
inline Tensor trimmed(const Tensor& t, DType dtype, std::int64_t n) {
  return Tensor::wrap(TensorView(t.data(), dtype, t.device(), {n}), t.owner());
}

/// One hop of one relation: the frontier's draws (positions, sources relabelled), before the
/// pieces of all hops are joined into the relation's CSC.
struct HopPiece {
  std::int64_t rows = 0, edges = 0;
  Tensor offsets;  // int64 [rows]: row starts within this piece
  Tensor local;    // int32 [edges]
  Tensor pos;      // int64 [edges]
};

template <typename Exec>
DeviceMiniBatch sample_impl(Exec& exec, const DeviceGraph& g, const Fanouts& fanouts, int seed_type,
                            const TensorView& seeds, std::uint64_t batch) {
  const Context& ctx = exec.context();
  const std::int64_t num_seeds = seeds.numel();
  const std::size_t types = g.num_nodes.size(), rels = g.relations.size(), hops = fanouts.front().size();
  // Capacity per node type: every node the batch can reach, at most the type's.
  std::vector<std::int64_t> bound(types, 0), level(types, 0);
  bound[std::size_t(seed_type)] = level[std::size_t(seed_type)] = std::min(num_seeds, g.num_nodes[std::size_t(seed_type)]);
  for (std::size_t h = 0; h < hops; ++h) {
    std::vector<std::int64_t> next(types, 0);
    for (std::size_t r = 0; r < rels; ++r) {
      const DeviceRelation& rel = g.relations[r];
      const std::size_t s = std::size_t(rel.src_type), d = std::size_t(rel.dst_type);
      const std::int64_t f = fanouts[r][h];
      if (f == 0 || level[d] == 0) continue;
      // level[d] * f, unless it would pass the type's node count (or overflow: f may be huge).
      const std::int64_t reach = f < 0 || f >= (g.num_nodes[s] + level[d] - 1) / level[d] ? g.num_nodes[s] : level[d] * f;
      next[s] = std::min(g.num_nodes[s], next[s] + reach);
    }
    for (std::size_t t = 0; t < types; ++t) {
      bound[t] = std::min(g.num_nodes[t], bound[t] + next[t]);
      level[t] = next[t];
    }
  }
  bound[std::size_t(seed_type)] = std::max(bound[std::size_t(seed_type)], num_seeds);

  // Per node type: a table global id -> local id, and the nodes in local order.
  std::vector<Tensor> table_arrays, nodes_t(types);
  std::vector<NodeTable> tables(types);
  std::vector<std::int64_t> count(types, 0);
  for (std::size_t t = 0; t < types; ++t) {
    std::int64_t table_size = 1;
    while (table_size < 2 * bound[t] + 2) table_size *= 2;
    Tensor keys = device_array<std::int64_t>(ctx, table_size), first = device_array<std::int64_t>(ctx, table_size),
           local = device_array<std::int64_t>(ctx, table_size);
    fill(ctx, keys, double(kEmptyKey));
    fill(ctx, first, double(std::int64_t(1) << 62));  // above any index
    fill(ctx, local, -1.0);
    tables[t] = NodeTable{keys.data_as<std::int64_t>(), first.data_as<std::int64_t>(), local.data_as<std::int64_t>(),
                          table_size - 1};
    table_arrays.insert(table_arrays.end(), {keys, first, local});
    nodes_t[t] = device_array<std::int64_t>(ctx, bound[t]);
  }

  DeviceMiniBatch out;
  out.seed_type = seed_type;
  out.seed_local = device_array<std::int32_t>(ctx, num_seeds);
  count[std::size_t(seed_type)] =
      relabel(exec, tables[std::size_t(seed_type)], static_cast<const std::int64_t*>(seeds.data()), num_seeds, 0,
              nodes_t[std::size_t(seed_type)].data_as<std::int64_t>(), out.seed_local.data_as<std::int32_t>());

  std::vector<std::vector<HopPiece>> pieces(rels);
  std::vector<std::int64_t> begin(types, 0);
  const std::uint64_t seed = ctx.seed();
  for (std::size_t h = 0; h < hops; ++h) {
    const std::vector<std::int64_t> end = count;  // the frontier: nodes first reached at the last hop
    Block b;
    b.dst_begin = begin;
    b.dst_end = end;
    for (std::size_t r = 0; r < rels; ++r) {
      const DeviceRelation& rel = g.relations[r];
      const std::size_t d = std::size_t(rel.dst_type), s = std::size_t(rel.src_type);
      const std::int64_t row0 = begin[d], rows = end[d] - begin[d], fanout = fanouts[r][h];
      HopPiece piece;
      piece.rows = rows;
      piece.offsets = device_array<std::int64_t>(ctx, rows + 1);
      Tensor counts_t = device_array<std::int64_t>(ctx, rows + 1);
      std::int64_t* counts = counts_t.data_as<std::int64_t>();
      std::int64_t* offsets = piece.offsets.data_as<std::int64_t>();
      const std::int64_t* dst_nodes = nodes_t[d].data_as<std::int64_t>();
      const std::int64_t* indptr = rel.indptr.data_as<std::int64_t>();
      const std::int32_t* indices = rel.indices.data_as<std::int32_t>();
      exec.for_each(rows, [=] GNNKIT_HOST_DEVICE(std::int64_t i) {
        const std::int64_t v = dst_nodes[row0 + i], deg = indptr[v + 1] - indptr[v];
        counts[i] = fanout < 0 || fanout > deg ? deg : fanout;  // 0: the relation skips this hop
      });
      const std::int64_t E = exec.exclusive_scan(counts, offsets, rows);
      piece.edges = E;
      piece.pos = device_array<std::int64_t>(ctx, E);
      Tensor src_t = device_array<std::int64_t>(ctx, E);
      std::int64_t* pos = piece.pos.data_as<std::int64_t>();
      std::int64_t* src = src_t.data_as<std::int64_t>();
      // The stream of relation 0 is keyed as a homogeneous graph's always was.
      const std::uint64_t stream_key = (std::uint64_t(h) + 1) | (std::uint64_t(r) << 32);
      // Floyd's algorithm: for j = deg - k .. deg - 1 draw t in [0, j]; take j if t was taken
      // already, else t. Every k-subset equally likely; membership checked in the row's slots.
      exec.for_each(rows, [=] GNNKIT_HOST_DEVICE(std::int64_t i) {
        const std::int64_t v = dst_nodes[row0 + i], e0 = indptr[v], deg = indptr[v + 1] - e0;
        const std::int64_t k = counts[i], o = offsets[i];
        if (k == deg) {
          for (std::int64_t j = 0; j < k; ++j) pos[o + j] = e0 + j;
        } else {
          CounterRng rng(seed, batch, stream_key, std::uint64_t(v));
          for (std::int64_t m = 0, j = deg - k; j < deg; ++j, ++m) {
            std::int64_t t = below(rng.next(), j + 1);
            for (std::int64_t q = 0; q < m; ++q)
              if (pos[o + q] == e0 + t) {
                t = j;
                break;
              }
            pos[o + m] = e0 + t;
          }
        }
        for (std::int64_t j = 0; j < k; ++j) src[o + j] = indices[pos[o + j]];
      });
      piece.local = device_array<std::int32_t>(ctx, E);
      count[s] += relabel(exec, tables[s], src, E, count[s], nodes_t[s].data_as<std::int64_t>(),
                          piece.local.data_as<std::int32_t>());
      b.num_edges += E;
      pieces[r].push_back(std::move(piece));
    }
    b.num_src = count;
    out.blocks.push_back(std::move(b));
    begin = end;
  }

  // Per relation, one CSC over all hops: the pieces joined on the device, row starts shifted
  // by the edges of earlier hops.
  auto put = [&](const Tensor& dst, std::int64_t at, const Tensor& src, std::int64_t n) {
    if (n == 0) return;
    const std::size_t item = dtype_size(dst.dtype());
    const std::int64_t shape[1] = {n};
    // Not waited for: the stream orders it before later work, and the device's block cache
    // reuses the source's memory only for work queued after it.
    copy_async(ctx,
               TensorView(static_cast<char*>(dst.data()) + at * std::int64_t(item), dst.dtype(), dst.device(), shape),
               TensorView(src.data(), src.dtype(), src.device(), shape));
  };
  for (std::size_t r = 0; r < rels; ++r) {
    const DeviceRelation& rel = g.relations[r];
    std::int64_t rows = 0, edges = 0;
    for (const HopPiece& p : pieces[r]) {
      rows += p.rows;
      edges += p.edges;
    }
    DeviceSampledRelation sr;
    sr.relation = int(r);
    sr.src_type = rel.src_type;
    sr.dst_type = rel.dst_type;
    Tensor indptr = device_array<std::int64_t>(ctx, rows + 1), indices = device_array<std::int32_t>(ctx, edges),
           edge_ids = device_array<std::int64_t>(ctx, edges);
    std::int64_t row = 0, edge = 0;
    for (const HopPiece& p : pieces[r]) {
      std::int64_t* dst = indptr.data_as<std::int64_t>() + row;
      const std::int64_t* offsets = p.offsets.data_as<std::int64_t>();
      const std::int64_t shift = edge;
      exec.for_each(p.rows, [=] GNNKIT_HOST_DEVICE(std::int64_t i) { dst[i] = offsets[i] + shift; });
      put(indices, edge, p.local, p.edges);
      sr.hop_edges.push_back(p.edges);
      put(edge_ids, edge, p.pos, p.edges);
      row += p.rows;
      edge += p.edges;
    }
    std::int64_t* last = indptr.data_as<std::int64_t>() + rows;
    exec.for_each(1, [=] GNNKIT_HOST_DEVICE(std::int64_t) { *last = edges; });
    sr.indptr = trimmed(indptr, DType::kInt64, rows + 1);
    sr.indices = trimmed(indices, DType::kInt32, edges);
    sr.edge_ids = trimmed(edge_ids, DType::kInt64, edges);
    out.relations.push_back(std::move(sr));
  }
  for (std::size_t t = 0; t < types; ++t) {
    // Exactly sized node arrays, so the tables and the slack of the bounds are freed.
    Tensor nodes = device_array<std::int64_t>(ctx, count[t]);
    put(nodes, 0, nodes_t[t], count[t]);
    out.nodes.push_back(trimmed(nodes, DType::kInt64, count[t]));
  }
  out.seed_local = trimmed(out.seed_local, DType::kInt32, num_seeds);
  return out;
}

}  // namespace gnnkit::sampling_detail
