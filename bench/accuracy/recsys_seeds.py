"""Recommendation accuracy over seeds: runs `gnnkit-recsys train` once per seed with the
given options and summarises Recall@20 / NDCG@20 of every model in the report (mean ± std),
with the ratios the acceptance asks for: LightGCN / UltraGCN's published Recall@20, and the
best GNN's gain over BPR-MF and popularity.

    python bench/accuracy/recsys_seeds.py --binary build/examples/recsys/gnnkit-recsys \
        --dataset movielens-1m-lcfn --seeds 1,2,3 --json bench/results/recsys-ml1m-seeds.json \
        -- --model lightgcn,sage --epochs 60 --threads 2

Everything after `--` goes to `gnnkit-recsys train` unchanged. Seeds run one after another
(or `--parallel 2` at a time, each with its own --threads).
"""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ULTRAGCN = {"movielens-1m-lcfn": 0.2787, "amazon-cds": 0.1622}  # ../shared/data/README.md


def run_seed(binary: str, dataset: str, data_root: str, seed: int, extra: list, out_root: Path) -> dict:
    out = out_root / f"seed{seed}"
    cmd = [binary, "train", "--dataset", dataset, "--data-root", data_root, "--out", str(out),
           "--seed", str(seed), *extra]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"seed {seed} failed ({' '.join(cmd)}):\n{r.stderr[-2000:]}")
    print(f"seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)
    return json.loads((out / "metrics.json").read_text())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--data-root", default="../shared/data")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--parallel", type=int, default=1)
    ap.add_argument("--json", default="")
    ap.add_argument("train_args", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    extra = args.train_args[1:] if args.train_args[:1] == ["--"] else args.train_args
    seeds = [int(s) for s in args.seeds.split(",")]
    with tempfile.TemporaryDirectory(prefix="recsys-seeds-") as tmp:
        with ThreadPoolExecutor(args.parallel) as pool:
            runs = list(pool.map(lambda s: run_seed(args.binary, args.dataset, args.data_root, s, extra,
                                                     Path(tmp)), seeds))
    models = {}
    for run in runs:
        for m in run["models"]:
            e = models.setdefault(m["name"], {"recall": [], "ndcg": [], "s_per_epoch": [], "settings": m.get("settings", "")})
            e["recall"].append(m["recall_at_20"])
            e["ndcg"].append(m["ndcg_at_20"])
            e["s_per_epoch"].append(m["seconds_per_epoch"])
    summary = {}
    print(f"\n{args.dataset}, seeds {args.seeds}: train {' '.join(extra)}")
    print(f"{'model':<34} {'Recall@20':>17} {'NDCG@20':>17}  s/epoch")
    for name, e in models.items():
        sd = lambda v: statistics.stdev(v) if len(v) > 1 else 0.0
        summary[name] = {"recall_mean": statistics.mean(e["recall"]), "recall_std": sd(e["recall"]),
                         "ndcg_mean": statistics.mean(e["ndcg"]), "ndcg_std": sd(e["ndcg"]),
                         "recall": e["recall"], "ndcg": e["ndcg"], "settings": e["settings"],
                         "seconds_per_epoch_median": statistics.median(e["s_per_epoch"])}
        s = summary[name]
        print(f"{name:<34} {s['recall_mean']:.4f} ± {s['recall_std']:.4f} {s['ndcg_mean']:.4f} ± "
              f"{s['ndcg_std']:.4f}  {s['seconds_per_epoch_median']:.2f}")
    gnns = {n: s for n, s in summary.items() if n.startswith(("LightGCN", "GraphSAGE"))}
    ratios = {}
    if gnns:
        best_name, best = max(gnns.items(), key=lambda kv: kv[1]["recall_mean"])
        ratios["best_gnn"] = best_name
        for n, s in summary.items():
            if n.startswith("LightGCN") and args.dataset in ULTRAGCN:
                ratios["lightgcn_over_ultragcn"] = s["recall_mean"] / ULTRAGCN[args.dataset]
        if "BPR-MF" in summary:
            ratios["best_gnn_gain_over_mf"] = best["recall_mean"] / summary["BPR-MF"]["recall_mean"] - 1
        if "popularity" in summary:
            ratios["best_gnn_over_popularity"] = best["recall_mean"] / summary["popularity"]["recall_mean"]
        for k, v in ratios.items():
            print(f"{k}: {v if isinstance(v, str) else round(v, 4)}")
    if args.json:
        Path(args.json).write_text(json.dumps({"dataset": args.dataset, "seeds": seeds, "train_args": extra,
                                               "models": summary, "ratios": ratios,
                                               "date": time.strftime("%Y-%m-%d %H:%M")}, indent=1))


if __name__ == "__main__":
    main()
