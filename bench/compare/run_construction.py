#!/usr/bin/env python3
"""Construction benchmark (issue 3): COO in memory -> CSC with edge ids, side by side.

    .venv/bin/python bench/compare/run_construction.py                  # full G2, 2 threads
    .venv/bin/python bench/compare/run_construction.py --scale-down 16  # quick mode

Libraries (each in its own fresh, pinned process per round, rounds interleaved A B C A B C):
- gnnkit:       HeteroGraph.from_edges((src, dst), num_nodes, num_threads=T); g.csc("to")
- gnnkit-load / gnnkit-load-verify: HeteroGraph.load(path[, verify=True]) of the same graph,
                saved once per run (memory-mapped; warm page cache); g.csc("to")
- dgl:          dgl.graph((src, dst), num_nodes=n); g.adj_tensors("csc")
- pyg:          torch_geometric.sampler.utils.to_csc (what PyG's NeighborSampler runs: sort by
                dst, row[perm], index2ptr) -> (colptr, row, perm)
- pyg-sorted:   torch_geometric.utils.sort_edge_index(edge_index, edge ids, sort_by_row=False)
                (neighbours sorted too) + index2ptr
- torch-sparse: torch_sparse.SparseTensor(row=dst, col=src, value=edge ids).csr() (PyG's
                adj_t path)

Before timing, every library's output on a scaled-down graph is checked: the same indptr as a
NumPy reference, edge ids a permutation with indices == src[eid] and dst(position) == dst[eid],
and the same multiset of (src, dst) per destination.

Memory: each worker records RSS after its imports (lib), after reading the input, and its
peak (VmHWM); "excess" = peak - lib - input - output, as % of input + output.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

ANCHORS = ("dgl", "pyg", "pyg-sorted", "torch-sparse")
DEFAULT_LIBS = ("gnnkit", "gnnkit-load", "gnnkit-load-verify") + ANCHORS
DESCRIPTION = {
    "gnnkit": "HeteroGraph.from_edges + csc()",
    "gnnkit-load": "HeteroGraph.load(path) + csc()",
    "gnnkit-load-verify": "HeteroGraph.load(path, verify=True) + csc()",
    "dgl": "dgl.graph + adj_tensors('csc')",
    "pyg": "sampler.utils.to_csc (sort by dst)",
    "pyg-sorted": "sort_edge_index(sort_by_row=False) + index2ptr",
    "torch-sparse": "SparseTensor(row=dst, col=src).csr()",
}


# ---- worker side ------------------------------------------------------------------------------

def read_into(path: Path, out: np.ndarray) -> None:
    """Reads a raw int64 file straight into ``out`` (no temporary copy)."""
    with open(path, "rb", buffering=0) as f:
        view = memoryview(out).cast("B")
        got = 0
        while got < len(view):
            n = f.readinto(view[got:])
            if not n:
                raise IOError(f"{path}: short read")
            got += n


def load_inputs(directory: Path, stacked: bool):
    """(src, dst, num_nodes, edge_index or None) read from a generated graph directory."""
    meta = json.loads((directory / "meta.json").read_text())
    rel = meta["relations"][0]
    e = int(rel["num_edges"])
    if stacked:  # PyG's natural input: one [2, E] edge_index
        ei = np.empty((2, e), dtype=np.int64)
        read_into(directory / rel["src"], ei[0])
        read_into(directory / rel["dst"], ei[1])
        return ei[0], ei[1], int(meta["num_nodes_total"]), ei
    src = np.empty(e, dtype=np.int64)
    dst = np.empty(e, dtype=np.int64)
    read_into(directory / rel["src"], src)
    read_into(directory / rel["dst"], dst)
    return src, dst, int(meta["num_nodes_total"]), None


def nbytes_of(*arrays) -> int:
    total = 0
    for a in arrays:
        if a is None:
            continue
        total += int(a.nbytes) if isinstance(a, np.ndarray) else int(a.numel() * a.element_size())
    return total


def worker(args: argparse.Namespace) -> None:
    lib, threads = args.worker, int(os.environ.get("GNNKIT_BENCH_THREADS", "1"))
    rss_start = common.rss_bytes()
    if lib.startswith("gnnkit"):
        import gnnkit
        versions = {"gnnkit": gnnkit.__version__}
    else:
        import torch
        versions = {"torch": torch.__version__}
        if lib == "dgl":
            import dgl
            versions["dgl"] = dgl.__version__
        else:
            import torch_geometric
            from torch_geometric.data import Data
            from torch_geometric.sampler.utils import to_csc
            from torch_geometric.utils import sort_edge_index
            from torch_geometric.utils.sparse import index2ptr
            versions["torch_geometric"] = torch_geometric.__version__
            if lib == "torch-sparse":
                import torch_sparse
                versions["torch_sparse"] = torch_sparse.__version__
        common.apply_threads(threads)
    rss_lib = common.rss_bytes()
    directory = Path(args.dir)
    result = {"lib": lib, "threads": threads, "versions": versions, "rss_start": rss_start,
              "rss_lib": rss_lib}

    if lib in ("gnnkit-load", "gnnkit-load-verify"):
        verify = lib.endswith("verify")
        path = str(args.saved)

        def build():
            g = gnnkit.HeteroGraph.load(path, verify=verify)
            g.csc("to")
            return g

        g = build()
        e = g.num_edges()
        result.update(in_bytes=os.path.getsize(path), out_bytes=int(g.nbytes), num_edges=e,
                      rss_input=common.rss_bytes())
        del g
        warmup, iters = max(args.warmup, 10), max(args.iters, 20)
        result["seconds"] = common.time_calls(build, warmup, iters)
        result["file_bytes"] = os.path.getsize(path)
        common.emit(result)
        return

    src, dst, n, ei = load_inputs(directory, stacked=lib in ("pyg", "pyg-sorted"))
    e = len(src)
    result.update(num_edges=e, num_nodes=n, in_bytes=nbytes_of(src, dst),
                  rss_input=common.rss_bytes())

    if lib == "gnnkit":
        def build():
            g = gnnkit.HeteroGraph.from_edges((src, dst), n, num_threads=threads)
            return g, g.csc("to")

        def out_arrays(r):
            return r[1]

        def out_bytes(r):
            return int(r[0].nbytes)
    elif lib == "dgl":
        src_t, dst_t = torch.from_numpy(src), torch.from_numpy(dst)

        def build():
            g = dgl.graph((src_t, dst_t), num_nodes=n)
            return g, g.adj_tensors("csc")

        def out_arrays(r):
            return r[1]

        def out_bytes(r):
            return nbytes_of(*r[1])
    elif lib == "pyg":
        data = Data(edge_index=torch.from_numpy(ei), num_nodes=n)

        def build():
            return to_csc(data)  # (colptr, row, perm)

        def out_arrays(r):
            return r

        def out_bytes(r):
            return nbytes_of(*r)
    elif lib == "pyg-sorted":
        edge_index = torch.from_numpy(ei)

        def build():
            eid = torch.arange(e)
            sorted_ei, perm = sort_edge_index(edge_index, eid, num_nodes=n, sort_by_row=False)
            return index2ptr(sorted_ei[1], n), sorted_ei[0], perm

        def out_arrays(r):
            return r

        def out_bytes(r):
            return nbytes_of(r[0], r[2]) + 8 * e  # the row half of the [2, E] result
    elif lib == "torch-sparse":
        src_t, dst_t = torch.from_numpy(src), torch.from_numpy(dst)

        def build():
            adj_t = torch_sparse.SparseTensor(row=dst_t, col=src_t, value=torch.arange(e),
                                              sparse_sizes=(n, n))
            return adj_t, adj_t.csr()

        def out_arrays(r):
            return r[1]

        def out_bytes(r):
            return nbytes_of(*r[1])
    else:
        raise SystemExit(f"unknown library {lib}")

    t0 = time.perf_counter()
    r = build()
    result["first_s"] = time.perf_counter() - t0
    result["out_bytes"] = out_bytes(r)
    result["peak_after_first"] = common.peak_rss_bytes()
    if args.dump:
        indptr, indices, eids = (np.asarray(x) if isinstance(x, np.ndarray) else x.numpy()
                                 for x in out_arrays(r))
        out = Path(args.dump)
        np.save(out / f"{lib}.indptr.npy", indptr.astype(np.int64))
        np.save(out / f"{lib}.indices.npy", indices.astype(np.int64))
        np.save(out / f"{lib}.eids.npy", eids.astype(np.int64))
        common.emit(result)
        return
    if lib == "gnnkit" and args.save:
        r[0].save(args.save)
        result["file_bytes"] = os.path.getsize(args.save)
    del r
    gc.collect()
    result["seconds"] = common.time_calls(build, max(args.warmup - 1, 0), args.iters,
                                          after=lambda _: gc.collect())
    common.emit(result)


# ---- driver side ------------------------------------------------------------------------------

def python_for(lib: str) -> Path:
    return common.GNNKIT_PYTHON if lib.startswith("gnnkit") else common.ANCHOR_PYTHON


def env_for(lib: str, base_env):
    if lib.startswith("gnnkit"):
        return base_env["gnnkit"]
    return common.jemalloc_env(base_env["anchor"])


def verify_outputs(libs, directory: Path, threads: int, base_env) -> None:
    """Correctness before speed (rule 7) on a small graph: see the module docstring."""
    g = common.load_graph(directory=directory, verify=True)
    src, dst, _ = g.relation()
    n = int(g.meta["num_nodes_total"])
    ref_indptr = np.concatenate([[0], np.cumsum(np.bincount(dst, minlength=n))])
    ref_keys = np.sort(dst * n + src)
    with tempfile.TemporaryDirectory() as tmp:
        for lib in libs:
            if lib.startswith("gnnkit-load"):
                continue
            common.run_worker(python_for(lib), [__file__, "--worker", lib, "--dir", str(directory),
                                                "--dump", tmp], threads, env_for(lib, base_env))
            indptr = np.load(f"{tmp}/{lib}.indptr.npy")
            indices = np.load(f"{tmp}/{lib}.indices.npy")
            eids = np.load(f"{tmp}/{lib}.eids.npy")
            problems = []
            if not np.array_equal(indptr, ref_indptr):
                problems.append("indptr differs from the reference")
            elif len(indices) != len(src) or len(eids) != len(src):
                problems.append(f"{len(indices)} indices / {len(eids)} edge ids for "
                                f"{len(src)} edges")
            else:
                pos_dst = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
                if not np.array_equal(np.sort(eids), np.arange(len(src))):
                    problems.append("edge ids are not a permutation of 0..E-1")
                elif not (np.array_equal(src[eids], indices)
                          and np.array_equal(dst[eids], pos_dst)):
                    problems.append("indices/destinations do not match the edges their ids name")
                if not np.array_equal(np.sort(pos_dst * n + indices), ref_keys):
                    problems.append("multiset of (src, dst) per destination differs")
            if problems:
                raise SystemExit(f"verification FAILED for {lib}: {'; '.join(problems)}")
            common.log(f"verified {lib}: indptr, edge ids and (src, dst) multisets agree "
                       f"({len(src):,} edges)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--graph", default="G2")
    p.add_argument("--scale-down", type=int, default=1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--warmup", type=int, default=3,
                   help="per worker process (the first build counts)")
    p.add_argument("--iters", type=int, default=7, help="timed builds per worker process and round")
    p.add_argument("--libs", default=",".join(DEFAULT_LIBS))
    p.add_argument("--verify-scale-down", type=int, default=64,
                   help="scale-down of the graph the outputs are checked on before timing")
    p.add_argument("--no-verify", action="store_true")
    p.add_argument("--no-calibrate", action="store_true")
    p.add_argument("--markdown", help="also append the report to this file")
    # worker mode (internal)
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--dir", help=argparse.SUPPRESS)
    p.add_argument("--dump", help=argparse.SUPPRESS)
    p.add_argument("--save", help=argparse.SUPPRESS)
    p.add_argument("--saved", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args)
        return

    libs = [x for x in args.libs.split(",") if x]
    unknown = set(libs) - set(DEFAULT_LIBS)
    if unknown:
        raise SystemExit(f"unknown --libs {sorted(unknown)}; known: {','.join(DEFAULT_LIBS)}")
    base_env = {"gnnkit": common.gnnkit_env(dict(os.environ)), "anchor": dict(os.environ)}
    load_start = os.getloadavg()[0]
    report = [f"Machine: {common.machine_line()}"]
    common.log(report[0])
    if not args.no_calibrate:
        cal = common.calibrate(sorted({1, args.threads}))
        report.append(common.format_calibration(cal))
        common.log(report[-1])

    if not args.no_verify:
        vk = max(args.verify_scale_down, args.scale_down)
        vdir = common.graph_dir(args.graph, vk)
        if not (vdir / "meta.json").exists():
            common.generate_graph(args.graph, vk, args.seed)
        verify_outputs(libs, vdir, args.threads, base_env)

    g = common.load_graph(args.graph, args.scale_down, seed=args.seed, verify=True)
    directory, input_hash = g.directory, g.input_hash
    num_edges, num_nodes = g.num_edges, int(g.meta["num_nodes_total"])
    del g
    gc.collect()
    report.append(f"Input: {args.graph} ({directory}), {num_nodes:,} nodes, {num_edges:,} edges, "
                  f"input_hash {input_hash[:16]}; {args.threads} threads, taskset "
                  f"{' '.join(common.taskset_prefix(args.threads)) or '(none)'}")
    common.log(report[-1])

    saved = directory.parent / f"{args.graph}.gnnkit"
    saved_info = {}
    if any(lib.startswith("gnnkit") for lib in libs):
        # Save once per run (the file format may have changed since the last run).
        common.log(f"saving gnnkit's graph to {saved}")
        saved_info = common.run_worker(
            common.GNNKIT_PYTHON, [__file__, "--worker", "gnnkit", "--dir", str(directory),
                                   "--save", str(saved), "--warmup", "0", "--iters", "0"],
            args.threads, base_env["gnnkit"]).result

    def run_one(lib: str, rnd: int):
        common.log(f"round {rnd + 1}/{args.rounds}: {lib}")
        w = common.run_worker(python_for(lib), [__file__, "--worker", lib, "--dir", str(directory),
                                                "--saved", str(saved), "--warmup", str(args.warmup),
                                                "--iters", str(args.iters)],
                              args.threads, env_for(lib, base_env))
        common.log(f"  {lib}: median {common.summarize(w.result['seconds']).median:.3f} s, "
                   f"peak RSS {common.gib(w.peak_rss)}")
        return {**w.result, "maxrss_wait": w.maxrss_wait}

    results = common.interleave(libs, args.rounds, run_one)

    report.append(f"Load average (1 min) at start {load_start:.2f}, "
                  f"at end {os.getloadavg()[0]:.2f}")
    versions = {}
    for lib in libs:
        versions.update(results[lib][0]["versions"])
    report.append(f"Versions: {', '.join(f'{k} {v}' for k, v in sorted(versions.items()))}; "
                  f"anchor allocator: {common.allocator_name(env_for('dgl', base_env))}")
    report.append(
        f"Timing: {args.rounds} rounds interleaved ({', '.join(libs)}), each a fresh process "
        f"with {args.warmup} warm-up + {args.iters} timed builds ({max(args.warmup, 10)} + "
        f"{max(args.iters, 20)} for loads). Ratios are per round (same minutes, same load) "
        f"then the median over rounds; per-round values in brackets.")
    table = report_table(libs, results, num_edges)
    print()
    print("\n".join(report))
    table_text = common.print_table(*table)
    print()
    per_round_text = common.print_table(*per_round_table(libs, results))
    if "gnnkit" in results:
        r0 = results["gnnkit"][0]
        line = (f"gnnkit stored graph: g.nbytes {r0['out_bytes']:,} B = "
                f"{r0['out_bytes'] / num_edges:.2f} B/edge")
        if "file_bytes" in saved_info:
            fb = saved_info["file_bytes"]
            line += f"; saved file {fb:,} B = {fb / num_edges:.2f} B/edge"
        print(line)
        report.append(line)
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write("\n".join(report) + "\n\n" + table_text + "\n\n" + per_round_text + "\n")


def round_median(r) -> float:
    return common.summarize(r["seconds"]).median


def report_table(libs, results, num_edges):
    """The summary table: pooled median (p10-p90) and memory per library; time ratios
    anchor / gnnkit computed within each round, then the median over rounds."""
    rows = []
    for lib in libs:
        rs = results[lib]
        st = common.summarize([s for r in rs for s in r["seconds"]])
        peak = max(r["peak_rss"] for r in rs)
        lib_rss = min(r["rss_lib"] for r in rs)
        inb, outb = rs[0]["in_bytes"], rs[0]["out_bytes"]
        excess = peak - lib_rss - inb - outb
        is_load = lib.startswith("gnnkit-load")
        ratio = "-"
        if lib in ANCHORS and "gnnkit" in results:
            ratios = [round_median(a) / round_median(g) for a, g in zip(rs, results["gnnkit"])]
            ratio = (f"{float(np.median(ratios)):.2f}x "
                     f"[{', '.join(f'{x:.2f}' for x in ratios)}]")
        if is_load:
            time_cell = f"{st.median * 1e3:.3g} ms ({st.p10 * 1e3:.3g}-{st.p90 * 1e3:.3g})"
        else:
            time_cell = f"{st.median:.3g} s ({st.p10:.3g}-{st.p90:.3g})"
        rows.append([
            lib, DESCRIPTION[lib], time_cell,
            "-" if is_load else f"{num_edges / st.median / 1e6:.1f}",
            ratio,
            f"{common.gib(inb)}" + (" (file)" if is_load else ""),
            f"{common.gib(outb)} ({outb / num_edges:.1f} B/e)",
            common.gib(peak), common.gib(lib_rss),
            "-" if is_load else f"{100 * excess / (inb + outb):+.0f} %",
        ])
    headers = ["library", "what", "median (p10-p90)", "M edges/s", "time anchor / gnnkit",
               "input", "output", "peak RSS", "RSS after import", "excess over import+in+out"]
    return headers, rows


def per_round_table(libs, results):
    rounds = len(results[libs[0]])
    headers = ["library"] + [f"round {r + 1} median" for r in range(rounds)]
    rows = []
    for lib in libs:
        unit, scale = ("ms", 1e3) if lib.startswith("gnnkit-load") else ("s", 1.0)
        rows.append([lib] + [f"{round_median(r) * scale:.3g} {unit}" for r in results[lib]])
    return headers, rows


if __name__ == "__main__":
    main()
