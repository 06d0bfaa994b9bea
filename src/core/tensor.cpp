#include "gnnkit/core/tensor.hpp"
#include "gnnkit/core/build_info.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <cstring>
#include <new>

#include "gnnkit/core/block_cache.hpp"
#include "gnnkit/kernels/memory.hpp"

namespace gnnkit {
namespace {

std::size_t round_up(std::size_t bytes, std::size_t to) { return (bytes + to - 1) / to * to; }

/// Element count of a shape, checking for negative extents and overflow of the byte size.
std::size_t checked_bytes(const char* function, std::span<const std::int64_t> shape,
                          DType dtype) {
  GNNKIT_EXPECTS_AS(InvalidArgument, function, shape.size() <= TensorView::kMaxDims,
                    "'shape' must have at most {} dims, got {}", TensorView::kMaxDims,
                    shape.size());
  std::size_t n = dtype_size(dtype);
  for (std::size_t d = 0; d < shape.size(); ++d) {
    GNNKIT_EXPECTS_AS(InvalidArgument, function, shape[d] >= 0,
                      "'shape[{}]' must be >= 0, got {}", d, shape[d]);
    if (shape[d] != 0 && n > (std::size_t(1) << 62) / std::size_t(shape[d]))
      throw OutOfMemory(function, detail::format("shape [{}...] needs more than 2^62 bytes",
                                                 shape[0]));
    n *= std::size_t(shape[d]);
  }
  return n;
}

// GCC defines __SANITIZE_ADDRESS__; clang (before 17) only answers __has_feature.
#if defined(__SANITIZE_ADDRESS__)
#define GNNKIT_ADDRESS_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GNNKIT_ADDRESS_SANITIZER 1
#endif
#endif
#ifndef GNNKIT_ADDRESS_SANITIZER
#define GNNKIT_ADDRESS_SANITIZER 0
#endif

/// Freed large CPU blocks, kept for reuse (core/block_cache.hpp): up to 4 GiB of blocks of
/// 1 MiB or more. Never destroyed: deleters may run during static destruction.
constexpr std::size_t kMinCachedHostBytes = std::size_t(1) << 20;
detail::BlockCache& host_cache() {
  static auto* cache = new detail::BlockCache(kMinCachedHostBytes, std::size_t(4) << 30,
                                              [](void* p, std::size_t, int) { std::free(p); });
  return *cache;
}

std::shared_ptr<void> allocate(const char* function, std::size_t bytes, Device device) {
  // Always allocate at least one line so data() is never null, even for empty tensors.
  const std::size_t size = round_up(bytes == 0 ? 1 : bytes, kCpuAlignment);
  if (device.is_cpu()) {
    detail::BlockCache& cache = host_cache();
    const std::size_t cls = cache.size_class(size);
#if GNNKIT_ADDRESS_SANITIZER
    // Let AddressSanitizer see every use after free, and keep freed memory out of the RSS
    // that libFuzzer's -rss_limit_mb watches.
    const bool bypass = true;
#else
    const bool bypass = !cache.caches(cls);
#endif
    if (bypass) {
      void* p = std::aligned_alloc(kCpuAlignment, size);
      if (!p) throw OutOfMemory(function, detail::format("cannot allocate {} bytes on cpu", size));
      return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
    }
    void* p = cache.take(cls);
    if (!p) p = std::aligned_alloc(kCpuAlignment, cls);
    if (!p) throw OutOfMemory(function, detail::format("cannot allocate {} bytes on cpu", cls));
    return std::shared_ptr<void>(p, [cls](void* q) { host_cache().give(q, cls); });
  }
  if (!cuda_compiled())
    throw NotCompiled(function, "CUDA memory needs a build with CUDA (GNNKIT_WITH_CUDA=OFF here)");
  GNNKIT_EXPECTS_AS(DeviceError, function, device.index >= 0 && device.index < cuda_device_count(),
                    "'device' must be one of the {} CUDA devices present, got {}",
                    cuda_device_count(), device);
  // Device blocks come from a per-device cache (kernels::cuda::allocate), freed by size.
  void* p = kernels::cuda::allocate(device.index, size);
  const int index = device.index;
  return std::shared_ptr<void>(p, [index, size](void* q) { kernels::cuda::deallocate(index, q, size); });
}

template <typename Fn>
void visit_elements(DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::kFloat32: return fn(float{});
    case DType::kFloat64: return fn(double{});
    case DType::kInt32: return fn(std::int32_t{});
    case DType::kInt64: return fn(std::int64_t{});
    case DType::kUInt8: return fn(std::uint8_t{});
    case DType::kInt8: return fn(std::int8_t{});
    case DType::kBool: return fn(bool{});
  }
}

/// Copies a strided CPU view into another of the same shape, row by row over the last dim.
void copy_strided_cpu(const TensorView& dst, const TensorView& src) {
  const int nd = dst.ndim();
  const std::size_t item = dst.itemsize();
  if (dst.numel() == 0) return;
  if (dst.is_contiguous() && src.is_contiguous()) {
    std::memcpy(dst.data(), src.data(), dst.nbytes());
    return;
  }
  std::array<std::int64_t, TensorView::kMaxDims> index{};
  const std::int64_t n = dst.numel();
  auto* d = static_cast<char*>(dst.data());
  const auto* s = static_cast<const char*>(src.data());
  for (std::int64_t i = 0; i < n; ++i) {
    std::int64_t doff = 0, soff = 0;
    for (int k = 0; k < nd; ++k) {
      doff += index[k] * dst.stride(k);
      soff += index[k] * src.stride(k);
    }
    std::memcpy(d + doff * std::int64_t(item), s + soff * std::int64_t(item), item);
    for (int k = nd - 1; k >= 0; --k) {
      if (++index[k] < dst.size(k)) break;
      index[k] = 0;
    }
  }
}

}  // namespace

