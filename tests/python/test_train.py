"""gnnkit.train: metrics against scikit-learn on random inputs with heavy ties, losses
against NumPy formulas and finite differences, and ValueError for bad input."""
import math

import numpy as np
import pytest

import gnnkit
from gnnkit import train

sklearn_metrics = pytest.importorskip("sklearn.metrics")

TOL = 1e-9


def _binary(rng, n, decimals, rate=0.3, dtype=np.float64):
    scores = np.round(rng.random(n), decimals).astype(dtype)
    labels = (rng.random(n) < rate).astype(np.int64)
    labels[0], labels[1] = 1, 0  # both classes present
    return labels, scores


@pytest.mark.parametrize("decimals", [0, 1, 2, 8])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_roc_auc_and_average_precision_match_sklearn(decimals, dtype):
    rng = np.random.default_rng(decimals * 10 + (dtype == np.float32))
    for n in (2, 17, 500, 3000):
        y, s = _binary(rng, n, decimals, dtype=dtype)
        assert abs(train.roc_auc(y, s) - sklearn_metrics.roc_auc_score(y, s)) < TOL
        assert (abs(train.average_precision(y, s) - sklearn_metrics.average_precision_score(y, s))
                < TOL)


def test_label_types_and_extreme_scores():
    y = np.array([True, False, True, False, True])
    s = [np.inf, -np.inf, 0.5, 0.5, 1e300]
    expected = 5.5 / 6  # 6 pairs, all ordered except one tie (sklearn rejects infinities)
    assert sklearn_metrics.roc_auc_score(y, [1e308, -1e308, 0.5, 0.5, 1e300]) == expected
    assert train.roc_auc(y, s) == pytest.approx(expected, abs=TOL)
    assert train.roc_auc(y.astype(np.float64), s) == pytest.approx(expected, abs=TOL)
    assert train.roc_auc(list(y.astype(int)), s) == pytest.approx(expected, abs=TOL)


def test_curves_match_sklearn():
    rng = np.random.default_rng(3)
    y, s = _binary(rng, 400, 2)
    fpr, tpr, thr = train.roc_curve(y, s)
    efpr, etpr, ethr = sklearn_metrics.roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr, efpr, atol=TOL)
    np.testing.assert_allclose(tpr, etpr, atol=TOL)
    assert np.isinf(thr[0]) and np.isinf(ethr[0])
    np.testing.assert_array_equal(thr[1:], ethr[1:])
    p, r, t = train.pr_curve(y, s)
    ep, er, et = sklearn_metrics.precision_recall_curve(y, s)
    np.testing.assert_allclose(p, ep, atol=TOL)
    np.testing.assert_allclose(r, er, atol=TOL)
    np.testing.assert_array_equal(t, et)


def test_recall_at_fpr_against_sklearn_roc_curve():
    rng = np.random.default_rng(4)
    for decimals in (1, 3):
        y, s = _binary(rng, 1000, decimals, rate=0.1)
        fpr, tpr, _ = sklearn_metrics.roc_curve(y, s, drop_intermediate=False)
        for max_fpr in (0.0, 0.01, 0.05, 0.2, 1.0):
            expected = tpr[fpr <= max_fpr].max()
            assert train.recall_at_fpr(y, s, max_fpr) == pytest.approx(expected, abs=TOL)


def test_precision_at_top_fraction_without_ties_is_precision_of_the_top_k():
    rng = np.random.default_rng(5)
    y = (rng.random(1000) < 0.05).astype(np.int64)
    s = rng.random(1000)
    top = np.argsort(-s)[:10]
    assert train.precision_at_top_fraction(y, s, 0.01) == pytest.approx(y[top].mean(), abs=TOL)
    # All scores tied: the expected precision is the base rate.
    assert (train.precision_at_top_fraction(y, np.zeros(1000), 0.01)
            == pytest.approx(y.mean(), abs=TOL))


