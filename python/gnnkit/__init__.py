"""gnnkit: graph-learning primitives (heterogeneous graph storage, neighbour sampling, GNN
layers) with a C++ core. NumPy arrays and DLPack producers (torch) pass in and out without
copies.

>>> import gnnkit, numpy as np
>>> a = np.ones((2, 3), np.float32)
>>> gnnkit.matmul(a, np.ones((3, 4), np.float32)).shape
(2, 4)
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from . import _core
from ._core import (  # noqa: F401  (re-exported)
    BackendError,
    Context,
    DeviceError,
    DeviceMismatch,
    Error,
    FormatError,
    InvalidArgument,
    IoError,
    NotCompiled,
    OutOfMemory,
    OutOfRange,
    ShapeMismatch,
    Tensor,
    as_tensor,
    build_info,
    cuda_compiled,
    cuda_device_count,
    dense_backend,
    empty,
    from_dlpack,
    zeros,
)

from .graph import HeteroGraph, build_graph_file, read_edge_list  # noqa: E402
from . import datasets  # noqa: E402,F401
from . import sampling  # noqa: E402,F401
from . import train  # noqa: E402,F401
from . import nn  # noqa: E402,F401

__version__: str = _core.__version__

__all__ = [
    "__version__", "Context", "Tensor", "as_tensor", "from_dlpack", "empty", "zeros",
    "matmul", "build_info", "cuda_compiled", "cuda_device_count", "dense_backend",
    "default_context", "Error", "InvalidArgument", "ShapeMismatch", "DeviceMismatch",
    "OutOfRange", "NotCompiled", "DeviceError", "BackendError", "FormatError", "IoError",
    "OutOfMemory", "HeteroGraph", "read_edge_list", "build_graph_file", "datasets", "sampling",
    "train",
]

_default_context: Optional[Context] = None


def default_context() -> Context:
    """The CPU context used when a call gets no ``ctx``: all cores (or OMP_NUM_THREADS), seed 0."""
    global _default_context
    if _default_context is None:
        _default_context = Context.cpu()
    return _default_context


def matmul(a: Any, b: Any, bias: Any = None, *, out: Any = None,
           ctx: Optional[Context] = None) -> Any:
    """``a @ b (+ bias)`` through gnnkit's dense backend (oneDNN on the CPU).

    a is [M, K], b is [K, N], bias is [N]; float32 (or float64). Inputs may be NumPy arrays,
    gnnkit Tensors or DLPack producers, and are read in place (any strides). Returns a NumPy
    array when ``a`` is one (sharing the result's memory, no copy), else a Tensor. With
    ``out`` the result is written there and ``out`` is returned.

    Raises ValueError (InvalidArgument / ShapeMismatch / DeviceMismatch) naming the bad
    argument, e.g. ``matmul: 'b' must have 3 rows (the columns of 'a' ...), got ...``.
    """
    result = _core.matmul(ctx or default_context(), a, b, bias, out)
    if out is not None:
        return out
    return result.numpy() if isinstance(a, np.ndarray) else result
