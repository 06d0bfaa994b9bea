"""gnnkit.datasets: every loader against the "Verified stats" of the shared data README.

The statistics are recomputed here from the returned arrays (and, where cheap, from the raw
files) rather than read back from the loader. Tests that need the real data skip when the
shared data folder is absent; the error-handling tests use small files written to tmp_path.
"""
import datetime
import io
import pickle
import re
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import scipy.io
import scipy.sparse

import gnnkit
from gnnkit import datasets

# ---------------------------------------------------------------------------------------------
# Fixtures and helpers


@pytest.fixture(scope="module")
def data_root():
    try:
        return datasets._resolve_root(None)
    except OSError as e:
        pytest.skip(f"shared data folder not found, dataset tests skipped: {e}")


@pytest.fixture(scope="module")
def load(data_root):
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = datasets.load(name, data_root)
        return cache[name]

    return get


def edge_keys(src, dst, n):
    return src * n + dst


def undirected_count(src, dst, n):
    """Number of undirected edges of a symmetric directed edge list (checked symmetric)."""
    keys = edge_keys(src, dst, n)
    assert len(np.unique(keys)) == len(keys), "duplicate directed edges"
    assert np.isin(edge_keys(dst, src, n), keys).all(), "edge list is not symmetric"
    assert not (src == dst).any(), "self loops present"
    return int((src < dst).sum())


def reciprocal_pairs(src, dst, n):
    keys = edge_keys(src, dst, n)
    return int(np.isin(edge_keys(dst, src, n), keys).sum()) // 2


def check_common(ds):
    """dtypes, shapes, id ranges and split sanity that hold for every dataset."""
    for rel, (src, dst) in ds.edges.items():
        s_type, _, d_type = rel
        assert src.dtype == np.int64 and dst.dtype == np.int64
        assert src.shape == dst.shape and src.ndim == 1
        assert src.min() >= 0 and src.max() < ds.num_nodes[s_type]
        assert dst.min() >= 0 and dst.max() < ds.num_nodes[d_type]
        if rel in ds.edge_timestamps:
            assert ds.edge_timestamps[rel].dtype == np.int64
            assert ds.edge_timestamps[rel].shape == src.shape
        if rel in ds.edge_weights:
            assert ds.edge_weights[rel].dtype == np.float32
            assert ds.edge_weights[rel].shape == src.shape
    for ntype, x in ds.features.items():
        assert x.dtype == np.float32 and x.flags["C_CONTIGUOUS"]
        assert x.ndim == 2 and x.shape[0] == ds.num_nodes[ntype]
        assert np.isfinite(x).all()
    for ntype, y in ds.labels.items():
        assert y.dtype == np.int64 and y.shape == (ds.num_nodes[ntype],)
        assert y.min() >= -1
    if ds.splits:
        (ntype,) = ds.labels
        parts = [ds.splits[k] for k in ("train", "val", "test")]
        for p in parts:
            assert p.dtype == np.int64
            assert (np.diff(p) > 0).all()  # sorted, no repeats
            assert (ds.labels[ntype][p] >= 0).all()  # only labelled nodes
        everything = np.concatenate(parts)
        assert len(np.unique(everything)) == len(everything), "splits overlap"
    assert ds.split_note


def check_stratified(ds, train=0.4, val=0.2):
    (labels,) = ds.labels.values()
    labelled = np.flatnonzero(labels >= 0)
    assert np.array_equal(np.sort(np.concatenate(list(ds.splits.values()))), labelled)
    total = np.bincount(labels[labelled])
    for part, frac in (("train", train), ("val", val), ("test", 1 - train - val)):
        got = np.bincount(labels[ds.splits[part]], minlength=len(total))
        assert np.all(np.abs(got - frac * total) <= 1 + 1e-9), (part, got, frac * total)


# ---------------------------------------------------------------------------------------------
# Fraud: .mat (CARE-GNN labels, single relation)

