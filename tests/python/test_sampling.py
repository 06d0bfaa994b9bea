"""gnnkit.sampling from Python: invariants against the input edges, determinism, temporal
safety and bad input."""
import numpy as np
import pytest

import gnnkit
from gnnkit import HeteroGraph
from gnnkit.sampling import NeighborSampler


def graph(n=3000, e=60000, seed=0, **opts):
    rng = np.random.default_rng(seed)
    src = rng.integers(0, n, e)
    dst = (rng.random(e) ** 2 * n).astype(np.int64)
    ts = rng.integers(0, 1000, e)
    w = rng.random(e).astype(np.float32)
    key = ("n", "to", "n")
    g = HeteroGraph.from_edges({key: (src, dst)}, {"n": n}, timestamps={key: ts}, weights={key: w}, **opts)
    return g, src, dst, ts


def check(mb, src, dst, fanouts, ts=None):
    rel = mb.csc("to")
    nodes = mb.nodes["n"]
    rows = len(rel.indptr) - 1
    dst_of_edge = np.repeat(np.arange(rows), np.diff(rel.indptr))
    np.testing.assert_array_equal(src[rel.edge_ids], nodes[rel.indices])
    np.testing.assert_array_equal(dst[rel.edge_ids], nodes[dst_of_edge])
    for h, block in enumerate(mb.blocks):
        deg = np.diff(rel.indptr)[block.dst_begin["n"]:block.dst_end["n"]]
        if fanouts[h] >= 0:
            assert deg.max(initial=0) <= fanouts[h]
    if ts is not None:
        assert np.all(ts[rel.edge_ids] <= mb.node_times["n"][dst_of_edge])


def test_uniform_sampling_invariants_and_determinism():
    g, src, dst, _ = graph()
    s = NeighborSampler(g, [10, 5])
    seeds = np.arange(0, 3000, 7)
    a = s.sample(seeds, batch=1, seed=9, num_threads=1)
    b = s.sample(seeds, batch=1, seed=9, num_threads=2)
    check(a, src, dst, [10, 5])
    for x, y in zip((a.nodes["n"], a.csc("to").indptr, a.csc("to").indices, a.csc("to").edge_ids),
                    (b.nodes["n"], b.csc("to").indptr, b.csc("to").indices, b.csc("to").edge_ids)):
        np.testing.assert_array_equal(x, y)
    c = s.sample(seeds, batch=2, seed=9)
    assert not np.array_equal(a.csc("to").edge_ids, c.csc("to").edge_ids)
    np.testing.assert_array_equal(a.nodes["n"][a.seed_local], seeds)
    assert a.blocks[0].dst_end["n"] == len(seeds) and "MiniBatch(seed_type='n'" in repr(a)
    assert not a.nodes["n"].flags.writeable


def test_csc_position_edge_ids_map_to_input_ids():
    g, src, dst, _ = graph(seed=5)
    seeds = np.arange(0, 3000, 5)
    a = NeighborSampler(g, [10, 5]).sample(seeds, seed=3, num_threads=2)
    b = NeighborSampler(g, [10, 5], edge_ids="csc").sample(seeds, seed=3, num_threads=2)
    np.testing.assert_array_equal(a.nodes["n"], b.nodes["n"])
    np.testing.assert_array_equal(a.csc("to").indices, b.csc("to").indices)
    graph_edge_ids = g.csc(("n", "to", "n"))[2]
    np.testing.assert_array_equal(graph_edge_ids[b.csc("to").edge_ids], a.csc("to").edge_ids)
    with pytest.raises(ValueError, match=r"'edge_ids' must be 'input' or 'csc', got 'raw'"):
        NeighborSampler(g, [2], edge_ids="raw")


def test_full_neighbourhood_matches_numpy():
    g, src, dst, _ = graph(n=500, e=5000, seed=1)
    mb = NeighborSampler(g, [-1]).sample(np.array([3, 10]))
    rel = mb.csc("to")
    for row, v in enumerate([3, 10]):
        got = np.sort(rel.edge_ids[rel.indptr[row]:rel.indptr[row + 1]])
        np.testing.assert_array_equal(got, np.flatnonzero(dst == v))