Tensor Tensor::empty(std::span<const std::int64_t> shape, DType dtype, Device device) {
  const std::size_t bytes = checked_bytes("Tensor::empty", shape, dtype);
  auto owner = allocate("Tensor::empty", bytes, device);
  const TensorView view(owner.get(), dtype, device, shape);  // before owner is moved from
  return wrap(view, std::move(owner));
}

Tensor Tensor::zeros(std::span<const std::int64_t> shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  if (device.is_cpu()) {
    std::memset(t.data(), 0, t.nbytes());
  } else {
    // The device's one stream (shared by its contexts): ordered after every kernel that used
    // the (cached) block before.
    const Context ctx = Context::cuda(device.index);
    kernels::cuda::fill_bytes(t.data(), std::int64_t(t.nbytes()), 1, 0, ctx.cuda_stream());
    ctx.synchronize();
  }
  return t;
}

Tensor Tensor::empty_pinned(std::span<const std::int64_t> shape, DType dtype) {
  const std::size_t bytes = checked_bytes("Tensor::empty_pinned", shape, dtype);
  if (!cuda_compiled())
    throw NotCompiled("Tensor::empty_pinned",
                      "pinned host memory needs CUDA, and gnnkit was built without CUDA");
  void* p = kernels::cuda::allocate_pinned(std::max<std::size_t>(bytes, 1));
  std::shared_ptr<void> owner(p, [](void* q) { kernels::cuda::free_pinned(q); });
  const TensorView view(p, dtype, Device::cpu(), shape);
  return wrap(view, std::move(owner));
}

Tensor Tensor::to(Device device) const {
  GNNKIT_EXPECTS_AS(InvalidArgument, "Tensor::to", defined(), "'this' must be a defined tensor");
  Tensor out = empty(shape(), dtype(), device);
  if (device.is_cpu() && this->device().is_cpu()) {
    copy(Context::cpu(), out, *this);
    return out;
  }
  // On the device's one stream: after the kernels that wrote the source.
  copy(Context::cuda(device.is_cuda() ? device.index : this->device().index), out, *this);
  return out;
}

namespace {
void copy_impl(const char* fn, const Context& ctx, const TensorView& dst, const TensorView& src, bool wait) {
  check::not_null(fn, "dst", dst);
  check::not_null(fn, "src", src);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, dst.dtype() == src.dtype(),
                    "'src' must have the dtype of 'dst' ({}), got {}", dst.dtype(), src.dtype());
  bool same_shape = dst.ndim() == src.ndim();
  for (int d = 0; same_shape && d < dst.ndim(); ++d) same_shape = dst.size(d) == src.size(d);
  GNNKIT_EXPECTS_AS(ShapeMismatch, fn, same_shape, "'src' must have the shape of 'dst' ({}), got {}",
                    dst.str(), src.str());
  if (dst.device().is_cpu() && src.device().is_cpu()) {
    copy_strided_cpu(dst, src);
    return;
  }
  GNNKIT_EXPECTS_AS(DeviceMismatch, fn,
                    ctx.device().is_cuda() &&
                        (ctx.device() == dst.device() || ctx.device() == src.device()),
                    "'ctx' must be on the CUDA device of 'dst' or 'src' ({} / {}), got {}",
                    dst.device(), src.device(), ctx.device());
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, dst.is_contiguous() && src.is_contiguous(),
                    "'dst' and 'src' must be contiguous for copies involving CUDA, got {} / {}",
                    dst.str(), src.str());
  kernels::cuda::copy_bytes(dst.data(), dst.device(), src.data(), src.device(), dst.nbytes(),
                            ctx.cuda_stream(), wait);
}
}  // namespace

void copy(const Context& ctx, const TensorView& dst, const TensorView& src) {
  copy_impl("copy", ctx, dst, src, /*wait=*/true);
}

void copy_async(const Context& ctx, const TensorView& dst, const TensorView& src) {
  copy_impl("copy_async", ctx, dst, src, /*wait=*/false);
}

void fill(const Context& ctx, const TensorView& out, double value) {
  constexpr const char* fn = "fill";
  check::not_null(fn, "out", out);
  GNNKIT_EXPECTS_AS(DeviceMismatch, fn, out.device() == ctx.device(),
                    "'out' must be on the context's device {}, got {}", ctx.device(),
                    out.device());
  visit_elements(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T typed = static_cast<T>(value);
    if (out.device().is_cpu()) {
      if (out.is_contiguous()) {
        kernels::cpu::fill(static_cast<T*>(out.data()), out.numel(), typed, ctx.num_threads());
      } else {  // rare: fill a contiguous scratch and scatter it with the strided copy
        Tensor scratch = Tensor::empty(out.shape(), out.dtype());
        kernels::cpu::fill(scratch.data_as<T>(), scratch.numel(), typed, ctx.num_threads());
        copy_strided_cpu(out, scratch);
      }
      return;
    }
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, out.is_contiguous(),
                      "'out' must be contiguous on CUDA, got strides of {}", out.str());
    std::uint64_t pattern = 0;
    std::memcpy(&pattern, &typed, sizeof(T));
    kernels::cuda::fill_bytes(out.data(), out.numel(), sizeof(T), pattern, ctx.cuda_stream());
  });
}

}  // namespace gnnkit