FRAUD = {
    # name: nodes, undirected edges, deg min/mean/max, features, positives, pos%, homophily,
    #       fraud-fraud edges, fraud-benign edges, feature value range
    "amazon-fraud-upu": (10224, 175608, (1, 34.35, 511), 25, 693, 6.78, 0.8075, 3397, 33811,
                         (-1.0, 5525.0)),
    "yelpchi-rur": (23831, 49315, (1, 4.14, 46), 32, 1217, 5.11, 0.9964, 878, 176, (0.0, 1.0)),
}


@pytest.mark.parametrize("name", list(FRAUD))
def test_fraud_verified_stats(load, name):
    (n, undirected, (dmin, dmean, dmax), width, positives, pct, homophily, ff, fb,
     (xmin, xmax)) = FRAUD[name]
    ds = load(name)
    check_common(ds)
    assert ds.num_nodes == {"node": n}
    (rel,) = ds.edges
    assert rel == ("node", "to", "node")
    src, dst = ds.edges[rel]
    assert len(src) == 2 * undirected  # every nonzero kept as a directed edge
    assert undirected_count(src, dst, n) == undirected
    deg = np.bincount(src, minlength=n)
    assert deg.min() == dmin and deg.max() == dmax and round(deg.mean(), 2) == dmean
    x = ds.features["node"]
    assert x.shape == (n, width)
    assert x.min() >= xmin and x.max() <= xmax and x.max() > 0.5 * xmax
    y = ds.labels["node"]
    counts = np.bincount(y)
    assert len(counts) == 2 and counts[1] == positives
    assert round(100 * counts[1] / n, 2) == pct
    once = src < dst
    kinds = np.bincount(y[src[once]] + y[dst[once]], minlength=3)  # 0 bb, 1 fb, 2 ff
    assert kinds[2] == ff and kinds[1] == fb
    assert round(1 - kinds[1] / once.sum(), 4) == homophily
    check_stratified(ds)
    assert "stratified" in ds.split_note and "default_rng(0)" in ds.split_note


# ---------------------------------------------------------------------------------------------
# Bitcoin (REV2 labels)

BITCOIN = {
    # name: prefix, nodes, max original id, edges, positive/negative ratings, reciprocal pairs,
    #       gt lines, labelled users, fraudulent, benign, first/last date
    "bitcoin-otc-rev2": ("otc", 5881, 6005, 35592, 32029, 3563, 14100, 316, 316, 180, 136,
                         (datetime.date(2010, 11, 8), datetime.date(2016, 1, 25))),
    "bitcoin-alpha-rev2": ("alpha", 3783, 7604, 24186, 22650, 1536, 10062, 240, 237, 102, 135,
                           None),
}


@pytest.mark.parametrize("name", list(BITCOIN))
def test_bitcoin_verified_stats(load, data_root, name):
    (prefix, n, max_id, m, pos, neg, recip, gt_lines, n_labelled, fraud, benign,
     dates) = BITCOIN[name]
    ds = load(name)
    check_common(ds)
    rel = ("user", "rates", "user")
    assert list(ds.edges) == [rel] and ds.num_nodes == {"user": n}
    src, dst = ds.edges[rel]
    assert len(src) == m
    assert len(np.unique(edge_keys(src, dst, n))) == m and not (src == dst).any()
    assert reciprocal_pairs(src, dst, n) == recip
    w = ds.edge_weights[rel]
    assert (w > 0).sum() == pos and (w < 0).sum() == neg and w.min() >= -10 and w.max() <= 10
    id_map = ds.extra["id_map"]
    assert id_map.dtype == np.int64 and len(id_map) == n and (np.diff(id_map) > 0).all()
    assert id_map[0] == 1 and id_map[-1] == max_id
    assert not ds.features  # no node features in this data

    # Cross-check against the raw file: remap, rating and floor of the fractional time.
    raw = np.loadtxt(data_root / name / f"{prefix}_network.csv", delimiter=",")
    assert np.array_equal(id_map[src], raw[:, 0].astype(np.int64))
    assert np.array_equal(id_map[dst], raw[:, 1].astype(np.int64))
    assert np.array_equal(w, raw[:, 2].astype(np.float32))
    assert np.array_equal(ds.edge_timestamps[rel], np.floor(raw[:, 3]).astype(np.int64))
    if dates:
        ts = ds.edge_timestamps[rel]
        utc = datetime.timezone.utc
        assert datetime.datetime.fromtimestamp(ts.min(), utc).date() == dates[0]
        assert datetime.datetime.fromtimestamp(ts.max(), utc).date() == dates[1]

    y = ds.labels["user"]
    gt = np.loadtxt(data_root / name / f"{prefix}_gt.csv", delimiter=",", dtype=np.int64)
    assert len(gt) == gt_lines
    assert len(np.unique(gt[:, 0])) == n_labelled == (y >= 0).sum()
    assert ds.extra["num_duplicate_labels"] == gt_lines - n_labelled
    dense = np.searchsorted(id_map, gt[:, 0])
    assert np.array_equal(y[dense], np.where(gt[:, 1] == -1, 1, 0))  # -1 (fraud) -> 1
    assert np.array_equal(np.bincount(y[y >= 0]), [benign, fraud])
    labelled = np.flatnonzero(y >= 0)
    assert np.isin(labelled, dst).all()  # every labelled user has incoming ratings
    if name == "bitcoin-otc-rev2":
        assert np.isin(labelled, src).sum() == 240
    check_stratified(ds)
    assert f"{n_labelled} labelled users" in ds.split_note


