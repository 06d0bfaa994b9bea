"""gnnkit.sampling: multi-hop neighbour sampling with NumPy outputs (and DeviceSampler, whose
batches stay in GPU memory as DLPack-ready tensors).

>>> sampler = gnnkit.sampling.NeighborSampler(graph, [15, 10])
>>> batch = sampler.sample(seeds)            # seeds: int64 ids of the seed node type
>>> batch.nodes["node"], batch.csc(("node", "to", "node"))

A MiniBatch lists, per node type, the global ids of its nodes (seeds first, then in the
order they were reached; the local id of a node is its position), and per relation one CSC
over local ids holding the edges of every hop: rows are destinations in local-id order,
``indices`` are local source ids, ``edge_ids`` the edges' ids in the graph (input positions;
with ``edge_ids="csc"`` their positions in the relation's CSC instead, which skips one random
read per edge: ``graph.csc(rel)[2][p]`` maps a position to its input id).
``blocks[h]`` gives, per node type, the destination rows expanded at hop h+1 (blocks[0] is
the seeds' hop); a K-layer model runs its input layer over rows expanded at hops 1..K and
its output layer over the seeds' rows only.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _core
from .graph import HeteroGraph, _relation_name

__all__ = ["NeighborSampler", "NeighborLoader", "LinkSampler", "LinkBatch", "MiniBatch", "Block",
           "SeedIdentity", "DeviceSampler", "DeviceMiniBatch"]


@dataclass(frozen=True)
class Block:
    """One hop: per node type, the local destination rows [dst_begin, dst_end) expanded at
    this hop, and num_src, the number of nodes reached by its end."""
    dst_begin: Dict[str, int]
    dst_end: Dict[str, int]
    num_src: Dict[str, int]
    num_edges: int


@dataclass(frozen=True)
class SampledRelation:
    """The sampled edges of one relation: CSC over local ids (read-only NumPy views)."""
    indptr: np.ndarray
    indices: np.ndarray
    edge_ids: np.ndarray
    src_type: str
    dst_type: str


class MiniBatch:
    """Nodes, per-relation CSCs and per-hop blocks of one sample (views, no copies)."""

    def __init__(self, raw: "_core.MiniBatch", graph: HeteroGraph):
        self._raw = raw
        types = graph.node_types
        self._types = types
        self.seed_type: str = types[raw.seed_type]
        self.nodes: Dict[str, np.ndarray] = {t: raw.nodes(i) for i, t in enumerate(types)}
        times = [raw.node_times(i) for i in range(len(types))]
        self.node_times: Optional[Dict[str, np.ndarray]] = (
            None if times[0] is None else dict(zip(types, times)))
        subtrees = [raw.node_seed(i) for i in range(len(types))]
        self.node_seed: Optional[Dict[str, np.ndarray]] = (
            None if subtrees[0] is None else dict(zip(types, subtrees)))
        #: Local id (in nodes[seed_type]) of each seed, in the order given.
        self.seed_local: np.ndarray = raw.seed_local
        self.relations: Dict[Tuple[str, str, str], SampledRelation] = {}
        for r, key in enumerate(graph.relations):
            indptr, indices, edge_ids, s, d = raw.relation(r)
            self.relations[key] = SampledRelation(indptr, indices, edge_ids, types[s], types[d])
        self.blocks: List[Block] = [
            Block(dict(zip(types, b)), dict(zip(types, e)), dict(zip(types, n)), int(k))
            for b, e, n, k in raw.blocks]

    def csc(self, relation) -> SampledRelation:
        key = relation if isinstance(relation, tuple) else next(
            (k for k in self.relations if "__".join(k) == relation or k[1] == relation), None)
        if key not in self.relations:
            raise ValueError(f"unknown relation {relation!r} (known: {list(self.relations)})")
        return self.relations[key]

    @property
    def num_edges(self) -> int:
        return self._raw.num_edges()

    def __repr__(self) -> str:
        nodes = ", ".join(f"{t}={len(v)}" for t, v in self.nodes.items())
        return f"MiniBatch(seed_type={self.seed_type!r}, nodes: {nodes}, edges={self.num_edges}, hops={len(self.blocks)})"


class NeighborSampler:
    """Multi-hop neighbour sampler over a HeteroGraph.

    fanouts: per hop, for every relation (-1: all neighbours, 0: none).
    relation_fanouts: ``{relation: [per hop]}`` overriding ``fanouts`` for some relations
        (relation as (src, rel, dst) or a name).
    replace: draw with replacement. weighted: draw by edge weight (the graph needs weights).
    temporal: None, "uniform" (among edges not later than the node's time) or "recent"
        (the most recent ones); needs timestamps, a graph built with ``sort_by_time=True``
        and ``disjoint=True``. strict_time: only edges strictly earlier than the time.
    disjoint: every seed gets its own subtree (repeated nodes are kept apart).
    edge_ids: "input" (the graph's edge ids) or "csc" (CSC positions: they index the graph's
        per-edge arrays directly and make sampling about a quarter faster on graphs that store
        edge ids).
    The same (seeds, batch, seed) give the same MiniBatch for any ``num_threads``.
    """

    def __init__(self, graph: HeteroGraph, fanouts: Sequence[int] = (), *,
                 relation_fanouts: Optional[Mapping[Any, Sequence[int]]] = None,
                 replace: bool = False, weighted: bool = False, temporal: Optional[str] = None,
                 strict_time: bool = False, disjoint: bool = False, edge_ids: str = "input"):
        self.graph = graph
        per_rel = [(_relation_name(k), [int(x) for x in v]) for k, v in (relation_fanouts or {}).items()]
        self._s = _core.NeighborSampler(graph._g, [int(f) for f in fanouts], per_rel, replace,
                                        weighted, temporal, strict_time, disjoint, edge_ids)

    @property
    def num_hops(self) -> int:
        return self._s.num_hops

    def sample(self, seeds: Any, seed_type: Optional[str] = None, *, seed_times: Any = None,
               batch: int = 0, seed: int = 0, num_threads: int = 0) -> MiniBatch:
        """Samples the neighbourhood of ``seeds`` (int64 ids of ``seed_type``; the only node
        type by default). ``batch`` and ``seed`` key the random streams."""
        if seed_type is None:
            types = self.graph.node_types
            if len(types) != 1:
                raise ValueError(f"seed_type must be given for a graph with node types {types}")
            seed_type = types[0]
        raw = self._s.sample(seed_type, seeds, seed_times, batch, seed, num_threads)
        return MiniBatch(raw, self.graph)


class DeviceMiniBatch:
    """A DeviceSampler batch where it was sampled: the same layout as MiniBatch, its arrays
    gnnkit Tensors in the context's memory (``torch.from_dlpack(t)`` shares them with PyTorch
    on the GPU; ``t.numpy()`` on the CPU). ``to_host()`` gives the MiniBatch."""

    def __init__(self, raw: "_core.DeviceMiniBatch", graph: HeteroGraph, context: "_core.Context"):
        self._raw = raw
        self._graph = graph
        self._context = context
        types = graph.node_types
        self.seed_type: str = types[raw.seed_type]
        self.nodes: Dict[str, Any] = dict(zip(types, raw.nodes))
        #: Local id (in nodes[seed_type]) of each seed, in the order given (int32 Tensor).
        self.seed_local = raw.seed_local
        #: (indptr, indices, edge_ids) Tensors per relation; edge ids are CSC positions.
        self.relations: Dict[Tuple[str, str, str], Tuple[Any, Any, Any]] = {
            key: tuple(raw.relation(r)[:3]) for r, key in enumerate(graph.relations)}
        self.blocks: List[Block] = [
            Block(dict(zip(types, b)), dict(zip(types, e)), dict(zip(types, n)), int(k))
            for b, e, n, k in raw.blocks]

    def output_nodes(self):
        """Global ids of the rows a model run on this batch outputs: the distinct seeds, in
        first-occurrence order (a Tensor view; index labels with it)."""
        return self._raw.output_nodes()

    def to_host(self) -> MiniBatch:
        return MiniBatch(self._raw.to_host(self._context), self._graph)

    def __repr__(self) -> str:
        nodes = ", ".join(f"{t}={v.shape[0]}" for t, v in self.nodes.items())
        return (f"DeviceMiniBatch(seed_type={self.seed_type!r}, device={self._context.device}, nodes: {nodes}, "
                f"hops={len(self.blocks)})")


class DeviceSampler:
    """Uniform neighbour sampling without replacement over a graph copied to a device: on a GPU
    with ``context=gnnkit.Context.cuda()``, or on the CPU (the same algorithm, for testing).

    fanouts: per hop, for every relation (-1: all neighbours). relation_fanouts:
    ``{relation: [per hop]}`` for some relations (0 skips a relation at a hop; the others take
    ``fanouts``, or 0 when it is empty). Seeds may already lie on the device (a gnnkit Tensor
    or any DLPack producer, such as a CUDA torch tensor): they are checked there. The same
    (context seed, batch) gives the same batch on any device and thread count; the draws
    differ from NeighborSampler's (another random scheme, the same distribution).
    """

    def __init__(self, graph: HeteroGraph, fanouts: Sequence[int] = (), *,
                 relation_fanouts: Optional[Mapping[Any, Sequence[int]]] = None,
                 context: Optional["_core.Context"] = None):
        self.graph = graph
        self.context = context if context is not None else _core.Context.cpu()
        per_rel = [(_relation_name(k), [int(x) for x in v]) for k, v in (relation_fanouts or {}).items()]
        self._s = _core.DeviceSampler(graph._g, self.context, [int(f) for f in fanouts], per_rel)

    def sample(self, seeds: Any, seed_type: Optional[str] = None, *, batch: int = 0) -> DeviceMiniBatch:
        """Samples the neighbourhood of ``seeds`` (int64 ids of ``seed_type``; the only node
        type by default); ``batch`` keys the random streams with the context's seed."""
        if seed_type is None:
            types = self.graph.node_types
            if len(types) != 1:
                raise ValueError(f"seed_type must be given for a graph with node types {types}")
            seed_type = types[0]
        if seed_type not in self.graph.node_types:
            raise ValueError(f"unknown seed_type {seed_type!r} (node types: {self.graph.node_types})")
        if isinstance(seeds, (list, tuple, np.ndarray)):
            seeds = np.ascontiguousarray(seeds, dtype=np.int64)
        raw = self._s.sample(self.context, self.graph.node_types.index(seed_type), seeds, batch)
        return DeviceMiniBatch(raw, self.graph, self.context)


