#!/usr/bin/env python3
"""Fraud detection with gnnkit from Python: the `gnnkit-fraud train` workflow, scriptable.

    python examples/fraud/python/fraud.py train --graph fraud.gnn --out report/
    python examples/fraud/python/fraud.py train --dataset amazon-fraud-upu --out report/ \
        [--data-root ../shared/data] [--seeds 1,2,3,4,5]

Data: a gnnkit graph file written by ``gnnkit-fraud generate`` (target node type
``transaction``, features ``x`` per node type, labels, node times), or one of the real fraud
datasets of :mod:`gnnkit.datasets` (amazon-fraud-upu, yelpchi-rur, bitcoin-otc-rev2,
bitcoin-alpha-rev2; the labelled node type is the target).

Split: when the target nodes have times, the labelled ones are split by time (earliest 60 %
train, next 20 % validation, latest 20 % test); a dataset's own seeded stratified split
(``ds.splits``) when it has one; otherwise a seeded stratified 60/20/20 split.

Models, all scored on the test part:
  * GNN: ``gnnkit.nn.Model`` (GraphSAGE or GAT, 3 layers on a generated graph -- its fraud
    rings show three hops from a payment -- and 2 on a real dataset, hidden 64, dropout 0.2, an input
    projection per node type), mini-batches of 1024 seeds sampled with
    ``NeighborSampler(graph, fan-outs)`` (10 for the first two hops, 5 beyond) -- temporal (the
    most recent edges no later than the seed's time) and disjoint when the target has node
    times, with ``SeedIdentity`` columns appended to the inputs (per sampled transaction: the
    same user / card / device / IP / merchant as the seed's?) --, BCE with logits and
    pos_weight = sqrt(neg / pos) of train, AdamW (lr 3e-3), early stopping on validation
    PR-AUC (patience 4, at most 20 epochs), best model kept and checkpointed (``model.ckpt``).
  * XGBoost (own features): the target's own feature row.
  * XGBoost (+ neighbour aggregates): own features, then per relation r1 into the target the
    mean of its sources' features and the edge count, then per relation r2 into r1's source
    type the 2-hop mean and walk count (GADBench's strong baseline; column order as the C++
    app). With node times only edges with timestamp <= the target's time count.

Report in --out: metrics.json (ROC-AUC, PR-AUC, recall at 1 % FPR, precision at the top 0.5 %
per model; mean and std over seeds when --seeds lists several), roc.png, pr.png,
training.png, scores_<model>.png, report.md.

Exit codes: 0 success, 1 runtime error, 2 usage error (bad options, unknown dataset, missing
data folder).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

# gnnkit and the xgboost wheel each bring an OpenMP runtime; with libgomp's default active
# waiting, idle worker threads spin, which on a busy or oversubscribed machine slowed a
# training epoch here by 10-20x. Passive waiting costs little when cores are free. Set before
# any OpenMP runtime starts; an explicit OMP_WAIT_POLICY in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

FRAUD_DATASETS = ("amazon-fraud-upu", "yelpchi-rur", "bitcoin-otc-rev2", "bitcoin-alpha-rev2")
MAX_FPR = 0.01
TOP_FRACTION = 0.005
METRIC_COLUMNS = (  # (json key, table header)
    ("roc_auc", "ROC-AUC"),
    ("pr_auc", "PR-AUC"),
    ("recall_at_1pct_fpr", "Recall @ 1% FPR"),
    ("precision_at_top_0.5pct", "Precision @ top 0.5%"),
)


class UsageError(Exception):
    """Bad command line or data selection: exit code 2."""


def _import_gnnkit():
    try:
        import gnnkit  # noqa: F401
        import gnnkit.datasets  # noqa: F401
        import gnnkit.nn  # noqa: F401
        import gnnkit.sampling  # noqa: F401
        import gnnkit.train  # noqa: F401
    except ImportError as e:
        raise SystemExit(
            f"error: cannot import gnnkit ({e}). Build the bindings and point PYTHONPATH at "
            "them (e.g. PYTHONPATH=build/python) or `pip install .` in the repository.")
    return gnnkit


# ---- data ----------------------------------------------------------------------------------

@dataclass
class FraudData:
    graph: object                       # gnnkit.HeteroGraph (features "x" on every node type)
    target: str
    labels: np.ndarray                  # int64 per target node, -1 unlabelled
    times: Optional[np.ndarray]         # int64 node times of the target type, or None
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    split_note: str
    description: str
    feature_notes: List[str] = field(default_factory=list)


def _node_times(graph, node_type):
    try:
        t = graph.node_times(node_type)
    except (ValueError, KeyError, RuntimeError):
        return None
    if t is None:
        return None
    t = np.asarray(t, dtype=np.int64)
    return t if len(t) == graph.num_nodes(node_type) else None


def _has_features(graph, node_type) -> bool:
    try:
        graph.features(node_type)
        return True
    except (ValueError, KeyError, RuntimeError):
        return False


def time_split(labels, times, train_fraction=0.6, val_fraction=0.2):
    """The C++ rule: labelled nodes stable-sorted by time, cut at the fractions."""
    ids = np.flatnonzero(labels >= 0).astype(np.int64)
    ids = ids[np.argsort(times[ids], kind="stable")]
    n = len(ids)
    a, b = int(n * train_fraction), int(n * train_fraction) + int(n * val_fraction)
    tr, va, te = ids[:a], ids[a:b], ids[b:]
    note = (f"time split of the {n} labelled nodes: earliest {int(train_fraction * 100)}% train, "
            f"next {int(val_fraction * 100)}% validation, latest "
            f"{100 - int(train_fraction * 100) - int(val_fraction * 100)}% test (times "
            f"{times[tr[0]]} .. {times[tr[-1]]} | {times[va[0]]} .. {times[va[-1]]} | "
            f"{times[te[0]]} .. {times[te[-1]]})")
    return tr, va, te, note


def stratified_split(labels, seed, train_fraction=0.6, val_fraction=0.2):
    rng = np.random.default_rng(seed)
    parts = ([], [], [])
    for cls in (0, 1):
        c = rng.permutation(np.flatnonzero(labels == cls))
        a = int(round(len(c) * train_fraction))
        b = a + int(round(len(c) * val_fraction))
        for part, chunk in zip(parts, (c[:a], c[a:b], c[b:])):
            part.append(chunk)
    tr, va, te = (np.sort(np.concatenate(p)).astype(np.int64) for p in parts)
    note = (f"seeded stratified split (seed {seed}) of the {int((labels >= 0).sum())} labelled "
            f"nodes, no times in the data: per class {int(train_fraction * 100)}% train, "
            f"{int(val_fraction * 100)}% validation, the rest test")
    return tr, va, te, note


def structural_features(num_nodes: int, src, dst, weights=None):
    """Label-free per-node features for data without node features (bitcoin): log1p in/out
    degree, and per direction the mean, std, min and max edge weight (rating) and the share
    of negative weights (0 where a node has no such edges)."""
    cols, names = [], []
    for direction, ends in (("in", dst), ("out", src)):
        deg = np.bincount(ends, minlength=num_nodes).astype(np.float64)
        cols.append(np.log1p(deg))
        names.append(f"log1p_{direction}_degree")
        if weights is None:
            continue
        w = np.asarray(weights, np.float64)
        safe = np.maximum(deg, 1)
        s1 = np.bincount(ends, w, num_nodes)
        s2 = np.bincount(ends, w * w, num_nodes)
        mean = s1 / safe
        std = np.sqrt(np.maximum(s2 / safe - mean ** 2, 0))
        neg = np.bincount(ends, (w < 0).astype(np.float64), num_nodes) / safe
        lo = np.full(num_nodes, np.inf)
        hi = np.full(num_nodes, -np.inf)
        np.minimum.at(lo, ends, w)
        np.maximum.at(hi, ends, w)
        has = deg > 0
        for name, v in (("mean", mean), ("std", std), ("min", np.where(has, lo, 0)),
                        ("max", np.where(has, hi, 0)), ("negative_share", neg)):
            cols.append(np.where(has, v, 0))
            names.append(f"{direction}_weight_{name}")
    return np.ascontiguousarray(np.stack(cols, 1), dtype=np.float32), names


def load_graph_file(path: str, target: str, seed: int) -> FraudData:
    gnnkit = _import_gnnkit()
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"graph file '{p}' not found (make one with `gnnkit-fraud generate "
                         f"--users 40000 --out {p}`)")
    graph = gnnkit.HeteroGraph.load(str(p))
    if target not in graph.node_types:
        raise UsageError(f"target node type '{target}' is not in the graph (node types: "
                         f"{', '.join(graph.node_types)})")
    labels = np.asarray(graph.labels(target), dtype=np.int64)
    notes = []
    for t in graph.node_types:
        if not _has_features(graph, t):  # a constant input so the type still passes messages
            graph.set_features(t, np.ones((graph.num_nodes(t), 1), np.float32))
            notes.append(f"'{t}' has no features: a constant 1 column stands in")
    times = _node_times(graph, target)
    split = time_split(labels, times) if times is not None else stratified_split(labels, seed)
    desc = f"{p} ({graph.num_nodes():,} nodes, {graph.num_edges():,} edges, node types " \
           f"{', '.join(f'{t} {graph.num_nodes(t):,}' for t in graph.node_types)}). " \
           f"Target: '{target}' nodes, labels 1 = fraud."
    return FraudData(graph, target, labels, times, *split, description=desc, feature_notes=notes)


def _data_root_description(root: Optional[str]) -> str:
    if root:
        return f"--data-root '{root}'"
    env = os.environ.get("GNNKIT_DATA_ROOT")
    if env:
        return f"GNNKIT_DATA_ROOT='{env}'"
    from gnnkit import datasets
    try:
        return f"'{datasets._resolve_root(None)}' (default search)"
    except OSError:
        expected = getattr(datasets, "_expected_default_root", lambda: "../shared/data")()
        return f"'{expected}' (default search: 'shared/data' beside a parent folder of gnnkit)"


def load_dataset(name: str, root: Optional[str], split_seed: int) -> FraudData:
    gnnkit = _import_gnnkit()
    from gnnkit import datasets
    if name not in FRAUD_DATASETS:
        raise UsageError(f"unknown dataset '{name}'; available fraud datasets: "
                         f"{', '.join(FRAUD_DATASETS)} (looked in {_data_root_description(root)})")
    try:
        ds = datasets.load(name, root, seed=split_seed)
    except OSError as e:
        try:
            present = [n for n in datasets.available(root) if n in FRAUD_DATASETS]
        except OSError:
            present = []
        raise UsageError(f"cannot load dataset '{name}': {e}. Available fraud datasets: "
                         f"{', '.join(FRAUD_DATASETS)}; present in the data root: "
                         f"{', '.join(present) or 'none'} (looked in "
                         f"{_data_root_description(root)})") from None
    labelled = [t for t, y in ds.labels.items() if (np.asarray(y) >= 0).any()]
    if len(labelled) != 1:
        raise UsageError(f"dataset '{name}' must have exactly one labelled node type, got "
                         f"{labelled}")
    target = labelled[0]
    # Directed data: also store the reverse relations, so a node hears whom it points to.
    directed = False
    for key, (s, d) in ds.edges.items():
        if key[0] != key[2]:
            directed = True
            continue
        n = ds.num_nodes[key[0]]
        fwd = np.unique(np.asarray(s) * n + np.asarray(d))
        bwd = np.unique(np.asarray(d) * n + np.asarray(s))
        directed |= not np.array_equal(fwd, bwd)
    graph = ds.to_graph(add_reverse=directed)
    notes = []
    if directed:
        notes.append("directed relations: reverse relations (rev_*) added for message passing")
    for t in graph.node_types:
        if t in ds.features:
            continue
        edges = [(k, v) for k, v in ds.edges.items() if k[0] == t and k[2] == t]
        if edges:
            key, (s, d) = edges[0]
            x, cols = structural_features(ds.num_nodes[t], np.asarray(s), np.asarray(d),
                                          ds.edge_weights.get(key))
            notes.append(f"'{t}' has no node features: {len(cols)} label-free structural "
                         f"features from the '{key[1]}' edges ({', '.join(cols)})")
        else:
            x = np.ones((ds.num_nodes[t], 1), np.float32)
            notes.append(f"'{t}' has no node features: a constant 1 column stands in")
        graph.set_features(t, x)
    labels = np.asarray(ds.labels[target], dtype=np.int64)
    times = _node_times(graph, target)
    if ds.splits:
        split = tuple(np.asarray(ds.splits[k], np.int64) for k in ("train", "val", "test"))
        split = (*split, ds.split_note)
    elif times is not None:
        split = time_split(labels, times)
    else:
        split = stratified_split(labels, split_seed)
    edges = ", ".join(f"{'__'.join(k)} {len(s):,}" for k, (s, _) in ds.edges.items())
    desc = (f"{name} ({', '.join(f'{t} {c:,}' for t, c in ds.num_nodes.items())} nodes; "
            f"edges {edges}"
            f"{'; edge timestamps' if ds.edge_timestamps else ''}). Target: '{target}' nodes, "
            f"{int((labels == 1).sum())} positives of {int((labels >= 0).sum())} labelled.")
    return FraudData(graph, target, labels, times, *split, description=desc, feature_notes=notes)


def standardized_inputs(graph) -> Dict[str, np.ndarray]:
    """Per node type: sign(x) * log1p(|x|), then z-scored per column (label-free; fixes the
    raw heavy-tailed columns of the Amazon data), clipped to [-10, 10]."""
    out = {}
    for t in graph.node_types:
        x = np.asarray(graph.features(t), np.float64)
        x = np.sign(x) * np.log1p(np.abs(x))
        mu, sd = x.mean(0), x.std(0)
        x = np.clip((x - mu) / np.where(sd > 1e-12, sd, 1.0), -10, 10)
        out[t] = np.ascontiguousarray(x, np.float32)
    return out


# ---- the GNN -------------------------------------------------------------------------------

@dataclass
class GnnConfig:
    conv: str = "sage"
    layers: int = 3
    hidden: int = 64
    heads: int = 4
    fanouts: Tuple[int, ...] = (10, 10, 5)
    aggr: str = "max"                # SAGE neighbour aggregation
    temporal_strategy: str = "recent"  # or "uniform" (among the earlier edges)
    epochs: int = 20
    patience: int = 4
    batch_size: int = 1024
    lr: float = 3e-3
    weight_decay: float = 0.0
    dropout: float = 0.2
    pos_weight: float = 0.0          # 0: sqrt(neg / pos) of train
    temporal: bool = True
    seed_identity: bool = True       # seed-identity input columns (temporal, disjoint batches)
    threads: int = 0
    progress: bool = True


class GnnRunner:
    """One model over one FraudData: sampling, feature gathering, forward/backward."""

    def __init__(self, data: FraudData, cfg: GnnConfig, seed: int,
                 inputs: Optional[Dict[str, np.ndarray]] = None):
        import gnnkit
        self.data, self.cfg, self.seed = data, cfg, seed
        g = data.graph
        self.inputs = inputs  # None: gather the graph's stored "x"
        self.temporal = cfg.temporal and data.times is not None
        # Whether an earlier payment on the card was made by the paying user or by another
        # account (and so on): columns appended to the features of every sampled node.
        self.identity = None
        if self.temporal and cfg.seed_identity:
            ident = gnnkit.sampling.SeedIdentity(g, data.target)
            self.identity = None if ident.empty else ident
        widths = {t: (inputs[t].shape[1] if inputs else g.features(t).shape[1])
                  + (self.identity.num_columns(t) if self.identity else 0)
                  for t in g.node_types}
        self.model = gnnkit.nn.Model(
            g, in_features=widths, out=1, target=data.target, conv=cfg.conv,
            num_layers=cfg.layers, hidden=cfg.hidden,
            heads=cfg.heads if cfg.conv == "gat" else 1, dropout=cfg.dropout, aggr=cfg.aggr,
            hetero_aggr="sum", input_projection=True, seed=seed, num_threads=cfg.threads)
        self.sampler = gnnkit.sampling.NeighborSampler(
            g, list(cfg.fanouts), temporal=cfg.temporal_strategy if self.temporal else None,
            disjoint=self.temporal)

    def _batch(self, ids: np.ndarray, key: int):
        d = self.data
        mb = self.sampler.sample(ids, d.target,
                                 seed_times=d.times[ids] if self.temporal else None,
                                 batch=key, seed=self.seed, num_threads=self.cfg.threads)
        if self.inputs is None:
            x = {t: d.graph.gather(t, mb.nodes[t], num_threads=self.cfg.threads)
                 for t in d.graph.node_types}
        else:
            x = {t: self.inputs[t][mb.nodes[t]] for t in d.graph.node_types}
        if self.identity is not None:
            for t in d.graph.node_types:
                if self.identity.num_columns(t):
                    x[t] = np.hstack([x[t], self.identity(mb, t)])
        return mb, x

    def forward_train(self, ids: np.ndarray, key: int):
        mb, x = self._batch(ids, key)
        out = self.model.forward(mb, x, training=True, step=key)
        return out, np.asarray(mb.seed_local, np.int64)

    def predict(self, ids: np.ndarray, key: int = 1 << 40) -> np.ndarray:
        scores = np.empty(len(ids), np.float64)
        bs = self.cfg.batch_size
        for b in range(0, len(ids), bs):
            chunk = ids[b:b + bs]
            mb, x = self._batch(chunk, key + b)
            out = self.model.forward(mb, x, training=False)
            logits = out[np.asarray(mb.seed_local, np.int64), 0].astype(np.float64)
            scores[b:b + len(chunk)] = 1.0 / (1.0 + np.exp(-logits))
        return scores


def train_gnn(data: FraudData, cfg: GnnConfig, seed: int, checkpoint: Optional[Path],
              inputs=None, log=print) -> dict:
    import gnnkit
    from gnnkit import train as T
    try:
        from tqdm.auto import tqdm
    except ImportError:  # progress bars are optional
        def tqdm(it=None, **_):
            return it if it is not None else _NullBar()

    t_start = time.perf_counter()
    runner = GnnRunner(data, cfg, seed, inputs)
    y = data.labels
    pos = int(y[data.train].sum())
    neg = len(data.train) - pos
    pos_weight = cfg.pos_weight if cfg.pos_weight > 0 else math.sqrt(neg / max(pos, 1))
    opt = T.AdamW(runner.model, cfg.lr, weight_decay=cfg.weight_decay)
    val_y = y[data.val]
    history = {"train_loss": [], "val_loss": [], "val_pr_auc": [], "val_roc_auc": [],
               "seconds": []}
    best_pr, best_epoch, waited, best_params = -1.0, -1, 0, None
    batches = max(1, -(-len(data.train) // cfg.batch_size))
    disable = None if cfg.progress else True
    epochs_bar = tqdm(range(cfg.epochs), desc=f"GNN seed {seed}", unit="epoch",
                      disable=disable, leave=False)
    for epoch in epochs_bar:
        t0 = time.perf_counter()
        order = np.random.default_rng(seed * 1000003 + epoch).permutation(data.train)
        loss_sum = 0.0
        bar = tqdm(range(batches), desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch",
                   disable=disable, leave=False)
        for b in bar:
            ids = order[b * cfg.batch_size:(b + 1) * cfg.batch_size]
            key = (epoch << 32) + b
            runner.model.zero_grad()
            out, rows = runner.forward_train(ids, key)
            loss, g = T.binary_cross_entropy_with_logits(out[rows, 0], y[ids], pos_weight)
            full = np.zeros_like(out)
            np.add.at(full[:, 0], rows, np.asarray(g, out.dtype).ravel())
            runner.model.backward(full)
            opt.step()
            loss_sum += float(loss)
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{loss_sum / (b + 1):.4f}")
        train_seconds = time.perf_counter() - t0
        p = runner.predict(data.val)
        val_pr = T.average_precision(val_y, p)
        val_roc = T.roc_auc(val_y, p)
        pc = np.clip(p, 1e-7, 1 - 1e-7)  # weighted BCE on probabilities, as the training loss
        val_loss = float(np.mean(np.where(val_y == 1, -pos_weight * np.log(pc), -np.log(1 - pc))))
        history["train_loss"].append(loss_sum / batches)
        history["val_loss"].append(val_loss)
        history["val_pr_auc"].append(val_pr)
        history["val_roc_auc"].append(val_roc)
        history["seconds"].append(train_seconds)
        log(f"  seed {seed} epoch {epoch + 1}: train loss {loss_sum / batches:.4f}, val loss "
            f"{val_loss:.4f}, val PR-AUC {val_pr:.4f}, val ROC-AUC {val_roc:.4f}, "
            f"{time.perf_counter() - t0:.1f} s")
        if hasattr(epochs_bar, "set_postfix"):
            epochs_bar.set_postfix(val_pr_auc=f"{val_pr:.4f}")
        if val_pr > best_pr:
            best_pr, best_epoch, waited = val_pr, epoch, 0
            best_params = {k: v.copy() for k, v in runner.model.parameters().items()}
            if checkpoint is not None:
                T.save_checkpoint(checkpoint, runner.model, opt, {
                    "epoch": epoch + 1, "val_pr_auc": f"{val_pr:.6f}", "conv": cfg.conv,
                    "layers": cfg.layers, "hidden": cfg.hidden, "heads": cfg.heads,
                    "target": data.target, "seed": seed, "aggr": cfg.aggr,
                    "fanouts": ",".join(map(str, cfg.fanouts)),
                    "temporal_strategy": cfg.temporal_strategy,
                    "seed_identity": int(runner.identity is not None)})
        else:
            waited += 1
            if waited >= cfg.patience:
                break
    if hasattr(epochs_bar, "close"):
        epochs_bar.close()
    for k, v in runner.model.parameters().items():
        v[...] = best_params[k]
    test_scores = runner.predict(data.test, key=1 << 41)
    return {"test_scores": test_scores, "history": history, "best_epoch": best_epoch,
            "pos_weight": pos_weight, "seconds": time.perf_counter() - t_start,
            "seconds_per_epoch": float(np.median(history["seconds"])),
            "temporal": runner.temporal, "parameters": runner.model.num_parameters,
            "identity": runner.identity.entity_types if runner.identity is not None else []}


class _NullBar:
    def __iter__(self):
        return iter(())


# ---- tabular baselines -----------------------------------------------------------------------

class _TimedRelation:
    """One relation's CSC with every neighbour list in time order, and a search key so that
    "edges of list v with timestamp <= t" is a prefix found by one global searchsorted."""

    def __init__(self, graph, rel, use_time: bool):
        indptr, indices, _ = graph.csc(rel)
        self.indptr = np.asarray(indptr, np.int64)
        self.src = np.asarray(indices, np.int64)
        ts = graph.timestamps(rel) if use_time else None
        self.timed = ts is not None
        if not self.timed:
            return
        ts = np.asarray(ts, np.int64)
        lists = np.repeat(np.arange(len(self.indptr) - 1, dtype=np.int64), np.diff(self.indptr))
        order = np.lexsort((ts, lists))  # stable within a list: already-sorted lists stay put
        self.src, ts = self.src[order], ts[order]
        self.times = np.unique(ts)
        rank = np.searchsorted(self.times, ts)
        self.stride = len(self.times) + 1
        self.key = lists * self.stride + rank + 1

    def eligible(self, v: np.ndarray, t: Optional[np.ndarray]) -> np.ndarray:
        """Number of edges of each list v[i] with timestamp <= t[i] (all without times)."""
        if not self.timed or t is None:
            return self.indptr[v + 1] - self.indptr[v]
        r = np.searchsorted(self.times, t, side="right")  # ranks <= t: rank + 1 <= r
        return np.searchsorted(self.key, v * self.stride + r, side="right") - self.indptr[v]


def _expand(begin: np.ndarray, count: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(row of each pair, position) for the ranges [begin[i], begin[i] + count[i])."""
    rows = np.repeat(np.arange(len(begin), dtype=np.int64), count)
    starts = np.repeat(begin - np.concatenate([[0], np.cumsum(count)[:-1]]), count)
    return rows, starts + np.arange(int(count.sum()), dtype=np.int64)


