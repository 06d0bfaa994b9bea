#!/usr/bin/env python3
"""The gnnkit-recsys workflow in Python: LightGCN, the GraphSAGE two-tower or BPR-MF trained with
BPR on a user-item dataset, full-ranking evaluation next to popularity, a report, and the embeddings as .npy.

    python examples/recsys/python/recsys.py train --dataset movielens-1m-lcfn --out report/
    python examples/recsys/python/recsys.py train --data DIR --out report/   # LightGCN folder
    python examples/recsys/python/recsys.py recommend --out report/ --user 3 -k 10

It uses the same library pieces as the C++ app (``gnnkit.nn.LightGCN``: propagation, BPR
loss and gradient in C++; ``gnnkit.nn.TwoTower``: link sampling with negatives, SAGE forward
and backward in C++; ``gnnkit.train.Adam``; ``gnnkit.train.top_k``: exact top-K with
the training items excluded) with the same defaults, so both give the same kind of numbers:
training triples are every training interaction once per epoch in a shuffled order with
``--lightgcn-negatives`` negatives (default 4), each the best-scoring of ``--hard-negatives``
(default 8) uniform draws among the items the user has not interacted with (1 = uniform), and
the metrics are Recall@20 and
NDCG@20 over all items after the last epoch (the LightGCN protocol).

Writes OUT/report.md, OUT/metrics.json, OUT/training.png, OUT/recall_at_k.png and
OUT/user_embeddings.npy, OUT/item_embeddings.npy (score = users[u] @ items[i]).
Bad input raises ValueError / IndexError / OSError naming the file, line or argument.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

K = 20
CURVE = 100


class _NullBar:
    def update(self, *_a, **_k):
        pass

    def set_postfix_str(self, *_a, **_k):
        pass

    def close(self):
        pass


def _tqdm(enabled: bool):
    try:
        from tqdm.auto import tqdm
    except ImportError:  # progress bars are optional
        return lambda *a, **k: _NullBar()
    return lambda *a, **k: tqdm(*a, disable=None if enabled else True, leave=False, **k)


def read_lightgcn(path: Path, num_users: Optional[int] = None,
                  num_items: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray]:
    """``user item item ...`` per line -> (users, items) int64; errors name file and line."""
    users: List[int] = []
    items: List[int] = []
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            try:
                ids = [int(t) for t in parts]
            except ValueError:
                bad = next(t for t in parts if not t.lstrip("-").isdigit())
                raise ValueError(f"{path}: line {lineno}: {bad!r} is not an integer") from None
            if min(ids) < 0:
                raise ValueError(f"{path}: line {lineno}: negative id {min(ids)}")
            if num_users is not None and ids[0] >= num_users:
                raise ValueError(f"{path}: line {lineno}: user id {ids[0]} is beyond the declared "
                                 f"range [0, {num_users})")
            if num_items is not None and len(ids) > 1 and max(ids[1:]) >= num_items:
                raise ValueError(f"{path}: line {lineno}: item id {max(ids[1:])} is beyond the "
                                 f"declared range [0, {num_items})")
            users.extend([ids[0]] * (len(ids) - 1))
            items.extend(ids[1:])
    return np.asarray(users, np.int64), np.asarray(items, np.int64)


class Data:
    """Training and test interactions as per-user CSR lists (sorted, unique)."""

    def __init__(self, name: str, num_users: int, num_items: int, train: Tuple[np.ndarray, np.ndarray],
                 test: Tuple[np.ndarray, np.ndarray]):
        self.name, self.num_users, self.num_items = name, num_users, num_items
        self.train_indptr, self.train_items = self._csr(*train)
        self.test_indptr, self.test_items = self._csr(*test)

    def _csr(self, users: np.ndarray, items: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        keys = np.unique(users * self.num_items + items)
        u, i = keys // self.num_items, keys % self.num_items
        indptr = np.zeros(self.num_users + 1, np.int64)
        np.cumsum(np.bincount(u, minlength=self.num_users), out=indptr[1:])
        return indptr, i.astype(np.int32)

    @property
    def train_users(self) -> np.ndarray:
        return np.repeat(np.arange(self.num_users), np.diff(self.train_indptr))

    def test_of(self, u: int) -> np.ndarray:
        return self.test_items[self.test_indptr[u]:self.test_indptr[u + 1]]


def load_data(args) -> Data:
    if args.dataset:
        import gnnkit.datasets
        ds = gnnkit.datasets.load(args.dataset, args.data_root)
        (u, i), = ds.edges.values()
        return Data(args.dataset, ds.num_nodes["user"], ds.num_nodes["item"], (u, i), ds.extra["test"])
    folder = Path(args.data)
    if not folder.is_dir():
        raise OSError(f"'{folder}' is not a folder (expected train.txt and test.txt in it)")
    nu = ni = None
    if (folder / "meta.json").exists():
        meta = json.loads((folder / "meta.json").read_text())
        nu, ni = int(meta["num_users"]), int(meta["num_items"])
    train = read_lightgcn(folder / "train.txt", nu, ni)
    test = read_lightgcn(folder / "test.txt", nu, ni)
    nu = nu if nu is not None else int(max(train[0].max(), test[0].max(initial=-1))) + 1
    ni = ni if ni is not None else int(max(train[1].max(), test[1].max(initial=-1))) + 1
    return Data(folder.name, nu, ni, train, test)


def evaluate(data: Data, user_emb: Optional[np.ndarray], item_emb: Optional[np.ndarray],
             popularity: Optional[np.ndarray] = None, threads: int = 0) -> Dict[str, object]:
    """Full-ranking Recall@20, NDCG@20 and Recall@1..100 over users with test items."""
    import gnnkit
    users = np.flatnonzero(np.diff(data.test_indptr) > 0)
    exclude = (data.train_indptr, data.train_items)
    t0 = time.perf_counter()
    if popularity is not None:  # a shared score: one constant "user"
        ranked, _ = gnnkit.train.top_k(np.ones((data.num_users, 1), np.float32),
                                       popularity.reshape(-1, 1).astype(np.float32), users, CURVE,
                                       exclude=exclude, num_threads=threads)
    else:
        ranked, _ = gnnkit.train.top_k(user_emb, item_emb, users, CURVE, exclude=exclude,
                                       num_threads=threads)
    seconds = time.perf_counter() - t0
    truth = [data.test_of(u) for u in users]
    return {"recall_at_20": gnnkit.train.recall_at_k(ranked, truth, K),
            "ndcg_at_20": gnnkit.train.ndcg_at_k(ranked, truth, K),
            "recall_curve": [gnnkit.train.recall_at_k(ranked, truth, k) for k in range(1, CURVE + 1)],
            "users": int(len(users)), "ranking_seconds": seconds}


def _run_epochs(data: Data, args, name: str, epochs: int, batch: int, step, embed,
                log=print) -> Tuple[Dict[str, object], np.ndarray, np.ndarray]:
    """The epoch loop both models share: every training interaction once per epoch in a
    shuffled order, ``step(indices, epoch, batch_index)`` -> the batch's loss; test metrics
    of ``embed()`` every ``eval_every`` epochs and at the end."""
    tqdm = _tqdm(not args.no_progress)
    rng = np.random.default_rng(args.seed)
    n = len(data.train_items)
    history: List[Dict[str, float]] = []
    bar = tqdm(total=epochs, desc=name, unit="epoch")
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        order = rng.permutation(n)
        losses = [step(order[b0:b0 + batch], epoch, k) for k, b0 in enumerate(range(0, n, batch))]
        rec = {"epoch": epoch, "loss": float(np.mean(losses)), "seconds": time.perf_counter() - t0}
        if epoch == epochs or (args.eval_every and epoch % args.eval_every == 0):
            ue, ie = embed()
            m = evaluate(data, ue, ie, threads=args.threads)
            rec.update(recall_at_20=m["recall_at_20"], ndcg_at_20=m["ndcg_at_20"])
            log(f"{name} epoch {epoch}/{epochs}: loss {rec['loss']:.4f}, {rec['seconds']:.2f} s, "
                f"test Recall@20 {m['recall_at_20']:.4f}, NDCG@20 {m['ndcg_at_20']:.4f}")
        history.append(rec)
        bar.update(1)
        bar.set_postfix_str(f"loss {rec['loss']:.4f}")
    bar.close()
    ue, ie = embed()
    result = evaluate(data, ue, ie, threads=args.threads)
    result.update(name=name, history=history,
                  seconds_per_epoch=float(np.median([h["seconds"] for h in history])))
    return result, ue, ie


def train_lightgcn(data: Data, args, layers: int, lr: float, reg: float, log=print):
    import gnnkit
    users = data.train_users
    items = data.train_items.astype(np.int64)
    model = gnnkit.nn.LightGCN(data.num_users, data.num_items, users, items, dim=args.dim,
                               layers=layers, reg=reg, seed=args.seed, num_threads=args.threads)
    opt = gnnkit.train.Adam(model, lr=lr)

    def step(idx, epoch, k):
        # k negatives per positive, each the hardest of --hard-negatives unseen draws, drawn in
        # C++ from the stream (seed, epoch, interaction) as gnnkit-recsys draws them.
        u = users[idx]
        neg = model.sample_negatives(u, idx, args.lightgcn_negatives, args.hard_negatives,
                                     seed=args.seed, stream=epoch)
        rep = np.repeat(idx, args.lightgcn_negatives)
        bpr, _ = model.loss_and_grad(users[rep], items[rep], neg)
        if args.lr_schedule == "cosine":  # as gnnkit-recsys: lr (1 + cos(pi (epoch - 1) / E)) / 2
            opt.lr = lr * 0.5 * (1 + math.cos(math.pi * (epoch - 1) / args.epochs))
        opt.step(args.threads)
        return bpr

    name = f"LightGCN ({layers} layers)" if layers else "BPR-MF"
    return _run_epochs(data, args, name, args.epochs, args.batch, step, model.embeddings, log)


def read_item_features(folder: Path, num_items: int) -> Optional[np.ndarray]:
    """items.csv (item,category,price) -> [items, categories + 1]: one-hot category and the
    standardised log price; None without the file. Errors name the file and line."""
    path = folder / "items.csv"
    if not path.exists():
        return None
    category = np.full(num_items, -1, np.int64)
    log_price = np.zeros(num_items)
    with open(path) as f:
        header = f.readline().strip()
        if header != "item,category,price":
            raise ValueError(f"{path}: line 1: the header must be 'item,category,price', got {header!r}")
        for lineno, line in enumerate(f, 2):
            if not line.strip():
                continue
            parts = line.strip().split(",")
            try:
                item, cat, price = int(parts[0]), int(parts[1]), float(parts[2])
                if len(parts) != 3:
                    raise ValueError
            except (ValueError, IndexError):
                raise ValueError(f"{path}: line {lineno}: expected item,category,price, got {line.strip()!r}") from None
            if not 0 <= item < num_items:
                raise ValueError(f"{path}: line {lineno}: item {item} is outside [0, {num_items})")
            if not 0 <= cat < 4096 or not 0 < price < float("inf"):
                raise ValueError(f"{path}: line {lineno}: category must be in [0, 4096) and price a "
                                 f"positive number, got {cat} and {price}")
            category[item], log_price[item] = cat, np.log(price)
    missing = np.flatnonzero(category < 0)
    if len(missing):
        raise ValueError(f"{path}: item {int(missing[0])} has no line")
    out = np.zeros((num_items, category.max() + 2), np.float32)
    out[np.arange(num_items), category] = 1
    out[:, -1] = (log_price - log_price.mean()) / (log_price.std() + 1e-12)
    return out


def train_sage(data: Data, args, features: Optional[np.ndarray], log=print):
    import gnnkit
    users = data.train_users
    items = data.train_items.astype(np.int64)
    fanouts = [int(x) for x in args.fanouts.split(",")]
    model = gnnkit.nn.TwoTower(data.num_users, data.num_items, users, items, item_features=features,
                               layers=args.sage_layers, dim=args.dim, hidden=args.hidden,
                               reg=args.sage_reg, fanouts=fanouts, negatives=args.negatives,
                               seed=args.seed, num_threads=args.threads)
    opt = gnnkit.train.Adam(model, lr=args.sage_lr)

    def step(idx, epoch, k):
        loss = model.train_step(users[idx], items[idx], key=(epoch << 32) | k)
        opt.step(args.threads)
        return loss

    name = f"GraphSAGE two-tower ({args.sage_layers} layers)"
    return _run_epochs(data, args, name, args.sage_epochs, args.sage_batch, step, model.embeddings, log)


def write_report(out: Path, data: Data, rows: List[Dict[str, object]], args) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    colours = {"popularity": "#888888"}
    palette = iter(["#0072B2", "#D55E00", "#009E73", "#CC79A7"])
    for r in rows:
        colours.setdefault(r["name"], next(palette))
    trained = [r for r in rows if r.get("history")]
    if trained:
        fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.4))
        for r in trained:
            h = r["history"]
            a.plot([x["epoch"] for x in h], [x["loss"] for x in h], label=r["name"], color=colours[r["name"]])
            ev = [x for x in h if "recall_at_20" in x]
            b.plot([x["epoch"] for x in ev], [x["recall_at_20"] for x in ev], marker="o",
                   label=r["name"], color=colours[r["name"]])
        a.set(title="Training loss (BPR)", xlabel="epoch", ylabel="loss")
        b.set(title="Test Recall@20 during training", xlabel="epoch", ylabel="Recall@20")
        for ax in (a, b):
            ax.grid(alpha=0.3)
            ax.legend()
        fig.tight_layout()
        fig.savefig(out / "training.png", dpi=110)
        plt.close(fig)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for r in rows:
        ax.plot(range(1, CURVE + 1), r["recall_curve"], label=r["name"], color=colours[r["name"]],
                linestyle="--" if r["name"] == "popularity" else "-")
    ax.set(title="Recall@K over all items (test users)", xlabel="K", ylabel="Recall@K")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "recall_at_k.png", dpi=110)
    plt.close(fig)
    best = max(rows, key=lambda r: r["recall_at_20"])
    lines = [f"# Recommendation: {data.name}", "",
             f"{data.num_users} users, {data.num_items} items, {len(data.train_items)} training and "
             f"{len(data.test_items)} test interactions.", "",
             "| Model | Recall@20 | NDCG@20 | Training time per epoch |", "|---|---:|---:|---:|"]
    for r in rows:
        star = " ★" if r is best else ""
        spe = f"{r['seconds_per_epoch']:.2f} s" if r.get("history") else "-"
        lines.append(f"| {r['name']} | {r['recall_at_20']:.4f}{star} | {r['ndcg_at_20']:.4f} | {spe} |")
    lines += ["", f"{rows[0]['users']} test users; every item not in a user's training set is ranked "
              "(the LightGCN protocol); metrics after the last epoch. ★ best Recall@20.", ""]
    if trained:
        lines += ["![Training curves](training.png)", ""]
    lines += ["![Recall at K](recall_at_k.png)", "",
              f"Options: models {args.model}; LightGCN/MF: layers {args.layers}, dim {args.dim}, "
              f"epochs {args.epochs}, batch {args.batch}, lr {args.lr}, reg {args.reg}, negatives "
              f"{args.lightgcn_negatives} (hard of {args.hard_negatives}); SAGE: "
              f"layers {args.sage_layers}, fan-outs {args.fanouts}, hidden {args.hidden}, negatives "
              f"{args.negatives}, epochs {args.sage_epochs}, batch {args.sage_batch}, lr {args.sage_lr}, "
              f"reg {args.sage_reg}; seed {args.seed}.", ""]
    (out / "report.md").write_text("\n".join(lines))
    (out / "metrics.json").write_text(json.dumps(
        {"dataset": data.name, "options": {k: getattr(args, k) for k in
                                           ("model", "layers", "dim", "epochs", "batch", "lr", "reg",
                                            "lightgcn_negatives", "hard_negatives",
                                            "sage_layers", "fanouts", "hidden", "negatives",
                                            "sage_epochs", "sage_batch", "sage_lr", "sage_reg", "seed")},
         "models": rows}, indent=1))


def cmd_train(args) -> int:
    import gnnkit
    data = load_data(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"{data.name}: {data.num_users} users, {data.num_items} items, {len(data.train_items)} "
          f"training / {len(data.test_items)} test interactions ({gnnkit.build_info()})")
    counts = np.bincount(data.train_items, minlength=data.num_items)
    rows = [dict(evaluate(data, None, None, popularity=counts.astype(np.float32), threads=args.threads),
                 name="popularity")]
    models = args.model.split(",")
    for m in models:
        if m not in ("lightgcn", "sage", "mf") or models.count(m) > 1:
            raise ValueError(f"--model must list lightgcn, sage or mf once each, got {args.model!r}")
    if args.lightgcn_negatives < 1 or args.negatives < 1 or args.hard_negatives < 1:
        raise ValueError("--lightgcn-negatives, --hard-negatives and --negatives must be >= 1")
    if "sage" in models:  # before any model trains: a bad option costs no epochs
        fanouts = args.fanouts.split(",")
        if len(fanouts) != args.sage_layers:
            if args.fanouts != "10,10":
                raise ValueError(f"--fanouts must list one fan-out per layer ({args.sage_layers}), "
                                 f"got {args.fanouts!r}")
            args.fanouts = ",".join(["10"] * args.sage_layers)  # the default, one per layer
    features = read_item_features(Path(args.data), data.num_items) if args.data and "sage" in models else None
    saved = None
    for m in models:
        if m == "lightgcn":
            row, u_emb, i_emb = train_lightgcn(data, args, args.layers, args.lr, args.reg)
        elif m == "mf":
            row, u_emb, i_emb = train_lightgcn(data, args, 0, args.mf_lr, args.mf_reg)
        else:
            row, u_emb, i_emb = train_sage(data, args, features)
        rows.append(row)
        saved = saved or (u_emb, i_emb)
    ue, ie = saved
    if not args.no_baselines and "mf" not in models:
        rows.append(train_lightgcn(data, args, 0, args.mf_lr, args.mf_reg)[0])
    np.save(out / "user_embeddings.npy", ue)
    np.save(out / "item_embeddings.npy", ie)
    np.save(out / "train_indptr.npy", data.train_indptr)
    np.save(out / "train_items.npy", data.train_items)
    np.save(out / "popularity.npy", counts.astype(np.float32))
    write_report(out, data, rows, args)
    print(f"\n{'model':<28} Recall@20   NDCG@20   s/epoch")
    for r in rows:
        spe = f"{r['seconds_per_epoch']:.2f}" if r.get("history") else "-"
        print(f"{r['name']:<28} {r['recall_at_20']:9.4f} {r['ndcg_at_20']:9.4f} {spe:>9}")
    print(f"report: {out / 'report.md'}")
    return 0


def cmd_recommend(args) -> int:
    import gnnkit
    out = Path(args.out)
    try:
        ue, ie = np.load(out / "user_embeddings.npy"), np.load(out / "item_embeddings.npy")
        indptr, items = np.load(out / "train_indptr.npy"), np.load(out / "train_items.npy")
        popularity = np.load(out / "popularity.npy")
    except FileNotFoundError as e:
        raise OSError(f"{e.filename}: missing; run 'recsys.py train --out {out}' first") from None
    if not 1 <= args.k <= ie.shape[0]:
        raise ValueError(f"-k must be in [1, {ie.shape[0]}] (the catalogue size), got {args.k}")
    if args.user < 0:
        raise IndexError(f"--user must be >= 0, got {args.user}")
    known = args.user < ue.shape[0] and indptr[args.user + 1] > indptr[args.user]
    if known:
        ranked, scores = gnnkit.train.top_k(ue, ie, [args.user], args.k, exclude=(indptr, items))
        answer = {"user": args.user, "items": ranked[0].tolist(), "scores": scores[0].tolist()}
    else:
        top = np.argsort(-popularity, kind="stable")[:args.k]
        answer = {"user": args.user, "items": top.tolist(), "scores": popularity[top].tolist(),
                  "note": "unknown user: most popular items"}
    print(json.dumps(answer))
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train LightGCN (and baselines), evaluate, write the report")
    src = t.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset", help="movielens-1m-lcfn or amazon-cds (gnnkit.datasets)")
    src.add_argument("--data", help="a LightGCN-format folder (train.txt, test.txt)")
    t.add_argument("--data-root", default=None, help="folder of the shared datasets")
    t.add_argument("--out", required=True)
    t.add_argument("--model", default="lightgcn",
                   help="lightgcn, sage (GraphSAGE two-tower) or mf; a comma list trains several, "
                        "the first is saved")
    t.add_argument("--layers", type=int, default=3)
    t.add_argument("--dim", type=int, default=64)
    t.add_argument("--epochs", type=int, default=40)
    t.add_argument("--batch", type=int, default=8192)
    t.add_argument("--lr", type=float, default=0.01)
    t.add_argument("--reg", type=float, default=2e-3)
    t.add_argument("--lr-schedule", choices=["constant", "cosine"], default="constant",
                   help="LightGCN / BPR-MF learning rate: constant, or cosine decay to 0 over the epochs")
    t.add_argument("--lightgcn-negatives", type=int, default=4,
                   help="negatives per positive for LightGCN and BPR-MF (BPR averaged over them)")
    t.add_argument("--hard-negatives", type=int, default=8,
                   help="each negative is the best-scoring of M unseen draws under the current model "
                        "(dynamic negative sampling; 1 = uniform; BPR-MF uses the same M)")
    t.add_argument("--sage-layers", type=int, default=2)
    t.add_argument("--fanouts", default="10,10", help="SAGE neighbours per hop (-1 = all)")
    t.add_argument("--hidden", type=int, default=64)
    t.add_argument("--negatives", type=int, default=4, help="SAGE negatives per positive")
    t.add_argument("--sage-epochs", type=int, default=20)
    t.add_argument("--sage-batch", type=int, default=2048)
    t.add_argument("--sage-lr", type=float, default=0.005)
    t.add_argument("--sage-reg", type=float, default=1e-4)
    t.add_argument("--mf-lr", type=float, default=0.003, help="the BPR-MF baseline's learning rate")
    t.add_argument("--mf-reg", type=float, default=0.03, help="the BPR-MF baseline's L2 (MF needs more)")
    t.add_argument("--eval-every", type=int, default=5)
    t.add_argument("--seed", type=int, default=1)
    t.add_argument("--threads", type=int, default=0)
    t.add_argument("--no-baselines", action="store_true", help="skip BPR-MF")
    t.add_argument("--no-progress", action="store_true", help="no tqdm progress bars")
    r = sub.add_parser("recommend", help="top-k items for a user from a trained report folder")
    r.add_argument("--out", required=True, help="the folder train wrote")
    r.add_argument("--user", type=int, required=True)
    r.add_argument("-k", type=int, default=10)
    args = p.parse_args(argv)
    return cmd_train(args) if args.command == "train" else cmd_recommend(args)


if __name__ == "__main__":
    sys.exit(main())