class SeedIdentity:
    """Seed-identity input columns for disjoint mini-batches (identity-aware GNNs, You et al.
    2021): a GNN cannot tell whether the user of an earlier payment on a card is the paying
    user or another account; these columns tell it.

    The target type's functional relations are those into it in which every target node has
    exactly one source (a transaction's user, card, device...). For a node of a disjoint
    MiniBatch whose seeds are of the target type, ``columns(batch, type)`` gives float32
    rows: for target nodes one column per functional relation (1: the same entity as its
    seed's), for an entity type one column (1: one of its seed's own entities); other types
    get zero columns. Append them to the node features.

    >>> ident = gnnkit.sampling.SeedIdentity(graph, "transaction")
    >>> x = {t: np.hstack([graph.gather(t, mb.nodes[t]), ident(mb, t)]) for t in graph.node_types}
    """

    def __init__(self, graph: HeteroGraph, target: str):
        self.graph = graph
        self.target = target
        self._s = _core.SeedIdentity(graph._g, target)

    @property
    def entity_types(self) -> List[str]:
        """Source node type of each functional relation (column order of the target)."""
        return [self.graph.node_types[t] for t in self._s.entity_types]

    @property
    def empty(self) -> bool:
        return not self._s.entity_types

    def num_columns(self, node_type: str) -> int:
        return self._s.columns(self.graph.node_types.index(node_type))

    def __call__(self, batch: MiniBatch, node_type: str) -> np.ndarray:
        if node_type not in self.graph.node_types:
            raise ValueError(f"unknown node type {node_type!r} (known: {self.graph.node_types})")
        return self._s.fill(batch._raw, self.graph.node_types.index(node_type))

    def __repr__(self) -> str:
        return f"SeedIdentity(target={self.target!r}, entities=[{self._s.describe()}])"


