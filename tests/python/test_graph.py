"""gnnkit.HeteroGraph from Python: construction against scipy/numpy references, features
without copies, graph files, and bad input."""
import os

import numpy as np
import pytest
import scipy.sparse as sp

import gnnkit
from gnnkit import HeteroGraph


def random_edges(n, e, seed):
    rng = np.random.default_rng(seed)
    src = rng.integers(0, n, e, dtype=np.int64)
    dst = (rng.random(e) ** 2 * n).astype(np.int64)  # skewed: hubs and isolated nodes
    return src, dst


def test_csc_matches_scipy_and_edge_ids_point_at_input():
    n, e = 2000, 30000
    src, dst = random_edges(n, e, 0)
    g = HeteroGraph.from_edges((src, dst), n)
    indptr, indices, edge_ids = g.csc("to")
    # scipy sums duplicate entries, so the reference indptr counts edges per destination.
    np.testing.assert_array_equal(indptr, np.concatenate([[0], np.cumsum(np.bincount(dst, minlength=n))]))
    ref = sp.csc_matrix((np.ones(e), (src, dst)), shape=(n, n))
    for v in range(0, n, 53):  # the same neighbour sets as scipy's column v
        np.testing.assert_array_equal(np.unique(indices[indptr[v]:indptr[v + 1]]),
                                      ref.indices[ref.indptr[v]:ref.indptr[v + 1]])
    np.testing.assert_array_equal(src[edge_ids], indices)
    np.testing.assert_array_equal(dst[edge_ids], np.repeat(np.arange(n), np.diff(indptr)))
    # Stable: within a destination, edges keep input order.
    for v in range(0, n, 97):
        ids = edge_ids[indptr[v]:indptr[v + 1]]
        assert np.all(np.diff(ids) > 0)
    np.testing.assert_array_equal(g.degree("to"), np.bincount(dst, minlength=n))
    np.testing.assert_array_equal(g.degree("to", "out"), np.bincount(src, minlength=n))
    assert indices.dtype == np.int32 and not indices.flags.writeable


def test_same_graph_for_any_thread_count():
    src, dst = random_edges(5000, 200000, 1)
    a = HeteroGraph.from_edges((src, dst), 5000, drop_duplicates=True, num_threads=1)
    b = HeteroGraph.from_edges((src, dst), 5000, drop_duplicates=True, num_threads=2)
    for x, y in zip(a.csc("to"), b.csc("to")):
        np.testing.assert_array_equal(x, y)


def test_options_match_numpy_references():
    n = 300
    src, dst = random_edges(n, 5000, 2)
    src[::9] = dst[::9]  # self-loops
    g = HeteroGraph.from_edges((src, dst), n, drop_duplicates=True, self_loops="drop")
    _, indices, edge_ids = g.csc("to")
    pairs = {(s, d) for s, d in zip(src.tolist(), dst.tolist()) if s != d}
    assert g.num_edges() == len(pairs)
    kept = edge_ids
    assert len(set(zip(src[kept].tolist(), dst[kept].tolist()))) == len(kept)  # no duplicates
    first = {}
    for i, p in enumerate(zip(src.tolist(), dst.tolist())):
        first.setdefault(p, i)
    assert sorted(kept.tolist()) == sorted(i for p, i in first.items() if p[0] != p[1])

    added = HeteroGraph.from_edges((src, dst), n, self_loops="add")
    indptr, idx, ids = added.csc("to")
    for v in range(n):
        assert v in idx[indptr[v]:indptr[v + 1]]
    assert ids.max() < len(src) + n


def test_reverse_relations_and_time_sorting():
    rng = np.random.default_rng(3)
    u = rng.integers(0, 50, 400)
    c = rng.integers(0, 20, 400)
    t = rng.integers(0, 10_000, 400)
    key = ("user", "uses", "card")
    g = HeteroGraph.from_edges({key: (u, c)}, {"user": 50, "card": 20}, timestamps={key: t},
                               add_reverse=True, sort_by_time=True, build_csr=True)
    assert g.relations == [key, ("card", "rev_uses", "user")]
    for rel in g.relations:
        indptr, _, ids = g.csc(rel)
        ts = g.timestamps(rel)
        np.testing.assert_array_equal(ts, t[ids])
        for v in range(len(indptr) - 1):
            assert np.all(np.diff(ts[indptr[v]:indptr[v + 1]]) >= 0)
    np.testing.assert_array_equal(g.degree("rev_uses"), np.bincount(u, minlength=50))
    assert g.csr(key) is not None and g.csr("rev_uses") is not None
    assert "user=50" in repr(g) and "card__rev_uses__user=400" in repr(g)