def test_weighted_and_replacement_modes():
    g, src, dst, _ = graph(seed=2)
    for opts in ({"replace": True}, {"weighted": True}, {"weighted": True, "replace": True}):
        mb = NeighborSampler(g, [6, 3], **opts).sample(np.arange(100), seed=1)
        check(mb, src, dst, [6, 3])


def test_temporal_never_samples_the_future():
    g, src, dst, ts = graph(seed=3, sort_by_time=True)
    rng = np.random.default_rng(4)
    seeds = rng.integers(0, 3000, 2000)
    times = rng.integers(0, 1000, 2000)
    for strategy in ("uniform", "recent"):
        mb = NeighborSampler(g, [10, 5], temporal=strategy, disjoint=True).sample(seeds, seed_times=times)
        check(mb, src, dst, [10, 5], ts)
        np.testing.assert_array_equal(mb.node_times["n"], times[mb.node_seed["n"]])


def test_bad_sampling_arguments():
    g, *_ = graph(n=100, e=500)
    with pytest.raises(ValueError, match=r"fan-out of relation 'n__to__n' at hop 0 must be >= 0 or -1 \(all\), got -3"):
        NeighborSampler(g, [-3])
    with pytest.raises(ValueError, match=r"'temporal' must be None, 'uniform' or 'recent', got 'later'"):
        NeighborSampler(g, [2], temporal="later", disjoint=True)
    with pytest.raises(ValueError, match=r"needs relation 'n__to__n' built with sort_by_time"):
        NeighborSampler(g, [2], temporal="uniform", disjoint=True)
    with pytest.raises(ValueError, match=r"unknown relation 'pays'"):
        NeighborSampler(g, [2], relation_fanouts={"pays": [1]})
    s = NeighborSampler(g, [2])
    with pytest.raises(IndexError, match=r"'seeds\[1\]' must be in \[0, 100\) \(nodes of 'n'\), got 100"):
        s.sample([1, 100])
    with pytest.raises(ValueError, match=r"unknown node type 'user'"):
        s.sample([1], seed_type="user")
    h = HeteroGraph.from_edges((np.array([0]), np.array([1])), 2)
    with pytest.raises(ValueError, match=r"'weighted' sampling needs weights on relation 'node__to__node'"):
        NeighborSampler(h, [1], weighted=True)


def test_loader_covers_every_seed_with_features_and_labels():
    g, src, dst, _ = graph(n=1000, e=20000, seed=5)
    x = np.arange(3000, dtype=np.float32).reshape(1000, 3)
    g.set_features("n", x)
    g.set_labels("n", np.arange(1000) % 4)
    seeds = np.arange(0, 1000, 3)
    loader = gnnkit.sampling.NeighborLoader(g, seeds, [5, 3], batch_size=64, features=["x"], seed=1,
                                            num_workers=2, prefetch=3)
    assert len(loader) == (len(seeds) + 63) // 64
    seen = []
    for batch in loader:
        nodes = batch.mini_batch.nodes["n"]
        np.testing.assert_array_equal(batch.x["n"], x[nodes])
        np.testing.assert_array_equal(batch.y, batch.seeds % 4)
        np.testing.assert_array_equal(nodes[batch.mini_batch.seed_local], batch.seeds)
        check(batch.mini_batch, src, dst, [5, 3])
        seen.extend(batch.seeds.tolist())
    assert sorted(seen) == seeds.tolist()
    first = [b.seeds.copy() for b in loader]  # second epoch: reshuffled
    assert not all(np.array_equal(a, b) for a, b in zip(first, [seeds[i:i + 64] for i in range(0, len(seeds), 64)]))
    with pytest.raises(ValueError, match=r"'batch_size' must be > 0, got 0"):
        gnnkit.sampling.NeighborLoader(g, seeds, [2], batch_size=0)