def _integers(values: Any, what: str) -> np.ndarray:
    """1-d int64 ids from anything array-like; floats only when every value is whole (a cast
    would silently turn 2.9 into 2 and NaN into garbage)."""
    a = np.asarray(values)
    if a.size and a.dtype.kind not in "iu":
        whole = a.dtype.kind == "f" and bool(np.all(np.isfinite(a))) and bool(np.all(a == np.trunc(a)))
        if not whole:
            raise ValueError(f"NeighborLoader: '{what}' must hold integers, got dtype {a.dtype}")
    return np.ascontiguousarray(a, dtype=np.int64).ravel()


class NeighborLoader:
    """Iterates seed nodes in mini-batches, sampling and gathering features for the next
    ``prefetch`` batches on background threads while the caller trains.

    >>> loader = NeighborLoader(graph, train_ids, [15, 10], batch_size=1024, features=["x"])
    >>> for batch in tqdm(loader):           # len(loader) batches per epoch
    ...     x = batch.x["node"]              # float32 [num_nodes, F], rows in local order
    ...     y = batch.y                      # labels of the seeds (when the graph has labels)

    Each ``iter()`` is a new epoch (reshuffled with ``seed`` and the epoch number). Outputs
    are NumPy views: ``torch.from_numpy`` shares them without copies. Batches are the same for
    any ``num_workers``/``threads_per_worker``.
    features: feature names of the seed node type, or (node_type, name) pairs.
    Other keyword arguments go to :class:`NeighborSampler` (relation_fanouts, replace,
    weighted, temporal, strict_time, disjoint, edge_ids).
    """

    def __init__(self, graph: HeteroGraph, seeds: Any, fanouts: Sequence[int] = (), *,
                 seed_type: Optional[str] = None, seed_times: Any = None, batch_size: int = 1024,
                 shuffle: bool = True, drop_last: bool = False, seed: int = 0,
                 features: Sequence[Any] = (), labels: bool = True, prefetch: int = 2,
                 num_workers: int = 1, threads_per_worker: int = 1, **sampler_options: Any):
        if seed_type is None:
            types = graph.node_types
            if len(types) != 1:
                raise ValueError(f"seed_type must be given for a graph with node types {types}")
            seed_type = types[0]
        self.graph = graph
        self.seed_type = seed_type
        self.sampler = NeighborSampler(graph, fanouts, **sampler_options)
        pairs = [(f if isinstance(f, tuple) else (seed_type, f)) for f in features]
        self._feature_keys = pairs
        seeds = _integers(seeds, "seeds")
        times = [] if seed_times is None else _integers(seed_times, "seed_times").tolist()
        self._labels = None
        if labels:
            try:
                self._labels = graph.labels(seed_type)
            except ValueError:
                self._labels = None
        self._loader = _core.NeighborLoader(self.sampler._s, graph._g, seed_type, seeds.tolist(), times,
                                            batch_size, shuffle, drop_last, seed, prefetch,
                                            num_workers, threads_per_worker, pairs)
        self._epoch = 0

    def __len__(self) -> int:
        return self._loader.num_batches()

    def __iter__(self):
        # One epoch at a time: a newer iterator restarts the loader, and an older one would
        # go on taking the new epoch's batches, so it raises instead.
        token = self._active = object()
        self._loader.start_epoch(self._epoch)
        self._epoch += 1
        while True:
            if self._active is not token:
                raise RuntimeError("NeighborLoader: a newer iteration of this loader has started "
                                   "(iter() was called again); only the newest iterator may go on")
            raw = self._loader.next()
            if raw is None:
                return
            yield LoaderBatch(raw, self)


