#!/usr/bin/env python3
"""gnnkit's fraud GNN next to the same model trained with PyTorch Geometric (issue 7).

    .venv/bin/python bench/compare/run_fraud.py                       # both parts, defaults
    .venv/bin/python bench/compare/run_fraud.py --parts accuracy --datasets yelpchi-rur --seeds 1,2
    .venv/bin/python bench/compare/run_fraud.py --parts speed --graph /tmp/fraud200k.gnn --rounds 3
    .venv/bin/python bench/compare/run_fraud.py --conv gat --heads 4   # another architecture

(gnnkit is taken from build-py/python, see --gnnkit-pythonpath; PyG from .venv-compare.)

What is compared
----------------
gnnkit's side *is* examples/fraud/python/fraud.py: the worker imports it and calls its
functions (``load_dataset`` / ``load_graph_file``, ``standardized_inputs``, ``GnnRunner``,
``train_gnn``, ``compute_metrics``), so gnnkit's numbers are what ``fraud.py train`` produces
for the same options (without the XGBoost baselines). The PyG side rebuilds that model and that
training loop with torch_geometric:

* model: per node type ``Linear(in, hidden)`` (no activation after it), then ``layers`` x
  ``HeteroConv({relation: SAGEConv(hidden, w, aggr='mean', root_weight=True, bias=True)},
  aggr='sum')`` (or ``GATConv(hidden, w/heads, heads, concat=True, negative_slope=0.2,
  add_self_loops=src_type == dst_type)``; last layer: 1 head, concat=False), ReLU then dropout
  after every layer but the last, the last layer's width is 1 (the logit; no separate head).
  That is ``gnnkit.nn.Model(..., aggr='mean', hetero_aggr='sum', activation='relu',
  input_projection=True, out=1)`` as fraud.py builds it (include/gnnkit/nn/model.hpp).
* initial weights: by default the PyG model starts from *gnnkit's initial weights for the same
  seed* (exported by the gnnkit worker, transposed to PyTorch's layout), so both sides start at
  the same point (gnnkit: Glorot-uniform weights, zero biases; PyG's own default would be
  kaiming-uniform Linear weights with uniform biases). ``--pyg-init pyg`` keeps PyG's own init.
  Before training, a forward pass of the PyG model over one of gnnkit's sampled mini-batches
  (the same nodes and edges, eval mode) must reproduce gnnkit's logits (max abs diff logged;
  rule 7 of BENCHMARKING.md).
* data: the gnnkit worker exports exactly what fraud.py trains on (its split, its standardised
  inputs, its relations including the added reverse relations) to an .npz; the PyG worker
  reads it, so node ids of train/val/test are identical on both sides.
* training (fraud.py's ``train_gnn``): per epoch the train ids in the order
  ``default_rng(seed * 1000003 + epoch).permutation(train)``, cut into batches of ``batch``
  seeds (the same seed batches on both sides), ``fanouts`` neighbours per hop and relation,
  BCE with logits and pos_weight sqrt(neg/pos) of train (mean over the batch), AdamW
  (lr, weight decay 0 unless --weight-decay, betas (0.9, 0.999), eps 1e-8), validation
  PR-AUC after every epoch (scores from sampled mini-batches, eval mode), early stopping
  with patience, the best epoch's weights scored on the test part.
* metrics: test ROC-AUC and PR-AUC (average precision), computed for both sides by
  scikit-learn in the driver from the test scores (gnnkit's own ``compute_metrics`` values are
  logged next to them as a cross-check).

Sampler semantics: PyG's NeighborLoader samples through torch_sparse here (pyg-lib is not
installed), which supports neither temporal nor disjoint sampling (PyG raises "'disjoint'
sampling not supported for neighbor sampling via 'torch-sparse'"). fraud.py samples
temporally and disjointly only when the target node type has node times: none of the four
real datasets has them (their splits are seeded stratified splits), so part (a) uses the same
sampler semantics on both sides (uniform without replacement, hop by hop, a node expanded once
per batch). The synthetic graph's transactions do have times, so for part (b) gnnkit runs
fraud.py's configuration (temporal + disjoint, with its seed-identity input columns) *and* the
static configuration (``--no-temporal``: the same semantics as PyG's torch_sparse sampler, and
the same inputs: no identity columns without disjoint subtrees), and PyG runs static.

Timing (part b): one training epoch (sampling, feature gathering, forward, backward,
optimiser step over every train batch; validation excluded, as fraud.py's per-epoch seconds)
on a ``gnnkit-fraud generate`` graph. Each library runs in its own warm worker process pinned
to the same ``--threads`` cores (gnnkit num_threads=N; torch.set_num_threads(N), loader in the
main process, jemalloc preloaded), and the driver interleaves epochs: gnnkit, gnnkit-static,
PyG, gnnkit, ... for --rounds rounds after --warmup-batches warm-up batches per worker. It
reports the median epoch time, p10/p90, sampled edges and nodes per batch, and the ratios.

Output: a Markdown table on stdout and bench/results/fraud-compare-<date>.json (--out).
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

ROOT = common.ROOT
FRAUD_DIR = ROOT / "examples" / "fraud" / "python"
RESULTS_DIR = ROOT / "bench" / "results"
DATASETS = ("amazon-fraud-upu", "yelpchi-rur", "bitcoin-otc-rev2", "bitcoin-alpha-rev2")
PREFIX = common.RESULT_PREFIX


# ---- shared small helpers ------------------------------------------------------------------

def emit(obj: Dict[str, Any]) -> None:
    try:
        obj = dict(obj, peak_rss=common.peak_rss_bytes())
    except OSError:
        pass
    print(PREFIX + json.dumps(obj), flush=True)


def wlog(*a: Any) -> None:
    print(*a, file=sys.stderr, flush=True)


def roc_auc_np(y: np.ndarray, s: np.ndarray) -> float:
    """ROC-AUC with ties counted one half (== sklearn.metrics.roc_auc_score)."""
    from scipy.stats import rankdata
    y = np.asarray(y, np.int64)
    r = rankdata(np.asarray(s, np.float64))
    p = int(y.sum())
    n = len(y) - p
    return float((r[y == 1].sum() - p * (p + 1) / 2) / (p * n))


def average_precision_np(y: np.ndarray, s: np.ndarray) -> float:
    """sum_n (R_n - R_{n-1}) P_n over distinct thresholds (== sklearn's average_precision)."""
    y = np.asarray(y, np.int64)
    s = np.asarray(s, np.float64)
    o = np.argsort(-s, kind="mergesort")
    y, s = y[o], s[o]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last index of each tie group
    tp = np.cumsum(y)[last]
    fp = (last + 1) - tp
    prec = tp / (tp + fp)
    rec = tp / max(int(y.sum()), 1)
    return float(np.sum(np.diff(np.r_[0.0, rec]) * prec))


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 24), b""):
            h.update(chunk)
    return h.hexdigest()