def test_link_sampler_endpoints_and_excluded_negatives():
    rng = np.random.default_rng(6)
    u = rng.integers(0, 200, 3000)
    i = rng.integers(0, 300, 3000)
    key = ("user", "buys", "item")
    g = HeteroGraph.from_edges({key: (u, i)}, {"user": 200, "item": 300}, add_reverse=True, build_csr=True)
    edges = set(zip(u.tolist(), i.tolist()))
    ls = gnnkit.sampling.LinkSampler(g, key, [5, 5], num_negatives=3, negatives="degree", exclude_positives=True)
    pos = rng.integers(0, 3000, 128)
    lb = ls.sample(u[pos], i[pos], batch=1)
    users, items = lb.mini_batch.nodes["user"], lb.mini_batch.nodes["item"]
    np.testing.assert_array_equal(users[lb.src], u[pos])
    np.testing.assert_array_equal(items[lb.dst], i[pos])
    assert lb.neg_dst.shape == (128, 3)
    for row, s in enumerate(u[pos]):
        for neg in items[lb.neg_dst[row]]:
            assert (s, neg) not in edges
    src, dst, label = lb.edge_label_index()
    assert len(src) == 128 * 4 and label.sum() == 128
    a, b, c = lb.bpr_triplets()
    assert len(a) == len(b) == len(c) == 384
    with pytest.raises(ValueError, match=r"'negatives' must be 'uniform' or 'degree', got 'popular'"):
        gnnkit.sampling.LinkSampler(g, key, [1], negatives="popular")


def test_seed_identity_columns_match_numpy():
    rng = np.random.default_rng(4)
    n, users, cards = 800, 50, 70
    tx = np.arange(n)
    user = rng.integers(0, users, n)
    card = np.where(rng.random(n) < 0.8, user % cards, rng.integers(0, cards, n))
    ts = np.sort(rng.integers(0, 10_000, n))
    edges = {("transaction", "by", "user"): (tx, user), ("transaction", "paid_with", "card"): (tx, card)}
    g = HeteroGraph.from_edges(edges, {"transaction": n, "user": users, "card": cards},
                               timestamps={k: ts for k in edges}, add_reverse=True, sort_by_time=True)
    ident = gnnkit.sampling.SeedIdentity(g, "transaction")
    assert ident.entity_types == ["user", "card"]
    assert [ident.num_columns(t) for t in ("transaction", "user", "card")] == [2, 1, 1]
    s = NeighborSampler(g, [5, 5, 3], temporal="recent", disjoint=True)
    seeds = np.arange(100, n, 5)
    mb = s.sample(seeds, "transaction", seed_times=ts[seeds], seed=2)
    own = mb.nodes["transaction"][mb.seed_local]  # the seed of each subtree
    seed_of = {t: own[mb.node_seed[t]] for t in mb.nodes}
    v = mb.nodes["transaction"]
    got = ident(mb, "transaction")
    want = np.stack([user[v] == user[seed_of["transaction"]], card[v] == card[seed_of["transaction"]]], 1)
    np.testing.assert_array_equal(got, want.astype(np.float32))
    assert 0.05 < got.mean() < 0.95  # both values occur
    np.testing.assert_array_equal(ident(mb, "user")[:, 0], mb.nodes["user"] == user[seed_of["user"]])
    np.testing.assert_array_equal(ident(mb, "card")[:, 0], mb.nodes["card"] == card[seed_of["card"]])
    # A shared (non-disjoint) batch has no subtrees to compare with.
    shared = NeighborSampler(g, [3]).sample(seeds, "transaction")
    with pytest.raises(ValueError, match="needs a disjoint mini-batch"):
        ident(shared, "transaction")
    with pytest.raises(ValueError, match="unknown node type"):
        ident(mb, "merchant")
    with pytest.raises(ValueError, match="unknown target node type 'merchant'"):
        gnnkit.sampling.SeedIdentity(g, "merchant")
    assert gnnkit.sampling.SeedIdentity(g, "user").empty  # a user has many payments