class LoaderBatch:
    """A prepared batch: ``mini_batch`` (a MiniBatch), ``seeds``, ``x`` (node type -> features,
    or ``{(type, name): ...}`` when several names per type), ``y`` (seed labels or None)."""

    def __init__(self, raw: "_core.LoaderBatch", loader: NeighborLoader):
        self._raw = raw
        self.index: int = raw.index
        self.seeds: np.ndarray = raw.seeds
        self.seed_times = raw.seed_times
        self.mini_batch = MiniBatch(raw.mini_batch, loader.graph)
        keys = loader._feature_keys
        one_per_type = len({t for t, _ in keys}) == len(keys)
        self.x: Dict[Any, np.ndarray] = {
            (t if one_per_type else (t, n)): raw.features(i) for i, (t, n) in enumerate(keys)}
        self.y = None if loader._labels is None else loader._labels[self.seeds]

    def __repr__(self) -> str:
        return f"LoaderBatch(index={self.index}, seeds={len(self.seeds)}, {self.mini_batch!r})"


class LinkSampler:
    """Link sampling for link prediction and recommendation: for positive (src, dst) pairs of
    ``relation``, draws ``num_negatives`` negative destinations per positive ("uniform" or
    "degree": by in-degree**0.75), optionally never an existing edge (``exclude_positives``;
    fastest when the graph was built with ``build_csr=True``), and samples the joint
    neighbourhood of all endpoints. Other keyword arguments go to :class:`NeighborSampler`.
    """

    def __init__(self, graph: HeteroGraph, relation: Any, fanouts: Sequence[int] = (), *,
                 num_negatives: int = 1, negatives: str = "uniform",
                 exclude_positives: bool = False, max_tries: int = 100, **sampler_options: Any):
        self.graph = graph
        self.sampler = NeighborSampler(graph, fanouts, **sampler_options)
        self._ls = _core.LinkSampler(self.sampler._s, _relation_name(relation), num_negatives,
                                     negatives, exclude_positives, max_tries)
        self.num_negatives = num_negatives

    def sample(self, src: Any, dst: Any, *, batch: int = 0, seed: int = 0,
               num_threads: int = 0) -> "LinkBatch":
        return LinkBatch(self._ls.sample(src, dst, batch, seed, num_threads), self)