def gnn_config(args, temporal: bool = True):
    import fraud
    return fraud.GnnConfig(conv=args.conv, layers=args.layers, hidden=args.hidden,
                           heads=args.heads, fanouts=tuple(args.fanouts), epochs=args.epochs,
                           patience=args.patience, batch_size=args.batch, lr=args.lr,
                           weight_decay=args.weight_decay, dropout=args.dropout,
                           pos_weight=args.pos_weight, temporal=temporal, aggr=args.aggr,
                           temporal_strategy=args.temporal_strategy,
                           threads=args.threads, progress=False)


# ---- gnnkit worker (project venv + build-py/python + examples/fraud/python) ----------------

def export_data(data, inputs: Optional[Dict[str, np.ndarray]], path: Path) -> Dict[str, Any]:
    """What fraud.py trains on, for the PyG side: features (standardised when fraud.py does),
    every relation as COO (reverse relations included), labels, the split, node times."""
    g = data.graph
    arrays: Dict[str, np.ndarray] = {}
    for i, t in enumerate(g.node_types):
        x = inputs[t] if inputs is not None else np.asarray(g.features(t), np.float32)
        arrays[f"x{i}"] = np.ascontiguousarray(x, np.float32)
    for r, rel in enumerate(g.relations):
        indptr, indices, _ = g.csc(rel)
        indptr = np.asarray(indptr, np.int64)
        arrays[f"rel{r}_src"] = np.asarray(indices, np.int64)
        arrays[f"rel{r}_dst"] = np.repeat(np.arange(len(indptr) - 1, dtype=np.int64),
                                          np.diff(indptr))
    arrays["labels"] = np.asarray(data.labels, np.int64)
    arrays["train"], arrays["val"], arrays["test"] = (np.asarray(a, np.int64) for a in
                                                      (data.train, data.val, data.test))
    if data.times is not None:
        arrays["times"] = np.asarray(data.times, np.int64)
    meta = {"node_types": list(g.node_types), "relations": [list(r) for r in g.relations],
            "num_nodes": [int(g.num_nodes(t)) for t in g.node_types], "target": data.target,
            "has_times": data.times is not None, "split_note": data.split_note,
            "description": data.description, "feature_notes": list(data.feature_notes),
            "standardized": inputs is not None}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(path, **arrays)
    h = hashlib.sha256()
    for k in sorted(arrays):
        h.update(k.encode())
        h.update(np.ascontiguousarray(arrays[k]).tobytes())
    meta["input_hash"] = h.hexdigest()
    meta["split_sizes"] = [len(data.train), len(data.val), len(data.test)]
    meta["split_positives"] = [int(data.labels[p].sum()) for p in (data.train, data.val, data.test)]
    return meta


def export_init_and_check(data, cfg, seed: int, inputs, path: Path, n_check: int) -> None:
    """The initial parameters fraud.py's model gets for ``seed`` (GnnRunner is deterministic in
    the seed), plus one sampled eval mini-batch of validation ids and gnnkit's logits on it."""
    import fraud
    runner = fraud.GnnRunner(data, cfg, seed, inputs)
    arrays = {f"param:{k}": np.array(v) for k, v in runner.model.parameters().items()}
    ids = np.asarray(data.val[:n_check], np.int64)
    mb, x = runner._batch(ids, 7777)
    out = runner.model.forward(mb, x, training=False)
    g = data.graph
    for i, t in enumerate(g.node_types):
        arrays[f"check_nodes{i}"] = np.asarray(mb.nodes[t], np.int64)
    for r, rel in enumerate(g.relations):
        sr = mb.relations[rel]
        arrays[f"check_rel{r}_indptr"] = np.asarray(sr.indptr, np.int64)
        arrays[f"check_rel{r}_indices"] = np.asarray(sr.indices, np.int64)
    seed_local = np.asarray(mb.seed_local, np.int64)
    arrays["check_seed_local"] = seed_local
    arrays["check_logits"] = np.asarray(out, np.float64)[seed_local, 0]
    np.savez(path, **arrays)


def gnnkit_accuracy_worker(args) -> None:
    sys.path.insert(0, str(FRAUD_DIR))
    import fraud
    import gnnkit
    exdir = Path(args.exchange)
    data = fraud.load_dataset(args.dataset, args.data_root, args.split_seed)
    inputs = fraud.standardized_inputs(data.graph)  # fraud.py: --standardize auto = on for --dataset
    cfg = gnn_config(args)
    meta = export_data(data, inputs, exdir / "data.npz")
    runs = []
    for seed in args.seeds:
        export_init_and_check(data, cfg, seed, inputs, exdir / f"init{seed}.npz", args.check_size)
        r = fraud.train_gnn(data, cfg, seed, None, inputs,
                            log=lambda s: wlog(f"[gnnkit {args.dataset}] {s}"))
        m = fraud.compute_metrics(data.labels[data.test], r["test_scores"])
        wlog(f"[gnnkit {args.dataset}] seed {seed}: test ROC-AUC {m['roc_auc']:.4f}, PR-AUC "
             f"{m['pr_auc']:.4f}, best epoch {r['best_epoch'] + 1}, {r['seconds']:.1f} s")
        runs.append({"seed": seed, "test_scores": r["test_scores"].tolist(),
                     "fraud_py_metrics": {k: m[k] for k in ("roc_auc", "pr_auc")},
                     "history": r["history"], "best_epoch": r["best_epoch"],
                     "epochs_run": len(r["history"]["train_loss"]),
                     "seconds": r["seconds"], "seconds_per_epoch": r["seconds_per_epoch"],
                     "pos_weight": r["pos_weight"], "temporal": r["temporal"],
                     "parameters": r["parameters"]})
    emit({"lib": "gnnkit", "meta": meta, "runs": runs, "y_test": data.labels[data.test].tolist(),
          "versions": {"gnnkit": getattr(gnnkit, "__version__", "?"),
                       "gnnkit_module": gnnkit.__file__}})


