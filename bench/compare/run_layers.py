#!/usr/bin/env python3
"""Layer benchmarks (issue 5) side by side: gnnkit vs DGL vs PyG on the same bytes.

    cmake --build build --target bench_layers          # gnnkit's worker (bench/cpp/bench_layers.cpp)
    .venv/bin/python bench/compare/run_layers.py       # 3 rounds, 2 threads, every workload
    .venv/bin/python bench/compare/run_layers.py --workloads spmm --rounds 1   # quick

Workloads (forward+backward unless named "fwd"):
- spmm:  SpMM copy-source sum / mean on G1 (262 K nodes, 7.6 M edges) at F = 64 and 128.
         gnnkit: nn::aggregate_forward / aggregate_backward over an Adjacency built once.
         dgl:    dgl.ops.copy_u_sum / copy_u_mean (gspmm) on dgl.graph(src, dst).
         pyg:    torch_sparse.matmul(adj_t, x, reduce) on SparseTensor(row=dst, col=src)
                 (PyG's fused SpMM path), CSR/CSC caches filled before timing.
- gat:   one GAT layer 64 -> 4 heads x 16 on G1 with self loops (removed, then one per node,
         added once outside timing), input gradient included. gnnkit GatConv over
         adj.with_self_loops(); dgl.nn.GATConv; torch_geometric.nn.GATConv(add_self_loops=False)
         on the same edge list. Peak RSS (VmHWM) of each process.
- sage:  a 2-layer GraphSAGE-mean 128 -> 256 -> 256 (ReLU between) over 10 sampled G2 blocks
         (batch 1024, fan-outs [15, 10]; sampled once by gnnkit's NeighborSampler, so every
         library gets the same blocks); one timed call = all 10 batches. gnnkit SageConv;
         dgl.nn.SAGEConv on dgl.create_block; torch_geometric.nn.SAGEConv on (x_src, x_dst) with
         edge_index ("pyg") and with a SparseTensor adj_t ("pyg-sparse").
- dense: gnnkit::matmul on every GEMM shape of the layers above vs dnnl_sgemm on the same
         operands and the machine's SGEMM (gnnkit's process only).

Inputs (rule 2): bench_layers --prepare writes features, weights and blocks under
~/.cache/gnnkit-bench/layers (see bench_layers.cpp); every worker reads those bytes. Weights
are gnnkit's (fixed seeds) copied into the anchors' layers.

Correctness first (rule 7): gnnkit's SpMM output and input gradient on G1 F=64 vs DGL and
torch_sparse, the GAT layer (output, lin weight gradient) vs PyG and DGL, the first SAGE
layer (output, weight and bias gradients) on block 0 vs PyG and DGL, with copied weights.

Timing (rule 5): every library runs each workload in its own fresh process pinned to the same
cores, rounds interleaved gnnkit / dgl / pyg; ratios (anchor time / gnnkit time) are taken
within each round, then the median over rounds. The machine is shared: before every worker
the driver waits (up to --quiet-wait s) until the other tenants use < 0.3 cores, and records
the CPU the rest of the machine used during the worker ("background cores").
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

LAYERS_DIR = common.DATA_DIR / "layers"
RESULTS_DIR = common.ROOT / "bench" / "results"
WORKLOAD_LIBS = {
    "spmm": ["gnnkit", "dgl", "pyg"],
    "gat": ["gnnkit", "dgl", "pyg"],
    "sage": ["gnnkit", "dgl", "pyg", "pyg-sparse"],
    "dense": ["gnnkit"],
}
# (warm-up, timed iterations) per process and round; iterations x rounds >= 20 except GAT,
# whose anchors take seconds per call (see --gat-iters).
DEFAULT_ITERS = {"spmm": (3, 10), "gat": (1, 3), "sage": (3, 10), "dense": (3, 20)}
TICKS = os.sysconf("SC_CLK_TCK")


# ---- helpers ---------------------------------------------------------------------------------

def bench_binary() -> Path:
    env = os.environ.get("GNNKIT_BENCH_LAYERS")
    if env:
        return Path(env)
    found = [p for p in common.ROOT.glob("build*/bench/bench_layers") if p.is_file()]
    if not found:
        raise SystemExit("bench_layers not built: cmake --build build --target bench_layers "
                         "(or set GNNKIT_BENCH_LAYERS)")
    return max(found, key=lambda p: p.stat().st_mtime)


def g1_dir() -> Path:
    return common.graph_dir("G1")


def g2_dir() -> Path:
    return common.graph_dir("G2")


def busy_ticks() -> int:
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v) - v[3] - v[4]  # all but idle and iowait


def background_cores(seconds: float = 1.0) -> float:
    b0, t0 = busy_ticks(), time.perf_counter()
    time.sleep(seconds)
    return (busy_ticks() - b0) / TICKS / (time.perf_counter() - t0)


def wait_quiet(max_wait: float, threshold: float = 0.3) -> float:
    """Waits until the rest of the machine uses < threshold cores (or max_wait passes)."""
    t0 = time.perf_counter()
    while True:
        bg = background_cores(1.0)
        if bg < threshold or time.perf_counter() - t0 > max_wait:
            if bg >= threshold:
                common.log(f"  machine still busy ({bg:.2f} cores in use by others); going on")
            return bg
        common.log(f"  waiting: {bg:.2f} cores in use by other processes")
        time.sleep(4)


def run_process(cmd: List[str], threads: int, env: Dict[str, str]) -> Dict[str, Any]:
    """Runs a worker pinned, returns its result line plus background CPU during the run."""
    env = common.thread_env(threads, env)
    full = [*common.taskset_prefix(threads), *cmd]
    b0, t0 = busy_ticks(), time.perf_counter()
    proc = subprocess.Popen(full, stdout=subprocess.PIPE, stderr=None, text=True, env=env,
                            cwd=tempfile.gettempdir())
    result_lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(common.RESULT_PREFIX):
            result_lines.append(line[len(common.RESULT_PREFIX):])
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    busy = (busy_ticks() - b0) / TICKS
    if os.waitstatus_to_exitcode(status) != 0 or not result_lines:
        raise RuntimeError(f"worker failed (status {status}): {' '.join(full)}")
    r = json.loads(result_lines[-1])
    own = usage.ru_utime + usage.ru_stime
    r["wall_s"] = wall
    r["background_cores"] = max(0.0, (busy - own) / wall)
    r["maxrss_wait"] = usage.ru_maxrss * 1024
    return r


def gnnkit_cmd(workload: str, warmup: int, iters: int, extra: List[str] = ()) -> List[str]:
    return [str(bench_binary()), "--workload", workload, "--threads", "{threads}",
            "--warmup", str(warmup), "--iters", str(iters), "--g1", str(g1_dir()),
            "--g2", str(g2_dir()), "--data", str(LAYERS_DIR), *extra]


def anchor_cmd(lib: str, workload: str, warmup: int, iters: int, extra: List[str] = ()
               ) -> List[str]:
    return [str(common.ANCHOR_PYTHON), str(Path(__file__).resolve()), "--worker", lib,
            "--workload", workload, "--warmup", str(warmup), "--iters", str(iters), *extra]


def fill_threads(cmd: List[str], threads: int) -> List[str]:
    return [c.replace("{threads}", str(threads)) for c in cmd]


# ---- anchor worker ---------------------------------------------------------------------------

def read_f32(path: Path, shape) -> np.ndarray:
    return np.fromfile(path, dtype="<f4").reshape(shape)


def load_g1_arrays():
    d = g1_dir()
    meta = json.loads((d / "meta.json").read_text())
    src = np.fromfile(d / "node__to__node.src.i64", dtype="<i8")
    dst = np.fromfile(d / "node__to__node.dst.i64", dtype="<i8")
    return src, dst, int(meta["num_nodes_total"])


def g1_features(n: int, F: int) -> np.ndarray:
    x = read_f32(LAYERS_DIR / "G1.x.f32", (n, 128))
    return np.ascontiguousarray(x[:, :F])


def with_self_loops(src, dst, n):
    keep = src != dst
    loops = np.arange(n, dtype=np.int64)
    return np.concatenate([src[keep], loops]), np.concatenate([dst[keep], loops])


def load_weights() -> Dict[str, np.ndarray]:
    meta = json.loads((LAYERS_DIR / "weights" / "weights.json").read_text())
    return {p["name"]: read_f32(LAYERS_DIR / "weights" / f"{p['name']}.f32", p["shape"])
            for p in meta["params"]}


def load_blocks(max_batches: int = 10):
    meta = json.loads((LAYERS_DIR / "blocks" / "meta.json").read_text())
    xall = read_f32(LAYERS_DIR / "blocks" / "x.f32", (meta["max_nodes"], 256))
    out = []
    for k in range(min(max_batches, len(meta["batches"]))):
        raw = (LAYERS_DIR / "blocks" / f"b{k}.bin").read_bytes()
        h = np.frombuffer(raw[:64], dtype="<i8")
        n_nodes, n1_dst, n2_dst, n2_src, e1, e2 = (int(v) for v in h[:6])
        indptr = np.frombuffer(raw[64:64 + 8 * (n1_dst + 1)], dtype="<i8")
        indices = np.frombuffer(raw[64 + 8 * (n1_dst + 1):], dtype="<i4")[:e1].astype(np.int64)
        dst = np.repeat(np.arange(n1_dst, dtype=np.int64), np.diff(indptr))
        out.append(dict(n_nodes=n_nodes, n1_dst=n1_dst, n2_dst=n2_dst, n2_src=n2_src, e1=e1,
                        e2=e2, src=indices, dst=dst,
                        x=np.ascontiguousarray(xall[:n_nodes, :128]),
                        grad=np.ascontiguousarray(xall[:n2_dst, :256]),
                        grad1=np.ascontiguousarray(xall[:n1_dst, :256])))
    return out


def set_param(p, value: np.ndarray) -> None:
    import torch
    with torch.no_grad():
        p.copy_(torch.from_numpy(np.ascontiguousarray(value)).reshape(p.shape))


def make_sage(lib: str, in_f: int, out_f: int, w: Dict[str, np.ndarray], name: str):
    if lib == "dgl":
        from dgl.nn import SAGEConv
        conv = SAGEConv(in_f, out_f, "mean")
        set_param(conv.fc_neigh.weight, w[f"{name}.lin_neigh.weight"].T)
        set_param(conv.fc_self.weight, w[f"{name}.lin_root.weight"].T)
        set_param(conv.fc_self.bias, w[f"{name}.lin_neigh.bias"])
        return conv
    from torch_geometric.nn import SAGEConv
    conv = SAGEConv(in_f, out_f, aggr="mean")
    set_param(conv.lin_l.weight, w[f"{name}.lin_neigh.weight"].T)
    set_param(conv.lin_l.bias, w[f"{name}.lin_neigh.bias"])
    set_param(conv.lin_r.weight, w[f"{name}.lin_root.weight"].T)
    return conv


def make_gat(lib: str, w: Dict[str, np.ndarray]):
    if lib == "dgl":
        from dgl.nn import GATConv
        conv = GATConv(64, 16, num_heads=4, allow_zero_in_degree=True)
        set_param(conv.fc.weight, w["gat.lin.weight"].T)
        set_param(conv.attn_l, w["gat.att_src"])
        set_param(conv.attn_r, w["gat.att_dst"])
        set_param(conv.bias, w["gat.bias"])
        return conv
    from torch_geometric.nn import GATConv
    conv = GATConv(64, 16, heads=4, add_self_loops=False)
    set_param(conv.lin.weight, w["gat.lin.weight"].T)
    set_param(conv.att_src, w["gat.att_src"])
    set_param(conv.att_dst, w["gat.att_dst"])
    set_param(conv.bias, w["gat.bias"])
    return conv


def sage_blocks(lib: str, b):
    """Per-batch graph objects for layer 1 (all rows) and layer 2 (the first n2_dst rows)."""
    import torch
    src, dst = torch.from_numpy(b["src"]), torch.from_numpy(b["dst"])
    e2 = b["e2"]
    if lib == "dgl":
        import dgl
        b1 = dgl.create_block((src, dst), num_src_nodes=b["n_nodes"], num_dst_nodes=b["n1_dst"])
        b2 = dgl.create_block((src[:e2], dst[:e2]), num_src_nodes=b["n2_src"],
                              num_dst_nodes=b["n2_dst"])
        for blk in (b1, b2):
            blk.create_formats_()
        return b1, b2
    if lib == "pyg-sparse":
        from torch_sparse import SparseTensor
        a1 = SparseTensor(row=dst, col=src, sparse_sizes=(b["n1_dst"], b["n_nodes"]))
        a2 = SparseTensor(row=dst[:e2], col=src[:e2], sparse_sizes=(b["n2_dst"], b["n2_src"]))
        for a in (a1, a2):
            a.storage.rowptr()
            a.storage.colptr()
            a.storage.csr2csc()
        return a1, a2
    return (torch.stack([src, dst]), (b["n_nodes"], b["n1_dst"])), \
           (torch.stack([src[:e2], dst[:e2]]), (b["n2_src"], b["n2_dst"]))


def sage_layer(lib: str, conv, graph, x_src, n_dst):
    x_dst = x_src[:n_dst]
    if lib == "dgl":
        return conv(graph, (x_src, x_dst))
    if lib == "pyg-sparse":
        return conv((x_src, x_dst), graph)
    edge_index, size = graph
    return conv((x_src, x_dst), edge_index, size=size)


def worker(args: argparse.Namespace) -> None:
    import torch
    lib, workload = args.worker, args.workload
    threads = common.apply_threads()
    versions = {"torch": torch.__version__}
    if lib == "dgl":
        import dgl
        common.apply_threads(threads)
        versions["dgl"] = dgl.__version__
    else:
        import torch_geometric
        import torch_sparse
        versions["torch_geometric"] = torch_geometric.__version__
        versions["torch_sparse"] = torch_sparse.__version__
    torch.manual_seed(0)
    cases: List[Dict[str, Any]] = []
    result: Dict[str, Any] = {"lib": lib, "workload": workload, "threads": threads,
                              "versions": versions, "cases": cases}

    def timed(name, fn, **extra):
        secs = common.time_calls(fn, args.warmup, args.iters)
        s = common.summarize(secs)
        cases.append({"workload": workload, "case": name, "seconds": secs, "median_s": s.median,
                      "p10_s": s.p10, "p90_s": s.p90, "vm_hwm_kib": common.peak_rss_bytes() // 1024,
                      **extra})
        common.log(f"    {lib} {name}: {s.fmt(1e3)} ms")

    if args.verify:
        verify_worker(lib, Path(args.verify), result)
        common.emit(result)
        return

    if workload == "spmm":
        src, dst, n = load_g1_arrays()
        if lib == "dgl":
            import dgl
            g = dgl.graph((torch.from_numpy(src), torch.from_numpy(dst)), num_nodes=n)
            g.create_formats_()
            ops = {"sum": lambda x: dgl.ops.copy_u_sum(g, x),
                   "mean": lambda x: dgl.ops.copy_u_mean(g, x)}
        else:
            from torch_sparse import SparseTensor, matmul
            adj_t = SparseTensor(row=torch.from_numpy(dst), col=torch.from_numpy(src),
                                 sparse_sizes=(n, n))
            adj_t.storage.rowptr()
            adj_t.storage.colptr()
            adj_t.storage.csr2csc()
            ops = {r: (lambda x, r=r: matmul(adj_t, x, reduce=r)) for r in ("sum", "mean")}
        for F in (64, 128):
            x0 = torch.from_numpy(g1_features(n, F))
            grad = x0.clone()
            for red in ("sum", "mean"):
                for backward in (False, True):
                    if args.filter and args.filter not in f"{red} F={F}":
                        continue
                    x = x0.clone().requires_grad_(backward)

                    def fn(x=x, red=red, backward=backward):
                        if backward:
                            x.grad = None
                            out = ops[red](x)
                            out.backward(grad)
                        else:
                            with torch.no_grad():
                                out = ops[red](x)
                        return out
                    timed(f"{red} F={F} {'fwd+bwd' if backward else 'fwd'}", fn, F=F,
                          reduce=red, backward=backward, nodes=n, edges=len(src))
    elif workload == "gat":
        src, dst, n = load_g1_arrays()
        s2, d2 = with_self_loops(src, dst, n)
        del src, dst
        x = torch.from_numpy(g1_features(n, 64)).requires_grad_(True)
        grad = x.detach().clone()
        conv = make_gat(lib, load_weights())
        if lib == "dgl":
            import dgl
            g = dgl.graph((torch.from_numpy(s2), torch.from_numpy(d2)), num_nodes=n)
            g.create_formats_()

            def fn():
                x.grad = None
                out = conv(g, x).reshape(n, 64)
                out.backward(grad)
                return out
        else:
            edge_index = torch.stack([torch.from_numpy(s2), torch.from_numpy(d2)])

            def fn():
                x.grad = None
                out = conv(x, edge_index)
                out.backward(grad)
                return out
        rss_before, hwm_before = common.rss_bytes(), common.peak_rss_bytes()
        timed("GatConv 64->4x16 fwd+bwd", fn, nodes=n, edges=len(s2),
              rss_before_kib=rss_before // 1024, hwm_before_kib=hwm_before // 1024)
    elif workload == "sage":
        blocks = load_blocks()
        w = load_weights()
        conv1 = make_sage(lib, 128, 256, w, "sage1")
        conv2 = make_sage(lib, 256, 256, w, "sage2")
        graphs = [sage_blocks(lib, b) for b in blocks]
        xs = [torch.from_numpy(b["x"]) for b in blocks]
        grads = [torch.from_numpy(b["grad"]) for b in blocks]
        edges = sum(b["e1"] + b["e2"] for b in blocks)

        def step(k, backward):
            b = blocks[k]
            g1, g2 = graphs[k]
            h = torch.relu(sage_layer(lib, conv1, g1, xs[k], b["n1_dst"]))
            out = sage_layer(lib, conv2, g2, h, b["n2_dst"])
            if backward:
                out.backward(grads[k])
            return out

        for backward in (False, True):
            name = f"SAGE-mean 2 layers 128->256->256 {'fwd+bwd' if backward else 'fwd'}"

            def fn(backward=backward):
                if backward:
                    for k in range(len(blocks)):
                        step(k, True)
                else:
                    with torch.no_grad():
                        for k in range(len(blocks)):
                            step(k, False)
            timed(name, fn, batches=len(blocks), edges=edges)
    else:
        raise SystemExit(f"unknown workload {workload}")
    common.emit(result)


def rel_err(ours: np.ndarray, ref: np.ndarray) -> float:
    return float(np.max(np.abs(ours.astype(np.float64) - ref)) / max(np.max(np.abs(ref)), 1e-30))


def verify_worker(lib: str, out: Path, result: Dict[str, Any]) -> None:
    """Compares gnnkit's dumps (bench_layers --workload verify) with this library."""
    import torch
    checks = {}
    src, dst, n = load_g1_arrays()
    w = load_weights()
    # SpMM, F = 64: output and input gradient (grad_out = x).
    x0 = torch.from_numpy(g1_features(n, 64))
    if lib == "dgl":
        import dgl
        g = dgl.graph((torch.from_numpy(src), torch.from_numpy(dst)), num_nodes=n)
        ops = {"sum": lambda x: dgl.ops.copy_u_sum(g, x), "mean": lambda x: dgl.ops.copy_u_mean(g, x)}
    else:
        from torch_sparse import SparseTensor, matmul
        adj_t = SparseTensor(row=torch.from_numpy(dst), col=torch.from_numpy(src),
                             sparse_sizes=(n, n))
        ops = {r: (lambda x, r=r: matmul(adj_t, x, reduce=r)) for r in ("sum", "mean")}
    for red in ("sum", "mean"):
        x = x0.clone().requires_grad_(True)
        o = ops[red](x)
        o.backward(x0)
        checks[f"spmm {red} F=64 out"] = rel_err(read_f32(out / f"spmm_{red}_F64.out.f32", (n, 64)),
                                                  o.detach().numpy())
        checks[f"spmm {red} F=64 grad_x"] = rel_err(read_f32(out / f"spmm_{red}_F64.gx.f32", (n, 64)),
                                                     x.grad.numpy())
    # GAT on G1 with self loops.
    s2, d2 = with_self_loops(src, dst, n)
    conv = make_gat(lib, w)
    x = x0.clone().requires_grad_(True)
    if lib == "dgl":
        import dgl
        g = dgl.graph((torch.from_numpy(s2), torch.from_numpy(d2)), num_nodes=n)
        o = conv(g, x).reshape(n, 64)
        wgrad = lambda: conv.fc.weight.grad.T  # noqa: E731
    else:
        o = conv(x, torch.stack([torch.from_numpy(s2), torch.from_numpy(d2)]))
        wgrad = lambda: conv.lin.weight.grad.T  # noqa: E731
    o.backward(x0)
    checks["gat out"] = rel_err(read_f32(out / "gat.out.f32", (n, 64)), o.detach().numpy())
    checks["gat lin.weight grad"] = rel_err(read_f32(out / "gat.lin.weight.grad.f32", (64, 64)),
                                            wgrad().numpy())
    del o
    # SAGE layer 1 on block 0.
    b = load_blocks(1)[0]
    conv = make_sage(lib, 128, 256, w, "sage1")
    g1, _ = sage_blocks(lib, b)
    o = sage_layer(lib, conv, g1, torch.from_numpy(b["x"]), b["n1_dst"])
    o.backward(torch.from_numpy(b["grad1"]))
    checks["sage1 out"] = rel_err(read_f32(out / "sage1.out.f32", (b["n1_dst"], 256)),
                                  o.detach().numpy())
    if lib == "dgl":
        gn, gr, gb = conv.fc_neigh.weight.grad.T, conv.fc_self.weight.grad.T, conv.fc_self.bias.grad
    else:
        gn, gr, gb = conv.lin_l.weight.grad.T, conv.lin_r.weight.grad.T, conv.lin_l.bias.grad
    checks["sage1 lin_neigh.weight grad"] = rel_err(
        read_f32(out / "sage1.lin_neigh.weight.grad.f32", (128, 256)), gn.numpy())
    checks["sage1 lin_root.weight grad"] = rel_err(
        read_f32(out / "sage1.lin_root.weight.grad.f32", (128, 256)), gr.numpy())
    checks["sage1 lin_neigh.bias grad"] = rel_err(
        read_f32(out / "sage1.lin_neigh.bias.grad.f32", (256,)), gb.numpy())
    result["checks"] = checks