def test_from_scipy_and_from_pandas():
    m = sp.random(100, 100, density=0.05, format="csr", random_state=4, dtype=np.float64)
    g = HeteroGraph.from_scipy(m, weighted=True)
    assert g.num_edges() == m.nnz
    indptr, indices, _ = g.csc("to")
    ref = m.tocsc()
    np.testing.assert_array_equal(indptr, ref.indptr)
    w = g.weights("to")
    for j in range(100):
        got = sorted(zip(indices[indptr[j]:indptr[j + 1]].tolist(), w[indptr[j]:indptr[j + 1]].tolist()))
        want = sorted(zip(ref.indices[ref.indptr[j]:ref.indptr[j + 1]].tolist(),
                          ref.data[ref.indptr[j]:ref.indptr[j + 1]].astype(np.float32).tolist()))
        assert got == want
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"card": ["4111-1", "5500-2", "4111-1", "3400-9"],
                       "device": ["dev-a", "dev-a", "dev-b", "dev-c"],
                       "ts": [10, 20, 30, 40], "amount": [1.5, 2.0, 3.25, 9.0]})
    g = HeteroGraph.from_pandas(df, src="card", dst="device", src_type="card", dst_type="device",
                                rel="seen_on", timestamp="ts", weight="amount")
    assert g.num_nodes("card") == 3 and g.num_nodes("device") == 3
    assert list(g.node_keys["card"]) == ["4111-1", "5500-2", "3400-9"]
    indptr, indices, ids = g.csc("seen_on")
    keys = [(g.node_keys["card"][s], g.node_keys["device"][d])
            for d in range(3) for s in indices[indptr[d]:indptr[d + 1]]]
    assert sorted(keys) == sorted(zip(df.card, df.device))
    np.testing.assert_array_equal(g.timestamps("seen_on"), df.ts.to_numpy()[ids])


def test_features_are_shared_not_copied_and_gather():
    g = HeteroGraph.from_edges((np.array([0, 1, 2]), np.array([1, 2, 0])), 3)
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    g.set_features("node", x)
    view = g.features("node")
    assert view.ctypes.data == x.ctypes.data
    x[1, 1] = -1.0
    assert view[1, 1] == -1.0
    ids = np.array([2, 0, 2])
    np.testing.assert_array_equal(g.gather("node", ids), x[ids])
    out = np.empty((3, 4), np.float32)
    assert g.gather("node", ids, out=out) is out
    np.testing.assert_array_equal(out, x[ids])
    g.set_features("node", np.ones((3, 2)), name="f64")  # float64 is converted (a copy)
    assert g.features("node", "f64").dtype == np.float32
    g.set_labels("node", [1, 0, 1])
    np.testing.assert_array_equal(g.labels("node"), [1, 0, 1])
    g.set_edge_features("to", np.ones((3, 5), np.float32), name="e")
    assert g.edge_features("to", "e").shape == (3, 5)


def test_save_load_round_trip_memory_mapped(tmp_path):
    src, dst = random_edges(1000, 20000, 5)
    t = np.arange(20000, dtype=np.int64)
    g = HeteroGraph.from_edges({("a", "r", "a"): (src, dst)}, {"a": 1000}, timestamps={("a", "r", "a"): t},
                               sort_by_time=True, add_reverse=True, build_csr=True)
    x = np.random.default_rng(6).standard_normal((1000, 8)).astype(np.float32)
    g.set_features("a", x)
    g.set_labels("a", np.arange(1000) % 3)
    path = tmp_path / "g.gnnkit"
    g.save(path)
    size = os.path.getsize(path)
    for verify in (False, True):
        h = HeteroGraph.load(path, verify=verify)
        assert h.relations == g.relations and h.num_edges() == g.num_edges()
        for rel in g.relations:
            for a, b in zip(g.csc(rel), h.csc(rel)):
                np.testing.assert_array_equal(a, b)
            np.testing.assert_array_equal(g.timestamps(rel), h.timestamps(rel))
        np.testing.assert_array_equal(h.features("a"), x)
        np.testing.assert_array_equal(h.labels("a"), np.arange(1000) % 3)
    # Loaded features are writable copy-on-write views: the file never changes.
    h.features("a")[0, 0] = 1234.0
    assert h.features("a")[0, 0] == 1234.0
    assert HeteroGraph.load(path).features("a")[0, 0] == x[0, 0]
    assert os.path.getsize(path) == size


