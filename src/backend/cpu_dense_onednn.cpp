// oneDNN matmul with a per-context primitive cache. Debian 12 ships oneDNN 2.6: primitives are
// made the 2.x way (operation descriptor, then primitive_desc).
#include "gnnkit/build_config.hpp"
#include "gnnkit/core/build_info.hpp"
#include "gnnkit/kernels/dense.hpp"

#if GNNKIT_WITH_ONEDNN
#include <algorithm>
#include <array>
#include <optional>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "omp_threads.hpp"
#endif

namespace gnnkit {

#if GNNKIT_WITH_ONEDNN
namespace detail {

/// Everything oneDNN that a Context owns: the CPU engine and the primitives built so far,
/// keyed by shapes and strides (building a primitive costs far more than running a small one).
struct DnnlResources {
  using Key = std::array<std::int64_t, 10>;  // M, K, N, a/b/c strides, has_bias
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  std::mutex mutex;
  std::map<Key, dnnl::matmul> matmuls;
};

}  // namespace detail

detail::DnnlResources& Context::dnnl() const {
  std::call_once(slots_->dnnl_once, [this] {
    try {
      slots_->dnnl = std::make_shared<detail::DnnlResources>();
    } catch (const dnnl::error& e) {
      throw BackendError("Context::dnnl", detail::format("creating the oneDNN CPU engine failed: {}",
                                                          e.what()));
    }
  });
  return *static_cast<detail::DnnlResources*>(slots_->dnnl.get());
}

const char* dense_backend_name() noexcept { return "onednn"; }

namespace kernels::cpu {
namespace {

/// How a [rows, cols] view reads as a BLAS operand: 'N' (row-major, ld = row stride) or 'T'
/// (column-major, ld = column stride); nullopt when neither stride is 1.
struct BlasOperand {
  char trans;
  std::int64_t ld;
};
std::optional<BlasOperand> blas_operand(const TensorView& v) {
  const std::int64_t rows = v.size(0), cols = v.size(1);
  if ((cols == 1 || v.stride(1) == 1) && (rows == 1 || v.stride(0) >= cols))
    return BlasOperand{'N', rows == 1 ? std::max<std::int64_t>(cols, 1) : v.stride(0)};
  if ((rows == 1 || v.stride(0) == 1) && (cols == 1 || v.stride(1) >= rows))
    return BlasOperand{'T', cols == 1 ? std::max<std::int64_t>(rows, 1) : v.stride(1)};
  return std::nullopt;
}

}  // namespace

/// Row-major operands go straight to oneDNN's sgemm: no primitive to build per shape, which
/// matters because sampled mini-batches give every step new row counts (a primitive cache
/// keyed by shape would grow without bound and pay a JIT build per new shape).
bool matmul_sgemm(const Context& ctx, const TensorView& a, const TensorView& b,
                  const std::optional<TensorView>& bias, const TensorView& c,
                  bool accumulate = false) {
  const std::int64_t m = a.size(0), k = a.size(1), n = b.size(1);
  const auto op_a = blas_operand(a), op_b = blas_operand(b);
  const bool c_row_major = (n == 1 || c.stride(1) == 1) && (m == 1 || c.stride(0) >= n);
  if (!op_a || !op_b || !c_row_major) return false;
  if (m == 0 || n == 0) return true;
  const std::int64_t ldc = m == 1 ? n : c.stride(0);
  auto* cp = static_cast<float*>(c.data());
  // C starts as the broadcast bias (or zero when K = 0), then C = A·B + C.
  const bool preset = accumulate || bias.has_value() || k == 0;
  if (preset && !accumulate) {
    // Contiguous bias (the usual case) read as a row; in parallel, as it writes all of C.
    std::vector<float> row(std::size_t(n), 0.0f);
    if (bias)
      for (std::int64_t j = 0; j < n; ++j) row[std::size_t(j)] = static_cast<const float*>(bias->data())[j * bias->stride(-1)];
    const float* r = row.data();
#pragma omp parallel for num_threads(ctx.num_threads()) schedule(static) if (m * n > 65536)
    for (std::int64_t i = 0; i < m; ++i) std::copy(r, r + n, cp + i * ldc);
  }
  if (k == 0) return true;
  const ScopedOmpThreads threads(ctx.num_threads());
  const dnnl::status st =
      dnnl::sgemm(op_a->trans, op_b->trans, m, n, k, 1.0f, static_cast<const float*>(a.data()),
                  op_a->ld, static_cast<const float*>(b.data()), op_b->ld, preset ? 1.0f : 0.0f,
                  cp, ldc);
  if (st != dnnl::status::success)
    throw BackendError("matmul", detail::format("oneDNN sgemm failed for [{}, {}]·[{}, {}] (status {})",
                                                m, k, k, n, int(st)));
  return true;
}

bool matmul_accumulate_sgemm(const Context& ctx, const TensorView& a, const TensorView& b,
                             const TensorView& c) {
  return matmul_sgemm(ctx, a, b, std::nullopt, c, true);
}

void matmul_onednn(const Context& ctx, const TensorView& a, const TensorView& b,
                   const std::optional<TensorView>& bias, const TensorView& c) {
  if (matmul_sgemm(ctx, a, b, bias, c)) return;
  using dnnl::memory;
  using tag_dims = memory::dims;
  auto& res = ctx.dnnl();
  const std::int64_t m = a.size(0), k = a.size(1), n = b.size(1);
  const detail::DnnlResources::Key key{m,           k,           n,           a.stride(0),
                                       a.stride(1), b.stride(0), b.stride(1), c.stride(0),
                                       c.stride(1), bias ? 1 : 0};
  const auto f32 = memory::data_type::f32;
  const memory::desc a_md(tag_dims{m, k}, f32, tag_dims{a.stride(0), a.stride(1)});
  const memory::desc b_md(tag_dims{k, n}, f32, tag_dims{b.stride(0), b.stride(1)});
  const memory::desc c_md(tag_dims{m, n}, f32, tag_dims{c.stride(0), c.stride(1)});
  // oneDNN wants a 2-d bias broadcast over rows: [1, N] with the caller's element stride.
  const memory::desc bias_md = bias ? memory::desc(tag_dims{1, n}, f32, tag_dims{n * bias->stride(-1), bias->stride(-1)})
                                    : memory::desc();
  try {
    dnnl::matmul primitive;
    {
      std::lock_guard lock(res.mutex);
      auto it = res.matmuls.find(key);
      if (it == res.matmuls.end()) {
        const dnnl::matmul::desc desc = bias ? dnnl::matmul::desc(a_md, b_md, bias_md, c_md)
                                             : dnnl::matmul::desc(a_md, b_md, c_md);
        it = res.matmuls.emplace(key, dnnl::matmul(dnnl::matmul::primitive_desc(desc, res.engine)))
                 .first;
      }
      primitive = it->second;
    }
    // A stream per call: CPU streams are cheap, and a shared one would serialise callers
    // (loader threads, several models) that use one context concurrently.
    dnnl::stream stream(res.engine);
    const ScopedOmpThreads threads(ctx.num_threads());
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(a_md, res.engine, a.data())},
                                         {DNNL_ARG_WEIGHTS, memory(b_md, res.engine, b.data())},
                                         {DNNL_ARG_DST, memory(c_md, res.engine, c.data())}};
    if (bias) args.emplace(DNNL_ARG_BIAS, memory(bias_md, res.engine, bias->data()));
    primitive.execute(stream, args);
    stream.wait();
  } catch (const dnnl::error& e) {
    throw BackendError("matmul", detail::format("oneDNN failed for [{}, {}]·[{}, {}]: {} (status {})",
                                                m, k, k, n, e.what(), int(e.status)));
  }
}

std::size_t onednn_cached_primitives(const Context& ctx) {
  auto& res = ctx.dnnl();
  std::lock_guard lock(res.mutex);
  return res.matmuls.size();
}

}  // namespace kernels::cpu

#else  // no oneDNN: Eigen is the dense backend

detail::DnnlResources& Context::dnnl() const {
  throw NotCompiled("Context::dnnl", "gnnkit was built without oneDNN (GNNKIT_WITH_ONEDNN=OFF)");
}

const char* dense_backend_name() noexcept { return "eigen"; }

void kernels::cpu::matmul_onednn(const Context&, const TensorView&, const TensorView&,
                                 const std::optional<TensorView>&, const TensorView&) {
  throw NotCompiled("matmul", "gnnkit was built without oneDNN (GNNKIT_WITH_ONEDNN=OFF)");
}

std::size_t kernels::cpu::onednn_cached_primitives(const Context&) { return 0; }

bool kernels::cpu::matmul_accumulate_sgemm(const Context&, const TensorView&, const TensorView&,
                                           const TensorView&) {
  return false;
}

#endif

}  // namespace gnnkit
