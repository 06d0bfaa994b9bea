"""gnnkit.HeteroGraph: heterogeneous graph storage with NumPy in and out.

A graph has node types with counts and relations ``(src_type, rel, dst_type)``; per relation
it stores a CSC (dst-major) adjacency, edge ids (each edge's position in the input),
optional timestamps and weights, and optionally a CSR. It is immutable once built. Node
and edge features live beside it and can be set and read without copies.

>>> import numpy as np, gnnkit
>>> g = gnnkit.HeteroGraph.from_edges(
...     {("user", "owns", "card"): (np.array([0, 1]), np.array([1, 0]))},
...     num_nodes={"user": 2, "card": 2})
>>> g.num_edges()
2
"""
from __future__ import annotations

import os
from typing import Any, Dict, Iterable, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _core

EdgeType = Tuple[str, str, str]
RelationKey = Union[str, EdgeType]

_OPTION_NAMES = ("drop_duplicates", "self_loops", "add_reverse", "sort_by_time", "build_csr",
                 "keep_edge_ids", "index_width")


def _relation_name(relation: RelationKey) -> str:
    if isinstance(relation, tuple):
        if len(relation) != 3 or not all(isinstance(p, str) for p in relation):
            raise ValueError(f"relation must be (src_type, rel, dst_type) or a name, got {relation!r}")
        return "__".join(relation)
    if not isinstance(relation, str):
        raise ValueError(f"relation must be (src_type, rel, dst_type) or a name, got {relation!r}")
    return relation


def read_edge_list(path: Union[str, os.PathLike], *, delimiter: str = ",",
                   header: Union[bool, str] = "auto", string_keys: bool = True,
                   shared_ids: bool = True, src_column: int = 0, dst_column: int = 1,
                   timestamp_column: Optional[int] = None, weight_column: Optional[int] = None,
                   num_threads: int = 0) -> "_core.EdgeList":
    """Parses an edge-list CSV ``src,dst[,timestamp][,weight]`` in parallel.

    string_keys: src/dst are keys (any text: card numbers, device ids) mapped to dense ids in
        order of first appearance (``.src_keys()`` gives them back); False: integer ids >= 0.
    shared_ids: src and dst keys share one id space (one node type).
    header: "auto" (detected), True or False. Timestamps may be fractional (floored).
    Returns an EdgeList with int64 ``src``/``dst``, ``timestamps``, ``weights`` (NumPy).
    Raises OSError (gnnkit.FormatError) naming the file, line, column and bad text.
    """
    header_mode = {True: "yes", False: "no", "auto": "auto"}.get(header, str(header))
    return _core.read_edge_list(os.fspath(path), delimiter, header_mode, string_keys, shared_ids,
                                src_column, dst_column,
                                -1 if timestamp_column is None else timestamp_column,
                                -1 if weight_column is None else weight_column, num_threads)


def build_graph_file(output: Union[str, os.PathLike], num_nodes: Mapping[str, int],
                     relations: Mapping[EdgeType, Tuple[Any, Any]], *,
                     timestamps: Optional[Mapping[EdgeType, Any]] = None,
                     weights: Optional[Mapping[EdgeType, Any]] = None, add_reverse: bool = False,
                     keep_edge_ids: bool = True, memory_budget: int = 1 << 30,
                     num_threads: int = 0) -> dict:
    """Builds a graph file out of core from raw little-endian edge files (int64 src and dst
    per relation, optional int64 timestamps and float32 weights), for graphs larger than
    memory: memory stays near ``memory_budget`` plus 8 bytes per destination node. The file
    equals ``HeteroGraph.from_edges(...).save(output)`` with the same options. Open it with
    :meth:`HeteroGraph.load`. Returns ``{"num_edges", "windows", "file_bytes"}``."""
    rels = []
    for key, (src_path, dst_path) in relations.items():
        rels.append((key[0], key[1], key[2], os.fspath(src_path), os.fspath(dst_path),
                     os.fspath((timestamps or {}).get(key, "")), os.fspath((weights or {}).get(key, ""))))
    num_edges, windows, size = _core.build_graph_file(os.fspath(output), list(num_nodes.items()), rels,
                                                      add_reverse, keep_edge_ids, int(memory_budget),
                                                      num_threads)
    return {"num_edges": num_edges, "windows": windows, "file_bytes": size}