def test_bad_input_names_relation_array_and_index():
    with pytest.raises(IndexError, match=r"relation 'node__to__node': 'dst\[2\]' must be in \[0, 3\), got 5"):
        HeteroGraph.from_edges((np.array([0, 1, 2]), np.array([1, 2, 5])), 3)
    with pytest.raises(IndexError, match=r"'src\[0\]' must be in \[0, 3\), got -1"):
        HeteroGraph.from_edges((np.array([-1, 1]), np.array([1, 2])), 3)
    with pytest.raises(ValueError, match=r"'dst' must have the length of 'src' \(2\), got 3"):
        HeteroGraph.from_edges((np.array([0, 1]), np.array([1, 2, 0])), 3)
    with pytest.raises(ValueError, match=r"'src' must hold integer ids, got dtype float64"):
        HeteroGraph.from_edges((np.array([0.5, 1.0]), np.array([1, 2])), 3)
    with pytest.raises(ValueError, match=r"'num_nodes' of 'x' must be >= 0, got -1"):
        HeteroGraph.from_edges({("user", "owns", "card"): ([0], [0])}, {"user": 1, "card": 1, "x": -1})
    g = HeteroGraph.from_edges((np.array([0, 1]), np.array([1, 0])), 2)
    with pytest.raises(ValueError, match=r"unknown relation 'owns'"):
        g.csc("owns")
    with pytest.raises(ValueError, match=r"'weights\[1\]' must be finite, got nan"):
        HeteroGraph.from_edges((np.array([0, 1]), np.array([1, 0])), 2, weights=np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match=r"must have 2 rows \(one per node\), got 3"):
        g.set_features("node", np.zeros((3, 2), np.float32))
    with pytest.raises(ValueError, match=r"node features 'node/x' must be finite, got inf at row 1, column 0"):
        g.set_features("node", np.array([[0.0], [np.inf]], np.float32))
    with pytest.raises(ValueError, match=r"'self_loops' must be 'keep', 'drop' or 'add', got 'remove'"):
        HeteroGraph.from_edges((np.array([0]), np.array([1])), 2, self_loops="remove")
    g.set_features("node", np.zeros((2, 2), np.float32))
    with pytest.raises(IndexError, match=r"'ids\[1\]' must be in \[0, 2\) for 'node features 'node/x'', got 7"):
        g.gather("node", [0, 7])


def test_bad_files_raise_oserror_naming_the_file(tmp_path):
    g = HeteroGraph.from_edges((np.array([0, 1, 2]), np.array([1, 2, 0])), 3)
    path = tmp_path / "g.gnnkit"
    g.save(path)
    raw = bytearray(path.read_bytes())
    bad = tmp_path / "bad.gnnkit"
    bad.write_bytes(raw[:40])
    with pytest.raises(OSError, match=r"bad.gnnkit': truncated: 40 bytes"):
        HeteroGraph.load(bad)
    raw[0:8] = b"NOTAGRAF"
    bad.write_bytes(raw)
    with pytest.raises(gnnkit.FormatError, match=r"bad magic"):
        HeteroGraph.load(bad)
    with pytest.raises(OSError, match=r"cannot open"):
        HeteroGraph.load(tmp_path / "missing.gnnkit")
    # A failed save leaves the existing file as it was.
    before = path.read_bytes()
    (tmp_path / "dir" / "inner").mkdir(parents=True)
    with pytest.raises(OSError):
        g.save(tmp_path / "dir")
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.gnnkit", "dir", "g.gnnkit"]