def test_split_reproducible_and_configurable(data_root):
    a = datasets.load("bitcoin-alpha-rev2", data_root, seed=0)
    b = datasets.load("bitcoin-alpha-rev2", data_root, seed=0)
    c = datasets.load("bitcoin-alpha-rev2", data_root, seed=1)
    for k in ("train", "val", "test"):
        assert np.array_equal(a.splits[k], b.splits[k])
    assert not all(np.array_equal(a.splits[k], c.splits[k]) for k in ("train", "val", "test"))
    check_stratified(c)
    d = datasets.load("amazon-fraud-upu", data_root, seed=3, train=0.5, val=0.1)
    check_common(d)
    check_stratified(d, train=0.5, val=0.1)


# ---------------------------------------------------------------------------------------------
# Recommendation


def test_movielens_100k_verified_stats(load):
    ds = load("movielens-100k")
    check_common(ds)
    assert ds.num_nodes == {"user": 943, "item": 1682}
    rel = ("user", "interacts", "item")
    assert list(ds.edges) == [rel]  # train only, no reverse relation
    u, i = ds.edges[rel]
    tu, ti = ds.extra["test"]
    assert tu.dtype == np.int64 and ti.dtype == np.int64
    assert len(u) == 80000 and len(tu) == 20000  # u1.base / u1.test
    assert tu.min() >= 0 and tu.max() < 943 and ti.min() >= 0 and ti.max() < 1682
    assert len(np.unique(tu)) == 459
    assert ds.edge_timestamps[rel].min() > 8e8  # Unix seconds (1997-98)
    ratings = np.concatenate([ds.edge_weights[rel], ds.extra["test_rating"]])
    assert np.array_equal(np.bincount(ratings.astype(np.int64))[1:],
                          [6110, 11370, 27145, 34174, 21201])
    assert round(float(ratings.mean()), 3) == 3.530
    assert np.bincount(np.concatenate([u, tu]), minlength=943).min() >= 20
    assert not np.isin(edge_keys(tu, ti, 1682), edge_keys(u, i, 1682)).any()  # disjoint

    ux, ix = ds.features["user"], ds.features["item"]
    names = ds.extra["user_feature_names"]
    assert ux.shape == (943, len(names)) and ix.shape == (1682, 19)
    gender = ux[:, [names.index("gender=M"), names.index("gender=F")]]
    assert np.array_equal(gender.sum(0), [670, 273]) and (gender.sum(1) == 1).all()
    occ = ux[:, [k for k, nm in enumerate(names) if nm.startswith("occupation=")]]
    assert occ.shape[1] == 21 and (occ.sum(1) == 1).all()
    age = ds.extra["user_age"]
    assert age.min() == 7 and age.max() == 73
    assert np.allclose(ux[:, names.index("age/max_age")], age / 73)
    assert len(ds.extra["item_feature_names"]) == 19 and set(np.unique(ix)) <= {0.0, 1.0}


