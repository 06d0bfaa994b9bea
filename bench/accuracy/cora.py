"""Cora / CiteSeer accuracy with the Planetoid public split, mean over seeds, next to the
published numbers quoted in ../shared/data/README.md.

    PYTHONPATH=<dir with the gnnkit package> python bench/accuracy/cora.py [--seeds 10] [--dataset cora]
"""
import argparse
import json
import time

import numpy as np

import gnnkit

PUBLISHED = {  # ../shared/data/README.md, "Published reference results"
    ("cora", "sage"): ("GCN (Kipf & Welling 2017)", 0.815),
    ("cora", "gat"): ("GAT (Velickovic et al. 2018)", 0.830),
    ("citeseer", "sage"): ("GCN (Kipf & Welling 2017)", 0.703),
    ("citeseer", "gat"): ("GAT (Velickovic et al. 2018)", 0.725),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="cora")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--models", default="sage,gat")
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    ds = gnnkit.datasets.load(args.dataset)
    results = {}
    for conv in args.models.split(","):
        accs, secs = [], []
        for seed in range(args.seeds):
            t = time.perf_counter()
            r = gnnkit.train.fit_node_classifier(ds, **gnnkit.train.CORA_RECIPES[conv], seed=seed)
            secs.append(time.perf_counter() - t)
            accs.append(r["test_accuracy"])
            print(f"{args.dataset} {conv} seed {seed}: test {r['test_accuracy']:.3f} "
                  f"(val {r['val_accuracy']:.3f}, best epoch {r['best_epoch']}, {secs[-1]:.1f} s)", flush=True)
        ref_name, ref = PUBLISHED[(args.dataset, conv)]
        mean, std = float(np.mean(accs)), float(np.std(accs))
        results[conv] = {"mean": mean, "std": std, "accuracies": accs, "seconds_per_run": float(np.median(secs)),
                         "published": ref, "published_by": ref_name, "recipe": gnnkit.train.CORA_RECIPES[conv]}
        print(f"== {args.dataset} {conv}: {100 * mean:.2f} ± {100 * std:.2f} % over {args.seeds} seeds; "
              f"published {ref_name} {100 * ref:.1f} %; difference {100 * (mean - ref):+.2f} points; "
              f"median {np.median(secs):.1f} s per run", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
