"""Real public graph datasets, loaded into NumPy arrays (fraud, recommendation, citation).

The files live outside the repository, in the shared data folder described by its
``README.md`` (format, source and verified statistics of every file). Nothing is downloaded.

>>> from gnnkit import datasets
>>> ds = datasets.load("cora")                      # doctest: +SKIP
>>> ds.num_nodes, ds.features["node"].shape         # doctest: +SKIP
({'node': 2708}, (2708, 1433))

Datasets (``load(name)``):

==================== ============================================================================
name                 what ``load`` returns
==================== ============================================================================
amazon-fraud-upu     node type ``"node"`` (10,224 Amazon users), relation ``("node","to","node")``
                     (U-P-U, every nonzero of the symmetric ``.mat`` adjacency as a directed edge),
                     25 raw features, labels 1 = fraudulent / 0 = benign, seeded stratified split.
yelpchi-rur          same layout: 23,831 Yelp reviews, R-U-R relation, 32 features, 1 = spam.
bitcoin-otc-rev2     node type ``"user"``, relation ``("user","rates","user")`` (directed), weights
                     = rating (-10..10), timestamps = Unix seconds (floor), no features; labels
                     1 = fraudulent, 0 = benign, -1 = unlabelled (REV2 ground truth); seeded
                     stratified split over the labelled users; ``extra["id_map"]``.
bitcoin-alpha-rev2   same layout as OTC (duplicate ground-truth lines are merged).
movielens-100k       node types ``"user"``/``"item"``, relation ``("user","interacts","item")`` =
                     the canonical ``u1.base`` ratings (weights = rating, timestamps = Unix time);
                     ``u1.test`` in ``extra["test"]``; user and item features (see below).
movielens-1m-lcfn    ``"user"``/``"item"``, train interactions as edges (LightGCN text format),
                     test interactions in ``extra["test"]``; no features, weights or timestamps.
amazon-cds           same layout as movielens-1m-lcfn.
cora, citeseer       node type ``"node"``, relation ``("node","to","node")``: the Planetoid citation
                     graph made symmetric, duplicates and self loops removed; binary bag-of-words
                     features (NOT row-normalised); Planetoid public split (as Kipf's GCN).
==================== ============================================================================

Every loader returns a :class:`Dataset` with these fields:

- ``num_nodes``: node type -> count.
- ``edges``: ``(src_type, rel, dst_type)`` -> ``(src, dst)``, int64, dense 0-based ids.
- ``edge_timestamps`` / ``edge_weights``: per relation, int64 / float32, aligned with ``edges``;
  empty dicts when the data has none.
- ``features``: node type -> float32 ``[n, F]`` C-contiguous (absent node types have none).
- ``labels``: node type -> int64 ``[n]``, -1 where unlabelled (empty for recommendation data).
- ``splits``: ``"train"``/``"val"``/``"test"`` -> sorted int64 node ids of the labelled node
  type (node classification only; recommendation data keeps its test interactions in
  ``extra["test"]`` and has empty ``splits``).
- ``split_note``: ``"published: ..."`` or how the seeded split was made.
- ``extra``: everything else (id maps, test interactions, raw attribute values, ...).

The fraud datasets have no published split. ``load`` makes one: per class, the node ids are
shuffled with ``numpy.random.default_rng(seed)`` and the first ``round(train * n_c)`` go to
train, the next ``round(val * n_c)`` to val and the rest to test (defaults 0.4 / 0.2 / 0.4), so
every split holds each class within one node of its exact share. Bitcoin splits only the
labelled users.

The data root is ``root`` if given, else the environment variable ``GNNKIT_DATA_ROOT``, else
the first folder ``shared/data`` found beside a parent folder of this file (the checkout's
``../shared/data``). A missing root, dataset folder or file raises ``OSError`` naming the path;
a malformed file raises ``ValueError`` naming the file and the line or field.

This module imports only NumPy, SciPy and the standard library; ``gnnkit`` (the compiled core)
is imported only by :meth:`Dataset.to_graph`.
"""
from __future__ import annotations

import collections
import io
import math
import os
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, NamedTuple, Optional, Sequence, Union

import numpy as np
import scipy.io
import scipy.sparse

__all__ = ["Dataset", "load", "available", "NAMES"]

EdgeType = tuple[str, str, str]
PathLike = Union[str, "os.PathLike[str]"]

#: Environment variable naming the data root.
ENV_VAR = "GNNKIT_DATA_ROOT"

# Where the default-root search starts (a module variable so tests can point it elsewhere).
_SEARCH_START = Path(__file__).resolve().parent

_DEFAULT_TRAIN = 0.4
_DEFAULT_VAL = 0.2


