#!/usr/bin/env python3
"""gnnkit-recsys's LightGCN next to PyTorch Geometric's LightGCN, trained the same way (issue 8).

    .venv/bin/python bench/compare/run_recsys.py                                  # ml-1m, 3 seeds
    .venv/bin/python bench/compare/run_recsys.py --dataset amazon-cds --epochs 20 --seeds 1
    .venv/bin/python bench/compare/run_recsys.py --epochs 2 --seeds 1 --sides pyg  # PyG only

(gnnkit: the gnnkit-recsys binary, --binary, default build/examples/recsys/gnnkit-recsys;
PyG from .venv-compare.)

What is compared
----------------
Both sides train ``--layers``-layer LightGCN (He et al. 2020) with ``--dim``-wide ID
embeddings on the dataset's train.txt and evaluate on its test.txt:

* model: E0 ~ N(0, 0.1²); F = (E0 + Â E0 + ... + Â^K E0) / (K + 1) with the symmetric
  normalisation Â = D^-1/2 A D^-1/2 of the user-item graph; score <F_u, F_i>.
  PyG: ``torch_geometric.nn.models.LightGCN(num_nodes, dim, K)`` (its LGConv layers and
  layer-mean ``alpha``), given its *best* input: Â precomputed once (LGConv(normalize=False),
  so no normalisation runs per batch) as a PyTorch sparse CSR tensor (``--pyg-adj
  torch-csr``, the default: 1.3 s per propagation forward + backward on ml-1m against 1.6 s
  for a torch_sparse ``SparseTensor`` and 4.3 s for an edge_index with weights, measured
  on the same loaded machine; ``--pyg-adj sparse-tensor`` picks the second).
* training, per epoch: every training interaction once in a shuffled order, one uniformly
  drawn negative item per interaction that the user has not interacted with (rejection),
  batches of ``--batch`` triples, loss = mean softplus(s_neg - s_pos) + reg / 2 *
  (|e0_u|² + |e0_i|² + |e0_j|²) summed over the batch / batch (the LightGCN reference code's
  L2), Adam (lr ``--lr``, betas 0.9/0.999, eps 1e-8). One full propagation per batch on
  both sides (the gradient of every embedding is exact).
* evaluation after the last epoch (no epoch picked on the test set): full ranking of every
  item not in the user's training set, Recall@20 and NDCG@20 (LightGCN definitions) over the
  users with test items; computed by each side (gnnkit: its C++ evaluation; PyG: torch matmul,
  masking, topk).

Timing: median training seconds per epoch (sampling the negatives, propagation, loss,
backward, Adam; evaluation excluded), each side in its own process pinned to the same
``--threads`` cores (taskset), sides interleaved per seed (gnnkit, PyG, gnnkit, PyG, ...).
The random streams differ (each side draws its own init, order and negatives from the seed),
so Recall@20 is compared as mean ± std over seeds.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

ROOT = common.ROOT


def read_lightgcn(path: Path):
    users, items = [], []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            u = int(parts[0])
            for tok in parts[1:]:
                users.append(u)
                items.append(int(tok))
    return np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)


# ---- PyG worker -----------------------------------------------------------------------------

def pyg_worker(args) -> None:
    import torch
    import torch.nn.functional as F
    from torch_geometric.nn.models import LightGCN
    from torch_sparse import SparseTensor

    threads = common.apply_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    folder = Path(args.data_root) / args.dataset
    tu, ti = read_lightgcn(folder / "train.txt")
    su, si = read_lightgcn(folder / "test.txt")
    U = int(max(tu.max(), su.max())) + 1
    I = int(max(ti.max(), si.max())) + 1
    N = U + I
    # Â as a SparseTensor over [users..., items...], both directions.
    deg_u = np.bincount(tu, minlength=U).astype(np.float64)
    deg_i = np.bincount(ti, minlength=I).astype(np.float64)
    w = 1.0 / np.sqrt(deg_u[tu] * deg_i[ti])
    row = torch.from_numpy(np.concatenate([tu, U + ti]))
    col = torch.from_numpy(np.concatenate([U + ti, tu]))
    val = torch.from_numpy(np.concatenate([w, w]).astype(np.float32))
    coalesced = SparseTensor(row=row, col=col, value=val, sparse_sizes=(N, N)).coalesce()
    if args.pyg_adj == "torch-csr":
        adj_t = torch.sparse_csr_tensor(coalesced.storage.rowptr(), coalesced.storage.col(),
                                        coalesced.storage.value(), (N, N))
    else:
        adj_t = coalesced

    model = LightGCN(N, args.dim, args.layers, normalize=False)
    torch.nn.init.normal_(model.embedding.weight, std=0.1)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    train_keys = np.sort(tu * I + ti)
    users_t = torch.from_numpy(tu)
    items_t = torch.from_numpy(ti)
    n = len(tu)

    def negatives(u: np.ndarray) -> np.ndarray:
        j = rng.integers(0, I, size=len(u))
        for _ in range(64):
            keys = u * I + j
            pos = np.searchsorted(train_keys, keys)
            pos = np.minimum(pos, len(train_keys) - 1)
            hit = train_keys[pos] == keys
            if not hit.any():
                break
            j[hit] = rng.integers(0, I, size=int(hit.sum()))
        return j

    epoch_seconds: List[float] = []
    losses: List[float] = []
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        order = rng.permutation(n)
        total = 0.0
        batches = 0
        for b0 in range(0, n, args.batch):
            idx = order[b0:b0 + args.batch]
            u = tu[idx]
            j = negatives(u)
            u_t = users_t[idx]
            i_t = items_t[idx] + U
            j_t = torch.from_numpy(j) + U
            emb = model.get_embedding(adj_t)
            pos = (emb[u_t] * emb[i_t]).sum(-1)
            neg = (emb[u_t] * emb[j_t]).sum(-1)
            bpr = F.softplus(neg - pos).mean()
            e0 = model.embedding.weight
            l2 = (e0[u_t].pow(2).sum() + e0[i_t].pow(2).sum() + e0[j_t].pow(2).sum())
            loss = bpr + args.reg / 2 * l2 / len(idx)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(bpr)
            batches += 1
        epoch_seconds.append(time.perf_counter() - t0)
        losses.append(total / batches)
        common.log(f"pyg epoch {epoch}: loss {losses[-1]:.4f}, {epoch_seconds[-1]:.2f} s")

    # Full-ranking evaluation.
    t0 = time.perf_counter()
    with torch.no_grad():
        emb = model.get_embedding(adj_t)
        ue, ie = emb[:U], emb[U:]
        test_users = np.unique(su)
        truth: Dict[int, set] = {}
        for u, i in zip(su.tolist(), si.tolist()):
            truth.setdefault(u, set()).add(i)
        train_ptr = np.zeros(U + 1, dtype=np.int64)
        np.add.at(train_ptr, tu + 1, 1)
        train_ptr = np.cumsum(train_ptr)
        order_u = np.argsort(tu, kind="stable")
        train_items_sorted = ti[order_u]
        recall = ndcg = 0.0
        disc = 1.0 / np.log2(np.arange(2, 22))
        for b0 in range(0, len(test_users), 1024):
            ub = test_users[b0:b0 + 1024]
            scores = ue[torch.from_numpy(ub)] @ ie.T
            rows, cols = [], []
            for r, u in enumerate(ub):
                seen = train_items_sorted[train_ptr[u]:train_ptr[u + 1]]
                rows.append(np.full(len(seen), r))
                cols.append(seen)
            scores[torch.from_numpy(np.concatenate(rows)), torch.from_numpy(np.concatenate(cols))] = -np.inf
            top = torch.topk(scores, 20, dim=1).indices.numpy()
            for r, u in enumerate(ub):
                t = truth[int(u)]
                hits = np.array([i in t for i in top[r]], dtype=np.float64)
                recall += hits.sum() / len(t)
                idcg = disc[:min(len(t), 20)].sum()
                ndcg += (hits * disc).sum() / idcg
        recall /= len(test_users)
        ndcg /= len(test_users)
    common.emit({"side": "pyg", "seed": args.seed, "recall_at_20": recall, "ndcg_at_20": ndcg,
                 "seconds_per_epoch": statistics.median(epoch_seconds),
                 "epoch_seconds": epoch_seconds, "losses": losses,
                 "eval_seconds": time.perf_counter() - t0, "threads": threads,
                 "torch": torch.__version__})


# ---- driver ---------------------------------------------------------------------------------

def run_gnnkit(args, seed: int) -> Dict[str, Any]:
    out = Path(tempfile.mkdtemp(prefix="gnnkit-recsys-compare-"))
    cmd = [*common.taskset_prefix(args.threads), str(args.binary), "train",
           "--dataset", args.dataset, "--data-root", str(args.data_root), "--out", str(out),
           "--no-baselines", "--eval-every", "0", "--epochs", str(args.epochs),
           "--layers", str(args.layers), "--dim", str(args.dim), "--batch", str(args.batch),
           "--lr", str(args.lr), "--reg", str(args.reg), "--seed", str(seed),
           "--lightgcn-negatives", "1",  # one negative per positive, as the PyG side draws
           "--hard-negatives", "1",  # uniform, as the PyG side draws
           "--threads", str(args.threads)]
    common.log("gnnkit:", " ".join(cmd))
    subprocess.run(cmd, check=True, env=common.thread_env(args.threads),
                   stdout=subprocess.DEVNULL)
    m = json.loads((out / "metrics.json").read_text())
    model = next(x for x in m["models"] if x["name"].startswith("LightGCN"))
    seconds = [h["seconds"] for h in model["history"]]
    return {"side": "gnnkit", "seed": seed, "recall_at_20": model["recall_at_20"],
            "ndcg_at_20": model["ndcg_at_20"], "seconds_per_epoch": statistics.median(seconds),
            "epoch_seconds": seconds, "losses": [h["loss"] for h in model["history"]],
            "eval_seconds": model["ranking_seconds"]}


def run_pyg(args, seed: int) -> Dict[str, Any]:
    argv = [str(Path(__file__).resolve()), "--worker", "pyg", "--seed", str(seed)]
    for k in ("dataset", "data_root", "epochs", "layers", "dim", "batch", "lr", "reg", "threads",
              "pyg_adj"):
        argv += ["--" + k.replace("_", "-"), str(getattr(args, k))]
    cmd = [*common.taskset_prefix(args.threads), str(common.ANCHOR_PYTHON), *argv]
    common.log("pyg:", " ".join(cmd))
    p = subprocess.run(cmd, check=True, env=common.thread_env(args.threads),
                       stdout=subprocess.PIPE, text=True)
    for line in p.stdout.splitlines():
        if line.startswith(common.RESULT_PREFIX):
            return json.loads(line[len(common.RESULT_PREFIX):])
    raise RuntimeError("the PyG worker printed no result")


def mean_std(v: List[float]) -> str:
    return f"{np.mean(v):.4f} ± {np.std(v):.4f}" if len(v) > 1 else f"{v[0]:.4f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--worker", choices=["pyg"], help=argparse.SUPPRESS)
    p.add_argument("--dataset", default="movielens-1m-lcfn")
    p.add_argument("--data-root", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--binary", type=Path, default=ROOT / "build" / "examples" / "recsys" / "gnnkit-recsys")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--batch", type=int, default=8192)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--reg", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--sides", default="gnnkit,pyg")
    p.add_argument("--pyg-adj", choices=["torch-csr", "sparse-tensor"], default="torch-csr")
    p.add_argument("--out", type=Path, help="results JSON (default bench/results/recsys-compare-<time>.json)")
    args = p.parse_args()
    if args.worker == "pyg":
        pyg_worker(args)
        return
    sides = args.sides.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    results: List[Dict[str, Any]] = []
    for seed in seeds:
        if "gnnkit" in sides:
            results.append(run_gnnkit(args, seed))
            common.log(json.dumps({k: v for k, v in results[-1].items() if k not in ("epoch_seconds", "losses")}))
        if "pyg" in sides:
            results.append(run_pyg(args, seed))
            common.log(json.dumps({k: v for k, v in results[-1].items() if k not in ("epoch_seconds", "losses")}))
    rows = []
    summary: Dict[str, Any] = {}
    for side in sides:
        rs = [r for r in results if r["side"] == side]
        summary[side] = {"recall_at_20": [r["recall_at_20"] for r in rs],
                         "ndcg_at_20": [r["ndcg_at_20"] for r in rs],
                         "seconds_per_epoch": [r["seconds_per_epoch"] for r in rs]}
        rows.append([side, mean_std(summary[side]["recall_at_20"]), mean_std(summary[side]["ndcg_at_20"]),
                     f"{statistics.median(summary[side]['seconds_per_epoch']):.2f}"])
    print(f"\n{args.dataset}: LightGCN {args.layers} layers, dim {args.dim}, {args.epochs} epochs, "
          f"batch {args.batch}, lr {args.lr}, reg {args.reg}, {args.threads} threads, seeds {seeds}")
    common.print_table(["side", "Recall@20", "NDCG@20", "s/epoch (median)"], rows)
    if "gnnkit" in summary and "pyg" in summary:
        g, q = summary["gnnkit"], summary["pyg"]
        speed = statistics.median(q["seconds_per_epoch"]) / statistics.median(g["seconds_per_epoch"])
        rel = np.mean(g["recall_at_20"]) / np.mean(q["recall_at_20"]) - 1
        print(f"gnnkit vs PyG: {speed:.2f}x faster per epoch; Recall@20 {100 * rel:+.1f}% relative")
        summary["speedup"] = speed
        summary["recall_relative"] = rel
    out = args.out or ROOT / "bench" / "results" / f"recsys-compare-{time.strftime('%Y%m%d-%H%M')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                               "machine": common.machine_line(), "summary": summary,
                               "runs": results}, indent=1))
    print(f"results: {out}")


if __name__ == "__main__":
    main()