def test_dataset_to_graph_matches_dataset_arrays():
    try:
        d = gnnkit.datasets.load("cora")
    except OSError as e:
        pytest.skip(f"shared data not available: {e}")
    g = d.to_graph()
    (src, dst), = d.edges.values()
    assert g.num_nodes("node") == d.num_nodes["node"] and g.num_edges() == len(src)
    np.testing.assert_array_equal(g.features("node"), d.features["node"])
    np.testing.assert_array_equal(g.labels("node"), d.labels["node"])


def test_read_edge_list_and_from_csv_keep_and_save_keys(tmp_path):
    csv = tmp_path / "tx.csv"
    csv.write_text("card,device,ts,amount\n4111-1,dev-a,10,1.5\n5500-2,dev-a,20.7,2\n4111-1,dev-b,30,3\n")
    e = gnnkit.read_edge_list(csv, timestamp_column=2, weight_column=3, shared_ids=False)
    assert e.header == ["card", "device", "ts", "amount"]
    np.testing.assert_array_equal(e.src, [0, 1, 0])
    np.testing.assert_array_equal(e.dst, [0, 0, 1])
    np.testing.assert_array_equal(e.timestamps, [10, 20, 30])
    assert e.src_keys() == ["4111-1", "5500-2"] and e.dst_keys() == ["dev-a", "dev-b"]
    g = HeteroGraph.from_csv(csv, src_type="card", dst_type="device", rel="seen_on",
                             timestamp_column=2, weight_column=3, add_reverse=True)
    assert g.relations == [("card", "seen_on", "device"), ("device", "rev_seen_on", "card")]
    assert list(g.node_keys["card"]) == ["4111-1", "5500-2"]
    g.save(tmp_path / "g.gnnkit")
    h = HeteroGraph.load(tmp_path / "g.gnnkit", verify=True)
    assert list(h.node_keys["device"]) == ["dev-a", "dev-b"]
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,1\nc,d,oops\n")
    with pytest.raises(OSError, match=r"bad.csv' line 2: column 2 \(timestamp\) must be a number, got 'oops'"):
        gnnkit.read_edge_list(bad, timestamp_column=2)
    with pytest.raises(OSError, match=r"cannot open"):
        gnnkit.read_edge_list(tmp_path / "none.csv")


def test_build_graph_file_out_of_core_equals_in_memory(tmp_path):
    src, dst = random_edges(4000, 60000, 8)
    t = np.arange(60000, dtype=np.int64)[::-1].copy()
    src.tofile(tmp_path / "s.i64")
    dst.tofile(tmp_path / "d.i64")
    t.tofile(tmp_path / "t.i64")
    key = ("u", "r", "u")
    report = gnnkit.build_graph_file(tmp_path / "ooc.gnnkit", {"u": 4000},
                                     {key: (tmp_path / "s.i64", tmp_path / "d.i64")},
                                     timestamps={key: tmp_path / "t.i64"}, add_reverse=True,
                                     memory_budget=100_000)
    assert report["num_edges"] == 120000 and report["windows"] > 10
    ref = HeteroGraph.from_edges({key: (src, dst)}, {"u": 4000}, timestamps={key: t}, add_reverse=True)
    ref.save(tmp_path / "ref.gnnkit")
    assert (tmp_path / "ooc.gnnkit").read_bytes() == (tmp_path / "ref.gnnkit").read_bytes()
    g = HeteroGraph.load(tmp_path / "ooc.gnnkit", verify=True)
    np.testing.assert_array_equal(g.degree("rev_r"), np.bincount(src, minlength=4000))
    bad = dst.copy()
    bad[5] = 4000
    bad.tofile(tmp_path / "bad.i64")
    with pytest.raises(IndexError, match=r"'dst\[5\]' \(file '.*bad.i64'\) must be in \[0, 4000\), got 4000"):
        gnnkit.build_graph_file(tmp_path / "x.gnnkit", {"u": 4000}, {key: (tmp_path / "s.i64", tmp_path / "bad.i64")})
    assert not (tmp_path / "x.gnnkit").exists()


