#!/usr/bin/env python3
"""Training step and single-seed inference (issue 5's stack-level targets) side by side.

    ninja -C build-bench -j2 bench_train                     # gnnkit's side (bench/cpp/bench_train.cpp)
    .venv/bin/python bench/compare/run_train_step.py         # step (2 threads) + latency (1 thread)
    .venv/bin/python bench/compare/run_train_step.py --parts step --libs gnnkit,dgl --rounds 1   # quick

Step (2 threads, pinned to cores 0-1): one training step of a 3-layer GraphSAGE-mean
100 -> 256 -> 256 -> 47 (ReLU + dropout 0.5 between layers), cross-entropy, Adam lr 1e-3, on
G2 with batch 1024 (batch s uses seeds.i64[(s % 100) * 1024 : +1024]) and fan-outs [15, 10, 5]
(hop 1 = 15 for the seeds), split per phase: sample, gather (x[input nodes]), forward (+ loss),
backward (zero_grad + backward), update (optimizer step). 3 warm-up + --steps timed steps per
process; median and p10/p90 per phase.
- gnnkit: ``bench_train --only step --threads 2 --steps N`` (JSON lines on stdout).
- dgl:    dgl.graph from the same COO, dgl.dataloading.NeighborSampler([5, 10, 15]) (DGL lists
          the input layer first) called as ``sampler.sample(g, seeds)`` (its fused CSC sampler
          with 2 threads), dgl.nn.SAGEConv('mean'), blocks from the sampler.
- pyg:    torch_geometric.loader.NeighborLoader(Data(edge_index, x, y), [15, 10, 5]) (torch-sparse
          sampler: pyg-lib is not on PyPI), ``collate_fn(seeds)`` = sample,
          ``filter_fn(out)`` = gather; torch_geometric.nn.models.GraphSAGE over the whole sampled
          subgraph, logits[:batch_size] (PyG's standard CPU recipe).
- pyg-trim: the same with ``num_sampled_nodes_per_hop`` / ``num_sampled_edges_per_hop`` passed
          to GraphSAGE (PyG's trim_to_layer: layer l only computes the rows it needs).

Semantics of the sample: gnnkit and PyG expand every node once (hop h samples the nodes first
reached at hop h-1); DGL's blocks re-sample every destination of the previous block (seeds are
sampled again at hops 2 and 3), so DGL draws more edges for the same fan-outs. Hop 1 is the
same for all: without replacement it is exactly sum over seeds of min(in-degree, 15), which the
driver computes from the COO and asserts for every batch and library before timing is reported
(with the fan-out list reversed it would be min(in-degree, 5)). gnnkit's per-hop counts come
from the same sampler through its Python binding (same graph file, seed 7, batch index s).

Latency (1 thread, core 0): single-seed inference of a 2-layer SAGE-mean 100 -> 256 -> 47,
fan-outs [15, 10], eval mode; seeds.i64[i] for call i, 100 warm-up + --latency-seeds timed
calls; p50 / p90 / p99 of the whole call (sample + gather + forward).
- gnnkit: ``bench_train --only latency --threads 1``.
- pyg-raw: torch.ops.torch_sparse.neighbor_sample on PyG's CSC (to_csc) + x.index_select +
          torch_geometric.nn.SAGEConv x2 under torch.inference_mode() (the least Python).
- pyg:    NeighborLoader.collate_fn + filter_fn per seed + the same model (the user's path).

Features are a pure function: feature_value(v, c) = float((mix64(v * 100 + c) >> 11) * 2^-53 * 2
- 1), labels mix64(v ^ 0xabcdef) % 47 (splitmix64's finaliser; bench_train.cpp), rebuilt with
NumPy uint64 arithmetic in each anchor worker.

Rules (../../shared/docs/BENCHMARKING.md): B0 calibration in the run, inputs hash-verified, every
worker a fresh pinned process with its own peak RSS (VmHWM), rounds interleaved, torch anchors
with jemalloc (LD_PRELOAD) when Debian's libjemalloc2 is installed. Before every worker the
driver waits (polling every 30 s, up to --max-wait s) for the 1-minute load average to fall
below --load-threshold, and records the load it started at. Results: bench/results/
train-step-<date>.json.
"""
from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