class GnnkitEpochWorker:
    """fraud.py's training loop for one epoch (train_gnn's inner loop, unchanged; the batches
    counted on the way)."""

    def __init__(self, args, temporal: bool):
        sys.path.insert(0, str(FRAUD_DIR))
        import fraud
        from gnnkit import train as T
        self.T = T
        self.data = fraud.load_graph_file(args.graph, args.target, args.split_seed)
        self.cfg = gnn_config(args, temporal=temporal)
        self.seed = args.seeds[0]
        self.runner = fraud.GnnRunner(self.data, self.cfg, self.seed, None)  # --graph: raw inputs
        y = self.data.labels
        pos = int(y[self.data.train].sum())
        neg = len(self.data.train) - pos
        self.pos_weight = (self.cfg.pos_weight if self.cfg.pos_weight > 0
                           else math.sqrt(neg / max(pos, 1)))
        self.opt = T.AdamW(self.runner.model, self.cfg.lr, weight_decay=self.cfg.weight_decay)
        self.info = {"temporal_sampling": self.runner.temporal, "pos_weight": self.pos_weight,
                     "train": len(self.data.train), "description": self.data.description,
                     "split_note": self.data.split_note,
                     "parameters": self.runner.model.num_parameters}

    def epoch(self, epoch: int, max_batches: int = 0) -> Dict[str, Any]:
        cfg, data, runner, T = self.cfg, self.data, self.runner, self.T
        y = data.labels
        batches = max(1, -(-len(data.train) // cfg.batch_size))
        if max_batches:
            batches = min(batches, max_batches)
        t0 = time.perf_counter()
        order = np.random.default_rng(self.seed * 1000003 + epoch).permutation(data.train)
        loss_sum, edges, nodes, hop1 = 0.0, 0, 0, []
        for b in range(batches):
            ids = order[b * cfg.batch_size:(b + 1) * cfg.batch_size]
            key = (epoch << 32) + b
            runner.model.zero_grad()
            mb, x = runner._batch(ids, key)                       # = runner.forward_train
            out = runner.model.forward(mb, x, training=True, step=key)
            rows = np.asarray(mb.seed_local, np.int64)
            loss, g = T.binary_cross_entropy_with_logits(out[rows, 0], y[ids], self.pos_weight)
            full = np.zeros_like(out)
            np.add.at(full[:, 0], rows, np.asarray(g, out.dtype).ravel())
            runner.model.backward(full)
            self.opt.step()
            loss_sum += float(loss)
            edges += mb.num_edges
            nodes += sum(len(v) for v in mb.nodes.values())
            hop1.append(mb.blocks[0].num_edges)
        return {"seconds": time.perf_counter() - t0, "batches": batches,
                "loss": loss_sum / batches, "sampled_edges": edges, "sampled_nodes": nodes,
                "hop1_edges_first_batch": hop1[0]}


def gnnkit_export_worker(args) -> None:
    """The synthetic graph as fraud.py loads it (--graph: raw features, time split), for PyG."""
    sys.path.insert(0, str(FRAUD_DIR))
    import fraud
    data = fraud.load_graph_file(args.graph, args.target, args.split_seed)
    meta = export_data(data, None, Path(args.exchange) / "data.npz")
    seed = args.seeds[0]
    # The static configuration: the one PyG runs (no temporal sampling, so no seed-identity
    # input columns either; the widths match PyG's model).
    export_init_and_check(data, gnn_config(args, temporal=False), seed, None,
                          Path(args.exchange) / f"init{seed}.npz", args.check_size)
    emit({"lib": "gnnkit-export", "meta": meta})


# ---- PyG side (.venv-compare) ----------------------------------------------------------------

def pyg_load(path: Path):
    import torch
    from torch_geometric.data import HeteroData
    z = np.load(path)
    meta = json.loads(bytes(z["meta"]).decode())
    data = HeteroData()
    for i, t in enumerate(meta["node_types"]):
        data[t].x = torch.from_numpy(z[f"x{i}"])
        data[t].num_nodes = meta["num_nodes"][i]
    for r, rel in enumerate(meta["relations"]):
        data[tuple(rel)].edge_index = torch.from_numpy(np.stack([z[f"rel{r}_src"],
                                                                 z[f"rel{r}_dst"]]))
    labels = z["labels"]
    data[meta["target"]].y = torch.from_numpy(labels)
    split = {k: z[k] for k in ("train", "val", "test")}
    return data, meta, labels, split


def pyg_model(meta: Dict[str, Any], in_widths: Dict[str, int], args):
    import torch
    import torch.nn.functional as F
    from torch_geometric.nn import GATConv, HeteroConv, SAGEConv

    class FraudModel(torch.nn.Module):
        """gnnkit.nn.Model(conv, layers, hidden, heads, dropout, input_projection=True,
        aggr='mean', hetero_aggr='sum', activation='relu', out=1) in PyG."""

        def __init__(self):
            super().__init__()
            self.target = meta["target"]
            self.proj = torch.nn.ModuleDict({t: torch.nn.Linear(in_widths[t], args.hidden)
                                             for t in meta["node_types"]})
            self.convs = torch.nn.ModuleList()
            for l in range(args.layers):
                last = l + 1 == args.layers
                width = 1 if last else args.hidden
                convs = {}
                for s, r, d in meta["relations"]:
                    if args.conv == "sage":
                        c = SAGEConv(args.hidden, width, aggr=args.aggr, root_weight=True,
                                     bias=True)
                    else:
                        heads = 1 if last else args.heads
                        c = GATConv(args.hidden, width if last else width // heads, heads=heads,
                                    concat=not last, negative_slope=0.2, dropout=0.0,
                                    add_self_loops=(s == d), bias=True)
                    convs[(s, r, d)] = c
                self.convs.append(HeteroConv(convs, aggr="sum"))

        def forward(self, x_dict, edge_index_dict):
            h = {t: self.proj[t](x) for t, x in x_dict.items()}
            for l, conv in enumerate(self.convs):
                h = conv(h, edge_index_dict)
                if l + 1 < len(self.convs):
                    h = {t: F.dropout(F.relu(v), p=args.dropout, training=self.training)
                         for t, v in h.items()}
            return h[self.target]

    return FraudModel()


def pyg_copy_gnnkit_params(model, params: Dict[str, np.ndarray], meta: Dict[str, Any]) -> int:
    """gnnkit parameter names -> the PyG model's tensors (weights transposed: gnnkit [in, out],
    torch [out, in]). Every PyG parameter must be written once."""
    import torch
    types, rels = meta["node_types"], [tuple(r) for r in meta["relations"]]
    written = {}
    for name, w in params.items():
        p = name.split(".")
        if p[0] == "input":
            mod, attr = model.proj[types[int(p[1][1:])]], p[2]
        elif p[0].startswith("conv"):
            conv = model.convs[int(p[0][4:])].convs[rels[int(p[1][1:])]]
            rest = ".".join(p[2:])
            mod, attr = {"lin_neigh.weight": (getattr(conv, "lin_l", None), "weight"),
                         "lin_neigh.bias": (getattr(conv, "lin_l", None), "bias"),
                         "lin_root.weight": (getattr(conv, "lin_r", None), "weight"),
                         "lin.weight": (getattr(conv, "lin", None), "weight"),
                         "lin_src.weight": (getattr(conv, "lin_src", None), "weight"),
                         "lin_dst.weight": (getattr(conv, "lin_dst", None), "weight"),
                         "att_src": (conv, "att_src"), "att_dst": (conv, "att_dst"),
                         "bias": (conv, "bias")}[rest]
        else:
            raise KeyError(f"unmapped gnnkit parameter {name}")
        t = getattr(mod, attr)
        v = torch.from_numpy(np.ascontiguousarray(w.T if attr == "weight" else w))
        if attr.startswith("att_"):
            v = v.reshape(t.shape)
        if tuple(v.shape) != tuple(t.shape):
            raise ValueError(f"{name}: gnnkit {w.shape} vs PyG {tuple(t.shape)}")
        with torch.no_grad():
            t.copy_(v)
        written[id(t)] = name
    missing = [n for n, t in model.named_parameters() if id(t) not in written]
    if missing:
        raise ValueError(f"PyG parameters without a gnnkit counterpart: {missing}")
    return len(written)


class PygTrainer:
    def __init__(self, args, npz: Path, seed: int, init_npz: Optional[Path]):
        import torch
        from torch_geometric.loader import NeighborLoader
        from torch_geometric.sampler import NeighborSampler
        common.apply_threads(args.threads)
        self.torch, self.NeighborLoader, self.args, self.seed = torch, NeighborLoader, args, seed
        t0 = time.perf_counter()
        self.data, self.meta, self.labels, self.split = pyg_load(npz)
        self.target = self.meta["target"]
        in_widths = {t: int(self.data[t].x.shape[1]) for t in self.meta["node_types"]}
        torch.manual_seed(seed)
        self.model = pyg_model(self.meta, in_widths, args)
        self.check = None
        if init_npz is not None:
            z = np.load(init_npz)
            params = {k[6:]: z[k] for k in z.files if k.startswith("param:")}
            pyg_copy_gnnkit_params(self.model, params, self.meta)
            self.check = self.forward_check(z)
        self.num_neighbors = {tuple(r): list(args.fanouts) for r in self.meta["relations"]}
        self.sampler = NeighborSampler(self.data, self.num_neighbors)
        self.setup_seconds = time.perf_counter() - t0
        y_tr = self.labels[self.split["train"]]
        pos = int(y_tr.sum())
        self.pos_weight = (args.pos_weight if args.pos_weight > 0
                           else math.sqrt((len(y_tr) - pos) / max(pos, 1)))
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=args.lr, betas=(0.9, 0.999),
                                     eps=1e-8, weight_decay=args.weight_decay)
        self.pw = torch.tensor(self.pos_weight, dtype=torch.float32)

    def forward_check(self, z) -> Dict[str, Any]:
        """PyG model (gnnkit's initial weights) on gnnkit's sampled batch vs gnnkit's logits."""
        torch = self.torch
        x, ei = {}, {}
        for i, t in enumerate(self.meta["node_types"]):
            x[t] = self.data[t].x[torch.from_numpy(z[f"check_nodes{i}"])]
        for r, rel in enumerate(self.meta["relations"]):
            indptr, indices = z[f"check_rel{r}_indptr"], z[f"check_rel{r}_indices"]
            dst = np.repeat(np.arange(len(indptr) - 1, dtype=np.int64), np.diff(indptr))
            ei[tuple(rel)] = torch.from_numpy(np.stack([indices, dst]))
        self.model.eval()
        with torch.no_grad():
            out = self.model(x, ei)[:, 0].double().numpy()
        got = out[z["check_seed_local"]]
        want = z["check_logits"]
        diff = float(np.max(np.abs(got - want)))
        res = {"max_abs_diff": diff, "max_abs_logit": float(np.max(np.abs(want))),
               "seeds": int(len(want)),
               "edges": int(sum(len(z[f"check_rel{r}_indices"])
                                for r in range(len(self.meta["relations"]))))}
        wlog(f"[pyg] forward check on gnnkit's batch ({res['seeds']} seeds, {res['edges']} "
             f"edges): max |PyG - gnnkit| = {diff:.2e} (max |logit| {res['max_abs_logit']:.2f})")
        if not diff <= 1e-3 * max(1.0, res["max_abs_logit"]):
            raise SystemExit(f"PyG model does not reproduce gnnkit's forward (diff {diff})")
        return res

    def loader(self, ids: np.ndarray):
        return self.NeighborLoader(self.data, num_neighbors=self.num_neighbors,
                                   input_nodes=(self.target, self.torch.from_numpy(ids)),
                                   batch_size=self.args.batch, shuffle=False,
                                   neighbor_sampler=self.sampler, num_workers=self.args.pyg_workers)

    def epoch(self, epoch: int, max_batches: int = 0) -> Dict[str, Any]:
        torch, F = self.torch, self.torch.nn.functional
        t0 = time.perf_counter()
        order = np.random.default_rng(self.seed * 1000003 + epoch).permutation(self.split["train"])
        if max_batches:
            order = order[:max_batches * self.args.batch]
        self.model.train()
        loss_sum, n, edges, nodes, hop1 = 0.0, 0, 0, 0, None
        for batch in self.loader(order):
            bs = batch[self.target].batch_size
            self.opt.zero_grad()
            out = self.model(batch.x_dict, batch.edge_index_dict)[:bs, 0]
            loss = F.binary_cross_entropy_with_logits(out, batch[self.target].y[:bs].float(),
                                                      pos_weight=self.pw)
            loss.backward()
            self.opt.step()
            loss_sum += float(loss)
            n += 1
            edges += sum(int(e.shape[1]) for e in batch.edge_index_dict.values())
            nodes += sum(int(batch[t].num_nodes) for t in batch.node_types)
            if hop1 is None:  # edges into the seeds: destinations < batch_size of the target
                hop1 = sum(int((e[1] < bs).sum()) for (s, r, d), e in
                           batch.edge_index_dict.items() if d == self.target)
        return {"seconds": time.perf_counter() - t0, "batches": n, "loss": loss_sum / max(n, 1),
                "sampled_edges": edges, "sampled_nodes": nodes, "hop1_edges_first_batch": hop1}

    def predict(self, ids: np.ndarray) -> np.ndarray:
        torch = self.torch
        self.model.eval()
        out = []
        with torch.no_grad():
            for batch in self.loader(ids):
                bs = batch[self.target].batch_size
                out.append(torch.sigmoid(self.model(batch.x_dict, batch.edge_index_dict)[:bs, 0])
                           .double().numpy())
        return np.concatenate(out)

    def fit(self) -> Dict[str, Any]:
        """fraud.py's train_gnn loop with PyG."""
        args, torch = self.args, self.torch
        t_start = time.perf_counter()
        val_y = self.labels[self.split["val"]]
        hist = {"train_loss": [], "val_loss": [], "val_pr_auc": [], "val_roc_auc": [],
                "seconds": []}
        best_pr, best_epoch, waited, best_state = -1.0, -1, 0, None
        for epoch in range(args.epochs):
            t0 = time.perf_counter()
            e = self.epoch(epoch)
            p = self.predict(self.split["val"])
            val_pr, val_roc = average_precision_np(val_y, p), roc_auc_np(val_y, p)
            pc = np.clip(p, 1e-7, 1 - 1e-7)
            val_loss = float(np.mean(np.where(val_y == 1, -self.pos_weight * np.log(pc),
                                              -np.log(1 - pc))))
            for k, v in (("train_loss", e["loss"]), ("val_loss", val_loss),
                         ("val_pr_auc", val_pr), ("val_roc_auc", val_roc),
                         ("seconds", e["seconds"])):
                hist[k].append(v)
            wlog(f"[pyg {args.dataset}] seed {self.seed} epoch {epoch + 1}: train loss "
                 f"{e['loss']:.4f}, val loss {val_loss:.4f}, val PR-AUC {val_pr:.4f}, val ROC-AUC "
                 f"{val_roc:.4f}, {time.perf_counter() - t0:.1f} s")
            if val_pr > best_pr:
                best_pr, best_epoch, waited = val_pr, epoch, 0
                best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            else:
                waited += 1
                if waited >= args.patience:
                    break
        self.model.load_state_dict(best_state)
        scores = self.predict(self.split["test"])
        return {"seed": self.seed, "test_scores": scores.tolist(), "history": hist,
                "best_epoch": best_epoch, "epochs_run": len(hist["train_loss"]),
                "seconds": time.perf_counter() - t_start,
                "seconds_per_epoch": float(np.median(hist["seconds"])),
                "pos_weight": self.pos_weight, "forward_check": self.check,
                "parameters": int(sum(p.numel() for p in self.model.parameters()))}


def pyg_versions() -> Dict[str, str]:
    import torch
    import torch_geometric
    import torch_geometric.typing as tgt
    v = {"torch": torch.__version__, "torch_geometric": torch_geometric.__version__,
         "pyg_lib": str(tgt.WITH_PYG_LIB)}
    try:
        import torch_sparse
        v["torch_sparse"] = torch_sparse.__version__
    except ImportError:
        pass
    return v


def pyg_temporal_probe(trainer: "PygTrainer") -> Dict[str, str]:
    """What PyG's NeighborLoader says to temporal / disjoint sampling without pyg-lib."""
    torch = trainer.torch
    out = {}
    ids = torch.from_numpy(trainer.split["train"][:4])
    for what, kw in (("disjoint", {"disjoint": True}),
                     ("temporal", {"time_attr": "time", "input_time": torch.zeros(4, dtype=torch.long)})):
        try:
            d = trainer.data
            if what == "temporal":
                for t in d.node_types:
                    d[t].time = torch.zeros(d[t].num_nodes, dtype=torch.long)
            loader = trainer.NeighborLoader(d, num_neighbors=trainer.num_neighbors,
                                            input_nodes=(trainer.target, ids), batch_size=4, **kw)
            next(iter(loader))
            out[what] = "works"
        except Exception as e:  # noqa: BLE001 - recording the message is the point
            out[what] = f"{type(e).__name__}: {e}"
        finally:
            if what == "temporal":
                for t in trainer.data.node_types:
                    if "time" in trainer.data[t]:
                        del trainer.data[t].time
    return out


def pyg_accuracy_worker(args) -> None:
    exdir = Path(args.exchange)
    runs = []
    for seed in args.seeds:
        tr = PygTrainer(args, exdir / "data.npz", seed,
                        exdir / f"init{seed}.npz" if args.pyg_init == "gnnkit" else None)
        r = tr.fit()
        wlog(f"[pyg {args.dataset}] seed {seed}: val-selected epoch {r['best_epoch'] + 1}, "
             f"{r['seconds']:.1f} s, test ROC-AUC {roc_auc_np(tr.labels[tr.split['test']], np.array(r['test_scores'])):.4f}")
        runs.append(r)
    emit({"lib": "pyg", "runs": runs, "versions": pyg_versions()})


# ---- persistent epoch workers (speed part) ---------------------------------------------------

def epoch_worker(args) -> None:
    """Reads 'epoch E [max_batches]' lines on stdin, answers one result line each."""
    t0 = time.perf_counter()
    if args.worker == "pyg-epoch":
        init = Path(args.exchange) / f"init{args.seeds[0]}.npz"
        w = PygTrainer(args, Path(args.exchange) / "data.npz", args.seeds[0],
                       init if args.pyg_init == "gnnkit" else None)
        info = {"setup_s": time.perf_counter() - t0, "versions": pyg_versions(),
                "forward_check": w.check,
                "pos_weight": w.pos_weight, "train": len(w.split["train"]),
                "temporal_sampling": False, "sampler": "torch_sparse hetero_neighbor_sample",
                "probe": pyg_temporal_probe(w),
                "parameters": int(sum(p.numel() for p in w.model.parameters()))}
    else:
        sys.path.insert(0, str(FRAUD_DIR))
        import fraud  # noqa: F401 - first: it sets OMP_WAIT_POLICY before gnnkit's OpenMP starts
        import gnnkit
        w = GnnkitEpochWorker(args, temporal=args.worker == "gnnkit-epoch")
        info = {"setup_s": time.perf_counter() - t0, **w.info,
                "versions": {"gnnkit": getattr(gnnkit, "__version__", "?")}}
    emit({"ready": True, **info})
    for line in sys.stdin:
        parts = line.split()
        if not parts or parts[0] == "quit":
            break
        res = w.epoch(int(parts[1]), int(parts[2]) if len(parts) > 2 else 0)
        res["load_during"] = os.getloadavg()[0]
        emit(res)
    emit({"done": True})


class Persistent:
    """A worker process that stays warm between interleaved epochs."""

    def __init__(self, name: str, python: Path, argv: List[str], threads: int,
                 env: Dict[str, str]):
        self.name = name
        env = common.thread_env(threads, env)
        cmd = [*common.taskset_prefix(threads), str(python), *argv]
        common.log(f"starting {name}: {' '.join(cmd)}")
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                  env=env, cwd=tempfile.gettempdir())
        self.info = self.read()

    def read(self) -> Dict[str, Any]:
        assert self.p.stdout is not None
        for line in self.p.stdout:
            if line.startswith(PREFIX):
                return json.loads(line[len(PREFIX):])
            sys.stderr.write(line)
        raise RuntimeError(f"{self.name} worker died (exit {self.p.wait()})")

    def ask(self, text: str) -> Dict[str, Any]:
        assert self.p.stdin is not None
        self.p.stdin.write(text + "\n")
        self.p.stdin.flush()
        return self.read()

    def close(self) -> Dict[str, Any]:
        last = self.ask("quit")
        self.p.wait()
        return last


