#!/usr/bin/env python3
"""Neighbour sampling side by side (issue 4): gnnkit vs PyG's sampler vs DGL's, on G2.

    .venv/bin/python bench/compare/run_sampling.py                   # 3 rounds, 1 and 2 threads
    .venv/bin/python bench/compare/run_sampling.py --threads 1 --rounds 1 --batches 20   # quick

Workload: G2 (bench/gen: RMAT scale 21, 116 M edges), fan-outs [15, 10, 5] hop 1 first,
batch 1024, uniform without replacement, the seed batches of G2's seed list (the same ids
for every library, rule 2), node-wise sampling where a node reached twice in a batch is
expanded once (PyG's and DGL's semantics, and gnnkit's non-disjoint mode).

- gnnkit: ``gnnkit.sampling.NeighborSampler(g, [15, 10, 5]).sample(seeds, num_threads=N)``
  on G2's graph file (bench_sampling writes it; memory-mapped), through the Python binding;
  ``gnnkit-csc`` is the same with ``edge_ids="csc"`` (CSC positions as edge ids, which is what
  PyG's sampler returns; DGL returns the graph's edge ids, as plain ``gnnkit`` does).
- pyg: ``torch.ops.torch_sparse.neighbor_sample(colptr, row, seeds, [15, 10, 5], False,
  True)``, the call PyG 2.6's NeighborSampler makes for a homogeneous graph without pyg-lib
  (CSC built here from the same edges).
- dgl: ``dgl.dataloading.NeighborSampler([5, 10, 15]).sample_blocks(g, seeds)`` (DGL lists
  fan-outs input layer first) on ``dgl.graph(('csc', ...))`` of the same CSC.

Threads (rule 4): every worker is pinned to the same N cores. At N = 2 the anchors also run in
their fastest honest form, N processes of 1 thread each taking alternate batches (how PyG's
loader parallelises its sampler: DataLoader workers); the faster form is the ratio's
denominator. gnnkit runs in one process with N threads.

Equal work (rule 3): sampled edges and nodes per batch are logged per library, and hop-1 edge
counts of batch 0 must equal sum(min(in-degree, 15)) over its seeds for every library before
any timing (rule 3's fan-out order check). Correctness (rule 7): every sampled edge of batch 0
of every library is looked up in the input's edge list.

Calibration (rule 1): the random-line rate in the same run, for each thread count; the % of
that bound is reported next to each sampled-edges rate. Output: a Markdown table and
bench/results/sampling-compare-<date>.json.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

FANOUTS = [15, 10, 5]
BATCH = 1024
RESULTS_DIR = common.ROOT / "bench" / "results"


# ---- workers ---------------------------------------------------------------------------------

def _seed_batches(args) -> List[np.ndarray]:
    seeds = np.fromfile(Path(args.csc) / "seeds.i64", dtype=np.int64)
    count = len(seeds) // BATCH
    return [seeds[b * BATCH:(b + 1) * BATCH] for b in range(min(count, args.warmup + args.batches))]


def _load_csc(args):
    d = Path(args.csc)
    return (np.fromfile(d / "indptr.i64", dtype=np.int64), np.fromfile(d / "indices.i64", dtype=np.int64))


def _procs_run(sample_one, batches: List[np.ndarray], procs: int, warmup: int):
    """Times sample_one over the batches after warm-up: in this process, or in ``procs``
    forked processes taking alternate batches (each 1 thread). Returns (seconds, [(edges,
    nodes)] of the timed batches)."""
    for b in batches[:warmup]:
        sample_one(b)
    timed = batches[warmup:]
    if procs <= 1:
        t0 = time.perf_counter()
        stats = [sample_one(b) for b in timed]
        return time.perf_counter() - t0, stats
    import multiprocessing as mp
    ctx = mp.get_context("fork")
    global _FORKED_SAMPLE
    _FORKED_SAMPLE = sample_one
    with ctx.Pool(procs, initializer=_forked_init) as pool:
        pool.map(_forked_call, batches[:procs], chunksize=1)  # every process warm
        t0 = time.perf_counter()
        stats = pool.map(_forked_call, timed, chunksize=1)
        return time.perf_counter() - t0, stats


_FORKED_SAMPLE = None


def _forked_init() -> None:
    common.apply_threads(1)


def _forked_call(b):
    return _FORKED_SAMPLE(b)


def worker(args) -> None:
    threads = common.apply_threads(args.threads)
    batches = _seed_batches(args)
    edges_out: Dict[str, np.ndarray] = {}
    hop1 = 0
    t_setup = time.perf_counter()
    if args.worker == "gnnkit":
        import gnnkit
        # verify=True reads every index once, so the mapped pages are in this process's page
        # tables before timing, as the anchors' arrays (read with np.fromfile) are.
        g = gnnkit.HeteroGraph.load(args.graph_file, verify=True)
        sampler = gnnkit.sampling.NeighborSampler(g, FANOUTS, edge_ids=args.edge_ids)

        def sample(b, keep=False):
            mb = sampler.sample(b, batch=0, seed=1, num_threads=threads)
            if keep:
                rel = mb.csc("to")
                n = mb.nodes["node"]
                rows = np.repeat(np.arange(len(rel.indptr) - 1), np.diff(rel.indptr))
                return mb, n[rel.indices], n[rows], int(mb.blocks[0].num_edges)
            return mb.num_edges, sum(len(v) for v in mb.nodes.values())
        version = gnnkit.__version__ if hasattr(gnnkit, "__version__") else "dev"
    elif args.worker == "pyg":
        import torch
        import torch_sparse  # noqa: F401 (registers torch.ops.torch_sparse)
        common.apply_threads(threads if args.procs <= 1 else 1)
        indptr, indices = _load_csc(args)
        colptr, row = torch.from_numpy(indptr), torch.from_numpy(indices)

        def sample(b, keep=False):
            node, r, c, _ = torch.ops.torch_sparse.neighbor_sample(colptr, row, torch.from_numpy(b), FANOUTS,
                                                                   False, True)
            if keep:
                node, r, c = node.numpy(), r.numpy(), c.numpy()
                return None, node[r], node[c], int((c < len(b)).sum())
            return int(r.numel()), int(node.numel())
        import torch_geometric
        version = f"torch_sparse {torch_sparse.__version__}, torch_geometric {torch_geometric.__version__}, torch {torch.__version__}"
    elif args.worker == "dgl":
        import torch
        import dgl
        common.apply_threads(threads if args.procs <= 1 else 1)
        indptr, indices = _load_csc(args)
        n = len(indptr) - 1
        g = dgl.graph(("csc", (torch.from_numpy(indptr), torch.from_numpy(indices),
                               torch.arange(len(indices), dtype=torch.int64))), num_nodes=n)
        g = g.formats("csc")
        sampler = dgl.dataloading.NeighborSampler(list(reversed(FANOUTS)))

        def sample(b, keep=False):
            _, _, blocks = sampler.sample_blocks(g, torch.from_numpy(b))
            if keep:
                srcs, dsts = [], []
                for blk in blocks:
                    s, d = blk.edges()
                    srcs.append(blk.srcdata[dgl.NID][s].numpy())
                    dsts.append(blk.dstdata[dgl.NID][d].numpy())
                return None, np.concatenate(srcs), np.concatenate(dsts), int(blocks[-1].num_edges())
            return sum(int(blk.num_edges()) for blk in blocks), int(blocks[0].num_src_nodes())
        version = f"dgl {dgl.__version__}, torch {torch.__version__}"
    else:
        raise SystemExit(f"unknown worker {args.worker}")
    setup_s = time.perf_counter() - t_setup
    if args.edges_out:
        _, src, dst, hop1 = sample(batches[0], keep=True)
        np.savez(args.edges_out, src=np.asarray(src, np.int64), dst=np.asarray(dst, np.int64))
    seconds, stats = _procs_run(sample, batches, args.procs, args.warmup)
    edges = sum(s[0] for s in stats)
    common.emit({"lib": args.worker, "threads": threads, "procs": args.procs, "seconds": seconds,
                 "batches": len(stats), "edges": edges, "edges_per_batch": edges / max(len(stats), 1),
                 "nodes_per_batch": sum(s[1] for s in stats) / max(len(stats), 1),
                 "hop1_edges_batch0": hop1, "setup_s": setup_s, "version": version})


# ---- driver ----------------------------------------------------------------------------------

def prepare_csc(gi: "common.GraphInput", directory: Path) -> Path:
    """G2's in-edges as CSC (indptr, indices = sources by destination), once per input hash."""
    d = directory / f"csc-{gi.input_hash[:16]}"
    if (d / "indices.i64").exists():
        return d
    d.mkdir(parents=True, exist_ok=True)
    src, dst, _ = gi.relation()
    n = gi.num_nodes["node"]
    t0 = time.perf_counter()
    order = np.argsort(dst, kind="stable")
    indices = src[order]
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(dst, minlength=n), out=indptr[1:])
    indptr.tofile(d / "indptr.i64.tmp")
    indices.tofile(d / "indices.i64.tmp")
    gi.seeds.tofile(d / "seeds.i64")
    os.replace(d / "indptr.i64.tmp", d / "indptr.i64")
    os.replace(d / "indices.i64.tmp", d / "indices.i64")
    common.log(f"CSC of G2 written to {d} in {time.perf_counter() - t0:.1f} s")
    return d


