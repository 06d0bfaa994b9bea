"""gnnkit.train: evaluation metrics and training losses on NumPy arrays.

Metrics take scikit-learn's argument order, ``(y_true, y_score)`` or ``(y_true, y_pred)``,
and agree with scikit-learn where it has the same metric (``roc_auc_score``,
``average_precision_score``, ``f1_score``, ``accuracy_score``), ties included:

>>> import numpy as np, gnnkit
>>> gnnkit.train.roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
0.75

Labels of binary metrics are 0/1 (ints, bools, or floats holding whole numbers). Scores may
be float32 (used as they are) or anything convertible to float64. Bad input (empty arrays,
NaN scores, a single class where a metric is undefined, mismatched lengths) raises
ValueError (``gnnkit.InvalidArgument`` / ``gnnkit.ShapeMismatch``) naming the argument.

Losses return the mean loss and the gradient with respect to their inputs (same shape and
dtype), ready for a hand-written backward pass or ``torch.autograd.Function``:

>>> loss, grad = gnnkit.train.cross_entropy(np.zeros((2, 3), np.float32), [0, 2])
"""
from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple

import numpy as np

from . import _core

__all__ = [
    "roc_auc", "average_precision", "roc_curve", "pr_curve", "recall_at_fpr",
    "precision_at_top_fraction", "accuracy", "f1", "recall_at_k", "ndcg_at_k",
    "cross_entropy", "binary_cross_entropy_with_logits", "sigmoid_focal_loss", "bpr_loss",
    "SGD", "Adam", "AdamW", "save_checkpoint", "load_checkpoint", "fit_node_classifier",
    "CORA_RECIPES", "top_k",
]


def _ctx(ctx: Optional[_core.Context]) -> _core.Context:
    if ctx is not None:
        return ctx
    from . import default_context  # late: the package imports this module first
    return default_context()


def _int_labels(values: Any, function: str, arg: str) -> np.ndarray:
    """int64 view/copy of integer-like labels; floats must hold whole numbers (a float label
    0.7 is a mistake, not a class)."""
    a = np.asarray(values)
    if a.dtype == np.bool_ or a.dtype.kind in "iu":
        return np.ascontiguousarray(a, dtype=np.int64)
    if a.dtype.kind == "f":
        if a.size and not (np.all(np.isfinite(a)) and np.all(a == np.round(a))):
            raise _core.InvalidArgument(
                f"{function}: '{arg}' must hold integer class labels, got non-integral values")
        return a.astype(np.int64)
    raise _core.InvalidArgument(
        f"{function}: '{arg}' must be an array of integer or boolean labels, got dtype {a.dtype}")


def _scores(values: Any) -> np.ndarray:
    a = np.asarray(values)
    return a if a.dtype == np.float32 else np.asarray(a, dtype=np.float64)


# ---- score ranking ---------------------------------------------------------------------------

def roc_auc(y_true: Any, y_score: Any) -> float:
    """Area under the ROC curve: the probability that a random positive scores above a random
    negative, ties counting one half. Equal to ``sklearn.metrics.roc_auc_score``.

    y_true: 0/1 labels with both classes present; y_score: scores, higher = more positive.
    Raises ValueError for a single class (AUC is undefined), NaN scores, empty input.
    """
    return _core.roc_auc(_scores(y_score), _int_labels(y_true, "roc_auc", "labels"))


def average_precision(y_true: Any, y_score: Any) -> float:
    """Average precision, sum over thresholds of (R_n - R_{n-1}) * P_n with tied scores as
    one threshold; equal to ``sklearn.metrics.average_precision_score``.

    Needs at least one positive label (raises ValueError otherwise).
    """
    return _core.average_precision(_scores(y_score),
                                   _int_labels(y_true, "average_precision", "labels"))


