"""GNN layers and the model runner: GraphSAGE and GAT, homogeneous or heterogeneous, forward
and backward in C++ (no torch needed).

A model runs over a whole graph (full-graph training, layer-wise inference) or over a
sampled ``MiniBatch``. ``forward(..., training=True)`` keeps what ``backward`` needs;
``backward(grad)`` accumulates parameter gradients (see ``gradients()``) and returns the
gradient of the input features. An optimiser from :mod:`gnnkit.train` then updates the
parameters in place.

>>> import numpy as np, gnnkit
>>> g = gnnkit.HeteroGraph.from_edges((np.array([0, 1, 2]), np.array([1, 2, 0])), num_nodes=3)
>>> model = gnnkit.nn.Model(g, in_features=4, out=2, hidden=8, seed=0)
>>> model.forward(g, np.ones((3, 4), np.float32)).shape
(3, 2)
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _core
from .graph import HeteroGraph
from .sampling import MiniBatch

__all__ = ["Model", "SageConv", "GatConv", "Adjacency", "LightGCN", "TwoTower"]


def _source(source: Union[HeteroGraph, MiniBatch]):
    if isinstance(source, HeteroGraph):
        return source._g
    if isinstance(source, MiniBatch):
        return source._raw
    raise TypeError(f"source must be a gnnkit.HeteroGraph or a MiniBatch, got {type(source).__name__}")


class Model:
    """A stack of SageConv or GatConv layers (one per relation and layer, combined per node
    type: PyG's ``to_hetero`` / ``HeteroConv`` pattern), ReLU/ELU and dropout in between.

    Args:
        graph: the graph whose node types and relations the model uses (a homogeneous graph
            has one of each).
        in_features: input width (int, homogeneous) or ``{node_type: width}``.
        out: output width (classes, or 1 for a binary score).
        target: node type the output rows belong to (default: the first node type).
        conv: ``"sage"`` or ``"gat"``.
        num_layers, hidden: depth and hidden width (GAT: heads x hidden/heads, concatenated).
        heads, out_heads: GAT heads of hidden layers and of the last layer (averaged).
        aggr: SAGE neighbour aggregation ``"mean"``, ``"sum"`` or ``"max"``.
        hetero_aggr: how relations reaching one node type combine (``"sum"``, ``"mean"``, ``"max"``).
        activation: ``"relu"``, ``"elu"``, ``"leaky_relu"`` or ``"none"``.
        dropout: on hidden features; input_dropout: on every layer's input (PyG's GAT recipe);
        attention_dropout: on GAT attention coefficients.
        normalize, root_weight: SAGE options (PyG's SAGEConv).
        input_projection: a Linear(in_features[t], hidden) per node type first, so node types
            with different feature widths meet in one space.
        seed: initialisation and dropout streams; dtype ``"float32"`` or ``"float64"``;
        num_threads: 0 = OMP_NUM_THREADS or all cores.
    """

    def __init__(self, graph: HeteroGraph, *, in_features: Union[int, Mapping[str, int]], out: int,
                 target: Optional[str] = None, conv: str = "sage", num_layers: int = 2,
                 hidden: int = 64, heads: int = 1, out_heads: int = 1, aggr: str = "mean",
                 hetero_aggr: str = "sum", activation: str = "relu", dropout: float = 0.5,
                 input_dropout: float = 0.0, attention_dropout: float = 0.0,
                 normalize: bool = False, root_weight: bool = True,
                 input_projection: bool = False, seed: int = 0, dtype: str = "float32",
                 num_threads: int = 0):
        types = list(graph.node_types)
        self.node_types = types
        if isinstance(in_features, Mapping):
            unknown = set(in_features) - set(types)
            if unknown:
                raise ValueError(f"Model: unknown node types in 'in_features': {sorted(unknown)} (graph has {types})")
            widths = [int(in_features.get(t, 0)) for t in types]
        else:
            widths = [int(in_features)] * len(types)
        target = types[0] if target is None else target
        if target not in types:
            raise ValueError(f"Model: 'target' {target!r} is not a node type of the graph {types}")
        relations = [(r, types.index(s), types.index(d)) for r, (s, _, d) in enumerate(graph.relations)]
        self.target = target
        self._m = _core.Model(widths, relations, types.index(target), conv, num_layers, hidden, out,
                              heads, out_heads, aggr, hetero_aggr, activation, dropout, input_dropout,
                              attention_dropout, normalize, root_weight, input_projection, seed, dtype,
                              num_threads)

    def _inputs(self, x: Union[Any, Mapping[str, Any]]) -> list:
        if isinstance(x, Mapping):
            unknown = set(x) - set(self.node_types)
            if unknown:
                raise ValueError(f"Model.forward: unknown node types in 'x': {sorted(unknown)}")
            return [x.get(t) for t in self.node_types]
        if len(self.node_types) != 1:
            raise ValueError(f"Model.forward: 'x' must map node types {self.node_types} to features")
        return [x]

    def forward(self, source: Union[HeteroGraph, MiniBatch], x: Union[Any, Mapping[str, Any]], *,
                training: bool = False, step: int = 0, check_finite: bool = False) -> np.ndarray:
        """Runs the model. ``source`` is the whole graph (output: every node of the target type)
        or a MiniBatch (output: its first nodes of the target type, the seeds, in
        ``mini_batch.nodes[target]`` order; ``mini_batch.seed_local`` maps given seeds to rows).
        ``x``: features of every node of the source per node type (for a MiniBatch, rows in
        ``mini_batch.nodes[type]`` order). ``step`` keys the dropout masks."""
        return np.asarray(self._m.forward(_source(source), self._inputs(x), training, step, check_finite))

    __call__ = forward

    def backward(self, grad_out: Any, *, input_grads: bool = False) -> Dict[str, Optional[np.ndarray]]:
        """Backward of the last ``forward(..., training=True)``: accumulates gradients into
        ``gradients()``; with ``input_grads=True`` also returns the gradient of the input
        features per node type (else the input layer skips that work and the values are None)."""
        grads = self._m.backward(np.ascontiguousarray(grad_out), input_grads)
        return {t: (None if g is None else np.asarray(g)) for t, g in zip(self.node_types, grads)}

    def parameters(self) -> Dict[str, np.ndarray]:
        """Parameter name -> writable NumPy view of its values (no copy)."""
        return {k: np.asarray(v) for k, v in self._m.parameters().items()}

    def gradients(self) -> Dict[str, np.ndarray]:
        """Parameter name -> NumPy view of its accumulated gradient."""
        return {k: np.asarray(v) for k, v in self._m.gradients().items()}

    def zero_grad(self) -> None:
        self._m.zero_grad()

    @property
    def num_parameters(self) -> int:
        return self._m.num_parameters

    def __repr__(self) -> str:
        return f"Model(node_types={self.node_types}, target={self.target!r}, layers={self._m.num_layers}, parameters={self.num_parameters})"


class Adjacency:
    """One relation's CSC over local ids: ``indptr`` (int64, destinations + 1) and
    ``indices`` (int32/int64 sources < num_src). The arrays are used without copying."""

    def __init__(self, indptr: Any, indices: Any, num_src: int, *, num_threads: int = 0):
        indices = np.asarray(indices)
        if indices.dtype.kind not in "iu":  # an empty list is float64 to NumPy
            indices = indices.astype(np.int64) if indices.size == 0 else indices
        self._a = _core.Adjacency(np.ascontiguousarray(indptr, dtype=np.int64),
                                  np.ascontiguousarray(indices), int(num_src), num_threads)

    @classmethod
    def from_edges(cls, src: Any, dst: Any, num_src: int, num_dst: int) -> "Adjacency":
        """From COO edges (src[i] -> dst[i]), kept in their order within each destination."""
        src = np.asarray(src, dtype=np.int64)
        dst = np.asarray(dst, dtype=np.int64)
        if src.shape != dst.shape:
            raise ValueError(f"Adjacency.from_edges: 'src' {src.shape} and 'dst' {dst.shape} differ in shape")
        if len(dst) and (dst.min() < 0 or dst.max() >= num_dst):
            raise IndexError(f"Adjacency.from_edges: 'dst' values must be in [0, {num_dst})")
        order = np.argsort(dst, kind="stable")
        indptr = np.zeros(num_dst + 1, dtype=np.int64)
        np.cumsum(np.bincount(dst, minlength=num_dst), out=indptr[1:])
        return cls(indptr, src[order], num_src)

    @property
    def num_dst(self) -> int:
        return self._a.num_dst

    @property
    def num_src(self) -> int:
        return self._a.num_src

    @property
    def num_edges(self) -> int:
        return self._a.num_edges


class _Layer:
    _l: Any

    def parameters(self) -> Dict[str, np.ndarray]:
        return {k.split(".", 1)[1]: np.asarray(v) for k, v in self._l.parameters().items()}

    def gradients(self) -> Dict[str, np.ndarray]:
        return {k.split(".", 1)[1]: np.asarray(v) for k, v in self._l.gradients().items()}

    def zero_grad(self) -> None:
        self._l.zero_grad()

    def backward(self, grad_out: Any) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """Gradients of x_src and x_dst (None when x_dst only reached the layer through x_src)."""
        gs, gd = self._l.backward(grad_out)
        return np.asarray(gs), (None if gd is None else np.asarray(gd))


class SageConv(_Layer):
    """PyG's SAGEConv formula: ``lin_neigh(aggr(x_src)) + lin_root(x_dst)``. Parameters
    ``lin_neigh.weight`` [in, out] (PyG stores the transpose), ``lin_neigh.bias``, ``lin_root.weight``."""

    def __init__(self, in_channels: Union[int, Tuple[int, int]], out_channels: int, *, aggr: str = "mean",
                 root_weight: bool = True, normalize: bool = False, bias: bool = True, seed: int = 0,
                 dtype: str = "float32", num_threads: int = 0):
        in_src, in_dst = in_channels if isinstance(in_channels, tuple) else (in_channels, in_channels)
        self._l = _core.SageConv(in_src, in_dst, out_channels, aggr, root_weight, normalize, bias, seed,
                                 dtype, num_threads)

    def forward(self, adj: Adjacency, x_src: Any, x_dst: Any = None, *, training: bool = True) -> np.ndarray:
        x_dst = x_src[: adj.num_dst] if x_dst is None else x_dst
        return np.asarray(self._l.forward(adj._a, x_src, x_dst, training))

    __call__ = forward


class GatConv(_Layer):
    """PyG's GATConv semantics. Parameters ``lin.weight`` [in, heads*out], ``att_src`` and
    ``att_dst`` [heads, out], ``bias``."""

    def __init__(self, in_channels: Union[int, Tuple[int, int]], out_channels: int, *, heads: int = 1,
                 concat: bool = True, negative_slope: float = 0.2, dropout: float = 0.0,
                 add_self_loops: bool = True, bias: bool = True, seed: int = 0, dtype: str = "float32",
                 num_threads: int = 0):
        in_src, in_dst = in_channels if isinstance(in_channels, tuple) else (in_channels, in_channels)
        self._l = _core.GatConv(in_src, in_dst, out_channels, heads, concat, negative_slope, dropout,
                                add_self_loops, bias, seed, dtype, num_threads)

    def forward(self, adj: Adjacency, x_src: Any, x_dst: Any = None, *, training: bool = True,
                step: int = 0) -> np.ndarray:
        x_dst = x_src[: adj.num_dst] if x_dst is None else x_dst
        return np.asarray(self._l.forward(adj._a, x_src, x_dst, training, step))

    __call__ = forward


def _user_csr(fn: str, num_users: int, users: Any, items: Any) -> Tuple[np.ndarray, np.ndarray]:
    """(user_indptr, items sorted by user as int32) of interaction pairs; errors name fn."""
    users = np.asarray(users)
    items = np.asarray(items)
    if users.shape != items.shape or users.ndim != 1:
        raise ValueError(f"{fn}: 'users' and 'items' must be 1-d of one length, got "
                         f"{users.shape} and {items.shape}")
    if len(users) and (users.min() < 0 or users.max() >= num_users):
        bad = int(np.flatnonzero((users < 0) | (users >= num_users))[0])
        raise IndexError(f"{fn}: users[{bad}] = {int(users[bad])} must be in [0, {num_users})")
    if len(items) and (items.min() < 0 or items.max() >= np.iinfo(np.int32).max):
        bad = int(np.flatnonzero((items < 0) | (items >= np.iinfo(np.int32).max))[0])
        raise IndexError(f"{fn}: items[{bad}] = {int(items[bad])} must be a non-negative item id")
    order = np.argsort(users, kind="stable")
    indptr = np.zeros(num_users + 1, dtype=np.int64)
    np.cumsum(np.bincount(users, minlength=num_users), out=indptr[1:])
    return indptr, items[order].astype(np.int32)


class LightGCN:
    """LightGCN (He et al. 2020) ID embeddings over a user-item graph, trained with BPR;
    ``layers=0`` is BPR matrix factorisation. The training interactions form the graph
    (symmetric normalisation D^-1/2 A D^-1/2); the final embedding is the mean of the
    ``layers + 1`` propagation steps and a score is a dot product.

    ``loss_and_grad(users, pos_items, neg_items)`` runs forward and backward for a batch of
    triples (mean BPR loss + ``reg / 2 * Σ |e0|² / batch`` on the batch's ego embeddings) and
    leaves the gradient for an optimiser from :mod:`gnnkit.train`:

    >>> import numpy as np, gnnkit
    >>> users, items = np.array([0, 0, 1, 2]), np.array([0, 1, 1, 2])
    >>> model = gnnkit.nn.LightGCN(3, 3, users, items, dim=8, layers=2, seed=0)
    >>> opt = gnnkit.train.Adam(model, lr=0.01)
    >>> bpr, l2 = model.loss_and_grad([0, 1], [1, 1], [2, 0]); opt.step()
    >>> user_emb, item_emb = model.embeddings()
    >>> user_emb.shape, item_emb.shape
    ((3, 8), (3, 8))
    """

    def __init__(self, num_users: int, num_items: int, users: Any, items: Any, *, dim: int = 64,
                 layers: int = 3, reg: float = 1e-4, init_scale: float = 0.1, seed: int = 0,
                 num_threads: int = 0):
        indptr, sorted_items = _user_csr("LightGCN", num_users, users, items)
        self.num_users, self.num_items = int(num_users), int(num_items)
        self._m = _core.LightGCN(num_users, num_items, indptr, sorted_items, layers,
                                 dim, reg, init_scale, seed, num_threads)

    @property
    def embedding(self) -> np.ndarray:
        """E0, [users + items, dim], sharing the model's memory (users first)."""
        return np.asarray(self._m.embedding)

    def loss_and_grad(self, users: Any, pos_items: Any, neg_items: Any) -> Tuple[float, float]:
        """(mean BPR loss, L2 term) of the triples; the gradient goes to the optimiser."""
        return self._m.loss_and_grad(users, pos_items, neg_items)

    def hardest_negatives(self, users: Any, candidates: Any) -> np.ndarray:
        """Dynamic negative sampling: for row b, the item of ``candidates[b]`` ([batch, m]) that
        the model scores highest for ``users[b]``, as of its last ``loss_and_grad`` (one
        optimiser step stale in a training loop: no extra propagation)."""
        return self._m.hardest_negatives(users, candidates)

    def sample_negatives(self, users: Any, keys: Any, per_pair: int = 1, candidates: int = 1, *,
                         seed: int = 0, stream: int = 0) -> np.ndarray:
        """BPR negatives for positive pairs: ``per_pair`` items per pair (row-major, [len(users) *
        per_pair]) that the user has no training interaction with, each the hardest (as
        :meth:`hardest_negatives`) of ``candidates`` uniform draws (1 = uniform). Pair ``t``
        draws from the stream (seed, stream, keys[t]): the same for any threads or batching,
        and the same as gnnkit-recsys draws (keys = interaction index, stream = epoch)."""
        return self._m.sample_negatives(users, keys, per_pair, candidates, seed, stream)

    def embeddings(self) -> Tuple[np.ndarray, np.ndarray]:
        """Final (propagated) user [users, dim] and item [items, dim] embeddings."""
        return self._m.embeddings()


class TwoTower:
    """GraphSAGE two-tower recommender: ID embeddings of users and items (plus optional item
    features) through ``layers`` SAGE layers over the user-item graph of the training
    interactions; a pair scores ``h_user @ h_item``. Trained with BPR on link-sampled batches:
    ``train_step(users, items, key)`` draws ``negatives`` unseen items per positive pair,
    samples the joint neighbourhood of all endpoints with ``fanouts`` (one per layer), and runs
    forward and backward (mean BPR loss + ``reg / 2 * Σ |e|² / batch`` on the batch's ID
    embeddings), leaving the gradient for an optimiser from :mod:`gnnkit.train`. ``key``
    identifies the batch (e.g. ``epoch << 32 | batch``): same key, same sample.
    ``embeddings()`` runs layer-wise inference over the whole graph.

    >>> import numpy as np, gnnkit
    >>> users, items = np.array([0, 0, 1, 2, 2]), np.array([0, 1, 1, 2, 0])
    >>> model = gnnkit.nn.TwoTower(3, 4, users, items, dim=8, fanouts=[2, 2], seed=0)
    >>> opt = gnnkit.train.Adam(model, lr=0.01)
    >>> loss = model.train_step([0, 2], [1, 2], key=0); opt.step()
    >>> user_emb, item_emb = model.embeddings()
    >>> user_emb.shape, item_emb.shape
    ((3, 8), (4, 8))
    """

    def __init__(self, num_users: int, num_items: int, users: Any, items: Any, *,
                 item_features: Any = None, layers: int = 2, dim: int = 64, hidden: int = 64,
                 aggr: str = "mean", dropout: float = 0.0, reg: float = 1e-4,
                 init_scale: float = 0.1, fanouts: Sequence[int] = (10, 10), negatives: int = 1,
                 seed: int = 0, num_threads: int = 0):
        indptr, sorted_items = _user_csr("TwoTower", num_users, users, items)
        if item_features is not None:
            item_features = np.ascontiguousarray(item_features, dtype=np.float32)
        self.num_users, self.num_items = int(num_users), int(num_items)
        self._m = _core.TwoTower(num_users, num_items, indptr, sorted_items, item_features, layers,
                                 dim, hidden, aggr, dropout, reg, init_scale, seed, list(fanouts),
                                 negatives, num_threads)

    def train_step(self, users: Any, items: Any, key: int) -> float:
        """Mean BPR loss of the positive pairs (users[i], items[i]) and their negatives; the
        gradient goes to the optimiser."""
        return self._m.train_step(users, items, key)

    def embeddings(self) -> Tuple[np.ndarray, np.ndarray]:
        """Final user [users, dim] and item [items, dim] embeddings (every neighbour)."""
        u, i = self._m.embeddings()
        return np.asarray(u), np.asarray(i)