def test_f1_and_accuracy_match_sklearn():
    rng = np.random.default_rng(6)
    for _ in range(5):
        yb = rng.integers(0, 2, 300)
        pb = rng.integers(0, 2, 300)
        assert train.f1(yb, pb) == pytest.approx(sklearn_metrics.f1_score(yb, pb), abs=TOL)
        ym = rng.integers(0, 5, 300)
        pm = rng.integers(0, 6, 300)  # a class never in y_true
        assert (train.f1(ym, pm, average="macro")
                == pytest.approx(sklearn_metrics.f1_score(ym, pm, average="macro"), abs=TOL))
        assert train.accuracy(ym, pm) == pytest.approx(sklearn_metrics.accuracy_score(ym, pm),
                                                       abs=TOL)
        logits = np.round(rng.normal(size=(300, 5)), 1).astype(np.float32)  # ties in argmax
        assert (train.accuracy(ym, logits)
                == pytest.approx(sklearn_metrics.accuracy_score(ym, logits.argmax(1)), abs=TOL))


def _lightgcn(ranked, truth, k):
    """The LightGCN evaluation code (utils.py), vectorised as there."""
    r = np.array([[item in set(t) for item in row[:k]] for row, t in zip(ranked, truth)],
                 dtype=float)
    recall = np.mean(r.sum(1) / np.array([len(t) for t in truth]))
    test_matrix = np.zeros((len(r), k))
    for i, t in enumerate(truth):
        test_matrix[i, :min(k, len(t))] = 1
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    idcg = np.sum(test_matrix * discount, axis=1)
    dcg = np.sum(r * discount, axis=1)
    return recall, np.mean(dcg / idcg)


def test_recall_and_ndcg_at_k_match_lightgcn():
    rng = np.random.default_rng(7)
    ranked = np.stack([rng.permutation(100)[:20] for _ in range(50)])
    truth = [rng.permutation(100)[:rng.integers(1, 30)] for _ in range(50)]
    for k in (1, 10, 20):
        recall, ndcg = _lightgcn(ranked, truth, k)
        assert train.recall_at_k(ranked, truth, k) == pytest.approx(recall, abs=TOL)
        assert train.ndcg_at_k(ranked, truth, k) == pytest.approx(ndcg, abs=TOL)


