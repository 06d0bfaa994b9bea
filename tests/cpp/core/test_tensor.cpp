#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdlib>
#include <numeric>
#include <vector>

#include "gnnkit/kernels/cuda_ops.hpp"
#include "gnnkit/build_config.hpp"
#include "gnnkit/gnnkit.hpp"

using namespace gnnkit;

TEST_CASE("TensorView computes row-major strides, sizes and contiguity") {
  std::vector<float> buf(24);
  const std::int64_t shape[] = {2, 3, 4};
  TensorView v(buf.data(), DType::kFloat32, Device::cpu(), shape);
  CHECK(v.ndim() == 3);
  CHECK(v.numel() == 24);
  CHECK(v.nbytes() == 96);
  CHECK(v.stride(0) == 12);
  CHECK(v.stride(1) == 4);
  CHECK(v.stride(-1) == 1);
  CHECK(v.size(-2) == 3);
  CHECK(v.is_contiguous());
  CHECK(v.str() == "float32[2, 3, 4] on cpu");
  const std::int64_t tshape[] = {4, 6}, tstrides[] = {1, 4};  // a transposed [6, 4]
  TensorView t(buf.data(), DType::kFloat32, Device::cpu(), tshape, tstrides);
  CHECK_FALSE(t.is_contiguous());
  CHECK_THROWS_AS(v.size(3), OutOfRange);
  CHECK_THROWS_WITH(v.size(-4), "TensorView::size: 'dim' must be in [-3, 3), got -4");
}

TEST_CASE("TensorView rejects bad shapes, strides and null data") {
  float x = 0;
  const std::int64_t neg[] = {2, -1};
  CHECK_THROWS_WITH(TensorView(&x, DType::kFloat32, Device::cpu(), neg),
                    "TensorView: 'shape[1]' must be >= 0, got -1");
  const std::int64_t shape[] = {2, 2}, strides[] = {1};
  CHECK_THROWS_AS(TensorView(&x, DType::kFloat32, Device::cpu(), shape, strides), InvalidArgument);
  CHECK_THROWS_WITH(TensorView(nullptr, DType::kFloat32, Device::cpu(), shape),
                    "TensorView: 'data' must not be null for a view of 4 elements");
  const std::int64_t empty[] = {0, 5};
  CHECK_NOTHROW(TensorView(nullptr, DType::kFloat32, Device::cpu(), empty));
  const std::int64_t seven[] = {1, 1, 1, 1, 1, 1, 1};
  CHECK_THROWS_AS(TensorView(&x, DType::kFloat32, Device::cpu(), seven), InvalidArgument);
  TensorView v(&x, DType::kFloat32, Device::cpu(), {1});
  CHECK_THROWS_WITH(v.data_as<std::int64_t>(),
                    "TensorView::data_as: requested element type int64 of a float32 view");
}

TEST_CASE("Tensor::empty is 64-byte aligned, shares on copy, and clone copies") {
  for (std::int64_t rows : {0, 1, 3, 1000}) {
    Tensor t = Tensor::empty({rows, 7}, DType::kFloat32);
    CHECK(t.defined());
    CHECK(reinterpret_cast<std::uintptr_t>(t.data()) % kCpuAlignment == 0);
    CHECK(t.numel() == rows * 7);
  }
  Tensor a = Tensor::zeros({3, 4}, DType::kInt64);
  for (std::int64_t i = 0; i < 12; ++i) CHECK(a.data_as<std::int64_t>()[i] == 0);
  Tensor shared = a;
  shared.data_as<std::int64_t>()[5] = 42;
  CHECK(a.data_as<std::int64_t>()[5] == 42);
  Tensor c = a.clone();
  CHECK(c.data() != a.data());
  c.data_as<std::int64_t>()[5] = 7;
  CHECK(a.data_as<std::int64_t>()[5] == 42);
  CHECK_FALSE(Tensor().defined());
  CHECK_THROWS_AS(Tensor().to(Device::cpu()), InvalidArgument);
  CHECK_THROWS_WITH(Tensor::empty({2, -3}, DType::kFloat32),
                    "Tensor::empty: 'shape[1]' must be >= 0, got -3");
  CHECK_THROWS_AS(Tensor::empty({std::int64_t(1) << 40, std::int64_t(1) << 30}, DType::kFloat32),
                  OutOfMemory);
}

TEST_CASE("fill converts the value to every dtype, contiguous and strided") {
  const Context ctx = Context::cpu(2);
  for (DType dt : {DType::kFloat32, DType::kFloat64, DType::kInt32, DType::kInt64, DType::kUInt8,
                   DType::kInt8}) {
    Tensor t = Tensor::empty({100000}, dt);
    fill(ctx, t, 3.0);
    Tensor back = Tensor::empty({100000}, dt);
    copy(ctx, back, t);
    CHECK(std::memcmp(back.data(), t.data(), t.nbytes()) == 0);
  }
  Tensor f = Tensor::empty({3}, DType::kFloat32);
  fill(ctx, f, 2.5);
  CHECK(f.data_as<float>()[2] == 2.5f);
  // Fill every other column of a [4, 6] matrix through a strided view.
  Tensor m = Tensor::zeros({4, 6}, DType::kInt32);
  const std::int64_t shape[] = {4, 3}, strides[] = {6, 2};
  fill(ctx, TensorView(m.data(), DType::kInt32, Device::cpu(), shape, strides), 9);
  for (int i = 0; i < 24; ++i) CHECK(m.data_as<std::int32_t>()[i] == (i % 2 == 0 ? 9 : 0));
  CHECK_THROWS_AS(fill(ctx, TensorView(), 1.0), InvalidArgument);
}

