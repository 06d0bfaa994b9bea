#pragma once
/// @file
/// Adjacency: the graph operand of a layer — one relation's CSC over local ids (a sampled
/// block's rows or a whole graph), its transpose for the backward pass, and optional edge
/// weights. Cheap to copy (shared, immutable); built once per batch (or once per graph for
/// full-graph training) and reused by every layer and both passes.
///
/// Two kinds: a host CSC (view / from_csc; the CPU kernels read it, and device_csc uploads a
/// copy for the CUDA kernels on first use) and a device CSC (on_device: a batch sampled in GPU
/// memory by DeviceSampler, read by the CUDA kernels where it lies, never copied to the host).

#include <cstdint>
#include <memory>
#include <mutex>
#include <variant>
#include <vector>

#include "gnnkit/core/context.hpp"
#include "gnnkit/core/error.hpp"
#include "gnnkit/core/tensor.hpp"
#include "gnnkit/graph/compressed.hpp"
#include "gnnkit/kernels/cuda_ops.hpp"
#include "gnnkit/kernels/memory.hpp"
#include "gnnkit/kernels/sparse.hpp"

namespace gnnkit::nn {

/// @brief One relation's edges as the layers see them.
class Adjacency {
 public:
  Adjacency() = default;

  /// @brief Calls f(const CompressedView<IndexT>& csc, const Transposed<IndexT>* t) with the
  /// stored index type (t is null when no transpose was built): the host CSC.
  /// @throws InvalidArgument on an undefined Adjacency, DeviceMismatch on a device one
  template <typename F>
  decltype(auto) visit(F&& f) const {
    if (auto p = std::get_if<std::shared_ptr<Impl<std::int32_t>>>(&impl_))
      return f((*p)->csc, (*p)->has_transpose ? &(*p)->transposed : nullptr);
    if (auto p = std::get_if<std::shared_ptr<Impl<std::int64_t>>>(&impl_))
      return f((*p)->csc, (*p)->has_transpose ? &(*p)->transposed : nullptr);
    if (auto p = std::get_if<std::shared_ptr<const DeviceImpl>>(&impl_))
      throw DeviceMismatch("Adjacency",
                           detail::format("this adjacency lies in {} memory, where the CPU kernels "
                                          "cannot read it: run the layer on a context of that device",
                                          (*p)->indptr.device()));
    throw InvalidArgument("Adjacency", "the adjacency is undefined (default-constructed)");
  }

  /// @brief A CSC already in a CUDA device's memory (DeviceMiniBatch's arrays, or a prefix
  /// of their rows): rows v < num_dst have the sources indices[indptr[v], indptr[v + 1]),
  /// local ids in [0, num_src), and indptr[num_dst] = num_edges. Only the CUDA kernels read
  /// it: nothing is copied to the host, so the contents are not checked here (DeviceSampler's
  /// output satisfies them); the sizes and types are.
  /// @param indptr int64, at least num_dst + 1 entries, starting at 0
  /// @param indices int32, at least num_edges entries, on indptr's device
  /// @throws InvalidArgument (types, a host tensor: use view), ShapeMismatch (sizes),
  ///         DeviceMismatch (the two arrays on different devices)
  static Adjacency on_device(std::int64_t num_dst, std::int64_t num_src, std::int64_t num_edges,
                             Tensor indptr, Tensor indices) {
    constexpr const char* kFn = "Adjacency::on_device";
    GNNKIT_EXPECTS_AS(InvalidArgument, kFn, indptr.dtype() == DType::kInt64 && indptr.is_contiguous() &&
                                                indices.dtype() == DType::kInt32 && indices.is_contiguous(),
                      "needs contiguous int64 'indptr' and int32 'indices', got {} and {}",
                      indptr.str(), indices.str());
    GNNKIT_EXPECTS_AS(InvalidArgument, kFn, indptr.device().is_cuda(),
                      "'indptr' is {}: on_device takes device arrays (Adjacency::view takes host ones)",
                      indptr.str());
    GNNKIT_EXPECTS_AS(DeviceMismatch, kFn, indices.device() == indptr.device(),
                      "'indices' is {}, but 'indptr' is {}", indices.str(), indptr.str());
    GNNKIT_EXPECTS_AS(ShapeMismatch, kFn,
                      num_dst >= 0 && num_src >= 0 && num_edges >= 0 &&
                          indptr.numel() >= num_dst + 1 && indices.numel() >= num_edges,
                      "{} rows, {} sources and {} edges do not fit 'indptr' {} and 'indices' {}",
                      num_dst, num_src, num_edges, indptr.str(), indices.str());
    auto impl = std::make_shared<DeviceImpl>();
    *impl = DeviceImpl{num_dst, num_src, num_edges, std::move(indptr), std::move(indices)};
    Adjacency a;
    a.impl_ = std::shared_ptr<const DeviceImpl>(std::move(impl));
    return a;
  }