LIGHTGCN = {
    # name: users, items, train, test, test fraction, items per user min/median/max, density %
    "movielens-1m-lcfn": (6022, 3043, 796244, 99455, 0.111, (16, 76, 1720), (4.9, 1)),
    "amazon-cds": (43169, 35648, 604475, 172951, 0.222, (4, 8, 2282), (0.05, 2)),
}


@pytest.mark.parametrize("name", list(LIGHTGCN))
def test_lightgcn_verified_stats(load, name):
    users, items, n_train, n_test, frac, (dmin, dmed, dmax), (density, digits) = LIGHTGCN[name]
    ds = load(name)
    check_common(ds)
    assert ds.num_nodes == {"user": users, "item": items}
    assert not ds.splits and not ds.labels and not ds.features
    u, i = ds.edges[("user", "interacts", "item")]
    tu, ti = ds.extra["test"]
    assert len(u) == n_train and len(tu) == n_test
    assert round(n_test / (n_train + n_test), 3) == frac
    assert round(100 * (n_train + n_test) / (users * items), digits) == density
    train_keys, test_keys = edge_keys(u, i, items), edge_keys(tu, ti, items)
    assert len(np.unique(train_keys)) == n_train and len(np.unique(test_keys)) == n_test
    assert not np.isin(test_keys, train_keys).any()  # no train/test overlap
    assert np.isin(tu, u).all() and np.isin(ti, i).all()
    per_user = np.bincount(u, minlength=users)
    assert per_user.min() == dmin and np.median(per_user) == dmed and per_user.max() == dmax


# ---------------------------------------------------------------------------------------------
# Planetoid

PLANETOID = {
    # name: nodes, undirected edges, self-loop nodes, features, classes, train/val/test,
    #       nodes without features or label
    "cora": (2708, 5278, 0, 1433, 7, (140, 500, 1000), 0),
    "citeseer": (3327, 4552, 124, 3703, 6, (120, 500, 1000), 15),
}


@pytest.mark.parametrize("name", list(PLANETOID))
def test_planetoid_verified_stats(load, data_root, name):
    n, undirected, loops, width, classes, (ntr, nva, nte), missing = PLANETOID[name]
    ds = load(name)
    check_common(ds)
    assert ds.num_nodes == {"node": n}
    src, dst = ds.edges[("node", "to", "node")]
    assert undirected_count(src, dst, n) == undirected and len(src) == 2 * undirected

    # Independent check from the raw graph dict: same undirected edge set, self-loop count.
    with open(data_root / name / f"ind.{name}.graph", "rb") as f:
        graph = pickle.load(f, encoding="latin1")
    pairs = {(min(a, b), max(a, b)) for a, nbrs in graph.items() for b in nbrs if a != b}
    assert pairs == set(zip(src[src < dst].tolist(), dst[src < dst].tolist()))
    assert sum(a in nbrs for a, nbrs in graph.items()) == loops
    assert len(ds.extra["self_loop_nodes"]) == loops

    x, y = ds.features["node"], ds.labels["node"]
    assert x.shape == (n, width) and set(np.unique(x)) == {0.0, 1.0}  # not row-normalised
    assert len(np.unique(y[y >= 0])) == classes
    unlabelled = np.flatnonzero(y < 0)
    assert len(unlabelled) == missing and not x[unlabelled].any()
    assert np.array_equal(unlabelled, ds.extra["featureless_nodes"])
    tr, va, te = ds.splits["train"], ds.splits["val"], ds.splits["test"]
    assert (len(tr), len(va), len(te)) == (ntr, nva, nte)
    assert np.array_equal(tr, np.arange(ntr)) and np.array_equal(va, np.arange(ntr, ntr + nva))
    assert np.array_equal(np.bincount(y[tr]), [20] * classes)
    assert ds.split_note.startswith("published")


# ---------------------------------------------------------------------------------------------
# Names, roots and errors (no real data needed)


def test_available_lists_everything(data_root):
    assert datasets.available(data_root) == list(datasets.NAMES)
    assert len(datasets.NAMES) == 9


