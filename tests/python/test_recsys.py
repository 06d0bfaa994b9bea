"""gnnkit.nn.LightGCN and gnnkit.train.top_k against NumPy references (and PyG's LightGCN
where installed), and examples/recsys/python/recsys.py end to end on a small folder and on
movielens-1m-lcfn (skips without the shared data)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gnnkit
from gnnkit import datasets

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "examples" / "recsys" / "python" / "recsys.py"
PACKAGE_PARENT = Path(gnnkit.__file__).resolve().parents[1]


def _tiny():
    users = np.array([0, 0, 1, 1, 1, 2, 4, 4])
    items = np.array([0, 1, 1, 2, 3, 0, 1, 4])
    return 5, 6, users, items  # user 3 and item 5 have no interactions


def _dense_forward(nu, ni, users, items, e0, layers):
    n = nu + ni
    a = np.zeros((n, n))
    a[users, nu + items] = a[nu + items, users] = 1
    deg = a.sum(1)
    inv = np.where(deg > 0, 1 / np.sqrt(np.maximum(deg, 1)), 0)
    norm = inv[:, None] * a * inv[None, :]
    layer, total = e0.astype(np.float64), e0.astype(np.float64)
    for _ in range(layers):
        layer = norm @ layer
        total = total + layer
    return total / (layers + 1)


@pytest.mark.parametrize("layers", [0, 2])
def test_lightgcn_matches_a_dense_numpy_model(layers):
    nu, ni, users, items = _tiny()
    m = gnnkit.nn.LightGCN(nu, ni, users, items, dim=4, layers=layers, reg=0.1, init_scale=0.5, seed=7)
    e0 = m.embedding.copy()
    f = _dense_forward(nu, ni, users, items, e0, layers)
    ue, ie = m.embeddings()
    np.testing.assert_allclose(ue, f[:nu], atol=1e-5)
    np.testing.assert_allclose(ie, f[nu:], atol=1e-5)
    u, i, j = np.array([0, 1, 0]), np.array([1, 2, 0]), np.array([5, 1, 3])
    bpr, l2 = m.loss_and_grad(u, i, j)
    pos = (f[u] * f[nu + i]).sum(1)
    neg = (f[u] * f[nu + j]).sum(1)
    assert bpr == pytest.approx(np.mean(np.logaddexp(0, neg - pos)), rel=1e-5)
    ego = (e0[u] ** 2).sum() + (e0[nu + i] ** 2).sum() + (e0[nu + j] ** 2).sum()
    assert l2 == pytest.approx(0.1 / 2 * ego / 3, rel=1e-5)
    # One Adam step moves the embedding table in place.
    opt = gnnkit.train.Adam(m, lr=0.05)
    opt.step()
    assert not np.allclose(m.embedding, e0)


def test_lightgcn_rejects_bad_input():
    nu, ni, users, items = _tiny()
    with pytest.raises(IndexError, match=r"users\[2\] = 9"):
        gnnkit.nn.LightGCN(nu, ni, np.array([0, 1, 9]), np.array([0, 1, 2]))
    with pytest.raises(IndexError, match="items"):
        gnnkit.nn.LightGCN(nu, ni, users, np.where(items == 4, 6, items))
    with pytest.raises(ValueError, match="'layers'"):
        gnnkit.nn.LightGCN(nu, ni, users, items, layers=12)
    m = gnnkit.nn.LightGCN(nu, ni, users, items, dim=4)
    with pytest.raises(IndexError, match=r"'pos_items'\[0\] = 6"):
        m.loss_and_grad([0], [6], [1])
    with pytest.raises(ValueError, match="as many"):
        m.loss_and_grad([0, 1], [1], [1])


@pytest.mark.parametrize("layers", [0, 2])
def test_lightgcn_hardest_negatives_is_the_argmax_of_the_scores(layers):
    nu, ni, users, items = _tiny()
    m = gnnkit.nn.LightGCN(nu, ni, users, items, dim=4, layers=layers, init_scale=0.5, seed=3)
    ue, ie = m.embeddings()
    rng = np.random.default_rng(0)
    u = rng.integers(0, nu, size=30)
    cand = rng.integers(0, ni, size=(30, 4))
    got = m.hardest_negatives(u, cand)
    scores = np.einsum("bd,bmd->bm", ue[u].astype(np.float64), ie[cand].astype(np.float64))
    np.testing.assert_array_equal(got, cand[np.arange(30), scores.argmax(1)])
    # After a training step and an optimiser update, LightGCN still scores with that step's F
    # (an evaluation in between changes nothing); BPR-MF's F is E0, always current.
    m.loss_and_grad([0, 1], [1, 2], [5, 0])
    step_u, step_i = m.embeddings()
    gnnkit.train.Adam(m, lr=0.5).step()
    new_u, new_i = m.embeddings()
    def best(ue, ie):
        scores = np.einsum("bd,bmd->bm", ue[u].astype(np.float64), ie[cand].astype(np.float64))
        return cand[np.arange(30), scores.argmax(1)]
    assert (best(new_u, new_i) != best(step_u, step_i)).any()  # the update changes some choice
    want = best(new_u, new_i) if layers == 0 else best(step_u, step_i)
    np.testing.assert_array_equal(m.hardest_negatives(u, cand), want)
    with pytest.raises(IndexError, match=r"'candidates'\[1\] = 6"):
        m.hardest_negatives([0], [[1, 6]])
    with pytest.raises(ValueError, match=r"got shape \(1, 2\)"):
        m.hardest_negatives([0, 1], [[1, 2]])


def test_lightgcn_sample_negatives_are_unseen_keyed_and_harder():
    nu, ni, users, items = _tiny()
    m = gnnkit.nn.LightGCN(nu, ni, users, items, dim=4, layers=2, init_scale=0.5, seed=3)
    seen = set(zip(users.tolist(), items.tolist()))
    u = np.arange(300) % nu
    keys = np.arange(300) + 77
    uni = m.sample_negatives(u, keys, 2, 1, seed=4, stream=1)
    hard = m.sample_negatives(u, keys, 2, 5, seed=4, stream=1)
    assert uni.shape == hard.shape == (600,)
    rep = np.repeat(u, 2)
    assert not any((a, b) in seen for a, b in zip(rep.tolist(), uni.tolist()))
    assert not any((a, b) in seen for a, b in zip(rep.tolist(), hard.tolist()))
    ue, ie = m.embeddings()
    s_uni, s_hard = (ue[rep] * ie[uni]).sum(1), (ue[rep] * ie[hard]).sum(1)
    assert (s_hard[::2] >= s_uni[::2] - 1e-6).all()  # the first draw is among the candidates
    assert s_hard.mean() > s_uni.mean()
    # A pair's negatives depend on its key, not on the batch around it.
    np.testing.assert_array_equal(m.sample_negatives(u[10:20], keys[10:20], 2, 5, seed=4, stream=1),
                                  hard[20:40])
    with pytest.raises(IndexError, match=r"'users'\[0\] = 9"):
        m.sample_negatives([9], [0], 1, 1)
    with pytest.raises(ValueError, match="one key per user"):
        m.sample_negatives([0, 1], [0], 1, 1)


def _two_clusters(rng, users=40, items=20, per_user=6):
    """Users of each half interact only with items of the same half; one pair per user held out."""
    train_u, train_i, test_u, test_i = [], [], [], []
    for u in range(users):
        half = (u * 2) // users
        pool = np.arange(half * items // 2, (half + 1) * items // 2)
        picked = rng.choice(pool, size=per_user + 1, replace=False)
        train_u += [u] * per_user
        train_i += list(picked[:per_user])
        test_u.append(u)
        test_i.append(picked[-1])
    return users, items, np.array(train_u), np.array(train_i), np.array(test_u), np.array(test_i)


def test_two_tower_learns_planted_clusters_and_is_reproducible():
    rng = np.random.default_rng(0)
    nu, ni, tu, ti, su, si = _two_clusters(rng)

    def train(seed):
        m = gnnkit.nn.TwoTower(nu, ni, tu, ti, dim=8, hidden=8, fanouts=[4, 4], seed=seed)
        opt = gnnkit.train.Adam(m, lr=0.02)
        losses = []
        for epoch in range(30):
            order = np.random.default_rng(epoch).permutation(len(tu))
            for b in range(0, len(order), 64):
                idx = order[b:b + 64]
                losses.append(m.train_step(tu[idx], ti[idx], key=(epoch << 32) | b))
                opt.step()
        return m, losses

    m, losses = train(3)
    assert np.mean(losses[-4:]) < 0.5 * np.mean(losses[:4])
    ue, ie = m.embeddings()
    assert ue.shape == (nu, 8) and ie.shape == (ni, 8)
    scores = ue @ ie.T
    # Held-out items of the user's own half outrank the other half's items.
    same, other = [], []
    for u, i in zip(su, si):
        half = (u * 2) // nu
        same.append(scores[u, i])
        other.append(scores[u, np.arange(ni)[(np.arange(ni) * 2) // ni != half]].mean())
    assert np.mean(np.array(same) > np.array(other)) > 0.9
    # Same seed and keys: the same model.
    m2, losses2 = train(3)
    np.testing.assert_array_equal(losses, losses2)
    np.testing.assert_array_equal(m2.embeddings()[0], ue)


def test_two_tower_item_features_and_bad_input():
    nu, ni, users, items = _tiny()
    feats = np.arange(ni * 3, dtype=np.float32).reshape(ni, 3) / 10
    m = gnnkit.nn.TwoTower(nu, ni, users, items, item_features=feats, dim=4, hidden=4, fanouts=[-1, -1])
    assert np.isfinite(m.train_step([0, 1], [1, 2], key=1))
    with pytest.raises(IndexError, match=r"users\[2\] = 9"):
        gnnkit.nn.TwoTower(nu, ni, np.array([0, 1, 9]), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="'fanouts' must list one fan-out per layer"):
        gnnkit.nn.TwoTower(nu, ni, users, items, layers=2, fanouts=[5])
    with pytest.raises(ValueError, match=r"'item_features' must have shape \[6, F\]"):
        gnnkit.nn.TwoTower(nu, ni, users, items, item_features=feats[:4])
    with pytest.raises(IndexError, match="'src\\[0\\]' must be in \\[0, 5\\)"):
        m.train_step([7], [1], key=0)


def test_top_k_matches_numpy_with_exclusions():
    rng = np.random.default_rng(3)
    ue = rng.normal(size=(20, 8)).astype(np.float32)
    ie = rng.normal(size=(300, 8)).astype(np.float32)
    seen = [rng.choice(300, size=rng.integers(0, 40), replace=False) for _ in range(20)]
    users = np.array([4, 0, 19, 4])
    for exclude in (seen, (np.concatenate([[0], np.cumsum([len(s) for s in seen])]),
                           np.concatenate([np.sort(s) for s in seen]))):
        items, scores = gnnkit.train.top_k(ue, ie, users, 15, exclude=exclude, user_block=3)
        for r, u in enumerate(users):
            s = ue[u] @ ie.T
            s[seen[u]] = -np.inf
            want = np.lexsort((np.arange(300), -s))[:15]
            np.testing.assert_array_equal(items[r], want)
            np.testing.assert_allclose(scores[r], s[want], rtol=1e-5)
    items, scores = gnnkit.train.top_k(ue, ie[:5], [1], 8)
    assert list(items[0, 5:]) == [-1, -1, -1] and np.all(np.isneginf(scores[0, 5:]))
    with pytest.raises(IndexError, match="user id 20"):
        gnnkit.train.top_k(ue, ie, [20], 5)
    with pytest.raises(ValueError, match="'k'"):
        gnnkit.train.top_k(ue, ie, [0], 0)


def test_lightgcn_forward_matches_pyg():
    torch = pytest.importorskip("torch", reason="torch is not installed: no PyG comparison")
    pyg = pytest.importorskip("torch_geometric.nn.models", reason="torch_geometric is not installed")
    nu, ni, users, items = _tiny()
    m = gnnkit.nn.LightGCN(nu, ni, users, items, dim=4, layers=3, seed=1)
    ref = pyg.LightGCN(nu + ni, 4, 3)
    with torch.no_grad():
        ref.embedding.weight.copy_(torch.from_numpy(m.embedding.copy()))
    ei = torch.from_numpy(np.stack([np.concatenate([users, nu + items]), np.concatenate([nu + items, users])]))
    want = ref.get_embedding(ei).detach().numpy()
    ue, ie = m.embeddings()
    np.testing.assert_allclose(np.concatenate([ue, ie]), want, atol=1e-5)


def _write_folder(path: Path, nu=60, ni=40, seed=0):
    """A LightGCN folder with two taste groups, so a model beats popularity."""
    rng = np.random.default_rng(seed)
    path.mkdir(parents=True, exist_ok=True)
    train, test = [], []
    for u in range(nu):
        pool = np.arange(0, ni // 2) if u % 2 == 0 else np.arange(ni // 2, ni)
        chosen = rng.choice(pool, size=8, replace=False)
        train.append(f"{u} " + " ".join(map(str, sorted(chosen[:6]))))
        test.append(f"{u} " + " ".join(map(str, sorted(chosen[6:]))))
    (path / "train.txt").write_text("\n".join(train) + "\n")
    (path / "test.txt").write_text("\n".join(test) + "\n")


def _run(*args, timeout=300):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_PARENT), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_recsys_script_end_to_end(tmp_path):
    pytest.importorskip("matplotlib")
    _write_folder(tmp_path / "shop")
    out = tmp_path / "out"
    r = _run("train", "--data", str(tmp_path / "shop"), "--out", str(out), "--epochs", "15",
             "--batch", "64", "--dim", "16", "--layers", "2", "--no-progress")
    assert r.returncode == 0, r.stderr
    m = json.loads((out / "metrics.json").read_text())
    names = [x["name"] for x in m["models"]]
    assert names == ["popularity", "LightGCN (2 layers)", "BPR-MF"]
    pop, gnn = m["models"][0]["recall_at_20"], m["models"][1]["recall_at_20"]
    assert gnn > pop + 0.1
    for f in ("report.md", "training.png", "recall_at_k.png", "user_embeddings.npy"):
        assert (out / f).stat().st_size > 0
    r = _run("recommend", "--out", str(out), "--user", "0", "-k", "5")
    assert r.returncode == 0, r.stderr
    answer = json.loads(r.stdout)
    seen = {int(t) for t in (tmp_path / "shop" / "train.txt").read_text().splitlines()[0].split()[1:]}
    assert len(answer["items"]) == 5 and not seen & set(answer["items"])
    r = _run("recommend", "--out", str(out), "--user", "0", "-k", "0")
    assert r.returncode != 0 and "ValueError" in r.stderr and "-k must be in [1, 40]" in r.stderr


def test_recsys_script_trains_sage_with_item_features(tmp_path):
    _write_folder(tmp_path / "shop")
    # items.csv as gnnkit-recsys generate writes it: the category follows the taste group.
    (tmp_path / "shop" / "items.csv").write_text(
        "item,category,price\n" + "".join(f"{i},{int(i >= 20)},{1 + i % 7}.5\n" for i in range(40)))
    out = tmp_path / "out"
    r = _run("train", "--data", str(tmp_path / "shop"), "--out", str(out), "--model", "sage,lightgcn",
             "--sage-epochs", "8", "--sage-batch", "64", "--epochs", "3", "--batch", "64", "--dim", "16",
             "--hidden", "16", "--fanouts", "5,5", "--no-baselines", "--no-progress",
             "--lr-schedule", "cosine", "--hard-negatives", "4")
    assert r.returncode == 0, r.stderr
    m = json.loads((out / "metrics.json").read_text())
    assert [x["name"] for x in m["models"]] == ["popularity", "GraphSAGE two-tower (2 layers)",
                                                "LightGCN (3 layers)"]
    assert m["models"][1]["recall_at_20"] > m["models"][0]["recall_at_20"] + 0.1
    assert np.load(out / "item_embeddings.npy").shape == (40, 16)
    assert m["options"]["hard_negatives"] == 4
    (tmp_path / "shop" / "items.csv").write_text("item,category,price\n0,1,abc\n")
    r = _run("train", "--data", str(tmp_path / "shop"), "--out", str(out), "--model", "sage", "--no-progress")
    assert r.returncode != 0 and "items.csv: line 2" in r.stderr


def test_recsys_script_names_bad_lines(tmp_path):
    _write_folder(tmp_path / "bad")
    lines = (tmp_path / "bad" / "train.txt").read_text().splitlines()
    lines[4] = "4 1 two 3"
    (tmp_path / "bad" / "train.txt").write_text("\n".join(lines) + "\n")
    r = _run("train", "--data", str(tmp_path / "bad"), "--out", str(tmp_path / "o"), "--epochs", "1")
    assert r.returncode != 0
    assert "train.txt: line 5: 'two' is not an integer" in r.stderr
    r = _run("train", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o"))
    assert r.returncode != 0 and "OSError" in r.stderr and "nowhere" in r.stderr


def test_recsys_on_movielens_1m(tmp_path):
    try:
        datasets.load("movielens-1m-lcfn")
    except OSError as e:
        pytest.skip(f"shared data not available: {e}")
    pytest.importorskip("matplotlib")
    out = tmp_path / "ml1m"
    r = _run("train", "--dataset", "movielens-1m-lcfn", "--out", str(out), "--epochs", "3",
             "--no-baselines", "--no-progress", "--threads", "2", timeout=900)
    assert r.returncode == 0, r.stderr
    m = json.loads((out / "metrics.json").read_text())
    gnn = m["models"][1]
    assert gnn["users"] == 6022  # every user has test items in this split
    # Random ranking would give about 20 / 3043 = 0.007; three epochs reach well above 0.1.
    assert gnn["recall_at_20"] > 0.1