TEST_CASE("copy handles strided views and checks dtype and shape") {
  const Context ctx = Context::cpu(1);
  Tensor src = Tensor::empty({3, 5}, DType::kFloat64);
  std::iota(src.data_as<double>(), src.data_as<double>() + 15, 0.0);
  // Transpose by copying through a strided view of src.
  const std::int64_t tshape[] = {5, 3}, tstrides[] = {1, 5};
  Tensor dst = Tensor::empty({5, 3}, DType::kFloat64);
  copy(ctx, dst, TensorView(src.data(), DType::kFloat64, Device::cpu(), tshape, tstrides));
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 3; ++j) CHECK(dst.data_as<double>()[i * 3 + j] == double(j * 5 + i));
  Tensor wrong_type = Tensor::empty({5, 3}, DType::kFloat32);
  CHECK_THROWS_WITH(copy(ctx, wrong_type, dst),
                    "copy: 'src' must have the dtype of 'dst' (float32), got float64");
  Tensor wrong_shape = Tensor::empty({3, 5}, DType::kFloat64);
  CHECK_THROWS_AS(copy(ctx, wrong_shape, dst), ShapeMismatch);
}

TEST_CASE("Context: thread count, seeds, and shared backend resources") {
  const Context a = Context::cpu(3, 17);
  CHECK(a.num_threads() == 3);
  CHECK(a.seed() == 17);
  CHECK(a.device() == Device::cpu());
  const Context b = a.with_seed(99);
  CHECK(b.seed() == 99);
  CHECK(b.num_threads() == 3);
  CHECK(a.with_threads(0).num_threads() >= 1);
  CHECK(Context::cpu().num_threads() == detail::default_thread_count());
#if GNNKIT_WITH_ONEDNN
  CHECK(&a.dnnl() == &b.dnnl());                    // derived contexts share resources
  CHECK(&a.dnnl() != &Context::cpu().dnnl());       // new contexts own new ones
#else
  CHECK_THROWS_AS(a.dnnl(), NotCompiled);
#endif
  a.synchronize();  // a no-op on the CPU
}

TEST_CASE("CUDA requested without a GPU or without CUDA: a clear error, never a crash") {
  const Context cpu = Context::cpu();
  CHECK_THROWS_WITH(cpu.cuda_stream(), "Context::cuda_stream: 'ctx' must be a CUDA context, got cpu");
  CHECK_THROWS_AS(cpu.cublas_handle(), DeviceMismatch);
  CHECK_THROWS_AS(cpu.cusparse_handle(), DeviceMismatch);
  CHECK(cuda_compiled() == bool(GNNKIT_WITH_CUDA));
  if (!cuda_compiled()) {
    CHECK(cuda_device_count() == 0);
    CHECK_THROWS_AS(Context::cuda(0), NotCompiled);
    CHECK_THROWS_WITH(Context::cuda(0), Catch::Contains("built without CUDA"));
    CHECK_THROWS_AS(Tensor::empty({4}, DType::kFloat32, Device::cuda(0)), NotCompiled);
  } else if (cuda_device_count() == 0) {
    CHECK_THROWS_AS(Context::cuda(0), DeviceError);
    CHECK_THROWS_WITH(Context::cuda(0), Catch::Contains("no CUDA device is present"));
    CHECK_THROWS_AS(Tensor::empty({4}, DType::kFloat32, Device::cuda(0)), DeviceError);
  } else {
    CHECK_THROWS_AS(Context::cuda(cuda_device_count()), DeviceError);
  }
  CHECK_THROWS_AS(Context::cuda(-1), Error);
  CHECK_THAT(build_info(), Catch::StartsWith(std::string("gnnkit ") + kVersion));
}