def neighbour_aggregated_features(graph, target: str, ids: np.ndarray,
                                  times: Optional[np.ndarray], chunk: int = 100_000):
    """Own features, 1-hop means + counts per relation into the target, 2-hop means + walk
    counts per relation path (the C++ app's columns); temporal when ``times`` is given.
    Means are over edges (a neighbour reached twice counts twice); 0 where there are none."""
    import scipy.sparse as sp
    use_time = times is not None
    feats = {t: np.asarray(graph.features(t), np.float64) for t in graph.node_types}
    rels = graph.relations
    hop1 = [r for r in rels if r[2] == target]
    hop2 = [(r1, r2) for r1 in hop1 for r2 in rels if r2[2] == r1[0]]
    timed = {r: _TimedRelation(graph, r, use_time) for r in {*hop1, *(r2 for _, r2 in hop2)}}
    # Per relation r, prefix sums over its time-ordered edge list of the source features.
    prefix = {}
    for r, tr in timed.items():
        x = feats[r[0]]
        c = np.zeros((len(tr.src) + 1, x.shape[1]), np.float64)
        np.cumsum(x[tr.src], axis=0, out=c[1:])
        prefix[r] = c
    names = [f"self.x{j}" for j in range(feats[target].shape[1])]
    for r in hop1:
        names += [f"1hop.{'__'.join(r)}.mean.x{j}" for j in range(feats[r[0]].shape[1])]
        names.append(f"1hop.{'__'.join(r)}.count")
    for r1, r2 in hop2:
        p = f"2hop.{'__'.join(r1)}.{'__'.join(r2)}"
        names += [f"{p}.mean.x{j}" for j in range(feats[r2[0]].shape[1])] + [f"{p}.count"]
    out = np.zeros((len(ids), len(names)), np.float32)
    for c0 in range(0, len(ids), chunk):
        v = np.asarray(ids[c0:c0 + chunk], np.int64)
        t = times[v] if use_time else None
        cols = [feats[target][v]]
        k1 = {}
        for r in hop1:
            tr = timed[r]
            k = tr.eligible(v, t)
            b = tr.indptr[v]
            k1[r] = (b, k)
            s = prefix[r][b + k] - prefix[r][b]
            cols += [s / np.maximum(k, 1)[:, None], k[:, None].astype(np.float64)]
        for r1, r2 in hop2:
            b, k = k1[r1]
            rows, pos = _expand(b, k)
            a = timed[r1].src[pos]  # 1-hop neighbours, one row per eligible edge
            t2 = timed[r2]
            k2 = t2.eligible(a, t[rows] if use_time else None)
            b2 = t2.indptr[a]
            pair = prefix[r2][b2 + k2] - prefix[r2][b2]
            m = sp.csr_matrix((np.ones(len(rows)), (rows, np.arange(len(rows)))),
                              shape=(len(v), len(rows)))
            s = m @ pair
            walks = np.bincount(rows, k2, minlength=len(v))
            cols += [s / np.maximum(walks, 1)[:, None], walks[:, None]]
        out[c0:c0 + len(v)] = np.concatenate(cols, axis=1)
    return out, names