def run_once(python: Path, argv: List[str], threads: int, env: Dict[str, str]) -> Dict[str, Any]:
    return common.run_worker(python, argv, threads, env).result


# ---- driver ------------------------------------------------------------------------------------

def worker_argv(args, worker: str, **extra: Any) -> List[str]:
    a = [str(Path(__file__).resolve()), "--worker", worker,
         "--conv", args.conv, "--layers", str(args.layers), "--hidden", str(args.hidden),
         "--heads", str(args.heads), "--fanouts", ",".join(map(str, args.fanouts)),
         "--epochs", str(args.epochs), "--patience", str(args.patience),
         "--batch", str(args.batch), "--lr", repr(args.lr),
         "--weight-decay", repr(args.weight_decay), "--dropout", repr(args.dropout),
         "--pos-weight", repr(args.pos_weight), "--threads", str(args.threads),
         "--split-seed", str(args.split_seed), "--pyg-init", args.pyg_init,
         "--pyg-workers", str(args.pyg_workers), "--check-size", str(args.check_size),
         "--target", args.target]
    if args.data_root:
        a += ["--data-root", args.data_root]
    for k, v in extra.items():
        a += [f"--{k.replace('_', '-')}", str(v)]
    return a


def metrics(y: np.ndarray, s: np.ndarray) -> Dict[str, float]:
    from sklearn.metrics import average_precision_score, roc_auc_score
    return {"roc_auc": float(roc_auc_score(y, s)), "pr_auc": float(average_precision_score(y, s))}


