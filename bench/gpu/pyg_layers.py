#!/usr/bin/env python3
"""PyG's side of bench_gpu_layers (issue 6): the same 2-layer GraphSAGE (SAGEConv, mean,
root weight, bias; F -> hidden -> classes, ReLU between, no dropout) and 2-layer GAT
(GATConv, 4 heads of hidden/4 concatenated, then one head of `classes`; self loops added,
no attention dropout) forward + backward on the very blocks bench_gpu_layers sampled and
exported, on the same GPU, timed the same way (median of synchronised iterations after 3
warm-ups). Prints one JSON line per model with both libraries' times and the speed ratio.

    python bench/gpu/pyg_layers.py --blocks DIR --gnnkit bench_gpu_layers.json [--device cuda]

Needs torch and torch_geometric (present on the lent GPU machine); --device cpu runs the
same code on the CPU, which is how it is checked on machines without a GPU.
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np


def load_layer(blocks, layer):
    head = np.fromfile(os.path.join(blocks, f"layer{layer}.i64"), dtype=np.int64)
    num_dst, num_src, num_edges = (int(v) for v in head[:3])
    indptr = head[3:3 + num_dst + 1]
    src = np.fromfile(os.path.join(blocks, f"layer{layer}.indices.i32"), dtype=np.int32)
    if len(indptr) != num_dst + 1 or len(src) != num_edges or indptr[-1] != num_edges:
        raise ValueError(f"{blocks}/layer{layer}: sizes do not match its header "
                         f"({num_dst} dst, {num_src} src, {num_edges} edges)")
    dst = np.repeat(np.arange(num_dst, dtype=np.int64), np.diff(indptr))
    return num_dst, num_src, np.stack([src.astype(np.int64), dst])


def median_seconds(fn, iters, sync):
    for _ in range(3):
        fn()
    sync()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--blocks", required=True, help="the --export folder of bench_gpu_layers")
    ap.add_argument("--gnnkit", help="bench_gpu_layers' --out JSON, for the ratio")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--iters", type=int, default=20)
    args = ap.parse_args()

    import torch
    from torch_geometric.nn import GATConv, SAGEConv

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("SKIPPED: torch sees no CUDA device", file=sys.stderr)
        return 77
    with open(os.path.join(args.blocks, "meta.json")) as f:
        meta = json.load(f)
    layers = []
    for layer in range(2):
        num_dst, num_src, edge_index = load_layer(args.blocks, layer)
        layers.append((num_dst, num_src, torch.from_numpy(edge_index).to(device)))
    torch.manual_seed(0)
    x = (torch.rand(meta["nodes"], meta["features"], device=device) * 2 - 1).requires_grad_(False)
    grad = torch.rand(layers[1][0], meta["classes"], device=device) * 1e-3
    ours = None
    if args.gnnkit:
        with open(args.gnnkit) as f:
            ours = json.load(f)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    heads = 4
    models = {
        "sage": (SAGEConv(meta["features"], meta["hidden"], aggr="mean"),
                 SAGEConv(meta["hidden"], meta["classes"], aggr="mean")),
        "gat": (GATConv(meta["features"], meta["hidden"] // heads, heads=heads),
                GATConv(meta["hidden"], meta["classes"], heads=1, concat=False)),
    }
    for name, convs in models.items():
        convs = [c.to(device) for c in convs]

        def forward():
            h = x
            for i, (conv, (num_dst, num_src, edge_index)) in enumerate(zip(convs, layers)):
                h = conv((h[:num_src], h[:num_dst]), edge_index, size=(num_src, num_dst))
                if i == 0:
                    h = torch.relu(h)
            return h

        def step():
            for p in [p for c in convs for p in c.parameters()]:
                p.grad = None
            forward().backward(grad)

        with torch.no_grad():
            fwd = median_seconds(forward, args.iters, sync)
        fwd_bwd = median_seconds(step, args.iters, sync)
        result = {"bench": f"pyg_{name}_layers", "device": str(device), "torch": torch.__version__,
                  "nodes": meta["nodes"], "pyg_forward_ms": fwd * 1e3, "pyg_fwd_bwd_ms": fwd_bwd * 1e3}
        if ours is not None:
            where = "gpu" if device.type == "cuda" else "cpu"
            mine = next(c for c in ours["cases"] if c.get("conv", "sage") == name and c["device"] == where)
            result["gnnkit_forward_ms"] = mine["forward_ms"]
            result["gnnkit_fwd_bwd_ms"] = mine["fwd_bwd_ms"]
            result["speedup_fwd_bwd"] = fwd_bwd * 1e3 / mine["fwd_bwd_ms"]
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