def train_xgboost(xtr, ytr, xva, yva, xte, seed: int, threads: int) -> dict:
    import xgboost as xgb
    t0 = time.perf_counter()
    pos = float(ytr.sum())
    params = {"objective": "binary:logistic", "eval_metric": "aucpr", "tree_method": "hist",
              "max_depth": 6, "eta": 0.1, "subsample": 0.8, "colsample_bytree": 0.8,
              "scale_pos_weight": (len(ytr) - pos) / max(pos, 1.0), "seed": seed % 2 ** 31,
              "verbosity": 1}
    if threads > 0:
        params["nthread"] = threads
    dtr = xgb.DMatrix(xtr, label=ytr)
    dva = xgb.DMatrix(xva, label=yva)
    booster = xgb.train(params, dtr, num_boost_round=300, evals=[(dva, "val")],
                        early_stopping_rounds=30, verbose_eval=False)
    best = int(booster.best_iteration)
    scores = booster.predict(xgb.DMatrix(xte), iteration_range=(0, best + 1))
    return {"test_scores": np.asarray(scores, np.float64), "best_round": best + 1,
            "seconds": time.perf_counter() - t0, "version": xgb.__version__}


# ---- metrics and report ----------------------------------------------------------------------

def compute_metrics(y, s) -> dict:
    from gnnkit import train as T
    y = np.asarray(y, np.int64)
    s = np.asarray(s, np.float64)
    return {"roc_auc": T.roc_auc(y, s), "pr_auc": T.average_precision(y, s),
            "recall_at_1pct_fpr": T.recall_at_fpr(y, s, MAX_FPR),
            "precision_at_top_0.5pct": T.precision_at_top_fraction(y, s, TOP_FRACTION),
            "count": int(len(y)), "positives": int(y.sum()), "negatives": int(len(y) - y.sum()),
            "positive_rate": float(y.mean())}


