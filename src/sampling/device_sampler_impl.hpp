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

template <typename Exec>
DeviceMiniBatch sample_impl(Exec& exec, const DeviceGraph& g, const std::vector<std::int64_t>& fanouts,
                            const Tensor& seeds_t, std::uint64_t batch) {
  const Context& ctx = exec.context();
  const std::int64_t num_seeds = seeds_t.numel();
  // Capacity: every node the batch can reach, at most the graph's.
  std::int64_t bound = num_seeds, level = num_seeds;
  for (const std::int64_t f : fanouts) {
    level = f < 0 || level > g.num_nodes ? g.num_nodes : std::min(g.num_nodes, level * f);
    bound = std::min(g.num_nodes, bound + level);
  }
  bound = std::max<std::int64_t>(bound, num_seeds);
  std::int64_t table_size = 1;
  while (table_size < 2 * bound + 2) table_size *= 2;
  Tensor keys_t = device_array<std::int64_t>(ctx, table_size), first_t = device_array<std::int64_t>(ctx, table_size),
         local_t = device_array<std::int64_t>(ctx, table_size);
  fill(ctx, keys_t, double(kEmptyKey));
  fill(ctx, first_t, double(std::int64_t(1) << 62));  // above any index
  fill(ctx, local_t, -1.0);
  const NodeTable table{keys_t.data_as<std::int64_t>(), first_t.data_as<std::int64_t>(), local_t.data_as<std::int64_t>(),
                        table_size - 1};

  DeviceMiniBatch out;
  Tensor nodes_t = device_array<std::int64_t>(ctx, bound);
  std::int64_t* nodes = nodes_t.data_as<std::int64_t>();
  out.seed_local = device_array<std::int32_t>(ctx, num_seeds);
  std::int64_t count = relabel(exec, table, seeds_t.data_as<std::int64_t>(), num_seeds, 0, nodes,
                               out.seed_local.data_as<std::int32_t>());

  const std::int64_t* indptr = g.indptr.data_as<std::int64_t>();
  const std::int32_t* indices = g.indices.data_as<std::int32_t>();
  std::vector<Tensor> hop_indptr, hop_indices, hop_edges;
  std::int64_t begin = 0, edges_so_far = 0;
  for (std::size_t h = 0; h < fanouts.size(); ++h) {
    const std::int64_t end = count, rows = end - begin, fanout = fanouts[h];
    Tensor counts_t = device_array<std::int64_t>(ctx, rows + 1), offsets_t = device_array<std::int64_t>(ctx, rows + 1);
    std::int64_t* counts = counts_t.data_as<std::int64_t>();
    std::int64_t* offsets = offsets_t.data_as<std::int64_t>();
    exec.for_each(rows, [=] GNNKIT_HOST_DEVICE(std::int64_t i) {
      const std::int64_t v = nodes[begin + i], deg = indptr[v + 1] - indptr[v];
      counts[i] = fanout < 0 || fanout > deg ? deg : fanout;
    });
    const std::int64_t E = exec.exclusive_scan(counts, offsets, rows);
    Tensor pos_t = device_array<std::int64_t>(ctx, E), src_t = device_array<std::int64_t>(ctx, E);
    std::int64_t* pos = pos_t.data_as<std::int64_t>();
    std::int64_t* src = src_t.data_as<std::int64_t>();
    const std::uint64_t seed = ctx.seed();
    // Floyd's algorithm: for j = deg - k .. deg - 1 draw t in [0, j]; take j if t was taken
    // already, else t. Every k-subset equally likely; membership checked in the row's slots.
    exec.for_each(rows, [=] GNNKIT_HOST_DEVICE(std::int64_t i) {
      const std::int64_t v = nodes[begin + i], e0 = indptr[v], deg = indptr[v + 1] - e0;
      const std::int64_t k = counts[i], o = offsets[i];
      if (k == deg) {
        for (std::int64_t j = 0; j < k; ++j) pos[o + j] = e0 + j;
      } else {
        CounterRng rng(seed, batch, std::uint64_t(h) + 1, std::uint64_t(v));
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
    Tensor local_src_t = device_array<std::int32_t>(ctx, E);
    const std::int64_t added = relabel(exec, table, src, E, count, nodes, local_src_t.data_as<std::int32_t>());
    // This hop's rows of the CSC: offsets shifted by the edges of earlier hops.
    Tensor rows_t = device_array<std::int64_t>(ctx, rows);
    std::int64_t* row_ptr = rows_t.data_as<std::int64_t>();
    const std::int64_t shift = edges_so_far;
    exec.for_each(rows, [=] GNNKIT_HOST_DEVICE(std::int64_t i) { row_ptr[i] = offsets[i] + shift; });
    hop_indptr.push_back(rows_t);
    hop_indices.push_back(local_src_t);
    hop_edges.push_back(pos_t);
    Block b;
    b.dst_begin = {begin};
    b.dst_end = {end};
    count += added;
    b.num_src = {count};
    b.num_edges = E;
    out.blocks.push_back(b);
    edges_so_far += E;
    begin = end;
  }
  // One CSC over all hops: concatenate the per-hop arrays (on the device).
  const std::int64_t expanded = begin;
  out.indptr = device_array<std::int64_t>(ctx, expanded + 1);
  out.indices = device_array<std::int32_t>(ctx, edges_so_far);
  out.edge_ids = device_array<std::int64_t>(ctx, edges_so_far);
  std::int64_t row = 0, edge = 0;
  for (std::size_t h = 0; h < hop_indptr.size(); ++h) {
    const std::int64_t rows = out.blocks[h].dst_end[0] - out.blocks[h].dst_begin[0], E = out.blocks[h].num_edges;
    auto piece = [&](const Tensor& dst, std::int64_t at, const Tensor& src, std::int64_t n) {
      if (n == 0) return;
      const std::size_t item = dtype_size(dst.dtype());
      const std::int64_t shape[1] = {n};
      copy(ctx, TensorView(static_cast<char*>(dst.data()) + at * std::int64_t(item), dst.dtype(), dst.device(), shape),
           TensorView(src.data(), src.dtype(), src.device(), shape));
    };
    piece(out.indptr, row, hop_indptr[h], rows);
    piece(out.indices, edge, hop_indices[h], E);
    piece(out.edge_ids, edge, hop_edges[h], E);
    row += rows;
    edge += E;
  }
  const std::int64_t total = edges_so_far;
  std::int64_t* last = out.indptr.data_as<std::int64_t>() + expanded;
  exec.for_each(1, [=] GNNKIT_HOST_DEVICE(std::int64_t) { *last = total; });
  out.nodes = device_array<std::int64_t>(ctx, count);
  if (count > 0) {
    const std::int64_t shape[1] = {count};
    copy(ctx, TensorView(out.nodes.data(), DType::kInt64, out.nodes.device(), shape),
         TensorView(nodes, DType::kInt64, nodes_t.device(), shape));
  }
  out.nodes = Tensor::wrap(TensorView(out.nodes.data(), DType::kInt64, out.nodes.device(), {count}), out.nodes.owner());
  out.indptr = Tensor::wrap(TensorView(out.indptr.data(), DType::kInt64, out.indptr.device(), {expanded + 1}),
                            out.indptr.owner());
  out.indices = Tensor::wrap(TensorView(out.indices.data(), DType::kInt32, out.indices.device(), {edges_so_far}),
                             out.indices.owner());
  out.edge_ids = Tensor::wrap(TensorView(out.edge_ids.data(), DType::kInt64, out.edge_ids.device(), {edges_so_far}),
                              out.edge_ids.owner());
  out.seed_local = Tensor::wrap(TensorView(out.seed_local.data(), DType::kInt32, out.seed_local.device(), {num_seeds}),
                                out.seed_local.owner());
  return out;
}

}  // namespace gnnkit::sampling_detail