@dataclass(repr=False)
class Dataset:
    """A loaded dataset: typed nodes, per-relation edge lists and node data as NumPy arrays.

    See the module docstring for the meaning of each field. Arrays are owned by the dataset
    (no views of shared buffers) and can be handed to :meth:`to_graph` or used directly.
    """

    name: str
    num_nodes: dict[str, int] = field(default_factory=dict)
    edges: dict[EdgeType, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    edge_timestamps: dict[EdgeType, np.ndarray] = field(default_factory=dict)
    edge_weights: dict[EdgeType, np.ndarray] = field(default_factory=dict)
    features: dict[str, np.ndarray] = field(default_factory=dict)
    labels: dict[str, np.ndarray] = field(default_factory=dict)
    splits: dict[str, np.ndarray] = field(default_factory=dict)
    split_note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        rels = ", ".join(f"{'__'.join(r)}: {len(s):,}" for r, (s, _) in self.edges.items())
        feats = ", ".join(f"{t}: {x.shape[1]}" for t, x in self.features.items())
        splits = "/".join(f"{len(v)}" for v in self.splits.values()) or "none"
        return (f"Dataset({self.name!r}, num_nodes={self.num_nodes}, edges={{{rels}}}, "
                f"feature_widths={{{feats}}}, splits={splits})")

    def to_graph(self, **options: Any) -> Any:
        """Build a ``gnnkit.HeteroGraph`` from this dataset.

        Calls ``gnnkit.HeteroGraph.from_edges(self.edges, num_nodes=self.num_nodes,
        timestamps=self.edge_timestamps or None, weights=self.edge_weights or None,
        **options)`` (``options`` go to the builder, e.g. to add reverse relations), then
        attaches each node type's features with ``graph.set_features(ntype, array)`` and labels
        with ``graph.set_labels(ntype, array)``. Returns the graph.

        Raises NotImplementedError when the installed gnnkit has no ``HeteroGraph`` (or the
        graph lacks ``set_features`` / ``set_labels`` while the dataset has such data).
        """
        import gnnkit  # lazily: this module must stay importable without the compiled core

        graph_cls = getattr(gnnkit, "HeteroGraph", None)
        if graph_cls is None or not hasattr(graph_cls, "from_edges"):
            raise NotImplementedError(
                "Dataset.to_graph: this gnnkit build has no HeteroGraph.from_edges yet; use "
                "Dataset.edges / num_nodes / features / labels directly")
        graph = graph_cls.from_edges(self.edges, num_nodes=self.num_nodes,
                                     timestamps=self.edge_timestamps or None,
                                     weights=self.edge_weights or None, **options)
        for method, data in (("set_features", self.features), ("set_labels", self.labels)):
            if not data:
                continue
            setter = getattr(graph, method, None)
            if setter is None:
                raise NotImplementedError(
                    f"Dataset.to_graph: gnnkit.HeteroGraph has no {method}() yet; the graph "
                    f"was built but '{self.name}' {method[4:]} cannot be attached")
            for ntype, array in data.items():
                setter(ntype, array)
        return graph


# ----------------------------------------------------------------------------------------------
# Root and file handling


def _resolve_root(root: Optional[PathLike]) -> Path:
    """The data root: ``root``, else $GNNKIT_DATA_ROOT, else ``shared/data`` beside a parent."""
    if root is not None:
        path = Path(root).expanduser()
        if not path.is_dir():
            raise FileNotFoundError(f"gnnkit.datasets: data root '{path}' is not a folder")
        return path
    env = os.environ.get(ENV_VAR)
    if env:
        path = Path(env).expanduser()
        if not path.is_dir():
            raise FileNotFoundError(
                f"gnnkit.datasets: {ENV_VAR}='{env}' but '{path}' is not a folder")
        return path
    for parent in (_SEARCH_START, *_SEARCH_START.parents):
        candidate = parent / "shared" / "data"
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"gnnkit.datasets: no data root: pass root=, set {ENV_VAR}, or provide "
        f"'{_expected_default_root()}' (searched for 'shared/data' beside every parent of "
        f"'{_SEARCH_START}')")


def _expected_default_root() -> Path:
    """``<repository root>/../shared/data``, the folder the default search hopes to find."""
    for parent in (_SEARCH_START, *_SEARCH_START.parents):
        if (parent / "pyproject.toml").is_file() or (parent / ".git").exists():
            return parent.parent / "shared" / "data"
    parents = _SEARCH_START.parents
    repo = parents[1] if len(parents) > 1 else _SEARCH_START  # python/gnnkit -> repository
    return repo.parent / "shared" / "data"