def test_unknown_name_lists_names():
    with pytest.raises(ValueError) as err:
        datasets.load("pubmed")
    for name in datasets.NAMES:
        assert name in str(err.value)


def test_missing_root_folder_and_file(tmp_path, monkeypatch):
    missing = tmp_path / "nope"
    with pytest.raises(OSError, match=str(missing)):
        datasets.load("cora", missing)
    with pytest.raises(OSError, match=str(missing)):
        datasets.available(missing)
    with pytest.raises(OSError, match=str(tmp_path / "cora")):
        datasets.load("cora", tmp_path)
    (tmp_path / "bitcoin-otc-rev2").mkdir()
    (tmp_path / "bitcoin-otc-rev2" / "otc_network.csv").write_text("1,2,3,4\n")
    with pytest.raises(OSError, match=str(tmp_path / "bitcoin-otc-rev2" / "otc_gt.csv")):
        datasets.load("bitcoin-otc-rev2", tmp_path)
    assert datasets.available(tmp_path) == []

    monkeypatch.setenv(datasets.ENV_VAR, str(missing))
    with pytest.raises(OSError, match=str(missing)):
        datasets.load("cora")
    monkeypatch.delenv(datasets.ENV_VAR)
    monkeypatch.setattr(datasets, "_SEARCH_START", tmp_path / "a" / "b")
    with pytest.raises(OSError, match="shared/data") as err:
        datasets.available()
    assert datasets.ENV_VAR in str(err.value)


def test_env_var_root(data_root, monkeypatch):
    monkeypatch.setenv(datasets.ENV_VAR, str(data_root))
    monkeypatch.setattr(datasets, "_SEARCH_START", data_root)  # the env var must win anyway
    assert "cora" in datasets.available()


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="published split"):
        datasets.load("cora", tmp_path, train=0.5)
    for train, val in ((0.0, 0.2), (0.7, 0.3), (1.2, 0.0), (0.4, -0.1)):
        with pytest.raises(ValueError, match="train"):
            datasets.load("yelpchi-rur", tmp_path, train=train, val=val)
    for seed in (-1, 1.5, "0"):
        with pytest.raises(ValueError, match="seed"):
            datasets.load("yelpchi-rur", tmp_path, seed=seed)


def write_bitcoin(root, network, gt):
    folder = root / "bitcoin-otc-rev2"
    folder.mkdir(exist_ok=True)
    (folder / "otc_network.csv").write_text(network)
    (folder / "otc_gt.csv").write_text(gt)
    return folder


def test_bitcoin_small_file_semantics(tmp_path):
    write_bitcoin(tmp_path, "10,20,-3,100.9\n20,10,5,200.0\n30,10,1,300.5\n",
                  "10,-1\n20,+1\n10,-1\n")
    ds = datasets.load("bitcoin-otc-rev2", tmp_path)
    rel = ("user", "rates", "user")
    assert ds.extra["id_map"].tolist() == [10, 20, 30]
    assert ds.edges[rel][0].tolist() == [0, 1, 2] and ds.edges[rel][1].tolist() == [1, 0, 0]
    assert ds.edge_timestamps[rel].tolist() == [100, 200, 300]
    assert ds.edge_weights[rel].tolist() == [-3.0, 5.0, 1.0]
    assert ds.labels["user"].tolist() == [1, 0, -1]
    assert ds.extra["num_duplicate_labels"] == 1


@pytest.mark.parametrize("network, gt, where", [
    ("1,2,3,4\n1,3,x,5\n", "1,+1\n", "otc_network.csv: line 2: field 3 ('rating')"),
    ("1,2,3,4\n\n1,3,2\n", "1,+1\n", "otc_network.csv: line 3: expected 4 fields"),
    ("1,2,3,nan\n", "1,+1\n", "otc_network.csv: line 1: field 4 ('time')"),
    ("1,2,3,4\n", "1,+1\n2,0\n", "otc_gt.csv: line 2: label must be"),
    ("1,2,3,4\n", "1,+1\n9,-1\n", "otc_gt.csv: line 2: user 9 does not occur"),
    ("1,2,3,4\n", "1,+1\n1,-1\n", "otc_gt.csv: line 2: user 1 has conflicting labels"),
])
def test_malformed_bitcoin(tmp_path, network, gt, where):
    write_bitcoin(tmp_path, network, gt)
    with pytest.raises(ValueError, match=re.escape(where)):
        datasets.load("bitcoin-otc-rev2", tmp_path)