TEST_CASE("GPU layer ops without a GPU: NotCompiled, or DeviceError naming the op and CUDA's message") {
  if (cuda_compiled() && cuda_device_count() > 0) {
    WARN("skipped: a GPU is present (tests/cpp/cuda covers the ops there)");
    return;
  }
  namespace kc = kernels::cuda;
  // Host pointers: the launch fails before anything reads them.
  std::vector<std::int64_t> indptr{0, 1}, index{0};
  std::vector<std::int32_t> indices{0};
  std::vector<float> x(4, 1.f), out(4);
  const kc::DeviceCsc csc{1, 1, 1, indptr.data(), indices.data()};
  auto expect_error = [](auto&& call, const char* op) {
    try {
      call();
      FAIL("no error from " << op);
    } catch (const NotCompiled& e) {
      CHECK(!cuda_compiled());
      CHECK_THAT(e.what(), Catch::Contains(op) && Catch::Contains("built without CUDA"));
    } catch (const DeviceError& e) {
      CHECK(cuda_compiled());
      CHECK_THAT(e.what(), Catch::Contains(op) && Catch::Contains("failed: "));
    }
  };
  expect_error([&] { kc::spmm_forward(csc, x.data(), 4, 4, nullptr, false, out.data(), 4, nullptr); }, "spmm_forward");
  expect_error([&] { kc::gather_rows(x.data(), 4, 4, index.data(), 1, out.data(), 4, nullptr); }, "gather_rows");
  expect_error([&] { kc::activation_dropout_forward(nn::Activation::kReLU, x.data(), 1, 4, 4, 0.f, 0.5, 1, nullptr); },
               "activation_dropout_forward");
  expect_error([&] { Tensor::empty_pinned({16}, DType::kFloat32); }, "pinned");
}

TEST_CASE("DLPack export and import are zero-copy and release the memory once") {
  Tensor t = Tensor::empty({4, 3}, DType::kInt32);
  std::iota(t.data_as<std::int32_t>(), t.data_as<std::int32_t>() + 12, 0);
  const long before = t.owner().use_count();
  dlpack::DLManagedTensor* m = dlpack::to_dlpack(t);
  CHECK(t.owner().use_count() == before + 1);
  CHECK(m->dl_tensor.data == t.data());
  CHECK(m->dl_tensor.ndim == 2);
  CHECK(m->dl_tensor.shape[0] == 4);
  CHECK(m->dl_tensor.strides[0] == 3);
  CHECK(m->dl_tensor.dtype.code == dlpack::kDLInt);
  CHECK(m->dl_tensor.dtype.bits == 32);
  CHECK(m->dl_tensor.device.device_type == dlpack::kDLCPU);
  {
    Tensor back = dlpack::from_dlpack(m);  // takes ownership of m
    CHECK(back.data() == t.data());
    CHECK(back.dtype() == DType::kInt32);
    back.data_as<std::int32_t>()[11] = -5;
    CHECK(t.data_as<std::int32_t>()[11] == -5);
  }
  CHECK(t.owner().use_count() == before);  // deleter ran exactly once
}

TEST_CASE("DLPack import rejects what we cannot represent, releasing the producer") {
  static int deleted = 0;
  deleted = 0;
  float data[4] = {};
  std::int64_t shape[] = {4};
  auto make = [&](dlpack::DLDataType dt, std::int32_t device_type) {
    auto* m = new dlpack::DLManagedTensor{};
    m->dl_tensor = {data, {device_type, 0}, 1, dt, shape, nullptr, 0};
    m->deleter = [](dlpack::DLManagedTensor* self) {
      ++deleted;
      delete self;
    };
    return m;
  };
  CHECK_THROWS_WITH(dlpack::from_dlpack(make({dlpack::kDLFloat, 16, 1}, dlpack::kDLCPU)),
                    Catch::Contains("from_dlpack: 'dtype' must be one of") &&
                        Catch::Contains("code 2 with 16 bits"));
  CHECK_THROWS_WITH(dlpack::from_dlpack(make({dlpack::kDLFloat, 32, 4}, dlpack::kDLCPU)),
                    "from_dlpack: 'dtype.lanes' must be 1 (no vector types), got 4");
  CHECK_THROWS_AS(dlpack::from_dlpack(make({dlpack::kDLFloat, 32, 1}, 7)), InvalidArgument);
  CHECK(deleted == 3);
  Tensor ok = dlpack::from_dlpack(make({dlpack::kDLFloat, 32, 1}, dlpack::kDLCPU));
  CHECK(ok.is_contiguous());  // null strides mean compact row-major
  CHECK(ok.size(0) == 4);
  ok = Tensor();
  CHECK(deleted == 4);
  CHECK_THROWS_AS(dlpack::from_dlpack(static_cast<dlpack::DLManagedTensor*>(nullptr)),
                  InvalidArgument);
}

TEST_CASE("versioned DLPack (1.0) export and import, and version checks") {
  Tensor t = Tensor::zeros({5}, DType::kFloat64);
  const long before = t.owner().use_count();
  dlpack::DLManagedTensorVersioned* m = dlpack::to_dlpack_versioned(t);
  CHECK(m->version.major == 1);
  CHECK(m->flags == 0);  // writable, not a copy
  CHECK(m->dl_tensor.data == t.data());
  Tensor back = dlpack::from_dlpack(m);
  CHECK(back.data() == t.data());
  back = Tensor();
  CHECK(t.owner().use_count() == before);
  dlpack::DLManagedTensorVersioned* future = dlpack::to_dlpack_versioned(t);
  future->version = {2, 0};
  CHECK_THROWS_WITH(dlpack::from_dlpack(future),
                    "from_dlpack: 'version' must be DLPack 1.x, got 2.0");
  CHECK(t.owner().use_count() == before);  // the rejected producer was released
}
