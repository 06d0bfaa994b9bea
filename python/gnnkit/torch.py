"""PyTorch interop for gnnkit models: run a :class:`gnnkit.nn.Model` inside a torch autograd
graph (torch losses, torch modules before or after it), zero-copy through DLPack.

The model's own parameters stay in gnnkit (update them with a :mod:`gnnkit.train` optimiser);
torch sees the model as a function of its input features, so gradients flow back into torch
tensors that produced them (e.g. a learnable embedding table)::

    import torch, gnnkit, gnnkit.torch
    emb = torch.nn.Embedding(num_nodes, 32)
    model = gnnkit.nn.Model(graph, in_features=32, out=2)
    opt_model, opt_emb = gnnkit.train.Adam(model, 1e-2), torch.optim.Adam(emb.parameters())
    logits = gnnkit.torch.apply(model, graph, {"node": emb.weight}, training=True, step=0)
    loss = torch.nn.functional.cross_entropy(logits[train], y[train])
    model.zero_grad(); opt_emb.zero_grad()
    loss.backward()            # fills model.gradients() and emb.weight.grad
    opt_model.step(); opt_emb.step()

torch is optional: importing this module requires it, the rest of gnnkit does not.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping

import numpy as np
import torch

from .nn import Model

__all__ = ["apply"]


class _ModelFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, model: Model, source: Any, types: tuple, training: bool, step: int,
                *xs: torch.Tensor) -> torch.Tensor:
        ctx.model = model
        ctx.types = types
        inputs = {t: np.ascontiguousarray(x.detach().cpu().numpy()) for t, x in zip(types, xs)}
        out = model.forward(source, inputs, training=training, step=step)
        return torch.from_numpy(np.array(out, copy=True))

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor):
        grads = ctx.model.backward(grad_out.detach().contiguous().cpu().numpy(), input_grads=True)
        xs = [None if grads.get(t) is None else torch.from_numpy(np.array(grads[t], copy=True))
              for t in ctx.types]
        return (None, None, None, None, None, *xs)


def apply(model: Model, source: Any, x: Mapping[str, torch.Tensor] | torch.Tensor, *,
          training: bool = False, step: int = 0) -> torch.Tensor:
    """Runs ``model.forward(source, x)`` as a torch autograd function: the output is a torch
    tensor; its backward accumulates the gnnkit model's parameter gradients and returns the
    gradients of the torch inputs ``x`` (a tensor for a homogeneous model, else
    ``{node_type: tensor}``). float32 CPU tensors."""
    if isinstance(x, torch.Tensor):
        if len(model.node_types) != 1:
            raise ValueError(f"gnnkit.torch.apply: 'x' must map node types {model.node_types} to tensors")
        x = {model.node_types[0]: x}
    types = tuple(x.keys())
    return _ModelFunction.apply(model, source, types, training, step, *[x[t] for t in types])