def check_edges(lib: str, path: Path, keys: np.ndarray, n: int, hop1: int, expected_hop1: int) -> Dict[str, Any]:
    e = np.load(path)
    q = e["dst"] * n + e["src"]
    pos = np.searchsorted(keys, q)
    found = (pos < len(keys)) & (keys[np.minimum(pos, len(keys) - 1)] == q)
    missing = int((~found).sum())
    if missing or hop1 != expected_hop1:
        raise SystemExit(f"{lib}: {missing} of {len(q)} sampled edges are not in G2, or hop-1 edges "
                         f"{hop1} != expected {expected_hop1}: not timing a wrong sampler")
    return {"checked_edges": int(len(q)), "missing": missing, "hop1_edges": hop1}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", default="1,2", help="thread counts (default 1,2)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batches", type=int, default=30, help="timed batches per worker (default 30)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--graph-file", default=str(common.DATA_DIR / "full" / "G2.gnnkit"),
                   help="gnnkit's G2 graph file (bench_sampling --dir writes it)")
    p.add_argument("--libs", default="gnnkit,pyg,dgl")
    p.add_argument("--out", default=None)
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--procs", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--csc", default=None, help=argparse.SUPPRESS)
    p.add_argument("--edges-out", default=None, help=argparse.SUPPRESS)
    p.add_argument("--edge-ids", default="input", help=argparse.SUPPRESS)
    p.add_argument("--gnnkit-edge-ids", default="input,csc",
                   help="gnnkit edge-id outputs to run: input (the graph's edge ids, as DGL returns) "
                        "and/or csc (CSC positions, as PyG's sampler returns); default both")
    args = p.parse_args()
    if args.worker:
        args.threads = int(args.threads)
        worker(args)
        return

    started = datetime.datetime.now()
    gi = common.load_graph("G2")
    csc = prepare_csc(gi, common.DATA_DIR / "full")
    if not Path(args.graph_file).exists():
        raise SystemExit(f"{args.graph_file} not found: run build/bench/bench_sampling --dir "
                         f"{gi.directory} once (it writes G2.gnnkit)")
    src, dst, _ = gi.relation()
    n = gi.num_nodes["node"]
    t0 = time.perf_counter()
    keys = np.sort(dst * n + src)
    indptr = np.fromfile(csc / "indptr.i64", dtype=np.int64)
    deg = np.diff(indptr)
    expected_hop1 = int(np.minimum(deg[gi.seeds[:BATCH]], FANOUTS[0]).sum())
    common.log(f"edge keys sorted in {time.perf_counter() - t0:.1f} s; batch 0 hop-1 edges expected "
               f"{expected_hop1}")
    threads_list = [int(t) for t in args.threads.split(",")]
    calibration = common.calibrate(threads_list, sgemm=False)
    common.log(common.format_calibration(calibration))
    libs = args.libs.split(",")
    exchange = Path(tempfile.mkdtemp(prefix="sampling-compare-"))
    anchor_env = common.jemalloc_env(dict(os.environ))
    gnnkit_env = common.gnnkit_env(dict(os.environ))
    runs: List[Dict[str, Any]] = []
    checks: Dict[str, Any] = {}
    for nt in threads_list:
        configs = []
        for lib in libs:
            if lib == "gnnkit":
                configs += [(lib, 1, kind) for kind in args.gnnkit_edge_ids.split(",")]
                continue
            configs.append((lib, 1, "input"))
            if nt > 1:
                configs.append((lib, nt, "input"))
        for r in range(args.rounds):
            for lib, procs, kind in configs:
                name = f"{lib}" + (f"-{procs}proc" if procs > 1 else "") + ("-csc" if kind == "csc" else "")
                edges_out = exchange / f"{name}.npz" if r == 0 and nt == threads_list[0] and procs == 1 else None
                argv = [str(Path(__file__).resolve()), "--worker", lib, "--threads", str(nt), "--procs",
                        str(procs), "--csc", str(csc), "--graph-file", args.graph_file,
                        "--batches", str(args.batches), "--warmup", str(args.warmup), "--edge-ids", kind]
                if edges_out:
                    argv += ["--edges-out", str(edges_out)]
                python = common.GNNKIT_PYTHON if lib == "gnnkit" else common.ANCHOR_PYTHON
                env = gnnkit_env if lib == "gnnkit" else anchor_env
                load = os.getloadavg()[0]
                w = common.run_worker(python, argv, nt, env)
                res = dict(w.result, name=name, round=r, load=load, peak_rss=w.peak_rss)
                if edges_out:
                    checks[name] = check_edges(name, edges_out, keys, n, res["hop1_edges_batch0"], expected_hop1)
                res["edges_per_s"] = res["edges"] / res["seconds"]
                runs.append(res)
                common.log(f"  {nt} thread(s) round {r + 1}/{args.rounds} {name}: "
                           f"{res['edges_per_s'] / 1e6:.2f} M edges/s, {res['edges_per_batch']:,.0f} edges/batch, "
                           f"load {load:.2f}")
    # Report: median edges/s over rounds per (threads, name); ratios per round, then median.
    rows, summary = [], []
    for nt in threads_list:
        cal = next(c for c in calibration if c["threads"] == nt)
        bound = cal["random_lines_per_s"]
        names = sorted({r["name"] for r in runs if r["threads"] == nt}, key=lambda s: (s != "gnnkit", s))
        med = {}
        for name in names:
            rr = [r for r in runs if r["threads"] == nt and r["name"] == name]
            rates = sorted(r["edges_per_s"] for r in rr)
            med[name] = rates[len(rates) // 2]
            rows.append([nt, name, f"{med[name] / 1e6:.2f}", f"{100 * med[name] / bound:.0f} %",
                         f"{rr[0]['edges_per_batch']:,.0f}", f"{rr[0]['nodes_per_batch']:,.0f}",
                         common.gib(max(r["peak_rss"] for r in rr))])
        anchors = [k for k in med if not k.startswith("gnnkit")]
        for ours in [k for k in med if k.startswith("gnnkit")]:
            if not anchors:
                break
            best = max(anchors, key=lambda k: med[k])
            per_round = []
            for rd in range(args.rounds):
                g = next(r for r in runs if r["threads"] == nt and r["name"] == ours and r["round"] == rd)
                a = max((r for r in runs if r["threads"] == nt and r["name"] in anchors and r["round"] == rd),
                        key=lambda r: r["edges_per_s"])
                per_round.append(g["edges_per_s"] / a["edges_per_s"])
            summary.append({"threads": nt, "gnnkit": ours, "fastest_anchor": best,
                            "ratio_of_medians": med[ours] / med[best],
                            "ratio_per_round": per_round, "gnnkit_edges_per_s": med[ours],
                            "random_line_bound": bound})
    print()
    print(f"Machine: {common.machine_line()}")
    print(common.format_calibration(calibration))
    print(f"G2 input hash {gi.input_hash[:16]}; fan-outs {FANOUTS}, batch {BATCH}, {args.batches} timed batches "
          f"after {args.warmup} warm-up per worker, {args.rounds} rounds interleaved")
    common.print_table(["threads", "library", "M sampled edges/s (median)", "% of random-line bound",
                        "edges/batch", "nodes/batch", "peak RSS"], rows)
    for s in summary:
        print(f"{s['threads']} thread(s): {s['gnnkit']} / fastest anchor ({s['fastest_anchor']}) = "
              f"{s['ratio_of_medians']:.2f}x (per round {', '.join(f'{x:.2f}' for x in s['ratio_per_round'])})")
    print("correctness:", json.dumps(checks))
    out = Path(args.out or RESULTS_DIR / f"sampling-compare-{started:%Y%m%d-%H%M}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"started": started.isoformat(timespec="seconds"), "machine": common.machine_line(),
                               "calibration": calibration, "input_hash": gi.input_hash, "fanouts": FANOUTS,
                               "batch": BATCH, "args": vars(args), "checks": checks, "runs": runs,
                               "summary": summary, "finished": datetime.datetime.now().isoformat(timespec="seconds")},
                              indent=1))
    print(f"results: {out}")


if __name__ == "__main__":
    main()