def test_malformed_lightgcn_and_mat_and_pickle(tmp_path):
    folder = tmp_path / "amazon-cds"
    folder.mkdir()
    (folder / "train.txt").write_text("0 1 2\r\n1 2\r\n")
    (folder / "test.txt").write_text("0 3\n1 4a\n")
    with pytest.raises(ValueError, match=r"test.txt: line 2: field 2 \('item_id'\)"):
        datasets.load("amazon-cds", tmp_path)
    (folder / "test.txt").write_text("0 3\n1 0\n")
    ds = datasets.load("amazon-cds", tmp_path)
    assert ds.num_nodes == {"user": 2, "item": 4}
    assert ds.extra["test"][1].tolist() == [3, 0]

    folder = tmp_path / "amazon-fraud-upu"
    folder.mkdir()
    (folder / "Amazon.zip").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="Amazon.zip: not a valid zip"):
        datasets.load("amazon-fraud-upu", tmp_path)
    mat = io.BytesIO()
    scipy.io.savemat(mat, {"Network": scipy.sparse.csc_matrix(np.eye(3)[[1, 0, 2]]),
                           "Label": np.array([[0, 1, 0]])})
    with zipfile.ZipFile(folder / "Amazon.zip", "w") as z:
        z.writestr("Amazon.mat", mat.getvalue())
    with pytest.raises(ValueError, match="field 'Attributes' missing"):
        datasets.load("amazon-fraud-upu", tmp_path)

    folder = tmp_path / "cora"
    folder.mkdir()
    for f in datasets._planetoid_files("cora"):
        (folder / f).write_bytes(pickle.dumps(subprocess.call))  # not an allowed global
    with pytest.raises(ValueError, match="ind.cora.y: .*not allowed"):
        datasets.load("cora", tmp_path)


def test_to_graph(monkeypatch):
    rel = ("user", "rates", "user")
    ds = datasets.Dataset(
        name="tiny", num_nodes={"user": 3},
        edges={rel: (np.array([0, 1], np.int64), np.array([1, 2], np.int64))},
        edge_weights={rel: np.array([1.0, -2.0], np.float32)},
        features={"user": np.zeros((3, 2), np.float32)},
        labels={"user": np.array([0, 1, -1], np.int64)})
    assert "tiny" in repr(ds)
    monkeypatch.delattr(gnnkit, "HeteroGraph", raising=False)
    with pytest.raises(NotImplementedError, match="HeteroGraph"):
        ds.to_graph()

    calls = []

    class FakeGraph:
        @classmethod
        def from_edges(cls, edges, **kw):
            calls.append(("from_edges", edges, kw))
            return cls()

        def set_features(self, ntype, x):
            calls.append(("set_features", ntype, x))

        def set_labels(self, ntype, y):
            calls.append(("set_labels", ntype, y))

    monkeypatch.setattr(gnnkit, "HeteroGraph", FakeGraph, raising=False)
    assert isinstance(ds.to_graph(add_reverse=True), FakeGraph)
    (_, edges, kw), feat, lab = calls
    assert edges is ds.edges and kw["num_nodes"] == {"user": 3} and kw["add_reverse"]
    assert kw["timestamps"] is None and kw["weights"] is ds.edge_weights
    assert feat[:2] == ("set_features", "user") and lab[:2] == ("set_labels", "user")


def test_module_imports_only_numpy_scipy_stdlib():
    code = ("import importlib.util, sys\n"
            f"spec = importlib.util.spec_from_file_location('ds', {datasets.__file__!r})\n"
            "m = sys.modules['ds'] = importlib.util.module_from_spec(spec)\n"
            "spec.loader.exec_module(m)\n"
            "bad = [k for k in ('gnnkit', 'torch', 'pandas') if k in sys.modules]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True)