def mean_std(v: List[float]) -> str:
    a = np.asarray(v, np.float64)
    return f"{a.mean():.4f} ± {a.std(ddof=1) if len(a) > 1 else 0.0:.4f}"


def part_accuracy(args, report: Dict[str, Any], gnnkit_env, anchor_env, exroot: Path) -> None:
    results = {}
    for name in args.datasets:
        exdir = exroot / name
        exdir.mkdir(parents=True, exist_ok=True)
        common.log(f"== {name}: gnnkit (fraud.py), seeds {args.seeds}")
        g = run_once(common.GNNKIT_PYTHON, worker_argv(args, "gnnkit-acc", dataset=name,
                                                      exchange=exdir,
                                                      seeds=",".join(map(str, args.seeds))),
                     args.threads, gnnkit_env)
        common.log(f"== {name}: PyG, seeds {args.seeds}")
        p = run_once(common.ANCHOR_PYTHON, worker_argv(args, "pyg-acc", dataset=name,
                                                      exchange=exdir,
                                                      seeds=",".join(map(str, args.seeds))),
                     args.threads, anchor_env)
        y = np.asarray(g["y_test"], np.int64)
        per = {"gnnkit": [], "pyg": []}
        for lib, res in (("gnnkit", g), ("pyg", p)):
            for r in res["runs"]:
                m = metrics(y, np.asarray(r["test_scores"], np.float64))
                per[lib].append({"seed": r["seed"], **m, "best_epoch": r["best_epoch"] + 1,
                                 "epochs_run": r["epochs_run"],
                                 "seconds": r["seconds"],
                                 "seconds_per_epoch": r["seconds_per_epoch"],
                                 **({"fraud_py_metrics": r["fraud_py_metrics"]}
                                    if "fraud_py_metrics" in r else {}),
                                 **({"forward_check": r["forward_check"]}
                                    if r.get("forward_check") else {}),
                                 "history": r["history"]})
        for r in per["gnnkit"]:  # sklearn vs gnnkit's metrics: must agree
            fm = r["fraud_py_metrics"]
            if abs(fm["roc_auc"] - r["roc_auc"]) > 1e-9 or abs(fm["pr_auc"] - r["pr_auc"]) > 1e-9:
                common.log(f"WARNING {name} seed {r['seed']}: fraud.py metrics {fm} != sklearn "
                           f"{r['roc_auc']:.6f}/{r['pr_auc']:.6f}")
        results[name] = {"meta": g["meta"], "per_seed": per,
                         "parameters": {"gnnkit": g["runs"][0]["parameters"],
                                        "pyg": p["runs"][0]["parameters"]},
                         "pos_weight": g["runs"][0]["pos_weight"],
                         "temporal": g["runs"][0]["temporal"]}
        report.setdefault("versions", {}).update(g["versions"])
        report["versions"].update(p["versions"])
        gk = np.mean([r["roc_auc"] for r in per["gnnkit"]])
        pg = np.mean([r["roc_auc"] for r in per["pyg"]])
        common.log(f"== {name}: ROC-AUC gnnkit {gk:.4f} vs PyG {pg:.4f}")
        report["accuracy"] = results
        save(report, args)


