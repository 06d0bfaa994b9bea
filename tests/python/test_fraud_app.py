"""examples/fraud/python/fraud.py end to end: a small generated payments graph (needs the
gnnkit-fraud binary), the Amazon fraud data (needs the shared data folder), and the usage
errors. Each part skips with a message when what it needs is missing."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gnnkit
from gnnkit import datasets

pytest.importorskip("xgboost")
pytest.importorskip("matplotlib")

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "examples" / "fraud" / "python" / "fraud.py"
PACKAGE_PARENT = Path(gnnkit.__file__).resolve().parents[1]
MODELS = ["GNN (sage)", "XGBoost (own features)", "XGBoost (+ neighbour aggregates)"]
METRICS = ["roc_auc", "pr_auc", "recall_at_1pct_fpr", "precision_at_top_0.5pct"]


def _fraud_binary():
    """$GNNKIT_FRAUD_BIN, else gnnkit-fraud next to the package's build tree
    (<build>/python/gnnkit -> <build>/examples/fraud), on PATH, or in the repository's build/."""
    env = os.environ.get("GNNKIT_FRAUD_BIN")
    if env:
        return env if Path(env).is_file() else None
    candidates = [PACKAGE_PARENT.parent / "examples" / "fraud" / "gnnkit-fraud",
                  shutil.which("gnnkit-fraud"), REPO / "build" / "examples" / "fraud" / "gnnkit-fraud"]
    return next((str(c) for c in candidates if c and Path(c).is_file()), None)


def _run(*args, timeout=120):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_PARENT), env.get("PYTHONPATH")]))
    env.setdefault("OMP_NUM_THREADS", "2")
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=timeout)