class HeteroGraph:
    """An immutable heterogeneous graph plus mutable feature storage.

    Build with :meth:`from_edges`, :meth:`from_scipy` or :meth:`from_pandas`, or open a
    saved file with :meth:`load` (memory-mapped: opening is instant at any size).
    """

    def __init__(self, graph: "_core.Graph"):
        self._g = graph
        self._keys_cache: Dict[str, np.ndarray] = {}

    @property
    def node_keys(self) -> Dict[str, np.ndarray]:
        """For node types whose ids were made from keys (from_pandas, from_csv): node type ->
        array of the original key of each dense id (as str). Saved with the graph."""
        for node_type in self._g.key_types():
            if node_type not in self._keys_cache:
                self._keys_cache[node_type] = np.array(self._g.node_keys(node_type), dtype=object)
        return dict(self._keys_cache)

    def set_node_keys(self, node_type: str, keys: Iterable[Any]) -> None:
        """Records the original key of each node of ``node_type`` (stored as str)."""
        keys = list(keys)
        self._g.set_node_keys(node_type, keys)
        self._keys_cache[node_type] = np.array([str(k) for k in keys], dtype=object)

    # ---- construction ---------------------------------------------------------------------

    @classmethod
    def from_edges(cls, edges: Union[Mapping[EdgeType, Tuple[Any, Any]], Tuple[Any, Any]],
                   num_nodes: Union[Mapping[str, int], int, None] = None, *,
                   timestamps: Optional[Mapping[EdgeType, Any]] = None,
                   weights: Optional[Mapping[EdgeType, Any]] = None,
                   drop_duplicates: bool = False, self_loops: str = "keep",
                   add_reverse: bool = False, sort_by_time: bool = False,
                   build_csr: bool = False, keep_edge_ids: bool = True,
                   index_width: str = "auto", num_threads: int = 0) -> "HeteroGraph":
        """Builds a graph from COO edges, in O(E) on ``num_threads`` threads (0: all).

        edges: ``{(src_type, rel, dst_type): (src_ids, dst_ids)}``, or ``(src_ids, dst_ids)``
            for a homogeneous graph (node type ``"node"``, relation ``"to"``). int32/int64
            C-contiguous arrays are read in place.
        num_nodes: ``{type: count}`` (or an int for a homogeneous graph). Types left out get
            ``max id + 1``. Node types are ordered as given, then as first seen in edges.
        timestamps / weights: per relation int64 / float32 arrays aligned with the edges.
        drop_duplicates: keep the first of repeated (src, dst) pairs.
        self_loops: "keep", "drop", or "add" (one loop for every node without one, for
            relations whose source and destination types are the same).
        add_reverse: also store ``(dst, "rev_" + rel, src)`` for every relation.
        sort_by_time: order each neighbour list by timestamp (temporal sampling needs it).
        build_csr: also store the src-major CSR. keep_edge_ids: store edge ids (8 B/edge).
        index_width: "auto" (int32 when the source type has < 2**31 nodes), "int32", "int64".

        Raises ValueError / IndexError naming the relation, array and first bad index.
        """
        if isinstance(edges, tuple):
            edges = {("node", "to", "node"): edges}
            if timestamps is not None and not isinstance(timestamps, Mapping):
                timestamps = {("node", "to", "node"): timestamps}
            if weights is not None and not isinstance(weights, Mapping):
                weights = {("node", "to", "node"): weights}
        if not isinstance(edges, Mapping):
            raise ValueError("edges must be {(src_type, rel, dst_type): (src, dst)} or (src, dst), "
                             f"got {type(edges).__name__}")
        if isinstance(num_nodes, (int, np.integer)):
            num_nodes = {"node": int(num_nodes)}
        counts: Dict[str, int] = dict(num_nodes or {})
        relations = []
        for key, pair in edges.items():
            if not (isinstance(key, tuple) and len(key) == 3):
                raise ValueError(f"edges keys must be (src_type, rel, dst_type), got {key!r}")
            if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
                raise ValueError(f"relation '{'__'.join(key)}': value must be (src_ids, dst_ids)")
            src, dst = pair
            for node_type, ids in ((key[0], src), (key[2], dst)):
                if node_type not in counts:
                    arr = np.asarray(ids)
                    counts[node_type] = int(arr.max()) + 1 if arr.size else 0
            ts = (timestamps or {}).get(key)
            w = (weights or {}).get(key)
            relations.append((key[0], key[1], key[2], src, dst, ts, w))
        for name, table in (("timestamps", timestamps), ("weights", weights)):
            for key in (table or {}):
                if key not in edges:
                    raise ValueError(f"{name} given for unknown relation {key!r}")
        options = dict(drop_duplicates=drop_duplicates, self_loops=self_loops,
                       add_reverse=add_reverse, sort_by_time=sort_by_time, build_csr=build_csr,
                       keep_edge_ids=keep_edge_ids, index_width=index_width)
        return cls(_core.Graph.build(list(counts.items()), relations, options, num_threads))

    @classmethod
    def from_scipy(cls, matrix: Any, *, weighted: bool = False, node_type: str = "node",
                   rel: str = "to", **options: Any) -> "HeteroGraph":
        """A homogeneous graph from a square scipy.sparse matrix: entry (i, j) is an edge
        i -> j; ``weighted=True`` stores the values as float32 weights."""
        import scipy.sparse as sp

        if not sp.issparse(matrix):
            raise ValueError(f"matrix must be a scipy.sparse matrix, got {type(matrix).__name__}")
        if matrix.shape[0] != matrix.shape[1]:
            raise ValueError(f"matrix must be square (one node type), got shape {matrix.shape}")
        coo = matrix.tocoo()
        key = (node_type, rel, node_type)
        weights = {key: coo.data.astype(np.float32)} if weighted else None
        return cls.from_edges({key: (coo.row.astype(np.int64), coo.col.astype(np.int64))},
                              {node_type: int(matrix.shape[0])}, weights=weights, **options)

    @classmethod
    def from_pandas(cls, df: Any, *, src: str, dst: str, src_type: str = "node",
                    dst_type: Optional[str] = None, rel: str = "to",
                    timestamp: Optional[str] = None, weight: Optional[str] = None,
                    **options: Any) -> "HeteroGraph":
        """A one-relation graph from a DataFrame whose ``src``/``dst`` columns hold keys (card
        numbers, device ids, any hashable values). Keys become dense ids in order of first
        appearance; ``graph.node_keys[type]`` maps each id back to its key. When both ends
        have the same node type they share one id space."""
        import pandas as pd

        dst_type = dst_type or src_type
        for column in (src, dst, timestamp, weight):
            if column is not None and column not in df.columns:
                raise ValueError(f"from_pandas: column '{column}' not in the DataFrame "
                                 f"(columns: {list(df.columns)})")
        if src_type == dst_type:
            codes, uniques = pd.factorize(pd.concat([df[src], df[dst]], ignore_index=True))
            n = len(df)
            src_ids, dst_ids = codes[:n], codes[n:]
            keys = {src_type: np.asarray(uniques)}
            counts = {src_type: len(uniques)}
        else:
            src_ids, su = pd.factorize(df[src])
            dst_ids, du = pd.factorize(df[dst])
            keys = {src_type: np.asarray(su), dst_type: np.asarray(du)}
            counts = {src_type: len(su), dst_type: len(du)}
        if (src_ids < 0).any() or (dst_ids < 0).any():
            raise ValueError(f"from_pandas: columns '{src}' and '{dst}' must not hold missing keys")
        key = (src_type, rel, dst_type)
        ts = {key: df[timestamp].to_numpy(np.int64)} if timestamp else None
        w = {key: df[weight].to_numpy(np.float32)} if weight else None
        graph = cls.from_edges({key: (src_ids.astype(np.int64), dst_ids.astype(np.int64))}, counts,
                               timestamps=ts, weights=w, **options)
        for node_type, values in keys.items():
            graph.set_node_keys(node_type, values)
        return graph

    @classmethod
    def from_csv(cls, path: Union[str, os.PathLike], *, src_type: str = "node",
                 dst_type: Optional[str] = None, rel: str = "to", delimiter: str = ",",
                 header: Union[bool, str] = "auto", string_keys: bool = True,
                 src_column: int = 0, dst_column: int = 1, timestamp_column: Optional[int] = None,
                 weight_column: Optional[int] = None, num_threads: int = 0,
                 **options: Any) -> "HeteroGraph":
        """A one-relation graph from an edge-list CSV (see :func:`read_edge_list`); string keys
        become dense ids and are kept in ``node_keys`` (and saved with the graph)."""
        dst_type = dst_type or src_type
        edges = read_edge_list(path, delimiter=delimiter, header=header, string_keys=string_keys,
                               shared_ids=src_type == dst_type, src_column=src_column,
                               dst_column=dst_column, timestamp_column=timestamp_column,
                               weight_column=weight_column, num_threads=num_threads)
        key = (src_type, rel, dst_type)
        counts = {src_type: edges.num_src_nodes}
        counts.setdefault(dst_type, edges.num_dst_nodes)
        graph = cls.from_edges({key: (edges.src, edges.dst)}, counts,
                               timestamps={key: edges.timestamps} if edges.timestamps is not None else None,
                               weights={key: edges.weights} if edges.weights is not None else None,
                               num_threads=num_threads, **options)
        if edges.has_keys():
            graph._g.set_edge_list_keys(edges, src_type, dst_type)
        return graph

    # ---- files ----------------------------------------------------------------------------

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Writes graph and features atomically (temp file + rename): an existing file is never
        left half-written. Raises OSError naming the path."""
        self._g.save(os.fspath(path))

    @classmethod
    def load(cls, path: Union[str, os.PathLike], *, verify: bool = False) -> "HeteroGraph":
        """Memory-maps a saved graph (zero-copy). ``verify=True`` also checks every checksum and
        index range (use it for files you did not write). Raises OSError (gnnkit.FormatError /
        gnnkit.IoError) naming the file and the problem."""
        return cls(_core.Graph.load(os.fspath(path), verify))

    # ---- structure ------------------------------------------------------------------------

    @property
    def node_types(self) -> list:
        return list(self._g.node_types)

    @property
    def relations(self) -> list:
        """Relations as (src_type, rel, dst_type) tuples, in storage order."""
        return [tuple(r) for r in self._g.relations]

    def num_nodes(self, node_type: Optional[str] = None) -> int:
        return self._g.total_nodes() if node_type is None else self._g.num_nodes(node_type)

    def num_edges(self, relation: Optional[RelationKey] = None) -> int:
        return self._g.total_edges() if relation is None else self._g.num_edges(_relation_name(relation))

    @property
    def nbytes(self) -> int:
        """Bytes held by the adjacency arrays (features not included)."""
        return self._g.nbytes()

    def csc(self, relation: RelationKey) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
        """(indptr, indices, edge_ids) of the dst-major adjacency; read-only zero-copy views."""
        return self._g.csc(_relation_name(relation))

    def csr(self, relation: RelationKey):
        """(indptr, indices, csc_positions) of the src-major adjacency, or None if not built."""
        return self._g.csr(_relation_name(relation))

    def timestamps(self, relation: RelationKey) -> Optional[np.ndarray]:
        """Edge timestamps in CSC order (read-only), or None."""
        return self._g.timestamps(_relation_name(relation))

    def weights(self, relation: RelationKey) -> Optional[np.ndarray]:
        """Edge weights in CSC order (read-only), or None."""
        return self._g.weights(_relation_name(relation))

    def degree(self, relation: RelationKey, direction: str = "in") -> np.ndarray:
        """In-degree of every destination node ("in") or out-degree of every source ("out")."""
        name = _relation_name(relation)
        if direction == "in":
            return np.diff(self._g.csc(name)[0])
        if direction == "out":
            csr = self._g.csr(name)
            if csr is not None:
                return np.diff(csr[0])
            src_type = self._g.relation_name(name).split("__")[0]
            return np.bincount(self._g.csc(name)[1], minlength=self._g.num_nodes(src_type))
        raise ValueError(f"direction must be 'in' or 'out', got {direction!r}")

    # ---- features -------------------------------------------------------------------------

    def set_features(self, node_type: str, x: Any, name: str = "x", *, check_finite: bool = True) -> None:
        """Stores node features (float32 [num_nodes, F]); a C-contiguous float32 array is
        shared, not copied. Raises ValueError for a wrong row count or non-finite values."""
        self._g.set_node_features(node_type, name, x, check_finite)

    def features(self, node_type: str, name: str = "x") -> np.ndarray:
        """Node features as a NumPy view (no copy)."""
        return self._g.node_features(node_type, name)

    def set_edge_features(self, relation: RelationKey, x: Any, name: str = "x", *,
                          check_finite: bool = True) -> None:
        """Edge features, one row per edge id (input position)."""
        self._g.set_edge_features(_relation_name(relation), name, x, check_finite)

    def edge_features(self, relation: RelationKey, name: str = "x") -> np.ndarray:
        return self._g.edge_features(_relation_name(relation), name)

    def set_labels(self, node_type: str, y: Any) -> None:
        """int64 labels, one per node (-1 for unlabelled by convention)."""
        self._g.set_labels(node_type, y)

    def labels(self, node_type: str) -> np.ndarray:
        return self._g.labels(node_type)

    def set_node_times(self, node_type: str, t: Any) -> None:
        """int64 per-node timestamps (e.g. a transaction's time)."""
        self._g.set_node_times(node_type, t)

    def node_times(self, node_type: str) -> np.ndarray:
        return self._g.node_times(node_type)

    def gather(self, node_type: str, ids: Any, name: str = "x", *, out: Optional[np.ndarray] = None,
               num_threads: int = 0) -> np.ndarray:
        """Rows ``features(node_type, name)[ids]`` gathered in parallel, into ``out`` when given
        (a reusable float32 [len(ids), F] buffer). Raises IndexError for an id out of range."""
        return self._g.gather(node_type, name, ids, out, num_threads)

    # ---- display --------------------------------------------------------------------------

    def __repr__(self) -> str:
        nodes = ", ".join(f"{t}={self._g.num_nodes(t):,}" for t in self._g.node_types)
        edges = ", ".join(f"{'__'.join(r)}={self._g.num_edges('__'.join(r)):,}" for r in self._g.relations)
        feats = []
        for kind, owner, name in self._g.feature_keys():
            if kind == "node":
                x = self._g.node_features(owner, name)
                feats.append(f"{owner}/{name} {list(x.shape)}")
            elif kind == "edge":
                x = self._g.edge_features(owner, name)
                feats.append(f"edge {owner}/{name} {list(x.shape)}")
            else:
                feats.append(f"{owner}/{kind}")
        lines = [f"HeteroGraph(nodes: {nodes}", f"            edges: {edges}"]
        if feats:
            lines.append(f"            features: {', '.join(feats)}")
        return "\n".join(lines) + ")"