  /// @brief Views a CSC (rows = destinations, indices = sources in [0, csc.num_cols)) that
  /// the caller keeps alive (a MiniBatch or a HeteroGraph relation), or that `owners` (the
  /// tensors holding its arrays) keep alive with the adjacency and its copies.
  /// @param build_transpose false for inference-only use (backward then throws)
  /// @throws InvalidArgument if indptr does not start at 0
  template <typename IndexT>
  static Adjacency view(const CompressedView<IndexT>& csc, int threads,
                        bool build_transpose = true, std::vector<Tensor> owners = {}) {
    GNNKIT_EXPECTS_AS(InvalidArgument, "Adjacency", csc.num_rows == 0 || csc.indptr[0] == 0,
                      "'indptr' must start at 0, got {}", csc.num_rows ? csc.indptr[0] : 0);
    auto impl = std::make_shared<Impl<IndexT>>();
    impl->owners = std::move(owners);
    impl->csc = csc;
    if (build_transpose) impl->transposed = kernels::cpu::transpose(csc, threads);
    impl->has_transpose = build_transpose;
    Adjacency a;
    a.impl_ = std::move(impl);
    return a;
  }

  /// @brief Owns its arrays: a CSC built from (dst-major) vectors.
  /// @throws InvalidArgument for a malformed CSC (sizes, monotone indptr, index range)
  template <typename IndexT>
  static Adjacency from_csc(std::int64_t num_dst, std::int64_t num_src,
                            std::vector<std::int64_t> indptr, std::vector<IndexT> indices,
                            int threads, bool build_transpose = true) {
    GNNKIT_EXPECTS_AS(InvalidArgument, "Adjacency::from_csc",
                      std::int64_t(indptr.size()) == num_dst + 1 && indptr[0] == 0 &&
                          indptr.back() == std::int64_t(indices.size()),
                      "'indptr' must have num_dst + 1 = {} entries from 0 to {}, got {}",
                      num_dst + 1, indices.size(), indptr.size());
    for (std::int64_t v = 0; v < num_dst; ++v)
      GNNKIT_EXPECTS_AS(InvalidArgument, "Adjacency::from_csc",
                        indptr[std::size_t(v)] <= indptr[std::size_t(v) + 1],
                        "'indptr' must not decrease, got {} then {} at row {}",
                        indptr[std::size_t(v)], indptr[std::size_t(v) + 1], v);
    for (std::size_t e = 0; e < indices.size(); ++e)
      GNNKIT_EXPECTS_AS(OutOfRange, "Adjacency::from_csc",
                        indices[e] >= 0 && std::int64_t(indices[e]) < num_src,
                        "'indices'[{}] = {} must be in [0, {})", e, std::int64_t(indices[e]),
                        num_src);
    auto impl = std::make_shared<Impl<IndexT>>();
    impl->own_indptr = std::move(indptr);
    impl->own_indices = std::move(indices);
    impl->csc = CompressedView<IndexT>{num_dst, num_src, impl->own_indptr.data(),
                                       impl->own_indices.data(), nullptr};
    if (build_transpose) impl->transposed = kernels::cpu::transpose(impl->csc, threads);
    impl->has_transpose = build_transpose;
    Adjacency a;
    a.impl_ = std::move(impl);
    return a;
  }