def _read_text(path: Path, encoding: str = "utf-8") -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"gnnkit.datasets: missing file '{path}'") from None
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise ValueError(f"{path}: line {line}: not valid {encoding} text ({e.reason})") from None


def _parse_column(tokens: Sequence[str], kind: type, path: Path, linenos: np.ndarray,
                  field_no: int, name: str) -> np.ndarray:
    """Convert one column of text tokens; on failure name the offending line and field."""
    dtype = np.int64 if kind is int else np.float64
    try:
        out = np.array(tokens, dtype=dtype)
        bad = None if kind is int else np.flatnonzero(~np.isfinite(out))
    except (ValueError, OverflowError):
        out, bad = None, None
        for k, tok in enumerate(tokens):
            try:
                kind(tok)
            except (ValueError, OverflowError):
                bad = np.array([k])
                break
        if bad is None:  # numpy refused something Python accepts: report the first row
            bad = np.array([0])
    if bad is not None and len(bad):
        k = int(bad[0])
        what = "an integer" if kind is int else "a finite number"
        raise ValueError(f"{path}: line {int(linenos[k])}: field {field_no} ('{name}') is not "
                         f"{what}: {tokens[k]!r}")
    return out


def _read_table(path: Path, sep: Optional[str], columns: Sequence[tuple[str, type]],
                encoding: str = "utf-8") -> tuple[list[Any], np.ndarray]:
    """Parse a delimited text file with a fixed number of fields per line.

    ``columns`` gives (name, int|float|str) per field. Blank lines are skipped. Returns the
    columns (int64 / float64 arrays, or lists of str) and the 1-based line number of each row.
    """
    text = _read_text(path, encoding)
    rows: list[list[str]] = []
    linenos: list[int] = []
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(sep) if sep is not None else line.split()
        if len(parts) != len(columns):
            names = ", ".join(n for n, _ in columns)
            raise ValueError(f"{path}: line {i}: expected {len(columns)} fields ({names}), got "
                             f"{len(parts)}: {line[:80]!r}")
        rows.append(parts)
        linenos.append(i)
    if not rows:
        raise ValueError(f"{path}: no data lines")
    lines = np.asarray(linenos, dtype=np.int64)
    cols: list[Any] = []
    for j, ((name, kind), tokens) in enumerate(zip(columns, zip(*rows)), 1):
        if kind is str:
            cols.append([t.strip() for t in tokens])
        else:
            cols.append(_parse_column([t.strip() for t in tokens], kind, path, lines, j, name))
    return cols, lines


def _require(cond: bool, path: Path, where: str, message: str) -> None:
    if not cond:
        raise ValueError(f"{path}: {where}: {message}")


# ----------------------------------------------------------------------------------------------
# Splits