class LinkBatch:
    """``mini_batch``; local ids ``src``, ``dst`` of the positives and ``neg_dst`` [P, k] of
    the negatives. ``bpr_triplets()`` and ``edge_label_index()`` give training inputs."""

    def __init__(self, raw: "_core.LinkBatch", sampler: LinkSampler):
        self._raw = raw
        self.mini_batch = MiniBatch(raw.mini_batch, sampler.graph)
        self.src: np.ndarray = raw.src
        self.dst: np.ndarray = raw.dst
        k = sampler.num_negatives
        self.neg_dst: np.ndarray = raw.neg_dst.reshape(len(self.src), k)
        self.neg_dst_global: np.ndarray = raw.neg_dst_global.reshape(len(self.src), k)

    def bpr_triplets(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(src, positive dst, negative dst) local ids, one triplet per negative."""
        k = self.neg_dst.shape[1]
        return np.repeat(self.src, k), np.repeat(self.dst, k), self.neg_dst.ravel()

    def edge_label_index(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(src, dst, label) over positives (label 1) then negatives (label 0), local ids."""
        k = self.neg_dst.shape[1]
        src = np.concatenate([self.src, np.repeat(self.src, k)])
        dst = np.concatenate([self.dst, self.neg_dst.ravel()])
        label = np.concatenate([np.ones(len(self.src), np.float32), np.zeros(len(self.src) * k, np.float32)])
        return src, dst, label