def _short(name: str) -> str:
    import re
    return re.sub(r"_+", "_", re.sub(r"[^a-z0-9]", "_", name.lower())).strip("_")


def write_plots(out: Path, y_test, models: Dict[str, np.ndarray], runs: List[dict]) -> dict:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from gnnkit import train as T
    files = {}
    y = np.asarray(y_test, np.int64)

    fig, ax = plt.subplots(figsize=(6, 5))
    for name, s in models.items():
        fpr, tpr, _ = T.roc_curve(y, s)
        ax.plot(fpr, tpr, label=f"{name} (AUC {T.roc_auc(y, s):.3f})")
    ax.plot([0, 1], [0, 1], ls=":", c="grey", lw=1, label="random")
    ax.set(title="ROC curve (test set)", xlabel="false-positive rate (legitimate flagged)",
           ylabel="true-positive rate (fraud caught)")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "roc.png", dpi=110)
    plt.close(fig)
    files["roc"] = "roc.png"

    fig, ax = plt.subplots(figsize=(6, 5))
    for name, s in models.items():
        prec, rec, _ = T.pr_curve(y, s)
        ax.plot(rec, prec, label=f"{name} (AP {T.average_precision(y, s):.3f})")
    ax.axhline(y.mean(), ls=":", c="grey", lw=1, label=f"random ({y.mean():.3f})")
    ax.set(title="Precision-recall curve (test set)", xlabel="recall (share of fraud caught)",
           ylabel="precision (share of alerts that are fraud)", ylim=(0, 1.02))
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "pr.png", dpi=110)
    plt.close(fig)
    files["pr"] = "pr.png"

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    for i, run in enumerate(runs):
        h = run["history"]
        e = np.arange(1, len(h["train_loss"]) + 1)
        suffix = f" (seed {run['seed']})" if len(runs) > 1 else ""
        a1.plot(e, h["train_loss"], marker="o", c=f"C{2 * i % 10}", label="train loss" + suffix)
        a1.plot(e, h["val_loss"], marker="s", ls="--", c=f"C{(2 * i + 1) % 10}",
                label="validation loss" + suffix)
        a2.plot(e, h["val_pr_auc"], marker="o", c=f"C{i % 10}", label="validation PR-AUC" + suffix)
        b = run["best_epoch"]
        if b >= 0:
            a2.scatter([b + 1], [h["val_pr_auc"][b]], marker="*", s=150, c=f"C{i % 10}",
                       zorder=3, label=("best epoch" + suffix) if i == 0 or len(runs) < 4 else None)
    a1.set(title="Loss per epoch (pos-weighted BCE)", xlabel="epoch", ylabel="loss")
    a2.set(title="Validation PR-AUC per epoch", xlabel="epoch", ylabel="PR-AUC")
    a1.legend(fontsize=7)
    a2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "training.png", dpi=110)
    plt.close(fig)
    files["training"] = "training.png"

    for name, s in models.items():
        fig, ax = plt.subplots(figsize=(6, 3.5))
        bins = np.linspace(0, 1, 41)
        ax.hist(s[y == 0], bins=bins, alpha=0.6, density=True, label=f"legitimate ({(y == 0).sum()})")
        ax.hist(s[y == 1], bins=bins, alpha=0.6, density=True, label=f"fraud ({(y == 1).sum()})")
        ax.set(title=f"Test scores: {name}", xlabel="score (probability of fraud)",
               ylabel="density (log)", yscale="log")
        ax.legend(fontsize=8)
        fig.tight_layout()
        f = f"scores_{_short(name)}.png"
        fig.savefig(out / f, dpi=110)
        plt.close(fig)
        files[f"scores:{name}"] = f
    return files