# ---- driver ------------------------------------------------------------------------------------

def ensure_inputs(threads: int) -> None:
    for g in ("G1", "G2"):
        common.load_graph(g, verify=True)  # generates when missing; checks hashes
    needed = [LAYERS_DIR / "G1.x.f32", LAYERS_DIR / "blocks" / "meta.json",
              LAYERS_DIR / "weights" / "weights.json"]
    if all(p.exists() for p in needed):
        return
    common.log("preparing layer inputs (features, weights, sampled G2 blocks)")
    subprocess.run([str(bench_binary()), "--prepare", "1", "--threads", str(threads),
                    "--g1", str(g1_dir()), "--g2", str(g2_dir()), "--data", str(LAYERS_DIR)],
                   check=True, stdout=sys.stderr)


def verify(libs: List[str], threads: int, base_env) -> Dict[str, Dict[str, float]]:
    out = Path(tempfile.mkdtemp(prefix="gnnkit-layers-verify-"))
    run_process(fill_threads(gnnkit_cmd("verify", 0, 0, ["--out", str(out)]), threads), threads,
                base_env["gnnkit"])
    all_checks = {}
    failed = []
    for lib in libs:
        r = run_process(anchor_cmd(lib, "verify", 0, 0, ["--verify", str(out)]), threads,
                        base_env["anchor"])
        all_checks[lib] = r["checks"]
        for k, v in r["checks"].items():
            ok = v <= 1e-4
            common.log(f"  verify gnnkit vs {lib}: {k}: max rel err {v:.2e} {'ok' if ok else 'FAILED'}")
            if not ok:
                failed.append(f"{lib}: {k} ({v:.2e})")
    for p in out.iterdir():
        p.unlink()
    out.rmdir()
    if failed:
        raise SystemExit("verification FAILED: " + "; ".join(failed))
    return all_checks