def test_device_sampler_on_the_cpu_matches_neighbor_sampler_and_shares_its_arrays():
    """DeviceSampler (here on a CPU context: the algorithm the GPU runs) gives
    NeighborSampler's batch exactly with every neighbour taken, per-relation fan-outs are
    respected, its arrays are DLPack-ready tensors, and bad seeds are named."""
    rng = np.random.default_rng(9)
    u = rng.integers(0, 200, 3000)
    i = rng.integers(0, 300, 3000)
    key = ("user", "buys", "item")
    g = HeteroGraph.from_edges({key: (u, i)}, {"user": 200, "item": 300}, add_reverse=True)
    seeds = np.array([3, 17, 3, 250, 0])
    per_rel = {"buys": [-1, 0], "rev_buys": [-1, -1]}
    ds = gnnkit.sampling.DeviceSampler(g, relation_fanouts=per_rel, context=gnnkit.Context.cpu(2, 4))
    dmb = ds.sample(seeds, "item", batch=1)
    ref = NeighborSampler(g, relation_fanouts=per_rel, edge_ids="csc").sample(seeds, "item")
    host = dmb.to_host()
    for t in ("user", "item"):
        np.testing.assert_array_equal(host.nodes[t], ref.nodes[t])
        np.testing.assert_array_equal(np.from_dlpack(dmb.nodes[t]), ref.nodes[t])  # zero-copy on the CPU
    for rel in g.relations:
        np.testing.assert_array_equal(host.csc(rel).indices, ref.csc(rel).indices)
        np.testing.assert_array_equal(host.csc(rel).edge_ids, ref.csc(rel).edge_ids)
        indptr, indices, _ = dmb.relations[rel]
        np.testing.assert_array_equal(indptr.numpy(), ref.csc(rel).indptr)
    np.testing.assert_array_equal(dmb.output_nodes().numpy(), [3, 17, 250, 0])
    assert [b.num_edges for b in dmb.blocks] == [b.num_edges for b in ref.blocks]
    # Random draws: at most 4 sources per item at the first hop, each an in-edge of the item.
    small = gnnkit.sampling.DeviceSampler(g, [4, 2], context=gnnkit.Context.cpu(1, 4)).sample(seeds, "item", batch=2)
    hb = small.to_host()
    rel = hb.csc("buys")  # user -> item: the items' in-edges
    first = hb.blocks[0]
    assert np.diff(rel.indptr)[first.dst_begin["item"]:first.dst_end["item"]].max() <= 4
    with pytest.raises(IndexError, match=r"'seeds\[0\]' = 300 must be in \[0, 300\)"):
        ds.sample([300], "item")
    with pytest.raises(ValueError, match="relation_fanouts"):
        gnnkit.sampling.DeviceSampler(g, relation_fanouts={"buys": [1, -2]})


def test_device_batch_tensors_reach_torch_without_a_copy():
    torch = pytest.importorskip("torch", reason="torch is not installed: DLPack interop not checked")
    g = HeteroGraph.from_edges((np.arange(50) % 7, np.arange(50) % 11), 20)
    dmb = gnnkit.sampling.DeviceSampler(g, [-1]).sample([1, 2, 3])
    t = torch.from_dlpack(dmb.nodes[g.node_types[0]])
    np.testing.assert_array_equal(t.numpy(), dmb.to_host().nodes[g.node_types[0]])


def test_loader_seeds_checked_when_built_and_one_iteration_at_a_time():
    g, _, _, _ = graph(n=200, e=2000, seed=9)
    seeds = np.arange(100)
    bad = seeds.copy()
    bad[70] = 999
    with pytest.raises(IndexError, match=r"'seeds\[70\]' must be in \[0, 200\) \(nodes of 'n'\), got 999"):
        gnnkit.sampling.NeighborLoader(g, bad, [2], batch_size=10)
    with pytest.raises(ValueError, match="'seeds' must hold integers"):
        gnnkit.sampling.NeighborLoader(g, seeds + 0.5, [2], batch_size=10)
    with pytest.raises(ValueError, match="'seeds' must hold integers"):
        NeighborSampler(g, [2]).sample(np.array([0.7, 1.9]))
    loader = gnnkit.sampling.NeighborLoader(g, seeds, [2], batch_size=10, shuffle=False)
    it1 = iter(loader)
    next(it1)
    it2 = iter(loader)
    assert len(list(it2)) == 10  # the newest iteration gets its whole epoch
    with pytest.raises(RuntimeError, match="a newer iteration of this loader has started"):
        next(it1)


def test_seed_identity_refuses_a_batch_of_another_graph():
    key = ("txn", "by", "user")
    small = HeteroGraph.from_edges({key: (np.arange(4), np.array([0, 1, 0, 1]))}, {"txn": 4, "user": 2},
                                   add_reverse=True)
    big = HeteroGraph.from_edges({key: (np.arange(5000), np.arange(5000) % 7)}, {"txn": 5000, "user": 7},
                                 add_reverse=True)
    ident = gnnkit.sampling.SeedIdentity(small, "txn")
    batch = NeighborSampler(big, [2, 2], disjoint=True).sample([4999], seed_type="txn")
    with pytest.raises(IndexError, match="node 4999 of type 'txn' is not in this graph"):
        ident(batch, "txn")