  bool defined() const noexcept { return !std::holds_alternative<std::monostate>(impl_); }
  /// @brief Whether the CSC lies in device memory (on_device).
  bool on_device() const noexcept {
    return std::holds_alternative<std::shared_ptr<const DeviceImpl>>(impl_);
  }
  std::int64_t num_dst() const {
    if (const DeviceImpl* d = device_impl()) return d->num_dst;
    return visit([](const auto& csc, const auto*) { return csc.num_rows; });
  }
  std::int64_t num_src() const {
    if (const DeviceImpl* d = device_impl()) return d->num_src;
    return visit([](const auto& csc, const auto*) { return csc.num_cols; });
  }
  std::int64_t num_edges() const {
    if (const DeviceImpl* d = device_impl()) return d->num_edges;
    return visit([](const auto& csc, const auto*) { return csc.num_edges(); });
  }
  /// @brief Whether a host transpose was built (what the CPU backward needs; a device
  /// adjacency has none: the CUDA backward scatters by atomic adds).
  bool has_transpose() const {
    if (device_impl()) return false;
    return visit([](const auto&, const auto* t) { return t != nullptr; });
  }
  /// @brief The CSC in the memory of ctx's CUDA device, for the CUDA ops: uploaded on the
  /// first call and kept with the adjacency (its copies share it).
  /// @throws DeviceMismatch (a CPU context), InvalidArgument (int64 indices: the CUDA kernels
  ///         take int32), DeviceError
  kernels::cuda::DeviceCsc device_csc(const Context& ctx) const {
    constexpr const char* kFn = "Adjacency::device_csc";
    detail::require_cuda_context(kFn, ctx.device());
    if (const DeviceImpl* d = device_impl()) {
      GNNKIT_EXPECTS_AS(DeviceMismatch, kFn, d->indptr.device() == ctx.device(),
                        "the adjacency lies in {} memory, but the context is on {}", d->indptr.device(),
                        ctx.device());
      return {d->num_dst, d->num_src, d->num_edges, d->indptr.data_as<std::int64_t>(),
              d->indices.data_as<std::int32_t>()};
    }
    auto p = std::get_if<std::shared_ptr<Impl<std::int32_t>>>(&impl_);
    GNNKIT_EXPECTS_AS(InvalidArgument, kFn, p != nullptr,
                      "the CUDA kernels take int32 source indices; this adjacency has {}",
                      defined() ? "int64 ones" : "none (undefined)");
    Impl<std::int32_t>& impl = **p;
    const CompressedView<std::int32_t>& csc = impl.csc;
    std::lock_guard lock(impl.device_mutex);
    if (!impl.device_indptr.defined() || impl.device_indptr.device() != ctx.device()) {
      const std::int64_t n = csc.num_rows, e = csc.num_edges();
      Tensor indptr = Tensor::empty({n + 1}, DType::kInt64, ctx.device());
      Tensor indices = Tensor::empty({std::max<std::int64_t>(e, 1)}, DType::kInt32, ctx.device());
      kernels::cuda::copy_bytes(indptr.data(), ctx.device(), csc.indptr, Device::cpu(),
                                std::size_t(n + 1) * sizeof(std::int64_t), ctx.cuda_stream());
      kernels::cuda::copy_bytes(indices.data(), ctx.device(), csc.indices, Device::cpu(),
                                std::size_t(e) * sizeof(std::int32_t), ctx.cuda_stream());
      impl.device_indptr = std::move(indptr);
      impl.device_indices = std::move(indices);
    }
    return {csc.num_rows, csc.num_cols, csc.num_edges(), impl.device_indptr.data_as<std::int64_t>(),
            impl.device_indices.data_as<std::int32_t>()};
  }

  /// @brief Whether this adjacency came from with_self_loops().
  bool self_loops_added() const noexcept { return self_loops_added_; }

  /// @brief Edge weights in CSC order ([num_edges] or [num_edges, heads]); undefined if none.
  const Tensor& edge_weight() const noexcept { return edge_weight_; }
  /// @brief A copy carrying per-edge weights (float32/float64, CSC order).
  /// @throws ShapeMismatch if the weights are not one per edge
  Adjacency with_edge_weight(Tensor weight) const {
    GNNKIT_EXPECTS_AS(ShapeMismatch, "Adjacency::with_edge_weight",
                      weight.ndim() >= 1 && weight.size(0) == num_edges() && weight.is_contiguous(),
                      "'weight' must be contiguous with {} rows (one per edge), got {}",
                      num_edges(), weight.str());
    Adjacency a = *this;
    a.edge_weight_ = std::move(weight);
    return a;
  }