def _stratified_split(labels: np.ndarray, candidates: np.ndarray, train: float, val: float,
                      seed: int) -> dict[str, np.ndarray]:
    """Per class: shuffle with default_rng(seed), take round(train*n) / round(val*n) / rest."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    cand_labels = labels[candidates]
    for c in np.unique(cand_labels):
        ids = rng.permutation(candidates[cand_labels == c])
        n = len(ids)
        n_train = min(n, int(math.floor(train * n + 0.5)))
        n_val = min(n - n_train, int(math.floor(val * n + 0.5)))
        parts["train"].append(ids[:n_train])
        parts["val"].append(ids[n_train:n_train + n_val])
        parts["test"].append(ids[n_train + n_val:])
    return {k: np.sort(np.concatenate(v)).astype(np.int64) for k, v in parts.items()}


def _split_note(what: str, train: float, val: float, seed: int) -> str:
    test = 1.0 - train - val
    return (f"seeded stratified split of {what} (no published split exists): per class, ids "
            f"shuffled with numpy.random.default_rng({seed}); first round({train:g}*n) train, "
            f"next round({val:g}*n) val, rest test (~{train:g}/{val:g}/{test:g})")


# ----------------------------------------------------------------------------------------------
# Fraud: CARE-GNN labels in TAM's single-relation .mat files (zipped)


def _load_mat_member(zip_path: Path, member: str) -> dict[str, Any]:
    try:
        with zipfile.ZipFile(zip_path) as archive:
            try:
                data = archive.read(member)
            except KeyError:
                raise ValueError(f"{zip_path}: archive has no member '{member}' (has: "
                                 f"{', '.join(archive.namelist())})") from None
    except zipfile.BadZipFile as e:
        raise ValueError(f"{zip_path}: not a valid zip archive ({e})") from None
    try:
        return scipy.io.loadmat(io.BytesIO(data))
    except Exception as e:  # scipy raises several types for corrupt input
        raise ValueError(f"{zip_path}: member '{member}' is not a readable MATLAB file: "
                         f"{e}") from None


def _load_fraud_mat(folder: Path, name: str, zip_name: str, member: str, relation: str, *,
                    seed: int, train: float, val: float) -> Dataset:
    path = folder / zip_name
    mat = _load_mat_member(path, member)
    where = f"{path}!{member}"
    for key in ("Network", "Attributes", "Label"):
        if key not in mat:
            raise ValueError(f"{where}: field '{key}' missing (fields: "
                             f"{', '.join(k for k in mat if not k.startswith('__'))})")
    network = scipy.sparse.csr_matrix(mat["Network"])
    n = network.shape[0]
    _require(network.shape == (n, n), path, "field 'Network'",
             f"must be a square adjacency matrix, got shape {network.shape}")
    network.sum_duplicates()
    network.eliminate_zeros()
    coo = network.tocoo()  # row-major order: sorted by (src, dst)
    src = coo.row.astype(np.int64)
    dst = coo.col.astype(np.int64)

    attributes = mat["Attributes"]
    attributes = attributes.toarray() if scipy.sparse.issparse(attributes) else attributes
    _require(attributes.ndim == 2 and attributes.shape[0] == n, path, "field 'Attributes'",
             f"must have {n} rows, got shape {attributes.shape}")
    features = np.ascontiguousarray(attributes, dtype=np.float32)

    raw = np.asarray(mat["Label"])
    _require(raw.size == n and (raw.ndim == 1 or 1 in raw.shape), path, "field 'Label'",
             f"must be a vector of {n} labels, got shape {raw.shape}")
    raw = raw.ravel()
    _require(bool(np.isin(raw, (0, 1)).all()), path, "field 'Label'", "values must be 0 or 1")
    labels = raw.astype(np.int64)

    splits = _stratified_split(labels, np.arange(n, dtype=np.int64), train, val, seed)
    rel = ("node", "to", "node")
    return Dataset(
        name=name, num_nodes={"node": n}, edges={rel: (src, dst)}, features={"node": features},
        labels={"node": labels}, splits=splits,
        split_note=_split_note(f"all {n} nodes", train, val, seed),
        extra={"relation": relation, "source": f"{zip_name}!{member}"})


def _load_amazon(folder: Path, **kw: Any) -> Dataset:
    return _load_fraud_mat(folder, "amazon-fraud-upu", "Amazon.zip", "Amazon.mat", "U-P-U", **kw)


def _load_yelpchi(folder: Path, **kw: Any) -> Dataset:
    return _load_fraud_mat(folder, "yelpchi-rur", "YelpChi.zip", "YelpChi.mat", "R-U-R", **kw)


# ----------------------------------------------------------------------------------------------
# Bitcoin OTC / Alpha with REV2 ground truth


def _load_bitcoin(folder: Path, name: str, prefix: str, *, seed: int, train: float,
                  val: float) -> Dataset:
    net_path = folder / f"{prefix}_network.csv"
    gt_path = folder / f"{prefix}_gt.csv"
    (src_raw, dst_raw, rating, time), _ = _read_table(
        net_path, ",", [("source", int), ("target", int), ("rating", int), ("time", float)])
    (gt_ids, gt_raw), gt_lines = _read_table(gt_path, ",", [("node_id", int), ("label", int)])

    id_map = np.unique(np.concatenate([src_raw, dst_raw]))  # dense id -> original id
    n = len(id_map)
    src = np.searchsorted(id_map, src_raw).astype(np.int64)
    dst = np.searchsorted(id_map, dst_raw).astype(np.int64)

    labels = np.full(n, -1, dtype=np.int64)
    dense_gt = np.searchsorted(id_map, gt_ids)
    duplicates = 0
    for k in range(len(gt_ids)):
        where = f"line {int(gt_lines[k])}"
        _require(int(gt_raw[k]) in (1, -1), gt_path, where,
                 f"label must be +1 (benign) or -1 (fraudulent), got {int(gt_raw[k])}")
        d = int(dense_gt[k])
        _require(d < n and id_map[d] == gt_ids[k], gt_path, where,
                 f"user {int(gt_ids[k])} does not occur in {net_path.name}")
        label = 1 if gt_raw[k] == -1 else 0
        if labels[d] >= 0:
            _require(labels[d] == label, gt_path, where,
                     f"user {int(gt_ids[k])} has conflicting labels")
            duplicates += 1
        labels[d] = label

    labelled = np.flatnonzero(labels >= 0).astype(np.int64)
    splits = _stratified_split(labels, labelled, train, val, seed)
    rel = ("user", "rates", "user")
    return Dataset(
        name=name, num_nodes={"user": n}, edges={rel: (src, dst)},
        edge_timestamps={rel: np.floor(time).astype(np.int64)},
        edge_weights={rel: rating.astype(np.float32)},
        labels={"user": labels}, splits=splits,
        split_note=_split_note(f"the {len(labelled)} labelled users", train, val, seed),
        extra={"id_map": id_map.astype(np.int64), "num_duplicate_labels": duplicates,
               "time": time})


def _load_otc(folder: Path, **kw: Any) -> Dataset:
    return _load_bitcoin(folder, "bitcoin-otc-rev2", "otc", **kw)


def _load_alpha(folder: Path, **kw: Any) -> Dataset:
    return _load_bitcoin(folder, "bitcoin-alpha-rev2", "alpha", **kw)


# ----------------------------------------------------------------------------------------------
# Recommendation


def _read_ratings(path: Path, num_users: int, num_items: int) -> tuple[np.ndarray, ...]:
    (user, item, rating, stamp), lines = _read_table(
        path, "\t", [("user_id", int), ("item_id", int), ("rating", int), ("unix_time", int)])
    for values, limit, what in ((user, num_users, "user_id"), (item, num_items, "item_id"),
                                (rating, 5, "rating")):
        bad = np.flatnonzero((values < 1) | (values > limit))
        if len(bad):
            raise ValueError(f"{path}: line {int(lines[bad[0]])}: {what} {int(values[bad[0]])} "
                             f"outside 1..{limit}")
    return user - 1, item - 1, rating.astype(np.float32), stamp


def _check_ids(ids: np.ndarray, path: Path, lines: np.ndarray, what: str) -> None:
    expected = np.arange(1, len(ids) + 1)
    bad = np.flatnonzero(ids != expected)
    if len(bad):
        raise ValueError(f"{path}: line {int(lines[bad[0]])}: {what} ids must be 1..N in "
                         f"order, got {int(ids[bad[0]])} where {bad[0] + 1} was expected")


def _load_movielens_100k(folder: Path, **_: Any) -> Dataset:
    occupations = [s.strip() for s in _read_text(folder / "u.occupation").splitlines()
                   if s.strip()]
    (genre_names, _genre_ids), _ = _read_table(folder / "u.genre", "|",
                                               [("genre", str), ("id", int)])

    user_path = folder / "u.user"
    (uid, age, gender, occupation, zip_code), ulines = _read_table(
        user_path, "|", [("user_id", int), ("age", int), ("gender", str), ("occupation", str),
                         ("zip", str)])
    _check_ids(uid, user_path, ulines, "user")
    genders = ["F", "M"]
    num_users = len(uid)
    user_x = np.zeros((num_users, len(genders) + len(occupations) + 1), dtype=np.float32)
    for k in range(num_users):
        where = f"line {int(ulines[k])}"
        _require(gender[k] in genders, user_path, where,
                 f"field 3 ('gender') must be M or F, got {gender[k]!r}")
        _require(occupation[k] in occupations, user_path, where,
                 f"field 4 ('occupation') {occupation[k]!r} is not listed in u.occupation")
        user_x[k, genders.index(gender[k])] = 1.0
        user_x[k, len(genders) + occupations.index(occupation[k])] = 1.0
    _require(bool((age > 0).all()), user_path, "field 2 ('age')", "ages must be positive")
    user_x[:, -1] = age / age.max()

    item_path = folder / "u.item"
    item_cols = ([("movie_id", int), ("title", str), ("release_date", str),
                  ("video_release_date", str), ("imdb_url", str)]
                 + [(g, int) for g in genre_names])
    cols, ilines = _read_table(item_path, "|", item_cols, encoding="latin-1")
    _check_ids(cols[0], item_path, ilines, "movie")
    genre_flags = np.stack(cols[5:], axis=1)
    bad = np.argwhere((genre_flags != 0) & (genre_flags != 1))
    if len(bad):
        r, c = bad[0]
        raise ValueError(f"{item_path}: line {int(ilines[r])}: field {c + 6} "
                         f"('{genre_names[c]}') must be 0 or 1")
    item_x = np.ascontiguousarray(genre_flags, dtype=np.float32)
    num_items = len(cols[0])

    u_tr, i_tr, r_tr, t_tr = _read_ratings(folder / "u1.base", num_users, num_items)
    u_te, i_te, r_te, t_te = _read_ratings(folder / "u1.test", num_users, num_items)
    rel = ("user", "interacts", "item")
    return Dataset(
        name="movielens-100k", num_nodes={"user": num_users, "item": num_items},
        edges={rel: (u_tr, i_tr)}, edge_timestamps={rel: t_tr}, edge_weights={rel: r_tr},
        features={"user": user_x, "item": item_x},
        split_note="published: canonical GroupLens u1.base (edges) / u1.test (extra['test'])",
        extra={
            "test": (u_te, i_te), "test_rating": r_te, "test_timestamp": t_te,
            "user_feature_names": ([f"gender={g}" for g in genders]
                                   + [f"occupation={o}" for o in occupations] + ["age/max_age"]),
            "item_feature_names": [f"genre={g}" for g in genre_names],
            "user_age": age, "user_gender": gender, "user_occupation": occupation,
            "user_zip": zip_code, "item_title": cols[1], "item_release_date": cols[2],
        })


def _read_lightgcn(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``user item item ...`` per line, 0-based ids; returns (user, item) int64 pairs."""
    text = _read_text(path)
    users: list[str] = []
    items: list[str] = []
    linenos: list[int] = []
    counts: list[int] = []
    for i, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        users.append(parts[0])
        items.extend(parts[1:])
        linenos.append(i)
        counts.append(len(parts) - 1)
    if not users:
        raise ValueError(f"{path}: no data lines")
    lines = np.asarray(linenos, dtype=np.int64)
    user = _parse_column(users, int, path, lines, 1, "user_id")
    item_lines = np.repeat(lines, counts)
    item = _parse_column(items, int, path, item_lines, 2, "item_id")
    for values, at, what in ((user, lines, "user_id"), (item, item_lines, "item_id")):
        bad = np.flatnonzero(values < 0)
        if len(bad):
            raise ValueError(f"{path}: line {int(at[bad[0]])}: negative {what} "
                             f"{int(values[bad[0]])}")
    return np.repeat(user, counts), item


