// Runs only on a machine with a GPU (see cuda_main.cpp).
#include <catch2/catch.hpp>

#include <cstring>
#include <numeric>

#include "gnnkit/gnnkit.hpp"

using namespace gnnkit;

TEST_CASE("CUDA context owns a stream and library handles") {
  const Context ctx = Context::cuda(0, 5);
  CHECK(ctx.device() == Device::cuda(0));
  CHECK(ctx.cuda_stream() != nullptr);
  CHECK(ctx.cuda_stream() == ctx.with_seed(6).cuda_stream());
  CHECK(ctx.cublas_handle() != nullptr);
  CHECK(ctx.cusparse_handle() != nullptr);
  ctx.synchronize();
}

TEST_CASE("host -> device -> host round trip preserves every byte") {
  Tensor host = Tensor::empty({1000, 3}, DType::kInt64);
  std::iota(host.data_as<std::int64_t>(), host.data_as<std::int64_t>() + 3000, -17);
  Tensor dev = host.to(Device::cuda(0));
  CHECK(dev.device() == Device::cuda(0));
  Tensor back = dev.to(Device::cpu());
  CHECK(std::memcmp(back.data(), host.data(), host.nbytes()) == 0);
}

TEST_CASE("Contexts of one device share its stream, so their work runs in order") {
  const Context a = Context::cuda(0), b = Context::cuda(0);
  CHECK(a.cuda_stream() == b.cuda_stream());
  // Written through one context, read back through the other with no wait in between.
  Tensor dev = Tensor::empty({1 << 20}, DType::kFloat32, Device::cuda(0));
  fill(a, dev, 3.0);
  Tensor back = Tensor::empty({1 << 20}, DType::kFloat32);
  copy(b, back, dev);
  CHECK(back.data_as<float>()[0] == 3.f);
  CHECK(back.data_as<float>()[(1 << 20) - 1] == 3.f);
}

TEST_CASE("pinned buffers and asynchronous copies round-trip every byte") {
  const Context ctx = Context::cuda(0);
  Tensor src = Tensor::empty_pinned({4096, 3}, DType::kInt64);
  CHECK(src.device().is_cpu());
  std::iota(src.data_as<std::int64_t>(), src.data_as<std::int64_t>() + src.numel(), -5);
  Tensor dev = Tensor::empty({4096, 3}, DType::kInt64, Device::cuda(0));
  Tensor back = Tensor::empty_pinned({4096, 3}, DType::kInt64);
  copy_async(ctx, dev, src);
  copy_async(ctx, back, dev);  // ordered after the upload on the same stream
  ctx.synchronize();
  CHECK(std::memcmp(back.data(), src.data(), src.nbytes()) == 0);
}

TEST_CASE("fill and zeros on the device, for 1-, 4- and 8-byte types") {
  const Context ctx = Context::cuda(0);
  for (DType dt : {DType::kUInt8, DType::kFloat32, DType::kInt64, DType::kFloat64}) {
    Tensor dev = Tensor::zeros({12345}, dt, Device::cuda(0));
    Tensor zeros_back = dev.to(Device::cpu());
    Tensor expected = Tensor::zeros({12345}, dt);
    CHECK(std::memcmp(zeros_back.data(), expected.data(), expected.nbytes()) == 0);
    fill(ctx, dev, 7.0);
    fill(Context::cpu(), expected, 7.0);
    ctx.synchronize();
    Tensor back = dev.to(Device::cpu());
    CHECK(std::memcmp(back.data(), expected.data(), expected.nbytes()) == 0);
  }
}

TEST_CASE("device tensors export to DLPack as CUDA memory") {
  Tensor dev = Tensor::zeros({4}, DType::kFloat32, Device::cuda(0));
  auto* m = dlpack::to_dlpack(dev);
  CHECK(m->dl_tensor.device.device_type == dlpack::kDLCUDA);
  Tensor back = dlpack::from_dlpack(m);
  CHECK(back.device() == Device::cuda(0));
  CHECK(back.data() == dev.data());
}

TEST_CASE("CUDA errors become gnnkit errors naming the call") {
  CHECK_THROWS_AS(Tensor::empty({std::int64_t(1) << 40, 1 << 20}, DType::kFloat32,
                                Device::cuda(0)),
                  OutOfMemory);
  const Context cpu = Context::cpu();
  Tensor dev = Tensor::zeros({4}, DType::kFloat32, Device::cuda(0));
  CHECK_THROWS_AS(fill(cpu, dev, 1.0), DeviceMismatch);
}