def test_metrics_raise_value_error_for_bad_input():
    with pytest.raises(ValueError, match="both classes"):
        train.roc_auc([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="must not be NaN"):
        train.roc_auc([0, 1], [0.1, np.nan])
    with pytest.raises(ValueError, match="must not be empty"):
        train.average_precision([], [])
    with pytest.raises(ValueError, match="at least one positive"):
        train.average_precision([0, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match=r"'labels\[1\]' must be 0 or 1, got 2"):
        train.roc_auc([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="integer class labels"):
        train.roc_auc([0, 0.5], [0.1, 0.2])
    with pytest.raises(gnnkit.ShapeMismatch):
        train.roc_auc([0, 1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="1-d"):
        train.roc_auc([0, 1], [[0.1, 0.2]])
    with pytest.raises(ValueError, match="'max_fpr'"):
        train.recall_at_fpr([0, 1], [0.1, 0.2], 2.0)
    with pytest.raises(ValueError, match="'average'"):
        train.f1([0, 1], [0, 1], average="micro")
    with pytest.raises(ValueError, match="'k'"):
        train.recall_at_k([[1, 2]], [[1]], 3)


def test_cross_entropy_loss_and_gradient():
    rng = np.random.default_rng(8)
    logits = rng.normal(size=(6, 4))
    labels = np.array([0, 3, -1, 2, 1, 1])
    loss, grad = train.cross_entropy(logits, labels)
    keep = labels >= 0
    log_softmax = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    expected = -log_softmax[keep, labels[keep]].mean()
    assert loss == pytest.approx(expected, rel=1e-12)
    expected_grad = np.exp(log_softmax)
    expected_grad[keep, labels[keep]] -= 1
    expected_grad[~keep] = 0
    np.testing.assert_allclose(grad, expected_grad / keep.sum(), atol=1e-12)
    assert grad.dtype == np.float64 and grad.shape == logits.shape
    loss32, grad32 = train.cross_entropy(logits.astype(np.float32), labels)
    assert grad32.dtype == np.float32
    assert loss32 == pytest.approx(expected, rel=1e-6)
    with pytest.raises(IndexError, match=r"'labels\[1\]' must be -1 \(ignored\) or in \[0, 4\)"):
        train.cross_entropy(logits, [0, 4, 0, 0, 0, 0])
    with pytest.raises(ValueError):
        train.cross_entropy(logits, [0, 1])


def test_binary_losses_and_bpr_against_numpy_and_finite_differences():
    rng = np.random.default_rng(9)
    x = rng.normal(size=20) * 3
    t = (rng.random(20) < 0.3).astype(np.float32)
    w = rng.random(20).astype(np.float32)
    pw = 4.0
    loss, grad = train.binary_cross_entropy_with_logits(x, t, pos_weight=pw, weight=w)
    sig = 1 / (1 + np.exp(-x))
    expected = np.mean(-w * (pw * t * np.log(sig) + (1 - t) * np.log(1 - sig)))
    assert loss == pytest.approx(expected, rel=1e-12)
    h = 1e-6
    numeric = np.array([
        (train.binary_cross_entropy_with_logits(x + h * e, t, pw, w)[0]
         - train.binary_cross_entropy_with_logits(x - h * e, t, pw, w)[0]) / (2 * h)
        for e in np.eye(20)])
    np.testing.assert_allclose(grad, numeric, atol=1e-8)

    floss, fgrad = train.sigmoid_focal_loss(x, t, gamma=2.0, alpha=0.25)
    pt = sig * t + (1 - sig) * (1 - t)
    at = 0.25 * t + 0.75 * (1 - t)
    assert floss == pytest.approx(np.mean(-at * (1 - pt) ** 2 * np.log(pt)), rel=1e-10)
    assert fgrad.shape == x.shape

    pos, neg = rng.normal(size=8), rng.normal(size=(8, 3))
    bloss, gpos, gneg = train.bpr_loss(pos, neg)
    assert bloss == pytest.approx(np.mean(np.logaddexp(0, neg - pos[:, None])), rel=1e-12)
    s = 1 / (1 + np.exp(-(neg - pos[:, None])))
    np.testing.assert_allclose(gneg, s / 24, atol=1e-14)
    np.testing.assert_allclose(gpos, -s.sum(1) / 24, atol=1e-14)
    with pytest.raises(ValueError, match=r"'targets\[0\]' must be in \[0, 1\]"):
        train.binary_cross_entropy_with_logits([0.0], [2.0])
    with pytest.raises(ValueError, match="'neg_scores' must have shape"):
        train.bpr_loss(pos, neg[:4])


def test_ranking_inputs_are_ids_not_cast():
    T = gnnkit.train
    with pytest.raises(ValueError, match="'ranked' must hold integer ids"):
        T.recall_at_k(np.array([[0.9, 0.1, 0.4]]), [[0]], 2)  # scores passed as ranked ids
    with pytest.raises(ValueError, match="'truth' must hold integer ids"):
        T.ndcg_at_k([[1, 2]], [[1.7]], 1)
    with pytest.raises(ValueError, match="more than once"):
        T.recall_at_k([[1, 1, 1]], [[1]], 3)
    assert T.recall_at_k([[1.0, 2.0]], [[2]], 2) == 1.0  # whole floats are ids
    U = np.eye(2, dtype=np.float32)
    I = np.ones((3, 2), np.float32)
    with pytest.raises(ValueError, match="'users' must hold integer ids"):
        T.top_k(U, I, [1.9], 1)
    # A tuple of two per-user lists is per-user lists (a CSR indptr has one entry per user + 1).
    lists, _ = T.top_k(U, I, [0, 1], 3, exclude=[[0, 1], [1]])
    as_tuple, _ = T.top_k(U, I, [0, 1], 3, exclude=([0, 1], [1]))
    np.testing.assert_array_equal(lists, as_tuple)
    np.testing.assert_array_equal(lists, [[2, -1, -1], [0, 2, -1]])
    csr, _ = T.top_k(U, I, [0, 1], 3, exclude=(np.array([0, 2, 3]), np.array([0, 1, 1])))
    np.testing.assert_array_equal(csr, lists)