  /// @brief GAT's self-loop rule (PyG's remove_self_loops then add_self_loops): drops every
  /// edge u -> v with u == v and adds one per destination v < min(num_dst, num_src), as the
  /// last edge of its row. Edge weights are not carried over. A device adjacency gets a device
  /// result, built by CUDA kernels on ctx's stream (one read of the new edge count).
  Adjacency with_self_loops(const Context& ctx) const {
    if (const DeviceImpl* d = device_impl()) {
      const kernels::cuda::DeviceCsc in = device_csc(ctx);
      const std::int64_t loops = std::min(d->num_dst, d->num_src);
      Tensor indptr = Tensor::empty({d->num_dst + 1}, DType::kInt64, ctx.device());
      const std::int64_t edges = kernels::cuda::self_loop_indptr(in, loops, indptr.data_as<std::int64_t>(),
                                                                 ctx.cuda_stream());
      Tensor indices = Tensor::empty({std::max<std::int64_t>(edges, 1)}, DType::kInt32, ctx.device());
      kernels::cuda::self_loop_indices(in, loops, indptr.data_as<std::int64_t>(),
                                       indices.data_as<std::int32_t>(), ctx.cuda_stream());
      Adjacency out = on_device(d->num_dst, d->num_src, edges, std::move(indptr), std::move(indices));
      out.self_loops_added_ = true;
      return out;
    }
    return with_self_loops(ctx.num_threads());
  }
  /// @brief with_self_loops of a host adjacency, on `threads` threads.
  Adjacency with_self_loops(int threads) const {
    Adjacency out = visit([&](const auto& csc, const auto* t) {
      using IndexT = std::remove_cv_t<std::remove_reference_t<decltype(*csc.indices)>>;
      const std::int64_t n = csc.num_rows, loops = std::min(csc.num_rows, csc.num_cols);
      std::vector<std::int64_t> indptr(std::size_t(n + 1), 0);
      for (std::int64_t v = 0; v < n; ++v) {
        std::int64_t kept = 0;
        for (std::int64_t e = csc.indptr[v]; e < csc.indptr[v + 1]; ++e)
          kept += std::int64_t(csc.indices[e]) != v;
        indptr[std::size_t(v) + 1] = indptr[std::size_t(v)] + kept + (v < loops);
      }
      std::vector<IndexT> indices(std::size_t(indptr.back()));
#pragma omp parallel for num_threads(threads) schedule(static) if (n > 4096)
      for (std::int64_t v = 0; v < n; ++v) {
        std::int64_t k = indptr[std::size_t(v)];
        for (std::int64_t e = csc.indptr[v]; e < csc.indptr[v + 1]; ++e)
          if (std::int64_t(csc.indices[e]) != v) indices[std::size_t(k++)] = csc.indices[e];
        if (v < loops) indices[std::size_t(k)] = IndexT(v);
      }
      return from_csc<IndexT>(n, csc.num_cols, std::move(indptr), std::move(indices), threads,
                              t != nullptr);
    });
    out.self_loops_added_ = true;
    return out;
  }

 private:
  template <typename IndexT>
  struct Impl {
    CompressedView<IndexT> csc;
    kernels::cpu::Transposed<IndexT> transposed;
    bool has_transpose = false;
    std::vector<std::int64_t> own_indptr;
    std::vector<IndexT> own_indices;
    std::vector<Tensor> owners;  // arrays of a viewed CSC kept alive (view's `owners`)
    std::mutex device_mutex;  // guards the device copy below
    Tensor device_indptr, device_indices;
  };
  struct DeviceImpl {
    std::int64_t num_dst = 0, num_src = 0, num_edges = 0;
    Tensor indptr, indices;  // in device memory
  };
  const DeviceImpl* device_impl() const noexcept {
    auto p = std::get_if<std::shared_ptr<const DeviceImpl>>(&impl_);
    return p ? p->get() : nullptr;
  }
  std::variant<std::monostate, std::shared_ptr<Impl<std::int32_t>>,
               std::shared_ptr<Impl<std::int64_t>>, std::shared_ptr<const DeviceImpl>>
      impl_;
  Tensor edge_weight_;
  bool self_loops_added_ = false;
};

}  // namespace gnnkit::nn
