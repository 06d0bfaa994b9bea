"""gnnkit core from Python: zero-copy NumPy/DLPack exchange, matmul, error mapping."""
import gc
import sys

import numpy as np
import pytest

import gnnkit
from gnnkit import _core


def test_version_and_build_info():
    assert gnnkit.__version__.count(".") == 2
    assert gnnkit.build_info().startswith("gnnkit " + gnnkit.__version__)
    assert gnnkit.dense_backend() in ("onednn", "eigen")


def test_numpy_to_tensor_is_zero_copy_both_directions():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = gnnkit.as_tensor(a)
    assert t.data_ptr == a.ctypes.data
    assert t.shape == (3, 4) and t.dtype == np.float32 and t.device == "cpu"
    view = np.asarray(t)
    a[1, 2] = -7.0  # mutate the NumPy side, read through the tensor
    assert view[1, 2] == -7.0
    view[0, 0] = 42.0  # mutate through the tensor, read the NumPy side
    assert a[0, 0] == 42.0


def test_tensor_to_numpy_keeps_memory_alive():
    t = gnnkit.zeros([1000], "int64")
    n = t.numpy()
    n[10] = 5
    assert np.asarray(t)[10] == 5
    ptr = t.data_ptr
    del t
    gc.collect()
    assert n.ctypes.data == ptr and n[10] == 5 and n.sum() == 5


def test_numpy_from_dlpack_shares_memory_and_outlives_tensor():
    t = gnnkit.empty([4, 3], np.float64)
    np.asarray(t)[:] = 1.5
    d = np.from_dlpack(t)
    assert d.ctypes.data == t.data_ptr
    d[2, 1] = 9.0
    assert np.asarray(t)[2, 1] == 9.0
    del t
    gc.collect()
    assert d[2, 1] == 9.0 and d.sum() == pytest.approx(1.5 * 11 + 9.0)


def test_from_dlpack_of_numpy_is_zero_copy():
    a = np.arange(6, dtype=np.int32)
    t = gnnkit.from_dlpack(a)
    assert t.data_ptr == a.ctypes.data
    a[3] = 100
    assert np.asarray(t)[3] == 100


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64, np.uint8, np.int8, np.bool_])
def test_every_dtype_round_trips(dtype):
    a = (np.arange(10) % 3).astype(dtype)
    t = gnnkit.as_tensor(a)
    assert t.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(np.asarray(t), a)
    np.testing.assert_array_equal(np.from_dlpack(t), a)


def test_strided_numpy_is_viewed_not_copied():
    base = np.arange(24, dtype=np.float32).reshape(4, 6)
    sliced = base[:, ::2]
    t = gnnkit.as_tensor(sliced)
    assert t.strides == (6, 2) and not t.is_contiguous()
    np.testing.assert_array_equal(np.asarray(t), sliced)


@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (7, 13, 5), (1000, 128, 256)])
def test_matmul_matches_numpy(m, k, n):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    bias = rng.standard_normal(n, dtype=np.float32)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(gnnkit.matmul(a, b), ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(gnnkit.matmul(a, b, bias), ref + bias, rtol=1e-4, atol=1e-4)


def test_matmul_float64_transposed_out_and_tensor_inputs():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((9, 4))
    b = rng.standard_normal((9, 3))
    out = np.empty((4, 3))
    got = gnnkit.matmul(a.T, b, out=out)  # a.T is a strided view
    assert got is out
    np.testing.assert_allclose(out, a.T @ b, rtol=1e-12)
    t = gnnkit.matmul(gnnkit.as_tensor(a.T.copy()), gnnkit.as_tensor(b))
    assert isinstance(t, gnnkit.Tensor)
    np.testing.assert_allclose(np.asarray(t), a.T @ b, rtol=1e-12)
    ctx = gnnkit.Context.cpu(num_threads=1, seed=3)
    assert ctx.num_threads == 1 and ctx.seed == 3 and ctx.device == "cpu"
    np.testing.assert_allclose(gnnkit.matmul(a.T, b, ctx=ctx), a.T @ b, rtol=1e-12)


def test_matmul_errors_name_the_argument():
    a = np.ones((4, 3), np.float32)
    with pytest.raises(ValueError, match=r"matmul: 'b' must have 3 rows \(the columns of 'a' float32\[4, 3\] on cpu\), got float32\[4, 3\] on cpu"):
        gnnkit.matmul(a, a)
    with pytest.raises(gnnkit.ShapeMismatch):
        gnnkit.matmul(a, a)
    with pytest.raises(ValueError, match=r"matmul: 'a' must be float32 or float64, got int32"):
        gnnkit.matmul(a.astype(np.int32), a.T)
    with pytest.raises(ValueError, match=r"matmul: 'b' must be float32 on cpu, got float64 on cpu"):
        gnnkit.matmul(a, np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"'a' must have dtype .* got float16"):
        gnnkit.matmul(a.astype(np.float16), a.T)
    with pytest.raises(ValueError, match=r"'a' must be a gnnkit.Tensor, a NumPy array or a DLPack producer, got <class 'list'>"):
        gnnkit.matmul([[1.0]], a)
    with pytest.raises(ValueError, match=r"matmul: 'bias' must be \[2\] or \[1, 2\]"):
        gnnkit.matmul(a, np.ones((3, 2), np.float32), np.ones(5, np.float32))
    with pytest.raises(ValueError, match=r"Tensor::empty: 'shape\[0\]' must be >= 0, got -1"):
        gnnkit.empty([-1, 2])


@pytest.mark.parametrize("kind,builtin", [
    ("InvalidArgument", ValueError), ("ShapeMismatch", ValueError), ("DeviceMismatch", ValueError),
    ("OutOfRange", IndexError), ("NotCompiled", NotImplementedError), ("DeviceError", RuntimeError),
    ("BackendError", RuntimeError), ("FormatError", OSError), ("IoError", OSError),
    ("OutOfMemory", MemoryError)])
def test_every_error_maps_to_its_python_exception(kind, builtin):
    with pytest.raises(builtin) as info:
        _core._throw_error_for_test(kind, "'x' must be 1, got 2")
    assert isinstance(info.value, gnnkit.Error)
    assert type(info.value).__name__ == kind
    assert str(info.value) == "test: 'x' must be 1, got 2"


def test_cuda_without_gpu_is_a_clear_error():
    if gnnkit.cuda_device_count() > 0:
        pytest.skip("a GPU is present: the no-GPU behaviour cannot be observed here")
    expected = gnnkit.DeviceError if gnnkit.cuda_compiled() else gnnkit.NotCompiled
    with pytest.raises(expected, match=r"Context::cuda: "):
        gnnkit.Context.cuda(0)
    with pytest.raises(RuntimeError):  # NotImplementedError is a RuntimeError too
        gnnkit.as_tensor(np.ones(2)).to("cuda")


def test_torch_interop_when_installed():
    torch = pytest.importorskip("torch", reason="torch not installed: DLPack interop with torch not checked")
    x = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    t = gnnkit.from_dlpack(x)
    assert t.data_ptr == x.data_ptr()
    back = torch.from_dlpack(t)
    back[0, 0] = 11
    assert x[0, 0].item() == 11