def roc_curve(y_true: Any, y_score: Any) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds) with one point per distinct score, decreasing, after the start
    point (0, 0, inf): ``sklearn.metrics.roc_curve(..., drop_intermediate=False)``."""
    return _core.roc_curve(_scores(y_score), _int_labels(y_true, "roc_curve", "labels"))


def pr_curve(y_true: Any, y_score: Any) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, thresholds) in ``sklearn.metrics.precision_recall_curve``'s order:
    increasing thresholds, then the point (precision 1, recall 0) without a threshold."""
    return _core.pr_curve(_scores(y_score), _int_labels(y_true, "pr_curve", "labels"))


def recall_at_fpr(y_true: Any, y_score: Any, max_fpr: float) -> float:
    """Best recall of any score threshold whose false-positive rate is at most ``max_fpr``
    (e.g. fraud caught while flagging at most 1% of good accounts: ``max_fpr=0.01``).
    Thresholds never split tied scores; 0.0 when even the top score exceeds the budget."""
    return _core.recall_at_fpr(_scores(y_score), _int_labels(y_true, "recall_at_fpr", "labels"),
                               float(max_fpr))


def precision_at_top_fraction(y_true: Any, y_score: Any, fraction: float) -> float:
    """Precision among the ``ceil(fraction * N)`` highest scores. A tie group cut by the
    boundary counts with its expected share of positives (the mean over orders of ties)."""
    return _core.precision_at_top_fraction(
        _scores(y_score), _int_labels(y_true, "precision_at_top_fraction", "labels"),
        float(fraction))


# ---- classification -------------------------------------------------------------------------