RESULTS_DIR = common.ROOT / "bench" / "results"
BENCH_TRAIN = Path(os.environ.get("GNNKIT_BENCH_TRAIN",
                                  common.ROOT / "build-bench" / "bench" / "bench_train"))
F, HIDDEN, CLASSES, BATCH, FANOUTS = 100, 256, 47, 1024, [15, 10, 5]
LAT_FANOUTS = [15, 10]
PHASES = ["sample", "gather", "forward", "backward", "update"]
STEP_LIBS = ["gnnkit", "dgl", "pyg"]
LAT_LIBS = ["gnnkit", "pyg-raw", "pyg"]
M1, M2, GOLDEN = 0xbf58476d1ce4e5b9, 0x94d049bb133111eb, 0x9e3779b97f4a7c15


# ---- the inputs every worker rebuilds --------------------------------------------------------

def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on uint64 (wrapping arithmetic), as gnnkit::mix64."""
    x = x + np.uint64(GOLDEN)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(M1)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(M2)
    return x ^ (x >> np.uint64(31))


def feature_rows(first: int, last: int, width: int = F) -> np.ndarray:
    """Rows [first, last) of the feature matrix, float32."""
    idx = (np.arange(first, last, dtype=np.uint64)[:, None] * np.uint64(width)
           + np.arange(width, dtype=np.uint64)[None, :])
    u = (mix64(idx) >> np.uint64(11)).astype(np.float64)
    return (u * (2.0 ** -53) * 2 - 1).astype(np.float32)


def features(n: int, width: int = F) -> np.ndarray:
    out = np.empty((n, width), dtype=np.float32)
    step = 1 << 16
    for a in range(0, n, step):
        out[a:a + step] = feature_rows(a, min(n, a + step), width)
    return out


def labels(n: int, classes: int = CLASSES) -> np.ndarray:
    v = mix64(np.arange(n, dtype=np.uint64) ^ np.uint64(0xabcdef))
    return (v % np.uint64(classes)).astype(np.int64)


def pct(values: List[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q * 100))


def phase_summary(rows: List[Dict[str, float]]) -> Dict[str, Any]:
    out = {}
    for k in PHASES + ["total"]:
        v = [r[k] for r in rows]
        out[f"{k}_ms"] = float(np.median(v))
        out[f"{k}_p10_ms"], out[f"{k}_p90_ms"] = pct(v, 0.1), pct(v, 0.9)
    return out


# ---- anchor workers ---------------------------------------------------------------------------

def load_coo(directory: Path):
    meta = json.loads((directory / "meta.json").read_text())
    rel = meta["relations"][0]
    src = np.fromfile(directory / rel["src"], dtype="<i8")
    dst = np.fromfile(directory / rel["dst"], dtype="<i8")
    seeds = np.fromfile(directory / meta["seeds"]["file"], dtype="<i8")
    return src, dst, int(meta["num_nodes_total"]), seeds


def torch_setup(threads: int):
    import torch
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    return torch


def step_worker(args) -> None:
    lib, threads = args.worker, int(os.environ.get("GNNKIT_BENCH_THREADS", "2"))
    torch = torch_setup(threads)
    import torch.nn.functional as Fn
    versions = {"torch": torch.__version__}
    t0 = time.perf_counter()
    src, dst, n, seeds_all = load_coo(Path(args.dir))
    x_np = features(n)
    y_np = labels(n)
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    t_inputs = time.perf_counter() - t0
    torch.manual_seed(0)
    hops_per_step, edges_per_step, nodes_per_step, rows = [], [], [], []

    if lib == "dgl":
        import dgl
        import dgl.nn as dglnn
        versions["dgl"] = dgl.__version__
        dgl.utils.set_num_threads(threads)
        g = dgl.graph((torch.from_numpy(src), torch.from_numpy(dst)), num_nodes=n)
        del src, dst
        g.create_formats_()
        sampler = dgl.dataloading.NeighborSampler(list(reversed(FANOUTS)))  # [5, 10, 15]

        class Sage(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = torch.nn.ModuleList([
                    dglnn.SAGEConv(F, HIDDEN, "mean"), dglnn.SAGEConv(HIDDEN, HIDDEN, "mean"),
                    dglnn.SAGEConv(HIDDEN, CLASSES, "mean")])
                self.dropout = torch.nn.Dropout(0.5)

            def forward(self, blocks, h):
                for i, (layer, block) in enumerate(zip(self.layers, blocks)):
                    h = layer(block, h)
                    if i != len(self.layers) - 1:
                        h = self.dropout(torch.relu(h))
                return h

        model = Sage()

        def sample(seeds):
            input_nodes, output_nodes, blocks = sampler.sample(g, seeds)
            return input_nodes, output_nodes, blocks

        def gather(s):
            return x[s[0]]

        def forward(s, xb):
            logits = model(s[2], xb)
            return Fn.cross_entropy(logits, y[s[1]])

        def hops(s):  # hop 1 first
            return [int(b.num_edges()) for b in reversed(s[2])]

        def num_nodes(s):
            return int(s[0].numel())
    elif lib in ("pyg", "pyg-trim"):
        import torch_geometric
        import torch_sparse
        from torch_geometric.data import Data
        from torch_geometric.loader import NeighborLoader
        from torch_geometric.nn.models import GraphSAGE
        versions.update(torch_geometric=torch_geometric.__version__,
                        torch_sparse=torch_sparse.__version__)
        data = Data(edge_index=torch.from_numpy(np.stack([src, dst])), x=x, y=y, num_nodes=n)
        del src, dst
        loader = NeighborLoader(data, num_neighbors=FANOUTS, batch_size=BATCH, shuffle=False,
                                filter_per_worker=False)  # sample and gather apart
        versions["pyg_sampler"] = ("pyg-lib" if torch_geometric.typing.WITH_PYG_LIB
                                   else "torch-sparse neighbor_sample")
        model = GraphSAGE(F, HIDDEN, num_layers=3, out_channels=CLASSES, dropout=0.5)
        trim = lib == "pyg-trim"

        def sample(seeds):
            return loader.collate_fn(seeds)

        def gather(out):
            return loader.filter_fn(out)

        def forward(out, batch):
            if trim:
                logits = model(batch.x, batch.edge_index,
                               num_sampled_nodes_per_hop=batch.num_sampled_nodes,
                               num_sampled_edges_per_hop=batch.num_sampled_edges)
            else:
                logits = model(batch.x, batch.edge_index)
            return Fn.cross_entropy(logits[:batch.batch_size], batch.y[:batch.batch_size])

        def hops(out):
            if out.num_sampled_edges is not None:  # pyg-lib
                return [int(e) for e in out.num_sampled_edges]
            # torch-sparse returns no per-hop counts: hop 1 = edges into the seeds (col is the
            # destination, local ids 0..batch-1), then the rest of the edges.
            h1 = int((out.col < BATCH).sum())
            return [h1, int(out.col.numel()) - h1]

        def num_nodes(out):
            return int(out.node.numel())
    else:
        raise SystemExit(f"unknown step library {lib}")

    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    rss_ready = common.rss_bytes()
    for s in range(args.warmup + args.steps):
        seeds = torch.from_numpy(seeds_all[(s % 100) * BATCH:(s % 100 + 1) * BATCH])
        t0 = time.perf_counter()
        smp = sample(seeds)
        t1 = time.perf_counter()
        xb = gather(smp)
        t2 = time.perf_counter()
        loss = forward(smp, xb)
        t3 = time.perf_counter()
        opt.zero_grad()
        loss.backward()
        t4 = time.perf_counter()
        opt.step()
        t5 = time.perf_counter()
        h = hops(smp)
        hops_per_step.append(h)
        if s < args.warmup:
            continue
        edges_per_step.append(sum(h))
        nodes_per_step.append(num_nodes(smp))
        rows.append({"sample": (t1 - t0) * 1e3, "gather": (t2 - t1) * 1e3,
                     "forward": (t3 - t2) * 1e3, "backward": (t4 - t3) * 1e3,
                     "update": (t5 - t4) * 1e3, "total": (t5 - t0) * 1e3})
    result = {"lib": lib, "threads": threads, "versions": versions, "inputs_s": t_inputs,
              "rss_ready": rss_ready, "hops_per_step": hops_per_step,
              "sampled_edges": float(np.mean(edges_per_step)),
              "unique_nodes": float(np.mean(nodes_per_step)), "loss_last": float(loss),
              "steps": rows, **phase_summary(rows)}
    common.emit(result)


def latency_worker(args) -> None:
    lib = args.worker
    torch = torch_setup(1)
    import torch_geometric
    import torch_sparse
    from torch_geometric.data import Data
    from torch_geometric.loader import NeighborLoader
    from torch_geometric.nn import SAGEConv
    from torch_geometric.sampler.utils import to_csc
    versions = {"torch": torch.__version__, "torch_geometric": torch_geometric.__version__,
                "torch_sparse": torch_sparse.__version__,
                "pyg_sampler": ("pyg-lib" if torch_geometric.typing.WITH_PYG_LIB
                                else "torch-sparse neighbor_sample")}
    src, dst, n, seeds_all = load_coo(Path(args.dir))
    x = torch.from_numpy(features(n))
    data = Data(edge_index=torch.from_numpy(np.stack([src, dst])), x=x, num_nodes=n)
    del src, dst

    class Sage2(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.c2 = SAGEConv(F, HIDDEN), SAGEConv(HIDDEN, CLASSES)

        def forward(self, h, edge_index):
            return self.c2(torch.relu(self.c1(h, edge_index)), edge_index)

    torch.manual_seed(0)
    model = Sage2().eval()
    if lib == "pyg-raw":
        colptr, row, _perm = to_csc(data, device="cpu")
        del data.edge_index
        gc.collect()
        sample_op = torch.ops.torch_sparse.neighbor_sample
        fanouts = list(LAT_FANOUTS)

        def call(seed: torch.Tensor):
            node, r, c, _e = sample_op(colptr, row, seed, fanouts, False, True)
            xb = x.index_select(0, node)
            return model(xb, torch.stack([r, c]))[:1]
    elif lib == "pyg":
        loader = NeighborLoader(data, num_neighbors=LAT_FANOUTS, batch_size=1, shuffle=False,
                                filter_per_worker=False)

        def call(seed: torch.Tensor):
            batch = loader.filter_fn(loader.collate_fn(seed))
            return model(batch.x, batch.edge_index)[:1]
    else:
        raise SystemExit(f"unknown latency library {lib}")

    lat = []
    edges = []
    with torch.inference_mode():
        for i in range(100 + args.latency_seeds):
            seed = torch.from_numpy(seeds_all[i % len(seeds_all):i % len(seeds_all) + 1].copy())
            t0 = time.perf_counter_ns()
            out = call(seed)
            t1 = time.perf_counter_ns()
            assert out.shape == (1, CLASSES)
            if i >= 100:
                lat.append((t1 - t0) / 1e3)
    result = {"lib": lib, "threads": 1, "versions": versions, "calls": len(lat),
              "p50_us": pct(lat, 0.5), "p90_us": pct(lat, 0.9), "p99_us": pct(lat, 0.99),
              "mean_us": float(np.mean(lat))}
    common.emit(result)


# ---- gnnkit ---------------------------------------------------------------------------------------

def gnnkit_hops_worker(args) -> None:
    """gnnkit's per-hop sampled edges for the step's batches (same sampler as bench_train)."""
    import gnnkit
    g = gnnkit.HeteroGraph.load(args.gnnkit_graph)
    sampler = gnnkit.sampling.NeighborSampler(g, FANOUTS)
    seeds_all = np.fromfile(Path(args.dir) / "seeds.i64", dtype="<i8")
    hops = []
    for s in range(args.warmup + args.steps):
        mb = sampler.sample(seeds_all[(s % 100) * BATCH:(s % 100 + 1) * BATCH], batch=s, seed=7,
                            num_threads=2)
        hops.append([b.num_edges for b in mb.blocks])
    common.emit({"lib": "gnnkit-hops", "hops_per_step": hops,
                 "versions": {"gnnkit": getattr(gnnkit, "__version__", "?")}})


def run_bench_train_rss(cmd: List[str], threads: int) -> Dict[str, Any]:
    """bench_train in a pinned subprocess; peak RSS from wait4's ru_maxrss."""
    env = common.thread_env(threads)
    full = [*common.taskset_prefix(threads), str(BENCH_TRAIN), *cmd]
    common.log("  $", " ".join(full))
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(full, stdout=out, stderr=err, text=True, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        rc = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
    if rc != 0:
        raise RuntimeError(f"bench_train failed ({rc}): {stderr[-2000:]}")
    lines = {}
    for line in stdout.splitlines():
        if line.strip().startswith("{"):
            j = json.loads(line)
            lines[j["bench"]] = j
    return {"lines": lines, "build_info": (stderr.strip().splitlines() or [""])[0],
            "peak_rss": usage.ru_maxrss * 1024, "wall_s": time.perf_counter() - t0}


# ---- driver -------------------------------------------------------------------------------------

_WAITED = [0.0]  # seconds waited so far in this run: --max-wait is a budget for the whole run


def wait_load(threshold: float, max_wait: float, poll: float = 30.0) -> Dict[str, float]:
    t0 = time.time()
    load = os.getloadavg()[0]
    while load >= threshold and _WAITED[0] + time.time() - t0 < max_wait:
        common.log(f"  load average {load:.2f} >= {threshold}: waiting ({time.time() - t0:.0f} s)")
        time.sleep(poll)
        load = os.getloadavg()[0]
    waited = time.time() - t0
    _WAITED[0] += waited
    if load >= threshold:
        common.log(f"  load average still {load:.2f} after {waited:.0f} s: running anyway")
    return {"load_start": load, "waited_s": waited}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dir", default=str(common.DATA_DIR / "G2"),
                   help="generated G2 directory (meta.json, COO, seeds.i64)")
    p.add_argument("--gnnkit-graph", default=None,
                   help="gnnkit graph file for bench_train (default <dir>/graph-weighted.gnnkit)")
    p.add_argument("--parts", default="step,latency")
    p.add_argument("--libs", default=",".join(STEP_LIBS))
    p.add_argument("--lat-libs", default=",".join(LAT_LIBS))
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--latency-seeds", type=int, default=2000)
    p.add_argument("--load-threshold", type=float, default=1.5)
    p.add_argument("--max-wait", type=float, default=1200,
                   help="seconds in all (the whole run) to wait for a quiet machine; each worker "
                   "waits while the budget lasts, then runs anyway (its start load recorded)")
    p.add_argument("--no-calibrate", action="store_true")
    p.add_argument("--out", help="results JSON (default bench/results/train-step-<date>.json)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--kind", help=argparse.SUPPRESS)
    args = p.parse_args()
    args.gnnkit_graph = args.gnnkit_graph or str(Path(args.dir) / "graph-weighted.gnnkit")
    if args.worker:
        if args.kind == "step":
            step_worker(args)
        elif args.kind == "latency":
            latency_worker(args)
        else:
            gnnkit_hops_worker(args)
        return

    started = datetime.datetime.now()
    parts = [x for x in args.parts.split(",") if x]
    libs = [x for x in args.libs.split(",") if x]
    lat_libs = [x for x in args.lat_libs.split(",") if x]
    if not BENCH_TRAIN.exists():
        raise SystemExit(f"{BENCH_TRAIN} missing: ninja -C build-bench bench_train")
    report: Dict[str, Any] = {"started": started.isoformat(timespec="seconds"),
                              "machine": common.machine_line(), "args": vars(args)}
    common.log(report["machine"])
    anchor_env = common.jemalloc_env(dict(os.environ))
    report["anchor_allocator"] = common.allocator_name(anchor_env)
    gnnkit_env = common.gnnkit_env(dict(os.environ))

    # Inputs (rule 2): hashes, and the exact hop-1 count of every batch.
    g = common.load_graph(directory=Path(args.dir), verify=True)
    src, dst, _ = g.relation()
    n = int(g.meta["num_nodes_total"])
    deg = np.bincount(dst, minlength=n)
    seeds_all = g.seeds
    report["input"] = {"graph": g.meta["graph"], "dir": str(g.directory), "nodes": n,
                       "edges": g.num_edges, "input_hash": g.input_hash,
                       "gnnkit_graph": args.gnnkit_graph}
    del g, src, dst
    gc.collect()
    nb = args.warmup + args.steps
    expect_hop1 = [int(np.minimum(deg[seeds_all[(s % 100) * BATCH:(s % 100 + 1) * BATCH]],
                                  FANOUTS[0]).sum()) for s in range(nb)]
    wrong_order_hop1 = [int(np.minimum(deg[seeds_all[(s % 100) * BATCH:(s % 100 + 1) * BATCH]],
                                       FANOUTS[-1]).sum()) for s in range(nb)]
    report["expected_hop1_edges"] = expect_hop1
    del deg

    if not args.no_calibrate:
        wait_load(args.load_threshold, args.max_wait)
        cal = common.calibrate(sorted({1, args.threads}))
        report["calibration"] = cal
        common.log(common.format_calibration(cal))

    def check_hops(lib: str, hops: List[List[int]]) -> None:
        got = [h[0] for h in hops]
        if got != expect_hop1[:len(got)]:
            bad = next(i for i, (a, b) in enumerate(zip(got, expect_hop1)) if a != b)
            raise SystemExit(f"{lib}: hop-1 edges of batch {bad} = {got[bad]}, expected "
                             f"{expect_hop1[bad]} (sum of min(deg, 15)); with the fan-outs "
                             f"reversed it would be {wrong_order_hop1[bad]}")
        common.log(f"  {lib}: hop-1 edges match sum(min(in-degree, 15)) for all {len(got)} "
                   f"batches (e.g. {got[0]:,}; reversed order would give {wrong_order_hop1[0]:,})")

    out = Path(args.out) if args.out else RESULTS_DIR / f"train-step-{started:%Y%m%d-%H%M}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    partial: Dict[str, Dict[str, List[Dict[str, Any]]]] = {"step": {}, "latency": {}}

    def save_partial(part: str, lib: str, res: Dict[str, Any]) -> None:
        """Every worker's result is written as soon as it exists (a run cut short keeps them)."""
        partial[part].setdefault(lib, []).append(res)
        tmp = out.with_suffix(".partial.tmp")
        tmp.write_text(json.dumps({**report, "partial": partial}, indent=1))
        os.replace(tmp, out.with_suffix(".partial.json"))

    me = str(Path(__file__).resolve())
    common_args = ["--dir", args.dir, "--gnnkit-graph", args.gnnkit_graph,
                   "--warmup", str(args.warmup), "--steps", str(args.steps),
                   "--latency-seeds", str(args.latency_seeds)]

    if "step" in parts:
        if "gnnkit" in libs:
            w = common.run_worker(common.GNNKIT_PYTHON, [me, "--worker", "gnnkit", "--kind", "hops",
                                                         *common_args], args.threads, gnnkit_env)
            report["gnnkit_hops_per_step"] = w.result["hops_per_step"]
            check_hops("gnnkit (python binding)", w.result["hops_per_step"])

        def run_step(lib: str, rnd: int) -> Dict[str, Any]:
            common.log(f"step round {rnd + 1}/{args.rounds}: {lib}")
            ld = wait_load(args.load_threshold, args.max_wait)
            if lib == "gnnkit":
                r = run_bench_train_rss(["--graph", args.gnnkit_graph, "--only", "step",
                                         "--threads", str(args.threads),
                                         "--steps", str(args.steps)], args.threads)
                j = r["lines"]["train_step_sage3x256"]
                res = {"lib": lib, "peak_rss": r["peak_rss"], "build_info": r["build_info"],
                       "wall_s": r["wall_s"], "sampled_edges": j["sampled_edges"],
                       "total_ms": j["total_ms"], "total_p10_ms": j["p10_ms"],
                       "total_p90_ms": j["p90_ms"], "raw": r["lines"]}
                for ph in PHASES:
                    res[f"{ph}_ms"] = j[f"{ph}_ms"]
            else:
                w = common.run_worker(common.ANCHOR_PYTHON, [me, "--worker", lib, "--kind", "step",
                                                             *common_args], args.threads,
                                      anchor_env)
                res = {**w.result, "wall_s": w.wall_s, "maxrss_wait": w.maxrss_wait}
                check_hops(lib, res["hops_per_step"])
            res.update(ld, load_end=os.getloadavg()[0])
            common.log(f"  {lib}: step median {res['total_ms']:.1f} ms, "
                       f"{res['sampled_edges']:,.0f} sampled edges, peak RSS "
                       f"{common.gib(res['peak_rss'])}, load {ld['load_start']:.2f} -> "
                       f"{res['load_end']:.2f}")
            save_partial("step", lib, res)
            return res

        report["step"] = common.interleave(libs, args.rounds, run_step)

    if "latency" in parts:
        def run_lat(lib: str, rnd: int) -> Dict[str, Any]:
            common.log(f"latency round {rnd + 1}/{args.rounds}: {lib}")
            ld = wait_load(args.load_threshold, args.max_wait)
            if lib == "gnnkit":
                r = run_bench_train_rss(["--graph", args.gnnkit_graph, "--only", "latency",
                                         "--threads", "1",
                                         "--latency-seeds", str(args.latency_seeds)], 1)
                j = r["lines"]["single_seed_inference_sage2x256"]
                res = {"lib": lib, "peak_rss": r["peak_rss"], "build_info": r["build_info"],
                       **{k: j[k] for k in j if k.endswith("_us")}}
            else:
                w = common.run_worker(common.ANCHOR_PYTHON, [me, "--worker", lib, "--kind",
                                                             "latency", *common_args], 1,
                                      anchor_env)
                res = dict(w.result)
            res.update(ld, load_end=os.getloadavg()[0])
            common.log(f"  {lib}: p50 {res['p50_us']:.0f} us, p99 {res['p99_us']:.0f} us")
            save_partial("latency", lib, res)
            return res

        report["latency"] = common.interleave(lat_libs, args.rounds, run_lat)

    # ---- report -------------------------------------------------------------------------------
    versions = {}
    for part in ("step", "latency"):
        for rs in report.get(part, {}).values():
            versions.update(rs[0].get("versions", {}))
    gk = report.get("step", {}).get("gnnkit") or report.get("latency", {}).get("gnnkit")
    if gk and gk[0].get("build_info"):
        versions["gnnkit"] = gk[0]["build_info"]
    report["versions"] = versions
    print()
    print(f"Machine: {report['machine']}")
    if "calibration" in report:
        print(common.format_calibration(report["calibration"]))
    print(f"Input: {report['input']['graph']} {report['input']['nodes']:,} nodes, "
          f"{report['input']['edges']:,} edges, input_hash {report['input']['input_hash'][:16]}")
    print(f"Versions: {', '.join(f'{k} {v}' for k, v in sorted(versions.items()))}; anchors' "
          f"allocator {report['anchor_allocator']}")
    if "step" in report:
        st = report["step"]
        print(f"\nTraining step, {args.threads} threads, {args.rounds} rounds x "
              f"({args.warmup} warm-up + {args.steps} steps); per-phase medians pooled over rounds")

        def pooled(lib, key):
            return float(np.median([r[key] for r in st[lib]]))
        headers = ["phase"] + [f"{lib} ms" for lib in libs]
        anchors = [l for l in libs if l != "gnnkit"]
        if "gnnkit" in libs:
            headers += [f"{a} / gnnkit" for a in anchors]
        rows = []
        for ph in PHASES + ["total"]:
            row = [ph] + [f"{pooled(lib, ph + '_ms'):.1f}" for lib in libs]
            if "gnnkit" in libs:
                gk = pooled("gnnkit", ph + "_ms")
                row += [f"{pooled(a, ph + '_ms') / gk:.2f}x" if gk > 0 else "-" for a in anchors]
            rows.append(row)
        rows.append(["total p10-p90"] + [
            f"{min(r['total_p10_ms'] for r in st[lib]):.0f}-"
            f"{max(r['total_p90_ms'] for r in st[lib]):.0f}" for lib in libs]
            + ([""] * len(anchors) if "gnnkit" in libs else []))
        rows.append(["sampled edges / step"] + [f"{pooled(lib, 'sampled_edges'):,.0f}"
                                                 for lib in libs]
                    + ([""] * len(anchors) if "gnnkit" in libs else []))
        rows.append(["peak RSS"] + [common.gib(max(r["peak_rss"] for r in st[lib]))
                                    for lib in libs]
                    + ([""] * len(anchors) if "gnnkit" in libs else []))
        common.print_table(headers, rows)
        if "gnnkit" in libs:
            print("\nStep ratio (anchor / gnnkit) per round: " + "; ".join(
                f"{a} " + ", ".join(f"{ra['total_ms'] / rg['total_ms']:.2f}"
                                    for ra, rg in zip(st[a], st["gnnkit"])) for a in anchors))
        print("Per-round step medians (ms): " + "; ".join(
            f"{lib} " + ", ".join(f"{r['total_ms']:.0f}" for r in st[lib]) for lib in libs))
        print("Load average at worker start: " + "; ".join(
            f"{lib} " + ", ".join(f"{r['load_start']:.2f}" for r in st[lib]) for lib in libs))
    if "latency" in report:
        lt = report["latency"]
        print(f"\nSingle-seed inference, 1 thread, {args.latency_seeds} seeds after 100 warm-up, "
              f"{args.rounds} rounds")
        headers = ["library", "p50 us", "p90 us", "p99 us", "p50 per round", "peak RSS"]
        rows = []
        for lib in lat_libs:
            rs = lt[lib]
            rows.append([lib] + [f"{float(np.median([r[k] for r in rs])):.0f}"
                                 for k in ("p50_us", "p90_us", "p99_us")]
                        + [", ".join(f"{r['p50_us']:.0f}" for r in rs),
                           common.gib(max(r["peak_rss"] for r in rs))])
        common.print_table(headers, rows)
    report["load_end"] = os.getloadavg()[0]
    out.write_text(json.dumps(report, indent=1))
    out.with_suffix(".partial.json").unlink(missing_ok=True)
    print(f"\nresults: {out}")


if __name__ == "__main__":
    main()