def _load_lightgcn(folder: Path, name: str) -> Dataset:
    u_tr, i_tr = _read_lightgcn(folder / "train.txt")
    u_te, i_te = _read_lightgcn(folder / "test.txt")
    num_users = int(max(u_tr.max(initial=-1), u_te.max(initial=-1))) + 1
    num_items = int(max(i_tr.max(initial=-1), i_te.max(initial=-1))) + 1
    return Dataset(
        name=name, num_nodes={"user": num_users, "item": num_items},
        edges={("user", "interacts", "item"): (u_tr, i_tr)},
        split_note="published: train.txt interactions (edges) / test.txt (extra['test'])",
        extra={"test": (u_te, i_te)})


def _load_ml1m(folder: Path, **_: Any) -> Dataset:
    return _load_lightgcn(folder, "movielens-1m-lcfn")


def _load_amazon_cds(folder: Path, **_: Any) -> Dataset:
    return _load_lightgcn(folder, "amazon-cds")


# ----------------------------------------------------------------------------------------------
# Planetoid (Cora, CiteSeer)


def _np_reconstruct() -> Callable[..., Any]:
    # NumPy 2 moved numpy.core to numpy._core; NumPy 1.26 has a numpy._core stub without
    # multiarray, so import the module by name rather than probing attributes.
    import importlib
    try:
        return importlib.import_module("numpy._core.multiarray")._reconstruct
    except (ImportError, AttributeError):  # pragma: no cover (NumPy 1)
        return importlib.import_module("numpy.core.multiarray")._reconstruct


