#!/usr/bin/env python3
"""Full-ranking evaluation: gnnkit-recsys next to a straightforward NumPy implementation (issue 8).

    .venv/bin/python bench/compare/run_recsys_eval.py --model OUT/model --dataset amazon-cds

Both rank, for every user with test items, all items not in the user's training set by the
dot product of the *same* trained embeddings (gnnkit-recsys export), and compute Recall@20 and
NDCG@20 (LightGCN definitions):

* gnnkit: ``gnnkit-recsys evaluate`` (blocked matrix products through oneDNN, then one pass
  per user with a 20-entry heap that skips the seen items, parallel over users);
* NumPy: per batch of ``--batch`` users, ``U[b] @ I.T``, training items set to -inf,
  ``np.argpartition`` for the top 20, those sorted by score.

Each runs in its own process pinned to the same ``--threads`` cores (taskset; NumPy's BLAS
sized by OPENBLAS/OMP_NUM_THREADS); the time is the best of ``--repeat`` runs of the ranking
(reading the data and the embeddings excluded). The two must agree on Recall@20 and NDCG@20.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from run_recsys import read_lightgcn  # noqa: E402

ROOT = common.ROOT


def numpy_worker(args) -> None:
    folder = Path(args.data_root) / args.dataset
    tu, ti = read_lightgcn(folder / "train.txt")
    su, si = read_lightgcn(folder / "test.txt")
    users_emb = np.load(args.prefix + ".users.npy")
    items_emb = np.load(args.prefix + ".items.npy")
    U = users_emb.shape[0]
    order = np.argsort(tu, kind="stable")
    train_items = ti[order]
    train_ptr = np.concatenate([[0], np.cumsum(np.bincount(tu, minlength=U))])
    order = np.argsort(su, kind="stable")
    test_items = si[order]
    test_ptr = np.concatenate([[0], np.cumsum(np.bincount(su, minlength=U))])
    test_users = np.flatnonzero(np.diff(test_ptr) > 0)
    disc = 1.0 / np.log2(np.arange(2, 22))
    best = None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        recall = ndcg = 0.0
        for b0 in range(0, len(test_users), args.batch):
            ub = test_users[b0:b0 + args.batch]
            scores = users_emb[ub] @ items_emb.T
            counts = train_ptr[ub + 1] - train_ptr[ub]
            rows = np.repeat(np.arange(len(ub)), counts)
            cols = np.concatenate([train_items[train_ptr[u]:train_ptr[u + 1]] for u in ub])
            scores[rows, cols] = -np.inf
            top = np.argpartition(-scores, 20, axis=1)[:, :20]
            top_scores = np.take_along_axis(scores, top, axis=1)
            top = np.take_along_axis(top, np.argsort(-top_scores, axis=1, kind="stable"), axis=1)
            for r, u in enumerate(ub):
                truth = test_items[test_ptr[u]:test_ptr[u + 1]]
                hits = np.isin(top[r], truth)
                recall += hits.sum() / len(truth)
                ndcg += (hits * disc).sum() / disc[:min(len(truth), 20)].sum()
        seconds = time.perf_counter() - t0
        if best is None or seconds < best:
            best = seconds
    common.emit({"side": "numpy", "recall_at_20": recall / len(test_users),
                 "ndcg_at_20": ndcg / len(test_users), "users": int(len(test_users)),
                 "seconds": best, "numpy": np.__version__})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--worker", choices=["numpy"], help=argparse.SUPPRESS)
    p.add_argument("--prefix", help=argparse.SUPPRESS)
    p.add_argument("--model", type=Path, help="model folder written by gnnkit-recsys train")
    p.add_argument("--dataset", default="amazon-cds")
    p.add_argument("--data-root", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--binary", type=Path, default=ROOT / "build" / "examples" / "recsys" / "gnnkit-recsys")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    if args.worker == "numpy":
        numpy_worker(args)
        return
    env = common.thread_env(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="gnnkit-recsys-eval-"))
    prefix = str(tmp / "emb")
    subprocess.run([str(args.binary), "export", "--model", str(args.model), "--out", prefix],
                   check=True, stdout=subprocess.DEVNULL)
    ours_cmd = [*common.taskset_prefix(args.threads), str(args.binary), "evaluate", "--model",
                str(args.model), "--data", str(Path(args.data_root) / args.dataset),
                "--repeat", str(args.repeat), "--threads", str(args.threads)]
    common.log("gnnkit:", " ".join(ours_cmd))
    ours = json.loads(subprocess.run(ours_cmd, check=True, env=env, stdout=subprocess.PIPE,
                                     text=True).stdout)
    np_cmd = [*common.taskset_prefix(args.threads), sys.executable, str(Path(__file__).resolve()),
              "--worker", "numpy", "--prefix", prefix, "--dataset", args.dataset, "--data-root",
              args.data_root, "--batch", str(args.batch), "--repeat", str(args.repeat)]
    common.log("numpy:", " ".join(np_cmd))
    out = subprocess.run(np_cmd, check=True, env=env, stdout=subprocess.PIPE, text=True).stdout
    ref = next(json.loads(l[len(common.RESULT_PREFIX):]) for l in out.splitlines()
               if l.startswith(common.RESULT_PREFIX))
    print(f"\n{args.dataset}: full ranking of {ours['users']} users, {args.threads} threads, best of {args.repeat}")
    common.print_table(["side", "Recall@20", "NDCG@20", "seconds"],
                       [["gnnkit", f"{ours['recall_at_20']:.6f}", f"{ours['ndcg_at_20']:.6f}", f"{ours['seconds']:.3f}"],
                        ["numpy", f"{ref['recall_at_20']:.6f}", f"{ref['ndcg_at_20']:.6f}", f"{ref['seconds']:.3f}"]])
    speed = ref["seconds"] / ours["seconds"]
    agree = abs(ours["recall_at_20"] - ref["recall_at_20"]) < 1e-4 and abs(ours["ndcg_at_20"] - ref["ndcg_at_20"]) < 1e-4
    print(f"gnnkit is {speed:.2f}x faster; metrics agree: {agree}")
    result = {"dataset": args.dataset, "threads": args.threads, "machine": common.machine_line(),
              "gnnkit": ours, "numpy": ref, "speedup": speed, "metrics_agree": agree}
    out_path = args.out or ROOT / "bench" / "results" / f"recsys-eval-{time.strftime('%Y%m%d-%H%M')}.json"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(result, indent=1))
    print(f"results: {out_path}")
    if not agree:
        sys.exit("the two evaluations disagree")


if __name__ == "__main__":
    main()