def test_unknown_names_and_future_version_files(tmp_path):
    g = HeteroGraph.from_edges({("user", "owns", "card"): ([0, 1], [1, 0])}, {"user": 2, "card": 2})
    with pytest.raises(ValueError, match=r"unknown node type 'device' \(known: user, card\)"):
        g.set_features("device", np.zeros((2, 1), np.float32))
    with pytest.raises(ValueError, match=r"unknown relation 'uses'"):
        g.degree("uses")
    path = tmp_path / "g.gnnkit"
    g.save(path)
    raw = bytearray(path.read_bytes())
    raw[8] = 9  # format version 9
    path.write_bytes(raw)
    with pytest.raises(gnnkit.FormatError, match=r"format version 9 is newer than this gnnkit reads"):
        HeteroGraph.load(path)


def test_inputs_are_checked_not_cast(tmp_path):
    """Ids and labels that are not integers, out= arrays that cannot receive the result,
    and paths the OS would cut are errors naming the argument (binding review, 13th session)."""
    g = HeteroGraph.from_edges((np.array([0, 1, 2]), np.array([1, 2, 0])), 3)
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    g.set_features("node", x)
    with pytest.raises(ValueError, match="'ids' must hold integers, got 2.9"):
        g.gather("node", np.array([2.9, 0.5]))
    np.testing.assert_array_equal(g.gather("node", np.array([2.0, 0.0])), x[[2, 0]])  # whole floats pass
    with pytest.raises(ValueError, match="'ids' must hold numbers"):
        g.gather("node", "ab")
    with pytest.raises(ValueError, match="'ids' must hold integers, got dtype bool"):
        g.gather("node", np.array([True, False, True]))
    assert g.gather("node", []).shape == (0, 2)
    assert g.gather("node", np.array([], np.int64)).shape == (0, 2)
    wrong = np.zeros((2, 2))
    with pytest.raises(ValueError, match="'out' must be a float32 NumPy array, got float64"):
        g.gather("node", [2, 0], out=wrong)
    read_only = np.zeros((2, 2), np.float32)
    read_only.setflags(write=False)
    with pytest.raises(ValueError, match="'out' must be writable"):
        g.gather("node", [2, 0], out=read_only)
    assert not read_only.any()
    with pytest.raises(ValueError, match="'out' must be writable"):
        gnnkit.matmul(np.ones((2, 3), np.float32), np.ones((3, 2), np.float32), out=read_only)
    for bad in ([np.nan, 1, 2], [0.9, 1.5, 2.7]):
        with pytest.raises(ValueError, match="'labels' must hold integers"):
            g.set_labels("node", bad)
    with pytest.raises(ValueError, match=r"must be 1-d with 3 entries \(one per node\), got shape \(3, 2\)"):
        g.set_labels("node", np.zeros((3, 2), np.int64))
    with pytest.raises(ValueError, match="'x' must be array-like"):
        g.set_features("node", [[1, 2], [3]])
    with pytest.raises(ValueError, match="'src' must hold integers"):
        HeteroGraph.from_edges(([0.5, 1.7], [1, 0]), 3)
    frozen = np.ones((3, 2), np.float32)
    frozen.setflags(write=False)
    g.set_features("node", frozen, name="frozen")  # kept as a copy, not refused
    np.testing.assert_array_equal(g.features("node", "frozen"), frozen)
    # A node type with no nodes keeps its feature width.
    h = HeteroGraph.from_edges({("u", "to", "v"): (np.array([0, 1]), np.array([0, 0]))}, {"u": 2, "v": 1, "w": 0})
    h.set_features("w", np.zeros((0, 5), np.float32))
    assert h.features("w").shape == (0, 5)
    h.save(str(tmp_path / "h.gnnkit"))
    assert HeteroGraph.load(str(tmp_path / "h.gnnkit")).features("w").shape == (0, 5)
    with pytest.raises(ValueError, match="contains a NUL byte"):
        g.save(str(tmp_path / "cut\0.gnnkit"))
    assert not (tmp_path / "cut").exists()
    with pytest.raises(OSError, match="it is a directory"):
        HeteroGraph.load(str(tmp_path))
    with pytest.raises(ValueError, match="'device' must be 'cpu' or 'cuda"):
        gnnkit.as_tensor(x).to("cuda:abc")
    with pytest.raises(ValueError, match="must be a DLPack producer"):
        gnnkit.from_dlpack(5)