class _PlanetoidUnpickler(pickle.Unpickler):
    """Unpickles only the few globals the Planetoid files use (no arbitrary code)."""

    _ALLOWED: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("numpy.core.multiarray", "_reconstruct"): _np_reconstruct(),
        ("numpy._core.multiarray", "_reconstruct"): _np_reconstruct(),
        ("scipy.sparse.csr", "csr_matrix"): scipy.sparse.csr_matrix,
        ("scipy.sparse._csr", "csr_matrix"): scipy.sparse.csr_matrix,
        ("scipy.sparse", "csr_matrix"): scipy.sparse.csr_matrix,
        ("collections", "defaultdict"): collections.defaultdict,
        ("__builtin__", "list"): list,
        ("builtins", "list"): list,
    }

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"global '{module}.{name}' is not allowed") from None


def _unpickle(path: Path) -> Any:
    try:
        with open(path, "rb") as f:
            return _PlanetoidUnpickler(f, encoding="latin1").load()
    except FileNotFoundError:
        raise FileNotFoundError(f"gnnkit.datasets: missing file '{path}'") from None
    except Exception as e:
        raise ValueError(f"{path}: not a readable Planetoid pickle: {e}") from None


def _one_hot_labels(y: Any, path: Path) -> np.ndarray:
    y = np.asarray(y)
    _require(y.ndim == 2, path, "labels", f"must be a 2-D one-hot array, got shape {y.shape}")
    sums = y.sum(axis=1)
    bad = np.flatnonzero((sums != 0) & (sums != 1) | ((y != 0) & (y != 1)).any(axis=1))
    _require(len(bad) == 0, path, f"row {bad[0] if len(bad) else 0}",
             "label rows must be one-hot (or all zero)")
    return np.where(sums == 1, y.argmax(axis=1), -1).astype(np.int64)