def part_speed(args, report: Dict[str, Any], gnnkit_env, anchor_env, exroot: Path) -> None:
    graph = Path(args.graph)
    if not graph.exists():
        cmd = [str(args.fraud_binary), "generate", "--users", str(args.users), "--seed", "1",
               "--out", str(graph), "--threads", str(args.threads)]
        common.log("generating: " + " ".join(cmd))
        subprocess.run(["nice", "-n", "19", *cmd], check=True, stdout=sys.stderr)
    exdir = exroot / "synthetic"
    exdir.mkdir(parents=True, exist_ok=True)
    common.log(f"exporting {graph} for PyG")
    ex = run_once(common.GNNKIT_PYTHON, worker_argv(args, "gnnkit-export", graph=graph,
                                                   exchange=exdir), args.threads, gnnkit_env)
    sp: Dict[str, Any] = {"graph": str(graph), "graph_sha256": file_sha256(graph),
                          "meta": ex["meta"], "uptime_before": subprocess.run(
                              ["uptime"], capture_output=True, text=True).stdout.strip(),
                          "loadavg_before": os.getloadavg()}
    common.log(f"uptime before timing: {sp['uptime_before']}")
    libs = [x for x in args.speed_libs if x]
    kinds = {"gnnkit": ("gnnkit-epoch", common.GNNKIT_PYTHON, gnnkit_env),
             "gnnkit-static": ("gnnkit-static-epoch", common.GNNKIT_PYTHON, gnnkit_env),
             "pyg": ("pyg-epoch", common.ANCHOR_PYTHON, anchor_env)}
    workers = {}
    seeds = ",".join(map(str, args.seeds[:1]))
    for lib in libs:  # started one after another: loading is not timed
        w, py, env = kinds[lib]
        workers[lib] = Persistent(lib, py, worker_argv(args, w, graph=graph, exchange=exdir,
                                                       seeds=seeds), args.threads, env)
        common.log(f"  {lib} ready: {json.dumps({k: v for k, v in workers[lib].info.items() if k != 'peak_rss'})}")
    sp["workers"] = {lib: w.info for lib, w in workers.items()}
    for w in workers.values():
        report.setdefault("versions", {}).update(w.info.get("versions", {}))
    if args.warmup_batches:
        for lib, w in workers.items():
            r = w.ask(f"epoch 999 {args.warmup_batches}")
            common.log(f"  warm-up {lib}: {r['batches']} batches in {r['seconds']:.1f} s")
    epochs: Dict[str, List[Dict[str, Any]]] = {lib: [] for lib in libs}
    waited = [0.0]

    def wait_quiet() -> float:
        """Waits (within --max-wait for the whole run) while the 1-minute load average is at or
        above --load-threshold; returns the load average it starts with."""
        t0 = time.time()
        load = os.getloadavg()[0]
        while load >= args.load_threshold and waited[0] + time.time() - t0 < args.max_wait:
            time.sleep(15)
            load = os.getloadavg()[0]
        waited[0] += time.time() - t0
        return load

    for rnd in range(args.rounds):  # interleaved: A B C A B C ...
        for lib in libs:
            la = wait_quiet()
            r = workers[lib].ask(f"epoch {rnd} {args.max_batches}")
            r["load_before"] = la
            epochs[lib].append(r)
            common.log(f"  round {rnd + 1}/{args.rounds} {lib}: {r['seconds']:.1f} s, "
                       f"{r['batches']} batches, {r['sampled_edges'] / r['batches']:,.0f} "
                       f"edges/batch, loss {r['loss']:.4f}, load {la:.2f}")
        sp["epochs"] = epochs
        sp["load_wait_s"] = waited[0]
        report["speed"] = sp
        save(report, args)
    for lib, w in workers.items():
        sp["workers"][lib]["peak_rss"] = w.close().get("peak_rss")
    sp["uptime_after"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    sp["loadavg_after"] = os.getloadavg()
    report["speed"] = sp


def save(report: Dict[str, Any], args) -> None:
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=1))
    os.replace(tmp, out)