def _fmt(m: dict, key: str, multi: bool) -> str:
    if multi:
        return f"{m[key]:.4f} ± {m[key + '_std']:.4f}"
    return f"{m[key]:.4f}"


def write_report(out: Path, title: str, data: FraudData, model_names: List[str],
                 per_seed: List[Dict[str, dict]], gnn_runs: List[dict], plots: dict,
                 extra: Dict[str, str]) -> dict:
    seeds = [r["seed"] for r in gnn_runs] or [None]
    multi = len(per_seed) > 1
    summary = []
    for name in model_names:
        rows = [ps[name] for ps in per_seed if name in ps]
        m = {"name": name}
        for key, _ in METRIC_COLUMNS:
            v = np.array([r[key] for r in rows], np.float64)
            m[key] = float(v.mean())
            m[key + "_std"] = float(v.std(ddof=1)) if len(v) > 1 else 0.0
        for key in ("count", "positives", "negatives", "positive_rate"):
            m[key] = rows[0][key]
        m["per_seed"] = [{"seed": s, **{k: r[k] for k, _ in METRIC_COLUMNS}}
                         for s, r in zip(seeds, rows)]
        summary.append(m)
    best = {key: max(summary, key=lambda m: m[key])["name"] for key, _ in METRIC_COLUMNS}
    metrics = {
        "title": title, "dataset": data.description, "split": data.split_note,
        "operating_points": {"max_fpr": MAX_FPR, "top_fraction": TOP_FRACTION},
        "seeds": seeds, "models": summary, "best": best,
        "training": [{"seed": r["seed"], "epochs": len(r["history"]["train_loss"]),
                      "best_epoch": r["best_epoch"] + 1, **{k: r["history"][k] for k in
                      ("train_loss", "val_loss", "val_pr_auc", "val_roc_auc")}}
                     for r in gnn_runs],
        "extra": extra,
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")

    md = [f"# {title}", "", f"**Data.** {data.description}", "", f"**Split.** {data.split_note}", ""]
    for note in data.feature_notes:
        md.append(f"- {note}")
    if data.feature_notes:
        md.append("")
    md += ["## Test metrics", ""]
    if multi:
        md += [f"Mean ± standard deviation over {len(per_seed)} seeds ({', '.join(map(str, seeds))}); "
               "curves and histograms below are of the first seed.", ""]
    header = "| Model | " + " | ".join(h for _, h in METRIC_COLUMNS) + " | Test cases | Positives |"
    md += [header, "|---|" + "---:|" * (len(METRIC_COLUMNS) + 2)]
    for m in summary:
        cells = []
        for key, _ in METRIC_COLUMNS:
            v = _fmt(m, key, multi)
            cells.append(f"**{v}** ★" if best[key] == m["name"] else v)
        md.append(f"| {m['name']} | " + " | ".join(cells)
                  + f" | {m['count']} | {m['positives']} ({100 * m['positive_rate']:.2f}%) |")
    md += ["", "★ best in its column. ROC-AUC: probability that a random fraud case scores above "
           "a random legitimate one. PR-AUC (average precision): the headline metric for rare "
           "fraud; a random ranking scores the fraud rate. Recall @ 1% FPR: share of fraud caught "
           "while flagging at most 1% of legitimate cases. Precision @ top 0.5%: share of fraud "
           "among the 0.5% highest scores.", ""]
    md += ["## ROC curve", "", f"![ROC curves]({plots['roc']})", "",
           "## Precision-recall curve", "", f"![Precision-recall curves]({plots['pr']})", "",
           "## Training", "", f"![Training curves]({plots['training']})", "",
           "Left: pos-weighted BCE per epoch (train: mean over batches; validation: on "
           "probabilities). Right: validation PR-AUC, the early-stopping metric; the star marks "
           "the kept (checkpointed) epoch.", "", "## Score distributions", ""]
    for key, f in plots.items():
        if key.startswith("scores:"):
            md += [f"![Scores of {key[7:]}]({f})", ""]
    md += ["Test-set score histograms by class (log density): the further apart, the better.", ""]
    md += ["## Run details", "", "| | |", "|---|---|"]
    md += [f"| {k} | {v} |" for k, v in extra.items()]
    md += ["", "Raw numbers: [metrics.json](metrics.json).", ""]
    (out / "report.md").write_text("\n".join(md))
    return metrics


# ---- the command -----------------------------------------------------------------------------

def parse_ints(text: str, option: str) -> List[int]:
    try:
        vals = [int(t) for t in text.split(",") if t.strip() != ""]
    except ValueError:
        raise UsageError(f"'{option}' expects a comma-separated list of integers, got '{text}'")
    if not vals:
        raise UsageError(f"'{option}' needs at least one value")
    return vals


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fraud.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train the GNN and the XGBoost baselines, write a report")
    src = t.add_mutually_exclusive_group(required=True)
    src.add_argument("--graph", help="gnnkit graph file from `gnnkit-fraud generate`")
    src.add_argument("--dataset", help=f"real dataset: {', '.join(FRAUD_DATASETS)}")
    t.add_argument("--data-root", help="folder holding the datasets (default: GNNKIT_DATA_ROOT "
                                       "or ../shared/data)")
    t.add_argument("--out", required=True, help="report folder")
    t.add_argument("--target", default="transaction",
                   help="node type to classify in a graph file (default transaction)")
    t.add_argument("--conv", choices=("sage", "gat"), default="sage")
    t.add_argument("--layers", type=int, default=None,
                   help="GNN layers = sampling hops (default: 3 for a --graph from gnnkit-fraud "
                        "generate, whose fraud rings show three hops from a payment; 2 for a "
                        "--dataset)")
    t.add_argument("--hidden", type=int, default=64)
    t.add_argument("--heads", type=int, default=4, help="GAT heads (default 4)")
    t.add_argument("--fanouts", default=None,
                   help="neighbours per hop and relation (default: 10 for the first two hops, "
                        "5 beyond)")
    t.add_argument("--aggr", choices=("max", "mean", "sum"), default=None,
                   help="SAGE neighbour aggregation (default: max for a --graph, as gnnkit-fraud "
                        "train; mean for a --dataset)")
    t.add_argument("--temporal-strategy", choices=("recent", "uniform"), default="recent",
                   help="temporal sampling: the most recent earlier edges (default) or a uniform "
                        "sample of them")
    t.add_argument("--epochs", type=int, default=20)
    t.add_argument("--patience", type=int, default=4)
    t.add_argument("--batch", type=int, default=1024)
    t.add_argument("--lr", type=float, default=3e-3)
    t.add_argument("--weight-decay", type=float, default=0.0)
    t.add_argument("--dropout", type=float, default=0.2)
    t.add_argument("--pos-weight", type=float, default=0.0,
                   help="positive-class weight (default sqrt(neg/pos) of train)")
    t.add_argument("--seeds", default="1", help="model seeds, e.g. 1,2,3,4,5 (mean ± std)")
    t.add_argument("--split-seed", type=int, default=0,
                   help="seed of the stratified split when the data has no times (default 0)")
    t.add_argument("--standardize", choices=("auto", "on", "off"), default="auto",
                   help="GNN inputs as z-scores of signed log1p (auto: on for --dataset)")
    t.add_argument("--no-temporal", action="store_true",
                   help="sample and aggregate without the time constraint (not leakage-free)")
    t.add_argument("--no-seed-identity", action="store_true",
                   help="without the seed-identity input columns (same user / card / device... "
                        "as the example's, per sampled transaction)")
    t.add_argument("--no-baselines", action="store_true", help="skip the XGBoost baselines")
    t.add_argument("--no-progress", action="store_true", help="no tqdm progress bars")
    t.add_argument("--threads", type=int, default=0, help="CPU threads (0: all cores)")
    t.add_argument("--quiet", action="store_true", help="no per-epoch log lines")
    return p


def train_command(args) -> int:
    _import_gnnkit()
    seeds = parse_ints(args.seeds, "--seeds")
    if args.layers is None:
        args.layers = 2 if args.dataset else 3
    if args.aggr is None:
        args.aggr = "mean" if args.dataset else "max"
    if args.fanouts is None:
        args.fanouts = ",".join("10" if h < 2 else "5" for h in range(max(args.layers, 0)))
    fanouts = tuple(parse_ints(args.fanouts, "--fanouts"))
    if len(fanouts) != args.layers:
        raise UsageError(f"--fanouts needs one value per layer ({args.layers}), got {len(fanouts)}")
    if min(args.layers, args.hidden, args.epochs, args.batch, args.patience) < 1:
        raise UsageError("--layers, --hidden, --epochs, --batch and --patience must be positive")
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RuntimeError(f"cannot create output folder '{out}': {e}")
    log = (lambda *_: None) if args.quiet else (lambda s: print(s, file=sys.stderr, flush=True))

    t0 = time.perf_counter()
    if args.dataset:
        data = load_dataset(args.dataset, args.data_root, args.split_seed)
        title = f"Fraud detection: {args.dataset}"
    else:
        data = load_graph_file(args.graph, args.target, args.split_seed)
        title = f"Fraud detection: {Path(args.graph).name}"
    log(f"loaded in {time.perf_counter() - t0:.2f} s: {data.description}")
    log(f"split: {data.split_note} ({len(data.train)} / {len(data.val)} / {len(data.test)})")
    for note in data.feature_notes:
        log(f"note: {note}")
    for part, ids in (("train", data.train), ("validation", data.val), ("test", data.test)):
        y = data.labels[ids]
        if len(ids) == 0 or y.min() < 0 or y.sum() == 0 or y.sum() == len(y):
            raise RuntimeError(f"the {part} part needs labelled nodes of both classes, got "
                               f"{int(y.sum())} positives of {len(ids)}")
    standardize = args.standardize == "on" or (args.standardize == "auto" and bool(args.dataset))
    inputs = standardized_inputs(data.graph) if standardize else None

    cfg = GnnConfig(conv=args.conv, layers=args.layers, hidden=args.hidden, heads=args.heads,
                    fanouts=fanouts, aggr=args.aggr, temporal_strategy=args.temporal_strategy,
                    epochs=args.epochs, patience=args.patience,
                    batch_size=args.batch, lr=args.lr, weight_decay=args.weight_decay,
                    dropout=args.dropout, pos_weight=args.pos_weight,
                    temporal=not args.no_temporal, seed_identity=not args.no_seed_identity,
                    threads=args.threads,
                    progress=not args.no_progress)
    y_test = data.labels[data.test]
    gnn_name = f"GNN ({args.conv})"
    per_seed: List[Dict[str, dict]] = [dict() for _ in seeds]
    first_scores: Dict[str, np.ndarray] = {}
    gnn_runs = []
    for i, seed in enumerate(seeds):
        ckpt = out / ("model.ckpt" if len(seeds) == 1 else f"model_seed{seed}.ckpt")
        r = train_gnn(data, cfg, seed, ckpt, inputs, log)
        r["seed"] = seed
        r["checkpoint"] = ckpt.name
        gnn_runs.append(r)
        per_seed[i][gnn_name] = compute_metrics(y_test, r["test_scores"])
        if i == 0:
            first_scores[gnn_name] = r["test_scores"]
        m = per_seed[i][gnn_name]
        log(f"{gnn_name} seed {seed}: test ROC-AUC {m['roc_auc']:.4f}, PR-AUC {m['pr_auc']:.4f} "
            f"(best epoch {r['best_epoch'] + 1}, {r['seconds']:.1f} s)")
    model_names = [gnn_name]

    xgb_info = {}
    if not args.no_baselines:
        temporal_x = data.times if (cfg.temporal and data.times is not None) else None
        ytr, yva = data.labels[data.train], data.labels[data.val]
        for kind, name in ((0, "XGBoost (own features)"), (1, "XGBoost (+ neighbour aggregates)")):
            tf = time.perf_counter()
            if kind == 0:
                x = np.asarray(data.graph.features(data.target), np.float32)
                xtr, xva, xte = x[data.train], x[data.val], x[data.test]
                width = x.shape[1]
            else:
                allids = np.concatenate([data.train, data.val, data.test])
                xall, cols = neighbour_aggregated_features(data.graph, data.target, allids,
                                                           temporal_x)
                a, b = len(data.train), len(data.train) + len(data.val)
                xtr, xva, xte = xall[:a], xall[a:b], xall[b:]
                width = len(cols)
            feature_seconds = time.perf_counter() - tf
            rounds = []
            for i, seed in enumerate(seeds):
                r = train_xgboost(xtr, ytr, xva, yva, xte, seed, args.threads)
                per_seed[i][name] = compute_metrics(y_test, r["test_scores"])
                rounds.append(r["best_round"])
                if i == 0:
                    first_scores[name] = r["test_scores"]
                m = per_seed[i][name]
                log(f"{name} seed {seed}: {width} columns, best round {r['best_round']}, "
                    f"test ROC-AUC {m['roc_auc']:.4f}, PR-AUC {m['pr_auc']:.4f}, "
                    f"{r['seconds']:.1f} s")
            xgb_info[name] = (width, rounds, feature_seconds, r["version"])
            model_names.append(name)

    plots = write_plots(out, y_test, first_scores, gnn_runs)
    run0 = gnn_runs[0]
    extra = {
        "model": f"{args.conv}, {args.layers} layers, hidden {args.hidden}"
                 + (f", heads {args.heads}" if args.conv == "gat" else f", {args.aggr} aggregation")
                 + f", input projection, dropout {args.dropout}, {run0['parameters']:,} parameters",
        "sampling": (f"temporal ({args.temporal_strategy} among edges no later than the example), disjoint, "
                     if run0["temporal"] else "static, ")
                    + "fan-outs " + ",".join(map(str, fanouts)),
        "seed-identity inputs": (f"same {', '.join(run0['identity'])} as the example"
                                 if run0["identity"] else "off"),
        "optimiser": f"AdamW lr {args.lr}, weight decay {args.weight_decay}, batch {args.batch}",
        "GNN inputs": "z-scores of signed log1p features" if standardize else "raw features",
        "positive-class weight": f"{run0['pos_weight']:.2f}",
        "epochs run / best": "; ".join(f"seed {r['seed']}: {len(r['history']['train_loss'])} / "
                                       f"{r['best_epoch'] + 1}" for r in gnn_runs),
        "GNN training time": "; ".join(f"seed {r['seed']}: {r['seconds']:.1f} s "
                                       f"({r['seconds_per_epoch']:.1f} s per epoch)"
                                       for r in gnn_runs),
        "checkpoint": ", ".join(r["checkpoint"] for r in gnn_runs),
    }
    for name, (width, rounds, fs, version) in xgb_info.items():
        extra[name] = (f"{width} columns (built in {fs:.1f} s), best round "
                       f"{', '.join(map(str, rounds))}; xgboost {version}")
    if xgb_info:
        extra["baseline aggregates"] = ("temporal (edges with timestamp <= the example's time)"
                                        if cfg.temporal and data.times is not None
                                        else "all edges (no node times)")
    import gnnkit
    extra["gnnkit"] = getattr(gnnkit, "__version__", "?")
    metrics = write_report(out, title, data, model_names, per_seed, gnn_runs, plots, extra)

    multi = len(seeds) > 1
    print(f"{'model (test)':<36} {'ROC-AUC':>17} {'PR-AUC':>17} {'recall@1%FPR':>17} "
          f"{'prec@top0.5%':>17}")
    for m in metrics["models"]:
        cells = [(f"{m[k]:.4f}±{m[k + '_std']:.4f}" if multi else f"{m[k]:.4f}")
                 for k, _ in METRIC_COLUMNS]
        print(f"{m['name']:<36} " + " ".join(f"{c:>17}" for c in cells))
    print(f"report: {out / 'report.md'}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            return train_command(args)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (RuntimeError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