def _load_planetoid(folder: Path, name: str) -> Dataset:
    paths = {s: folder / f"ind.{name}.{s}" for s in ("y", "tx", "ty", "allx", "ally", "graph")}
    y = _unpickle(paths["y"])
    allx, tx = _unpickle(paths["allx"]), _unpickle(paths["tx"])
    ally = _one_hot_labels(_unpickle(paths["ally"]), paths["ally"])
    ty = _one_hot_labels(_unpickle(paths["ty"]), paths["ty"])
    graph = _unpickle(paths["graph"])
    index_path = folder / f"ind.{name}.test.index"
    (test_index,), tlines = _read_table(index_path, None, [("node_id", int)])

    for key in ("allx", "tx"):
        _require(scipy.sparse.issparse({"allx": allx, "tx": tx}[key]), paths[key], "content",
                 "must be a scipy sparse matrix")
    num_train, num_base = len(y), allx.shape[0]
    _require(tx.shape[1] == allx.shape[1], paths["tx"], "shape",
             f"{tx.shape[1]} columns, but allx has {allx.shape[1]}")
    _require(len(ally) == num_base, paths["ally"], "shape", f"must have {num_base} rows")
    _require(len(ty) == tx.shape[0] == len(test_index), paths["ty"], "shape",
             f"tx, ty and test.index must have the same length ({tx.shape[0]}, {len(ty)}, "
             f"{len(test_index)})")
    _require(num_train + 500 <= num_base, paths["y"], "shape",
             f"{num_train} training rows + 500 validation rows exceed allx ({num_base} rows)")
    low = np.flatnonzero(test_index < num_base)
    _require(len(low) == 0, index_path, f"line {int(tlines[low[0]]) if len(low) else 0}",
             f"test ids must be >= {num_base} (the rows of allx)")
    _require(len(np.unique(test_index)) == len(test_index), index_path, "content",
             "duplicate test ids")

    # Kipf's utils.py: vstack(allx, tx), then row k of tx/ty goes to node test_index[k]; ids in
    # the test range that test.index lacks (CiteSeer's isolated nodes) keep zero rows, no label.
    n = int(max(num_base, test_index.max() + 1))
    features = np.zeros((n, allx.shape[1]), dtype=np.float32)
    features[:num_base] = allx.toarray()
    features[test_index] = tx.toarray()
    labels = np.full(n, -1, dtype=np.int64)
    labels[:num_base] = ally
    labels[test_index] = ty
    featureless = np.setdiff1d(np.arange(num_base, n), test_index).astype(np.int64)

    if not isinstance(graph, dict):
        raise ValueError(f"{paths['graph']}: must hold a dict of neighbour lists")
    src_list: list[int] = []
    dst_list: list[int] = []
    for node, neighbours in graph.items():
        src_list.extend([node] * len(neighbours))
        dst_list.extend(neighbours)
    src = np.asarray(src_list, dtype=np.int64)
    dst = np.asarray(dst_list, dtype=np.int64)
    keys = np.fromiter(graph.keys(), dtype=np.int64, count=len(graph))
    for ids in (keys, src, dst):
        bad = np.flatnonzero((ids < 0) | (ids >= n))
        _require(len(bad) == 0, paths["graph"], "content",
                 f"node id {int(ids[bad[0]]) if len(bad) else 0} outside 0..{n - 1}")
    self_loop_nodes = np.unique(src[src == dst])
    # Symmetrise, drop self loops and duplicate neighbours; sorted by (src, dst).
    both_src = np.concatenate([src, dst])
    both_dst = np.concatenate([dst, src])
    keep = both_src != both_dst
    pairs = np.unique(both_src[keep] * n + both_dst[keep])
    rel = ("node", "to", "node")
    return Dataset(
        name=name, num_nodes={"node": n}, edges={rel: (pairs // n, pairs % n)},
        features={"node": features}, labels={"node": labels},
        splits={"train": np.arange(num_train, dtype=np.int64),
                "val": np.arange(num_train, num_train + 500, dtype=np.int64),
                "test": np.sort(test_index).astype(np.int64)},
        split_note=("published: Planetoid public split as in Kipf's gcn utils.py (train = "
                    "first len(y) nodes, val = next 500, test = test.index)"),
        extra={"num_classes": int(ally.max()) + 1, "self_loop_nodes": self_loop_nodes,
               "featureless_nodes": featureless, "test_index": test_index})


def _load_cora(folder: Path, **_: Any) -> Dataset:
    return _load_planetoid(folder, "cora")


def _load_citeseer(folder: Path, **_: Any) -> Dataset:
    return _load_planetoid(folder, "citeseer")


# ----------------------------------------------------------------------------------------------
# Registry and public functions


class _Spec(NamedTuple):
    loader: Callable[..., Dataset]
    files: tuple[str, ...]
    seeded_split: bool


def _planetoid_files(name: str) -> tuple[str, ...]:
    return tuple(f"ind.{name}.{s}" for s in ("y", "tx", "ty", "allx", "ally", "graph",
                                             "test.index"))


_SPECS: dict[str, _Spec] = {
    "amazon-fraud-upu": _Spec(_load_amazon, ("Amazon.zip",), True),
    "yelpchi-rur": _Spec(_load_yelpchi, ("YelpChi.zip",), True),
    "bitcoin-otc-rev2": _Spec(_load_otc, ("otc_network.csv", "otc_gt.csv"), True),
    "bitcoin-alpha-rev2": _Spec(_load_alpha, ("alpha_network.csv", "alpha_gt.csv"), True),
    "movielens-100k": _Spec(_load_movielens_100k, ("u.user", "u.item", "u.genre",
                                                    "u.occupation", "u1.base", "u1.test"), False),
    "movielens-1m-lcfn": _Spec(_load_ml1m, ("train.txt", "test.txt"), False),
    "amazon-cds": _Spec(_load_amazon_cds, ("train.txt", "test.txt"), False),
    "cora": _Spec(_load_cora, _planetoid_files("cora"), False),
    "citeseer": _Spec(_load_citeseer, _planetoid_files("citeseer"), False),
}

#: Every dataset name ``load`` understands, in the order of the data README.
NAMES: tuple[str, ...] = tuple(_SPECS)


def available(root: Optional[PathLike] = None) -> list[str]:
    """Names of the datasets whose files are all present under the data root.

    ``root`` is resolved as in :func:`load`; raises OSError when no data root exists.
    """
    base = _resolve_root(root)
    return [name for name, spec in _SPECS.items()
            if all((base / name / f).is_file() for f in spec.files)]


def load(name: str, root: Optional[PathLike] = None, *, seed: int = 0,
         train: Optional[float] = None, val: Optional[float] = None) -> Dataset:
    """Load dataset ``name`` (one of :data:`NAMES`) from the data root into a :class:`Dataset`.

    Args:
        name: dataset name, e.g. ``"cora"`` or ``"bitcoin-otc-rev2"``.
        root: data root holding one folder per dataset; default $GNNKIT_DATA_ROOT, else the
            ``shared/data`` folder beside a parent of this file.
        seed: seed of the stratified split for datasets without a published one (fraud and
            bitcoin); same seed, same split. Ignored by datasets with a published split.
        train, val: fractions of each class put in train and val (defaults 0.4 and 0.2; the
            rest is test). Only for the seeded-split datasets; passing them for a dataset with
            a published split raises ValueError.

    Raises:
        ValueError: unknown name (the message lists the names), bad ``seed``/``train``/``val``,
            or a malformed file (the message names the file and the line or field).
        OSError: missing data root, dataset folder or file (the message names the path).
    """
    spec = _SPECS.get(name)
    if spec is None:
        raise ValueError(f"load: unknown dataset {name!r}; available names: {', '.join(NAMES)}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"load: 'seed' must be a non-negative integer, got {seed!r}")
    if not spec.seeded_split and (train is not None or val is not None):
        raise ValueError(f"load: '{name}' has a published split; 'train'/'val' apply only to "
                         f"{', '.join(n for n, s in _SPECS.items() if s.seeded_split)}")
    train = _DEFAULT_TRAIN if train is None else float(train)
    val = _DEFAULT_VAL if val is None else float(val)
    if not (0.0 < train < 1.0 and 0.0 <= val < 1.0 and train + val < 1.0):
        raise ValueError(f"load: need 0 < train, 0 <= val and train + val < 1, got train="
                         f"{train}, val={val}")
    folder = _resolve_root(root) / name
    if not folder.is_dir():
        raise FileNotFoundError(f"load: dataset folder '{folder}' for {name!r} not found")
    for f in spec.files:
        if not (folder / f).is_file():
            raise FileNotFoundError(f"load: missing file '{folder / f}' of dataset {name!r}")
    return spec.loader(folder, seed=int(seed), train=train, val=val)