def print_report(report: Dict[str, Any], args) -> None:
    print(f"\nMachine: {report['machine']}")
    print(f"Versions: {', '.join(f'{k} {v}' for k, v in sorted(report.get('versions', {}).items()))}")
    cfg = report["config"]
    print(f"Model: {cfg['conv']}, {cfg['layers']} layers, hidden {cfg['hidden']}"
          + (f", heads {cfg['heads']}" if cfg["conv"] == "gat" else "")
          + f", dropout {cfg['dropout']}, fan-outs {cfg['fanouts']}, batch {cfg['batch']}, "
          f"AdamW lr {cfg['lr']}, {cfg['epochs']} epochs max, patience {cfg['patience']}; "
          f"{cfg['threads']} threads; PyG init: {cfg['pyg_init']}")
    acc = report.get("accuracy")
    if acc:
        n = len(args.seeds)
        print(f"\n(a) Test metrics, mean ± std over {n} seeds ({','.join(map(str, args.seeds))})")
        rows = []
        for name, r in acc.items():
            g, p = r["per_seed"]["gnnkit"], r["per_seed"]["pyg"]
            d = (np.mean([x["roc_auc"] for x in g]) - np.mean([x["roc_auc"] for x in p])) * 100
            dp = (np.mean([x["pr_auc"] for x in g]) - np.mean([x["pr_auc"] for x in p])) * 100
            fc = max((x["forward_check"]["max_abs_diff"] for x in p if "forward_check" in x),
                     default=float("nan"))
            rows.append([name, "/".join(map(str, r["meta"]["split_sizes"])),
                         mean_std([x["roc_auc"] for x in g]), mean_std([x["roc_auc"] for x in p]),
                         f"{d:+.2f}", mean_std([x["pr_auc"] for x in g]),
                         mean_std([x["pr_auc"] for x in p]), f"{dp:+.2f}",
                         "yes" if d >= -1.0 else "NO",
                         f"{np.mean([x['seconds_per_epoch'] for x in g]):.2f} / "
                         f"{np.mean([x['seconds_per_epoch'] for x in p]):.2f}",
                         f"{fc:.1e}"])
        common.print_table(["dataset", "train/val/test", "ROC-AUC gnnkit", "ROC-AUC PyG",
                            "Δ ROC pts", "PR-AUC gnnkit", "PR-AUC PyG", "Δ PR pts",
                            "within 1 pt", "s/epoch gnnkit / PyG", "fwd check"], rows)
    sp = report.get("speed")
    if sp and sp.get("epochs"):
        ep = sp["epochs"]
        libs = list(ep)
        print(f"\n(b) One training epoch on {sp['graph']} ({sp['meta']['description']})")
        print(f"uptime before: {sp['uptime_before']}")
        rows = []
        for lib in libs:
            s = common.summarize([e["seconds"] for e in ep[lib]])
            e0 = ep[lib][0]
            info = sp["workers"][lib]
            rows.append([lib, "temporal+disjoint" if info.get("temporal_sampling") else "static",
                         f"{s.median:.1f}", f"{s.p10:.1f}-{s.p90:.1f}", len(ep[lib]),
                         e0["batches"], f"{e0['sampled_edges'] / e0['batches']:,.0f}",
                         f"{e0['sampled_nodes'] / e0['batches']:,.0f}",
                         f"{e0['sampled_edges'] / s.median / 1e6:.2f}",
                         common.gib(info.get("peak_rss") or 0)])
        common.print_table(["library", "sampling", "epoch s (median)", "p10-p90", "epochs",
                            "batches", "sampled edges/batch", "nodes/batch", "M edges/s",
                            "peak RSS"], rows)
        if "pyg" in ep:
            for lib in libs:
                if lib == "pyg":
                    continue
                per = [p["seconds"] / g["seconds"] for g, p in zip(ep[lib], ep["pyg"])]
                med = (np.median([e["seconds"] for e in ep["pyg"]])
                       / np.median([e["seconds"] for e in ep[lib]]))
                print(f"PyG / {lib}: {med:.2f}x (ratio of medians); per round "
                      + ", ".join(f"{x:.2f}" for x in per))
    print(f"\nresults: {args.out}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--parts", default="accuracy,speed", help="accuracy, speed or both")
    p.add_argument("--datasets", default=",".join(DATASETS))
    p.add_argument("--data-root", default=str(ROOT.parent / "shared" / "data")
                   if (ROOT.parent / "shared" / "data").exists() else None)
    p.add_argument("--seeds", default="1,2,3,4,5", help="model seeds (fraud.py --seeds)")
    p.add_argument("--split-seed", type=int, default=0,
                   help="seed of the datasets' stratified split (fraud.py --split-seed; the "
                   "same split for every model seed, as fraud.py)")
    # the model and its training: fraud.py's options and its defaults for a --dataset (the
    # recorded runs); gnnkit-fraud's default on generated data is --layers 3 --fanouts 10,10,5
    # --aggr max --epochs 20 --patience 4 (and recent temporal sampling, which PyG without
    # pyg-lib cannot do)
    p.add_argument("--conv", choices=("sage", "gat"), default="sage")
    p.add_argument("--aggr", choices=("mean", "max", "sum"), default="mean")
    p.add_argument("--temporal-strategy", choices=("uniform", "recent"), default="uniform",
                   help="gnnkit's temporal sampling when the graph has node times")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--fanouts", default="10,10")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--patience", type=int, default=3)
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--pos-weight", type=float, default=0.0, help="0: sqrt(neg/pos) of train")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--pyg-init", choices=("gnnkit", "pyg"), default="gnnkit",
                   help="PyG starts from gnnkit's initial weights (default) or its own init")
    p.add_argument("--pyg-workers", type=int, default=0, help="NeighborLoader num_workers")
    p.add_argument("--pyg-omp-wait", choices=("passive", "active", "default"), default="passive",
                   help="OMP_WAIT_POLICY of the PyG workers (default passive: what fraud.py "
                   "sets for gnnkit's; torch's OpenMP threads otherwise spin, which on a "
                   "shared 2-core machine slowed PyG epochs here by 10-30x)")
    p.add_argument("--check-size", type=int, default=256,
                   help="validation seeds in the forward-equality check batch")
    # the speed part
    p.add_argument("--graph", default="/tmp/fraudcmp/fraud200k.gnn",
                   help="gnnkit-fraud graph file (generated with --users when missing)")
    p.add_argument("--users", type=int, default=200000)
    p.add_argument("--target", default="transaction")
    p.add_argument("--fraud-binary", default=str(ROOT / "build-dev" / "examples" / "fraud"
                                                 / "gnnkit-fraud"))
    p.add_argument("--speed-libs", default="gnnkit,gnnkit-static,pyg")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--warmup-batches", type=int, default=5)
    p.add_argument("--max-batches", type=int, default=0, help="0: the whole epoch")
    p.add_argument("--load-threshold", type=float, default=1.5,
                   help="before each timed epoch wait while the 1-min load average is >= this")
    p.add_argument("--max-wait", type=float, default=600,
                   help="seconds in all to wait for a quiet machine, then run anyway (the load "
                   "at each epoch's start is recorded)")
    p.add_argument("--exchange", default=None, help="folder for the .npz exchange files "
                   "(default: a fresh one under /tmp)")
    p.add_argument("--gnnkit-pythonpath", default=str(ROOT / "build-py" / "python"))
    p.add_argument("--out", default=None)
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--dataset", help=argparse.SUPPRESS)
    args = p.parse_args()
    args.seeds = [int(s) for s in str(args.seeds).split(",") if s]
    args.fanouts = [int(s) for s in str(args.fanouts).split(",") if s]
    args.datasets = [s for s in str(args.datasets).split(",") if s]
    args.speed_libs = [s for s in str(args.speed_libs).split(",") if s]
    if len(args.fanouts) != args.layers:
        p.error(f"--fanouts needs one value per layer ({args.layers})")

    if args.worker:
        if args.worker == "gnnkit-acc":
            gnnkit_accuracy_worker(args)
        elif args.worker == "pyg-acc":
            pyg_accuracy_worker(args)
        elif args.worker == "gnnkit-export":
            gnnkit_export_worker(args)
        else:
            epoch_worker(args)
        return

    started = datetime.datetime.now()
    args.out = args.out or str(RESULTS_DIR / f"fraud-compare-{started:%Y%m%d-%H%M}.json")
    exroot = Path(args.exchange or tempfile.mkdtemp(prefix="fraud-compare-"))
    gnnkit_env = dict(os.environ)
    gnnkit_env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [args.gnnkit_pythonpath, str(FRAUD_DIR), gnnkit_env.get("PYTHONPATH")]))
    anchor_env = common.jemalloc_env(dict(os.environ))
    anchor_env.pop("PYTHONPATH", None)
    if args.pyg_omp_wait != "default":  # libgomp reads it when torch loads it
        anchor_env["OMP_WAIT_POLICY"] = args.pyg_omp_wait
    else:
        anchor_env.pop("OMP_WAIT_POLICY", None)
    report: Dict[str, Any] = {
        "started": started.isoformat(timespec="seconds"), "machine": common.machine_line(),
        "loadavg_start": os.getloadavg(),
        "config": {k: getattr(args, k) for k in ("conv", "layers", "hidden", "heads", "fanouts",
                                                  "epochs", "patience", "batch", "lr",
                                                  "weight_decay", "dropout", "pos_weight",
                                                  "threads", "pyg_init", "pyg_workers",
                                                  "pyg_omp_wait",
                                                  "split_seed", "seeds")},
        "args": {k: v for k, v in vars(args).items()},
        "anchor_allocator": common.allocator_name(anchor_env),
        "exchange_dir": str(exroot)}
    common.log(report["machine"])
    parts = [x for x in args.parts.split(",") if x]
    if "accuracy" in parts:
        part_accuracy(args, report, gnnkit_env, anchor_env, exroot)
    if "speed" in parts:
        part_speed(args, report, gnnkit_env, anchor_env, exroot)
    report["finished"] = datetime.datetime.now().isoformat(timespec="seconds")
    report["loadavg_end"] = os.getloadavg()
    save(report, args)
    print_report(report, args)


if __name__ == "__main__":
    main()
