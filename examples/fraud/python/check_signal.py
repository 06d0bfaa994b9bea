#!/usr/bin/env python3
"""Checks where the fraud signal of a `gnnkit-fraud generate` file lives.

Splits transactions by time (earliest 60% train, next 20% validation, last 20% test) and
trains XGBoost on three feature sets, reporting PR-AUC (average precision) on the test window:

  (a) features   the transaction's own features only (amount, hour, category, velocities, ...)
  (b) +1hop      (a) + the node features of the transaction's user, card, device, IP and
                 merchant + simple past-only aggregates per entity (transactions so far,
                 distinct users / cards so far, mean log-amount so far): the usual hand-made
                 "entity join" baseline
  (c) +2hop      (b) + past-only means of *all* transaction features over each entity's earlier
                 transactions: what a 2-layer GNN with mean aggregation can see (a proxy for
                 the graph model's ceiling, not a replacement for it)

No aggregate uses labels, and every aggregate uses only transactions before the one scored
(transaction ids are in time order). Usage:

    PYTHONPATH=build-fraudpy/python .venv/bin/python examples/fraud/python/check_signal.py FILE
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np


def load(path):
    import gnnkit

    g = gnnkit.HeteroGraph.load(path)
    x = np.asarray(g.features("transaction"), dtype=np.float32)
    y = np.asarray(g.labels("transaction"))
    pattern = np.asarray(g.features("transaction", "fraud_pattern"))[:, 0].astype(np.int64)
    times = np.asarray(g.node_times("transaction"))
    n = len(y)
    ends = {}
    for rel, etype in [("by", "user"), ("paid_with", "card"), ("from_device", "device"),
                       ("from_ip", "ip"), ("at", "merchant")]:
        # The reverse relation is dst-major over transactions: exactly one entity per transaction.
        indptr, indices, _ = g.csc((etype, "rev_" + rel, "transaction"))
        assert len(indptr) == n + 1 and np.all(np.diff(indptr) == 1), rel
        ends[etype] = np.asarray(indices, dtype=np.int64)
    node_x = {t: np.asarray(g.features(t), dtype=np.float32) for t in ends}
    return x, y, pattern, times, ends, node_x


def past_group_stats(key, values):
    """For each row i (rows in time order): count of earlier rows with the same key and the
    mean of `values` (n x f) over them (0 where none). Exclusive running sums per key."""
    n = len(key)
    order = np.lexsort((np.arange(n), key))
    k = key[order]
    start = np.r_[True, k[1:] != k[:-1]]
    group_first = np.maximum.accumulate(np.where(start, np.arange(n), 0))
    count = np.arange(n) - group_first  # earlier rows in the group
    out_count = np.empty(n, np.int64)
    out_count[order] = count
    means = None
    if values is not None:
        v = values[order].astype(np.float64)
        cs = np.cumsum(v, axis=0)
        cs = np.vstack([np.zeros((1, v.shape[1])), cs])
        excl = cs[:-1] - cs[group_first]  # sum of earlier rows in the group
        m = np.where(count[:, None] > 0, excl / np.maximum(count, 1)[:, None], 0.0)
        means = np.empty_like(m, dtype=np.float32)
        means[order] = m
    return out_count, means


def past_distinct(key, other):
    """For each row: number of distinct `other` values among earlier rows with the same key."""
    n = len(key)
    order = np.lexsort((np.arange(n), key))
    k, o = key[order], other[order]
    pair = k.astype(np.int64) * (int(other.max()) + 1) + o
    _, first = np.unique(pair, return_index=True)
    is_first = np.zeros(n, np.int64)
    is_first[first] = 1
    start = np.r_[True, k[1:] != k[:-1]]
    group_first = np.maximum.accumulate(np.where(start, np.arange(n), 0))
    cs = np.r_[0, np.cumsum(is_first)]
    distinct = cs[np.arange(n)] - cs[group_first]  # distinct among earlier rows
    out = np.empty(n, np.int64)
    out[order] = distinct
    return out


def build_sets(x, ends, node_x):
    log_amount = x[:, [0]]
    one_hop = [x]
    names = ["features"]
    for etype in ["user", "card", "device", "ip", "merchant"]:
        one_hop.append(node_x[etype][ends[etype]])
    for etype in ["user", "card", "device", "ip"]:
        count, mean_amount = past_group_stats(ends[etype], log_amount)
        cols = [np.log1p(count)[:, None], mean_amount]
        for other in ["user", "card", "device"]:
            if other != etype:
                cols.append(np.log1p(past_distinct(ends[etype], ends[other]))[:, None])
        one_hop.append(np.hstack(cols).astype(np.float32))
    b = np.hstack(one_hop).astype(np.float32)
    two_hop = [b]
    for etype in ["user", "card", "device", "ip"]:
        _, means = past_group_stats(ends[etype], x)
        two_hop.append(means)
    c = np.hstack(two_hop).astype(np.float32)
    return {"(a) features": x, "(b) +1hop": b, "(c) +2hop": c}


def column_names_for(meta_cols):
    tx = list(meta_cols["transaction"])
    b = list(tx)
    for etype in ["user", "card", "device", "ip", "merchant"]:
        b += [f"{etype}.{c}" for c in meta_cols[etype]]
    for etype in ["user", "card", "device", "ip"]:
        b += [f"{etype}.past_count", f"{etype}.past_mean_log_amount"]
        b += [f"{etype}.distinct_{o}s" for o in ["user", "card", "device"] if o != etype]
    c = list(b)
    for etype in ["user", "card", "device", "ip"]:
        c += [f"{etype}.mean_{f}" for f in tx]
    return {"(a) features": tx, "(b) +1hop": b, "(c) +2hop": c}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file")
    ap.add_argument("--trees", type=int, default=400)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--importance", type=int, default=0, help="print the top-K features by gain")
    args = ap.parse_args(argv)
    import xgboost as xgb
    from sklearn.metrics import average_precision_score, roc_auc_score

    t0 = time.time()
    x, y, pattern, times, ends, node_x = load(args.file)
    n = len(y)
    cut1, cut2 = int(0.6 * n), int(0.8 * n)  # ids are in time order
    print(f"{n:,} transactions, fraud {y.mean():.2%}; train/val/test fraud "
          f"{y[:cut1].mean():.2%} / {y[cut1:cut2].mean():.2%} / {y[cut2:].mean():.2%}")
    sets = build_sets(x, ends, node_x)
    with open(args.file + ".meta.json") as f:
        column_names = column_names_for(json.load(f)["feature_columns"])
    print(f"features built in {time.time() - t0:.1f}s")
    results = {}
    test_pattern = pattern[cut2:]
    for name, feats in sets.items():
        t1 = time.time()
        model = xgb.XGBClassifier(n_estimators=args.trees, max_depth=6, learning_rate=0.08,
                                  subsample=0.8, colsample_bytree=0.8, tree_method="hist",
                                  eval_metric="aucpr", early_stopping_rounds=40,
                                  n_jobs=args.threads or None, random_state=0)
        model.fit(feats[:cut1], y[:cut1], eval_set=[(feats[cut1:cut2], y[cut1:cut2])], verbose=False)
        p = model.predict_proba(feats[cut2:])[:, 1]
        ap_all = average_precision_score(y[cut2:], p)
        per = {}
        for code, pname in [(1, "ring"), (2, "account_takeover"), (3, "card_testing"), (4, "mule")]:
            # Recall at the test window's fraud count (precision-matched cut-off), per pattern.
            k = int(y[cut2:].sum())
            top = np.argsort(-p)[:k]
            hit = np.isin(np.flatnonzero(test_pattern == code), top)
            per[pname] = float(hit.mean()) if hit.size else float("nan")
        results[name] = {"pr_auc": float(ap_all), "roc_auc": float(roc_auc_score(y[cut2:], p)),
                         "num_features": int(feats.shape[1]), "recall_at_k_by_pattern": per}
        print(f"{name:14s} {feats.shape[1]:4d} cols  PR-AUC {ap_all:.3f}  ROC-AUC "
              f"{results[name]['roc_auc']:.3f}  recall@k by pattern "
              + ", ".join(f"{k} {v:.2f}" for k, v in per.items())
              + f"  ({time.time() - t1:.0f}s, {model.best_iteration + 1} trees)")
        if args.importance:
            gain = model.get_booster().get_score(importance_type="total_gain")
            top = sorted(gain.items(), key=lambda kv: -kv[1])[: args.importance]
            print("    top gain: " + ", ".join(f"{column_names[name][int(k[1:])]}" for k, _ in top))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