def _check_report(out: Path, models, seeds):
    for name in ("metrics.json", "report.md", "roc.png", "pr.png", "training.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert [m["name"] for m in metrics["models"]] == models
    assert metrics["seeds"] == seeds
    assert metrics["split"]
    for m in metrics["models"]:
        for key in METRICS:
            assert 0.0 <= m[key] <= 1.0, (m["name"], key)
            assert m[key + "_std"] >= 0.0
        assert len(m["per_seed"]) == len(seeds)
        assert m["positives"] > 0 and m["count"] > m["positives"]
    assert len(metrics["training"]) == len(seeds)
    report = (out / "report.md").read_text()
    assert metrics["split"] in report
    for f in ["roc.png", "pr.png", "training.png", "metrics.json"]:
        assert f"({f})" in report
    hist = sorted(p.name for p in out.glob("scores_*.png"))
    assert len(hist) == len(models)
    return metrics


def test_generated_graph_end_to_end(tmp_path):
    binary = _fraud_binary()
    if binary is None:
        pytest.skip("gnnkit-fraud binary not found: set GNNKIT_FRAUD_BIN or build the examples "
                    "(cmake -DGNNKIT_BUILD_EXAMPLES=ON) next to the Python package")
    graph = tmp_path / "fraud.gnn"
    gen = subprocess.run([binary, "generate", "--users", "3000", "--seed", "3", "--out", str(graph),
                          "--threads", "2"], capture_output=True, text=True, timeout=120)
    assert gen.returncode == 0, gen.stderr
    out = tmp_path / "report"
    r = _run("train", "--graph", graph, "--out", out, "--epochs", "2", "--seeds", "1,2",
             "--batch", "512", "--threads", "2", "--no-progress")
    assert r.returncode == 0, r.stderr
    metrics = _check_report(out, MODELS, [1, 2])
    assert metrics["split"].startswith("time split")
    assert "temporal" in metrics["extra"]["sampling"]
    assert (out / "model_seed1.ckpt").is_file() and (out / "model_seed2.ckpt").is_file()
    for t in metrics["training"]:
        assert 1 <= t["epochs"] <= 2 and 1 <= t["best_epoch"] <= t["epochs"]
    # Checkpoint holds the best epoch's model: it loads into a model of the same shape.
    g = gnnkit.HeteroGraph.load(graph)
    # Inputs: the features plus the seed-identity columns (same user, card... as the seed's).
    ident = gnnkit.sampling.SeedIdentity(g, "transaction")
    assert ident.entity_types == ["user", "card", "device", "ip", "merchant"]
    widths = {t: g.features(t).shape[1] + ident.num_columns(t) for t in g.node_types}
    # fraud.py's default on a generated graph: 3 layers (max aggregation: no parameters).
    model = gnnkit.nn.Model(g, in_features=widths, out=1, target="transaction", hidden=64,
                            num_layers=3, aggr="max", input_projection=True)
    meta = gnnkit.train.load_checkpoint(out / "model_seed1.ckpt", model)
    assert meta["target"] == "transaction"
    assert (meta["seed_identity"], meta["aggr"], meta["fanouts"]) == ("1", "max", "10,10,5")
    assert "same user, card, device, ip, merchant" in metrics["extra"]["seed-identity inputs"]
    # The aggregated baseline sees more than the own-feature one on this graph.
    by = {m["name"]: m for m in metrics["models"]}
    assert by["XGBoost (+ neighbour aggregates)"]["roc_auc"] > 0.6


def test_temporal_aggregates_match_a_loop():
    """The vectorised temporal 1-/2-hop aggregates against a direct per-node loop."""
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import fraud
    finally:
        sys.path.pop(0)
    rng = np.random.default_rng(0)
    n_t, n_u = 40, 7
    user = rng.integers(0, n_u, n_t)
    t_time = np.sort(rng.integers(0, 20, n_t))  # ties included
    rel, rev = ("transaction", "by", "user"), ("user", "rev_by", "transaction")
    g = gnnkit.HeteroGraph.from_edges(
        {rel: (np.arange(n_t), user), rev: (user, np.arange(n_t))},
        num_nodes={"transaction": n_t, "user": n_u},
        timestamps={rel: t_time, rev: t_time}, sort_by_time=True)
    xt = rng.normal(size=(n_t, 3)).astype(np.float32)
    xu = rng.normal(size=(n_u, 2)).astype(np.float32)
    g.set_features("transaction", xt)
    g.set_features("user", xu)
    ids = rng.permutation(n_t)[:25]
    got, names = fraud.neighbour_aggregated_features(g, "transaction", ids, t_time, chunk=7)
    assert len(names) == got.shape[1] == 3 + (2 + 1) + (3 + 1)
    for i, v in enumerate(ids):
        u = user[v]
        past = np.flatnonzero((user == u) & (t_time <= t_time[v]))
        want = np.concatenate([xt[v], xu[u], [1.0], xt[past].mean(0), [len(past)]])
        np.testing.assert_allclose(got[i], want, rtol=1e-5, atol=1e-5)
    static, _ = fraud.neighbour_aggregated_features(g, "transaction", ids, None)
    for i, v in enumerate(ids):
        every = np.flatnonzero(user == user[v])
        np.testing.assert_allclose(static[i, -4:], np.r_[xt[every].mean(0), len(every)],
                                   rtol=1e-5, atol=1e-5)


def test_amazon_one_epoch(tmp_path):
    try:
        root = datasets._resolve_root(None)
        datasets.load("amazon-fraud-upu", root)
    except OSError as e:
        pytest.skip(f"shared data folder with amazon-fraud-upu not found: {e}")
    out = tmp_path / "amazon"
    r = _run("train", "--dataset", "amazon-fraud-upu", "--data-root", root, "--out", out,
             "--epochs", "1", "--batch", "256", "--threads", "2", "--no-progress")
    assert r.returncode == 0, r.stderr
    metrics = _check_report(out, MODELS, [1])
    assert "seeded" in metrics["split"] or "stratified" in metrics["split"]
    by = {m["name"]: m for m in metrics["models"]}
    assert by["GNN (sage)"]["roc_auc"] > 0.7, by["GNN (sage)"]
    assert by["XGBoost (own features)"]["roc_auc"] > 0.7
    assert (out / "model.ckpt").is_file()


def test_unknown_dataset_exits_2_and_lists_names(tmp_path):
    r = _run("train", "--dataset", "no-such-data", "--out", tmp_path / "x")
    assert r.returncode == 2
    for name in ("amazon-fraud-upu", "yelpchi-rur", "bitcoin-otc-rev2", "bitcoin-alpha-rev2"):
        assert name in r.stderr
    assert "looked in" in r.stderr


def test_missing_data_folder_exits_2(tmp_path):
    missing = tmp_path / "nowhere"
    r = _run("train", "--dataset", "yelpchi-rur", "--data-root", missing, "--out", tmp_path / "x")
    assert r.returncode == 2
    assert str(missing) in r.stderr and "amazon-fraud-upu" in r.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    r = _run("train", "--dataset", "yelpchi-rur", "--data-root", empty, "--out", tmp_path / "x")
    assert r.returncode == 2
    assert str(empty / "yelpchi-rur") in r.stderr


def test_usage_errors_exit_2(tmp_path):
    assert _run("train", "--out", tmp_path).returncode == 2  # neither --graph nor --dataset
    r = _run("train", "--graph", tmp_path / "missing.gnn", "--out", tmp_path / "x")
    assert r.returncode == 2 and "missing.gnn" in r.stderr
    r = _run("train", "--graph", tmp_path / "g", "--out", tmp_path / "x", "--fanouts", "10")
    assert r.returncode == 2 and "--fanouts" in r.stderr