def bound_seconds(case: Dict[str, Any], cal: Dict[str, Any]) -> Optional[float]:
    """SpMM gather bound: E random feature-row gathers at the calibrated row rate, plus indptr,
    indices (and the transpose's edge positions in the backward) and the output streamed."""
    if case.get("workload") != "spmm":
        return None
    F, n, e = case["F"], case["nodes"], case["edges"]
    rate = cal["gather_rows_per_s_256"] if F * 4 <= 256 else cal["gather_rows_per_s_512"]
    bw = cal["seq_read_gbs"] * 1e9
    fwd = e / rate + (8 * (n + 1) + 4 * e + 4 * n * F) / bw
    bwd = e / rate + (8 * (n + 1) + 12 * e + 4 * n * F) / bw
    return fwd + (bwd if case["backward"] else 0.0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workloads", default="spmm,gat,sage,dense")
    p.add_argument("--libs", default="gnnkit,dgl,pyg,pyg-sparse")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--spmm-iters", type=int, default=DEFAULT_ITERS["spmm"][1])
    p.add_argument("--gat-iters", type=int, default=DEFAULT_ITERS["gat"][1])
    p.add_argument("--sage-iters", type=int, default=DEFAULT_ITERS["sage"][1])
    p.add_argument("--warmups", default="",
                   help="per-workload warm-up calls per process, e.g. spmm=2,gat=1,sage=2")
    p.add_argument("--quiet-wait", type=float, default=120,
                   help="seconds to wait for other tenants to go idle before each worker")
    p.add_argument("--no-verify", action="store_true")
    p.add_argument("--no-calibrate", action="store_true")
    p.add_argument("--out", help="results JSON (default bench/results/layers-<time>.json)")
    p.add_argument("--filter", help=argparse.SUPPRESS)
    # worker mode (internal)
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--workload", help=argparse.SUPPRESS)
    p.add_argument("--warmup", type=int, default=3, help=argparse.SUPPRESS)
    p.add_argument("--iters", type=int, default=10, help=argparse.SUPPRESS)
    p.add_argument("--verify", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args)
        return

    workloads = [w for w in args.workloads.split(",") if w]
    libs = [x for x in args.libs.split(",") if x]
    iters = dict(DEFAULT_ITERS)
    iters["spmm"] = (iters["spmm"][0], args.spmm_iters)
    iters["gat"] = (iters["gat"][0], args.gat_iters)
    iters["sage"] = (iters["sage"][0], args.sage_iters)
    for item in filter(None, args.warmups.split(",")):
        wl, n = item.split("=")
        iters[wl] = (int(n), iters[wl][1])
    base_env = {"gnnkit": dict(os.environ), "anchor": common.jemalloc_env(dict(os.environ))}
    started = datetime.datetime.now()
    report = {"started": started.isoformat(timespec="seconds"), "machine": common.machine_line(),
              "threads": args.threads, "binary": str(bench_binary()),
              "load_start": os.getloadavg()[0], "anchor_allocator":
              common.allocator_name(base_env["anchor"]), "iters": iters}
    common.log(report["machine"])
    ensure_inputs(args.threads)
    report["inputs"] = {
        "G1_input_hash": json.loads((g1_dir() / "meta.json").read_text())["input_hash"],
        "G2_input_hash": json.loads((g2_dir() / "meta.json").read_text())["input_hash"],
        "blocks": json.loads((LAYERS_DIR / "blocks" / "meta.json").read_text())}
    if not args.no_calibrate:
        wait_quiet(args.quiet_wait)
        cal = common.calibrate(sorted({1, args.threads}))
        report["calibration"] = cal
        common.log(common.format_calibration(cal))
        # The same figures over working sets the size of G1's feature matrices (64 / 128 MiB:
        # they fit this VM's L3), the tighter denominator for the SpMM gathers.
        report["calibration_ws"] = {
            str(mib): common.calibrate([args.threads], bytes_=mib << 20, sgemm=False)[0]
            for mib in (64, 128)}
        common.log("B0 at 64 / 128 MiB working sets: " + ", ".join(
            f"{k} MiB: {v['gather_rows_per_s_256'] / 1e6:.1f} / {v['gather_rows_per_s_512'] / 1e6:.1f} "
            "M rows/s (256 / 512 B)" for k, v in report["calibration_ws"].items()))
    cal_t = next((c for c in report.get("calibration", []) if c["threads"] == args.threads), None)
    cal_ws = report.get("calibration_ws")
    anchors = [lib for lib in libs if lib != "gnnkit"]
    if not args.no_verify:
        report["verification"] = verify([a for a in anchors if a in ("dgl", "pyg")],
                                        args.threads, base_env)

    results: Dict[str, Dict[str, List[Dict[str, Any]]]] = {}
    for wl in workloads:
        wl_libs = [lib for lib in WORKLOAD_LIBS[wl] if lib in libs]
        warm, it = iters[wl]
        results[wl] = {lib: [] for lib in wl_libs}
        for rnd in range(args.rounds if wl != "dense" else 1):
            for lib in wl_libs:
                common.log(f"{wl} round {rnd + 1}/{args.rounds}: {lib}")
                bg_before = wait_quiet(args.quiet_wait)
                extra = ["--filter", args.filter] if args.filter else []
                if lib == "gnnkit":
                    cmd = fill_threads(gnnkit_cmd(wl, warm, it, extra), args.threads)
                    r = run_process(cmd, args.threads, base_env["gnnkit"])
                else:
                    r = run_process(anchor_cmd(lib, wl, warm, it, extra), args.threads,
                                    base_env["anchor"])
                r["background_cores_before"] = bg_before
                r["round"] = rnd
                common.log(f"  {lib}: peak RSS {common.gib(r['peak_rss'])}, wall {r['wall_s']:.1f} s, "
                           f"background {r['background_cores']:.2f} cores")
                results[wl][lib].append(r)
    report["load_end"] = os.getloadavg()[0]
    report["results"] = results
    rows, summary = summarize(results, cal_t, cal_ws)
    report["summary"] = summary
    print()
    print(report["machine"])
    if "calibration" in report:
        print(common.format_calibration(report["calibration"]))
    versions = {}
    for wl in results.values():
        for rs in wl.values():
            versions.update(rs[0].get("versions", {}))
    report["versions"] = versions
    print("Versions:", ", ".join(f"{k} {v}" for k, v in sorted(versions.items())),
          f"; anchor allocator {report['anchor_allocator']}")
    common.print_table(["workload", "case", "library", "median ms (p10-p90)", "anchor / gnnkit [per round]",
                        "% of gather bound (1 GiB / same WS)", "M edges/s", "peak RSS", "bg cores"], rows)
    out = Path(args.out) if args.out else RESULTS_DIR / f"layers-{started:%Y%m%d-%H%M}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(f"results written to {out}")


def summarize(results, cal, cal_ws=None):
    """Table rows: every (workload, case, library) with pooled median, per-round ratios."""
    rows, summary = [], []
    for wl, by_lib in results.items():
        cases = [c["case"] for c in by_lib["gnnkit"][0]["cases"]] if "gnnkit" in by_lib else \
            [c["case"] for c in next(iter(by_lib.values()))[0]["cases"]]
        for name in cases:
            per_lib = {}
            for lib, rounds in by_lib.items():
                found = [next((c for c in r["cases"] if c["case"] == name), None) for r in rounds]
                if all(f is not None for f in found):
                    per_lib[lib] = (found, rounds)
            g = per_lib.get("gnnkit")
            for lib, (found, rounds) in per_lib.items():
                secs = [s for f in found for s in f["seconds"]]
                if not secs:  # the dense summary line
                    st = common.Summary(found[0]["median_s"], found[0]["median_s"],
                                        found[0]["median_s"], 1)
                else:
                    st = common.summarize(secs)
                ratio_cell, ratios = "-", []
                if g and lib != "gnnkit":
                    ratios = [f["median_s"] / gf["median_s"] for f, gf in zip(found, g[0])]
                    ratio_cell = (f"{float(np.median(ratios)):.2f}x "
                                  f"[{', '.join(f'{x:.2f}' for x in ratios)}]")
                bound = bound_seconds(found[0], cal) if cal else None
                bound_ws = None
                if cal_ws and wl == "spmm":
                    bound_ws = bound_seconds(found[0], cal_ws["64" if found[0]["F"] == 64 else "128"])
                pct = f"{100 * bound / st.median:.0f} %" if bound else "-"
                if bound_ws:
                    pct += f" / {100 * bound_ws / st.median:.0f} %"
                if wl == "dense":
                    f0 = found[0]
                    if "sgemm_same_shape_gflops" in f0:
                        pct = (f"{f0['gflops']:.0f} GF/s = "
                               f"{100 * f0['gflops'] / max(f0['sgemm_same_shape_gflops'], 1e-9):.0f} % "
                               "of dnnl_sgemm")
                    else:
                        pct = (f"{f0['gflops']:.0f} GF/s = "
                               f"{100 * f0['gflops'] / max(f0['sgemm_same_shapes_gflops'], 1e-9):.0f} % "
                               f"of dnnl_sgemm, {100 * f0['gflops'] / f0['sgemm_peak_gflops']:.0f} % "
                               "of peak")
                edges = found[0].get("edges")
                eps = f"{edges / st.median / 1e6:.1f}" if edges else "-"
                peak = max(r["peak_rss"] for r in rounds)
                bg = max(r["background_cores"] for r in rounds)
                rows.append([wl, name, lib, f"{st.median * 1e3:.4g} ({st.p10 * 1e3:.4g}-{st.p90 * 1e3:.4g})",
                             ratio_cell, pct, eps, common.gib(peak), f"{bg:.2f}"])
                summary.append({"workload": wl, "case": name, "lib": lib, "median_s": st.median,
                                "p10_s": st.p10, "p90_s": st.p90, "ratios_per_round": ratios,
                                "ratio": float(np.median(ratios)) if ratios else None,
                                "bound_s": bound, "bound_ws_s": bound_ws if wl == "spmm" else None,
                                "edges": edges, "peak_rss": peak,
                                "rss_before": [f.get("rss_before_kib") for f in found],
                                "background_cores": [r["background_cores"] for r in rounds]})
    return rows, summary


if __name__ == "__main__":
    main()