def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of correct predictions, like ``sklearn.metrics.accuracy_score``.

    y_pred is either 1-d class predictions or 2-d [N, C] logits/probabilities, whose row-wise
    argmax (first maximum on ties) is the prediction.
    """
    pred = np.asarray(y_pred)
    labels = _int_labels(y_true, "accuracy", "labels")
    if pred.ndim == 2:
        return _core.accuracy_from_logits(_scores(pred), labels)
    return _core.accuracy(_int_labels(pred, "accuracy", "predictions"), labels)


def f1(y_true: Any, y_pred: Any, average: str = "binary") -> float:
    """F1 score, like ``sklearn.metrics.f1_score`` with ``zero_division=0``.

    average="binary": F1 of class 1 (labels and predictions must be 0/1);
    average="macro": unweighted mean of per-class F1 over the classes present in either array.
    """
    labels = _int_labels(y_true, "f1", "labels")
    pred = _int_labels(y_pred, "f1", "predictions")
    if average == "binary":
        return _core.f1_score(pred, labels)
    if average == "macro":
        return _core.macro_f1_score(pred, labels)
    raise _core.InvalidArgument(f"f1: 'average' must be 'binary' or 'macro', got {average!r}")


# ---- top-k recommendation ---------------------------------------------------------------------

def _ids(values: Any, function: str, what: str) -> np.ndarray:
    """int64 ids from anything array-like; floats only when every value is whole (a cast
    would silently turn 0.9 into 0: a score matrix passed as ranked ids must be an error)."""
    a = np.asarray(values)
    if a.size and a.dtype.kind not in "iu":
        whole = a.dtype.kind == "f" and bool(np.all(np.isfinite(a))) and bool(np.all(a == np.trunc(a)))
        if not whole:
            raise _core.InvalidArgument(f"{function}: '{what}' must hold integer ids, got dtype {a.dtype}")
    return a.astype(np.int64, copy=False)


def _truth_csr(truth: Sequence[Any], users: int, function: str) -> Tuple[np.ndarray, np.ndarray]:
    if len(truth) != users:
        raise _core.ShapeMismatch(
            f"{function}: 'truth' must have {users} entries (one per row of 'ranked'), "
            f"got {len(truth)}")
    parts = [_ids(t, function, "truth").ravel() for t in truth]
    indptr = np.zeros(users + 1, dtype=np.int64)
    np.cumsum([p.size for p in parts], out=indptr[1:])
    items = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    return indptr, items


def recall_at_k(ranked: Any, truth: Sequence[Any], k: int) -> float:
    """Recall@k as in the LightGCN evaluation: per user, the share of its held-out items among
    its first k ranked items, averaged over users with at least one held-out item.

    ranked: [users, L] int item ids, best first (L >= k; -1 pads); truth: per user an array
    of held-out item ids.
    """
    r = _ids(ranked, "recall_at_k", "ranked")
    indptr, items = _truth_csr(truth, r.shape[0] if r.ndim else 0, "recall_at_k")
    return _core.recall_at_k(r, indptr, items, int(k))


def ndcg_at_k(ranked: Any, truth: Sequence[Any], k: int) -> float:
    """NDCG@k as in the LightGCN evaluation: binary relevance, DCG = sum of 1/log2(rank + 1)
    over hits in the first k, IDCG over min(k, |truth|) hits; averaged over users with at
    least one held-out item. Arguments as in :func:`recall_at_k`."""
    r = _ids(ranked, "ndcg_at_k", "ranked")
    indptr, items = _truth_csr(truth, r.shape[0] if r.ndim else 0, "ndcg_at_k")
    return _core.ndcg_at_k(r, indptr, items, int(k))


# ---- losses -----------------------------------------------------------------------------------

def _float_input(x: Any) -> np.ndarray:
    a = np.asarray(x)
    return a if a.dtype in (np.float32, np.float64) else a.astype(np.float64)


def cross_entropy(logits: Any, labels: Any, *,
                  ctx: Optional[_core.Context] = None) -> Tuple[float, np.ndarray]:
    """Mean softmax cross-entropy of [N, C] logits against N class labels (-1: ignored row).

    Returns (loss, grad) with grad = d(loss)/d(logits), of logits' shape and dtype (float32 or
    float64; other dtypes are converted to float64). Labels outside [0, C) raise IndexError.
    """
    return tuple(_core.cross_entropy(_ctx(ctx), _float_input(logits),
                                     _int_labels(labels, "cross_entropy", "labels")))


def binary_cross_entropy_with_logits(logits: Any, targets: Any, pos_weight: float = 1.0,
                                     weight: Any = None, *,
                                     ctx: Optional[_core.Context] = None
                                     ) -> Tuple[float, np.ndarray]:
    """Mean binary cross-entropy of sigmoid(logits) against targets in [0, 1], with
    PyTorch's ``pos_weight`` (weight of positives, e.g. #neg/#pos) and optional per-sample
    ``weight``; logits are [N] or [N, 1]. Returns (loss, grad)."""
    return tuple(_core.binary_cross_entropy_with_logits(
        _ctx(ctx), _float_input(logits), np.asarray(targets, dtype=np.float32).ravel(),
        float(pos_weight), None if weight is None else np.asarray(weight, np.float32).ravel()))


def sigmoid_focal_loss(logits: Any, targets: Any, gamma: float = 2.0, alpha: float = 0.25,
                       weight: Any = None, *,
                       ctx: Optional[_core.Context] = None) -> Tuple[float, np.ndarray]:
    """Mean sigmoid focal loss (torchvision's ``sigmoid_focal_loss`` with reduction="mean"):
    BCE scaled by (1 - p_t)^gamma and alpha_t (alpha < 0: no alpha weighting).
    Returns (loss, grad)."""
    return tuple(_core.sigmoid_focal_loss(
        _ctx(ctx), _float_input(logits), np.asarray(targets, dtype=np.float32).ravel(),
        float(gamma), float(alpha),
        None if weight is None else np.asarray(weight, np.float32).ravel()))


def bpr_loss(pos_scores: Any, neg_scores: Any, *,
             ctx: Optional[_core.Context] = None) -> Tuple[float, np.ndarray, np.ndarray]:
    """BPR loss, mean of -log sigmoid(pos - neg) over [N] positives and [N] or [N, K]
    negatives (same dtype). Returns (loss, grad_pos, grad_neg)."""
    return tuple(_core.bpr_loss(_ctx(ctx), _float_input(pos_scores), _float_input(neg_scores)))


def top_k(user_emb: Any, item_emb: Any, users: Any, k: int, *, exclude: Optional[Sequence[Any]] = None,
          user_block: int = 512, num_threads: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Exact top-k items by dot product for ``users`` (rows of ``user_emb``), best first, ties
    to the lower item id: ``(items int32 [n, k], scores float32 [n, k])``; rows with fewer
    than k candidates end with item -1 and score -inf.

    ``exclude``: items never to return, either a list of per-user item lists (index = user id)
    or a CSR pair ``(indptr, items)`` with each user's items sorted, told apart by length: a
    CSR ``indptr`` has one entry more than ``user_emb`` has rows. Blocked matrix products
    (oneDNN) and one heap pass per user, in parallel; no [users, items] matrix is built.
    """
    indptr = items = None
    num_users = np.shape(user_emb)[0] if np.ndim(user_emb) else 0
    if exclude is not None:
        if (isinstance(exclude, tuple) and len(exclude) == 2 and np.ndim(exclude[0]) == 1
                and len(exclude[0]) == num_users + 1):
            indptr = _ids(exclude[0], "top_k", "exclude indptr")
            items = _ids(exclude[1], "top_k", "exclude items").astype(np.int32)
        else:
            lists = [np.unique(_ids(x, "top_k", "exclude")) for x in exclude]
            indptr = np.zeros(len(lists) + 1, dtype=np.int64)
            np.cumsum([len(x) for x in lists], out=indptr[1:])
            items = (np.concatenate(lists) if lists else np.zeros(0)).astype(np.int32)
    return _core.top_k(np.asarray(user_emb, np.float32), np.asarray(item_emb, np.float32),
                       _ids(users, "top_k", "users"), int(k), indptr, items, user_block, num_threads)


# --- optimisers and checkpoints ----------------------------------------------------------

def _owner(model: Any) -> Any:
    """The C++ object holding a model's or layer's parameters."""
    for attr in ("_m", "_l"):
        if hasattr(model, attr):
            return getattr(model, attr)
    raise TypeError(f"expected a gnnkit.nn Model, SageConv, GatConv, LightGCN or TwoTower, got {type(model).__name__}")


def SGD(model: Any, lr: float, *, momentum: float = 0.0, dampening: float = 0.0,
        nesterov: bool = False, weight_decay: float = 0.0) -> "_core.Optimizer":
    """Stochastic gradient descent with PyTorch's ``torch.optim.SGD`` rule, over a model's
    parameters (updated in place by ``step()``)."""
    return _core.sgd(_owner(model), lr, momentum, dampening, nesterov, weight_decay)


def Adam(model: Any, lr: float = 1e-3, *, betas: Tuple[float, float] = (0.9, 0.999),
         eps: float = 1e-8, weight_decay: float = 0.0) -> "_core.Optimizer":
    """Adam (``torch.optim.Adam`` rule; weight decay added to the gradient)."""
    return _core.adam(_owner(model), lr, betas[0], betas[1], eps, weight_decay, False)


def AdamW(model: Any, lr: float = 1e-3, *, betas: Tuple[float, float] = (0.9, 0.999),
          eps: float = 1e-8, weight_decay: float = 0.01) -> "_core.Optimizer":
    """AdamW (``torch.optim.AdamW`` rule; decoupled weight decay)."""
    return _core.adam(_owner(model), lr, betas[0], betas[1], eps, weight_decay, True)


def save_checkpoint(path: Any, model: Any, optimizer: Optional["_core.Optimizer"] = None,
                    metadata: Optional[dict] = None) -> None:
    """Writes the model's parameters (and the optimiser's state) atomically: an existing file
    is replaced only by a complete new one. Raises OSError naming the path on failure."""
    import os
    _core.save_checkpoint(os.fspath(path), _owner(model), optimizer,
                          {str(k): str(v) for k, v in (metadata or {}).items()})


def load_checkpoint(path: Any, model: Any, optimizer: Optional["_core.Optimizer"] = None) -> dict:
    """Loads parameters (and optimiser state) saved by save_checkpoint into a model of the same
    shape; returns the metadata. A model of another shape raises ValueError naming the
    parameter and both shapes; a missing or damaged file raises OSError (gnnkit.FormatError
    for damage) naming the file."""
    import os
    return dict(_core.load_checkpoint(os.fspath(path), _owner(model), optimizer))


# --- a full-graph node-classification loop ------------------------------------------------

#: Hyper-parameters that reproduce the published Cora/CiteSeer recipes (Kipf & Welling's
#: GCN setup for GraphSAGE; Velickovic et al.'s GAT setup).
CORA_RECIPES = {
    "sage": dict(conv="sage", hidden=64, dropout=0.5, lr=0.01, weight_decay=5e-4, epochs=200,
                 patience=200),
    "gat": dict(conv="gat", hidden=64, heads=8, out_heads=1, dropout=0.6, input_dropout=0.6,
                attention_dropout=0.6, activation="elu", lr=0.005, weight_decay=5e-4,
                epochs=400, patience=100),
}


def fit_node_classifier(dataset: Any, *, node_type: Optional[str] = None, conv: str = "sage",
                        hidden: int = 64, num_layers: int = 2, heads: int = 1, out_heads: int = 1,
                        dropout: float = 0.5, input_dropout: float = 0.0,
                        attention_dropout: float = 0.0, activation: str = "relu",
                        lr: float = 0.01, weight_decay: float = 5e-4, epochs: int = 200,
                        patience: int = 100, normalize_features: bool = True, seed: int = 0,
                        num_threads: int = 0) -> dict:
    """Trains a GraphSAGE or GAT classifier on the whole graph of a gnnkit.datasets Dataset
    with its train/val/test split: Adam, cross-entropy on the train nodes, the model of the
    best validation accuracy (ties: lower validation loss) kept, early stopping after
    ``patience`` epochs without improvement. Returns accuracies, the best epoch and the
    per-epoch history (train loss, val loss, val accuracy)."""
    from .nn import Model
    graph = dataset.to_graph()
    node_type = node_type or graph.node_types[0]
    x = np.asarray(dataset.features[node_type], dtype=np.float32)
    if normalize_features:  # row-normalised bag-of-words, as in the GCN/GAT papers
        x = x / np.maximum(x.sum(axis=1, keepdims=True), 1e-12)
    x = np.ascontiguousarray(x, dtype=np.float32)
    y = np.asarray(dataset.labels[node_type])
    train, val, test = (np.asarray(dataset.splits[k]) for k in ("train", "val", "test"))
    classes = int(y.max()) + 1
    model = Model(graph, in_features=x.shape[1], out=classes, target=node_type, conv=conv,
                  num_layers=num_layers, hidden=hidden, heads=heads, out_heads=out_heads,
                  dropout=dropout, input_dropout=input_dropout,
                  attention_dropout=attention_dropout, activation=activation, seed=seed,
                  num_threads=num_threads)
    optimizer = Adam(model, lr, weight_decay=weight_decay)
    best = (-1.0, np.inf)
    best_params: dict = {}
    best_epoch, waited = 0, 0
    history = {"train_loss": [], "val_loss": [], "val_accuracy": []}
    grad = np.zeros((x.shape[0], classes), np.float32)
    for epoch in range(epochs):
        model.zero_grad()
        logits = model.forward(graph, {node_type: x}, training=True, step=epoch)
        loss, g = cross_entropy(logits[train], y[train])
        grad[:] = 0
        grad[train] = g
        model.backward(grad)
        optimizer.step()
        out = model.forward(graph, {node_type: x})
        val_loss, _ = cross_entropy(out[val], y[val])
        val_acc = accuracy(y[val], out[val])
        history["train_loss"].append(loss)
        history["val_loss"].append(val_loss)
        history["val_accuracy"].append(val_acc)
        if (val_acc, -val_loss) > (best[0], -best[1]):
            best = (val_acc, val_loss)
            best_params = {k: v.copy() for k, v in model.parameters().items()}
            best_epoch, waited = epoch, 0
        else:
            waited += 1
            if waited >= patience:
                break
    for k, v in model.parameters().items():
        v[:] = best_params[k]
    out = model.forward(graph, {node_type: x})
    return {"model": model, "val_accuracy": best[0], "best_epoch": best_epoch,
            "test_accuracy": accuracy(y[test], out[test]),
            "train_accuracy": accuracy(y[train], out[train]), "history": history}
