"""Shared helpers for bench/compare/run_*.py (../../shared/docs/BENCHMARKING.md).

Each run_*.py script is a *driver* (any Python with NumPy) that starts one *worker* subprocess
per library and round: gnnkit in the project's venv (.venv), PyG / DGL in the bench-only venv
that ``bench/compare/setup`` creates (.venv-compare). This module must therefore import only the
standard library and NumPy, and work with NumPy 1.26 and 2.x.

What lives here:
- ``load_graph``: a generated input (bench/gen/gen_graphs.cpp) as NumPy arrays, hashes
  verified, with the input hash to log (rule 2). Generates it first when missing.
- ``calibrate``: B0, the machine's denominators (rule 1), from bench/compare/calibrate.cpp
  (which reuses bench/common/calibration.hpp) plus a NumPy SGEMM.
- ``thread_env`` / ``apply_threads`` / ``taskset_prefix``: thread counts and pinning (rule 4).
- ``run_worker``: a workload in a fresh, pinned subprocess; returns its JSON result and its
  peak RSS (VmHWM, rule 6).
- ``time_calls`` / ``summarize`` / ``interleave``: warm-up, timed iterations, median and
  p10/p90, libraries interleaved A B A B over rounds (rule 5).
- ``print_table``: an aligned results table (also valid Markdown).
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
COMPARE_DIR = ROOT / "bench" / "compare"
BUILD_DIR = Path(os.environ.get("GNNKIT_BENCH_BUILD", ROOT / "build-compare"))
DATA_DIR = Path(os.environ.get("GNNKIT_BENCH_DATA", Path.home() / ".cache" / "gnnkit-bench"))
GNNKIT_PYTHON = Path(os.environ.get("GNNKIT_PYTHON", ROOT / ".venv" / "bin" / "python"))
ANCHOR_PYTHON = Path(os.environ.get("GNNKIT_ANCHOR_PYTHON",
                                    ROOT / ".venv-compare" / "bin" / "python"))
JEMALLOC = Path("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2")
CXX_FLAGS = ["-O3", "-march=native", "-fopenmp", "-std=c++20"]
RESULT_PREFIX = "GNNKIT_BENCH_RESULT "


def log(*args: Any) -> None:
    print(*args, file=sys.stderr, flush=True)


# ---- building the small C++ helpers -----------------------------------------------------------

def ensure_binary(name: str, source: Path, extra_flags: Sequence[str] = ()) -> Path:
    """Compiles ``source`` into build-compare/<name> (under nice) when missing or stale."""
    binary = BUILD_DIR / name
    deps = [source] + sorted((ROOT / "bench" / "common").glob("*.hpp")) + [ROOT / "include" / "gnnkit" / "core" / "large_alloc.hpp"]
    if binary.exists() and all(binary.stat().st_mtime >= d.stat().st_mtime for d in deps):
        return binary
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    cmd = ["nice", "-n", "19", os.environ.get("CXX", "g++"), *CXX_FLAGS, *extra_flags,
           "-o", str(binary), str(source)]
    log("building:", " ".join(cmd))
    subprocess.run(cmd, check=True)
    return binary


def gen_graphs_binary() -> Path:
    return ensure_binary("gen_graphs", ROOT / "bench" / "gen" / "gen_graphs.cpp")


# ---- inputs (rule 2) --------------------------------------------------------------------------

@dataclass
class GraphInput:
    """A generated graph: ``relations[name] = (src, dst, ts or None)`` as int64 arrays."""
    directory: Path
    meta: Dict[str, Any]
    relations: Dict[str, Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]]
    seeds: np.ndarray
    seed_times: Optional[np.ndarray]
    input_hash: str

    @property
    def num_nodes(self) -> Dict[str, int]:
        return {t["name"]: int(t["count"]) for t in self.meta["node_types"]}

    @property
    def num_edges(self) -> int:
        return int(self.meta["num_edges_total"])

    def relation(self, name: Optional[str] = None
                 ) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
        """The only relation (homogeneous graphs) or the named one."""
        if name is None:
            if len(self.relations) != 1:
                raise ValueError(f"{self.meta['graph']} has {len(self.relations)} relations; "
                                 "name one")
            return next(iter(self.relations.values()))
        return self.relations[name]


def graph_dir(graph: str, scale_down: int = 1, data_dir: Path = DATA_DIR) -> Path:
    return Path(data_dir) / (f"scale{scale_down}" if scale_down > 1 else "full") / graph


def generate_graph(graph: str, scale_down: int = 1, seed: int = 1, data_dir: Path = DATA_DIR,
                   threads: int = 2) -> Path:
    """Runs gen_graphs (nice'd) for one graph; returns its directory."""
    out = graph_dir(graph, scale_down, data_dir).parent
    cmd = ["nice", "-n", "19", str(gen_graphs_binary()), "--graph", graph, "--out", str(out),
           "--seed", str(seed), "--scale-down", str(scale_down), "--threads", str(threads)]
    log("generating:", " ".join(cmd))
    subprocess.run(cmd, check=True, stdout=sys.stderr)
    return out / graph


def combined_hash(files: Dict[str, str]) -> str:
    """sha256 over "name sha256\\n" lines sorted by name (gen_graphs' input_hash)."""
    lines = "".join(f"{name} {files[name]}\n" for name in sorted(files))
    return hashlib.sha256(lines.encode()).hexdigest()


def _sha256_array(a: np.ndarray) -> str:
    h = hashlib.sha256()
    view = memoryview(np.ascontiguousarray(a)).cast("B")
    step = 1 << 26
    for i in range(0, len(view), step):
        h.update(view[i:i + step])
    return h.hexdigest()


def load_graph(graph: str = "G2", scale_down: int = 1, *, directory: Optional[Path] = None,
               verify: bool = True, generate: bool = True, seed: int = 1,
               data_dir: Path = DATA_DIR, mmap: bool = False) -> GraphInput:
    """Loads a generated graph directory (np.fromfile, or np.memmap with ``mmap``).

    ``verify`` checks every array's sha256 against meta.json and the combined input hash
    (about 1 s per GB with OpenSSL's SHA-NI code); ``generate`` runs gen_graphs if the
    directory is missing. Raises ValueError on a hash mismatch or a size mismatch.
    """
    d = Path(directory) if directory else graph_dir(graph, scale_down, data_dir)
    if not (d / "meta.json").exists():
        if not generate or directory:
            raise FileNotFoundError(f"{d / 'meta.json'} not found (run bench/gen/gen_graphs)")
        generate_graph(graph, scale_down, seed, data_dir)
    meta = json.loads((d / "meta.json").read_text())
    if not directory and (meta["seed"] != seed or meta["scale_down"] != scale_down):
        raise ValueError(f"{d} holds seed {meta['seed']} / scale-down {meta['scale_down']}, "
                         f"asked for {seed} / {scale_down}: regenerate it")

    def read(name: str) -> np.ndarray:
        info = meta["files"][name]
        path = d / name
        if path.stat().st_size != info["bytes"]:
            raise ValueError(f"{path}: {path.stat().st_size} bytes, meta.json says {info['bytes']}")
        a = np.memmap(path, dtype="<i8", mode="r") if mmap else np.fromfile(path, dtype="<i8")
        if verify:
            got = _sha256_array(a)
            if got != info["sha256"]:
                raise ValueError(f"{path}: sha256 {got} != meta.json {info['sha256']}")
        return a

    t0 = time.perf_counter()
    relations = {}
    for r in meta["relations"]:
        ts = read(r["ts"]) if "ts" in r else None
        relations[r["name"]] = (read(r["src"]), read(r["dst"]), ts)
    seeds = read(meta["seeds"]["file"])
    seed_times = read(meta["seeds"]["times"]) if "times" in meta["seeds"] else None
    input_hash = combined_hash({k: v["sha256"] for k, v in meta["files"].items()})
    if input_hash != meta["input_hash"]:
        raise ValueError(f"{d}: input hash {input_hash} != meta.json {meta['input_hash']}")
    log(f"input {meta['graph']} ({d}): {meta['num_nodes_total']:,} nodes, "
        f"{meta['num_edges_total']:,} edges, input_hash {input_hash[:16]}, "
        f"{'verified' if verify else 'not verified'} in {time.perf_counter() - t0:.1f} s")
    return GraphInput(d, meta, relations, seeds, seed_times, input_hash)


# ---- calibration (rule 1) ---------------------------------------------------------------------

def calibrate(threads: Iterable[int] = (1, 2), bytes_: int = 1 << 30,
              sgemm: bool = True) -> List[Dict[str, Any]]:
    """B0 for each thread count: sequential read GB/s, random 64-byte lines/s, 256/512-byte row
    gathers/s (bench/common/calibration.hpp via calibrate.cpp) and NumPy float32 GEMM GFLOP/s.
    Each thread count runs in its own pinned process."""
    binary = ensure_binary("calibrate", COMPARE_DIR / "calibrate.cpp",
                           ["-I", str(ROOT / "bench" / "common"), "-I", str(ROOT / "include")])
    results = []
    for n in threads:
        env = thread_env(n)
        cmd = [*taskset_prefix(n), str(binary), "--threads", str(n), "--bytes", str(bytes_)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
        row = json.loads(out.strip().splitlines()[-1])
        if sgemm:
            code = ("import numpy as np, time, json\n"
                    "a = np.random.default_rng(0).random((2048, 2048), dtype=np.float32)\n"
                    "b = a.copy()\n"
                    "a @ b\n"
                    "ts = []\n"
                    "for _ in range(7):\n"
                    "    t = time.perf_counter(); a @ b; ts.append(time.perf_counter() - t)\n"
                    "print(json.dumps(2 * 2048 ** 3 / sorted(ts)[3] / 1e9))\n")
            out = subprocess.run([*taskset_prefix(n), sys.executable, "-c", code], check=True,
                                 capture_output=True, text=True, env=env).stdout
            row["sgemm_gflops"] = float(out.strip().splitlines()[-1])
            row["sgemm_source"] = f"numpy {np.__version__} float32 matmul 2048^3"
        results.append(row)
    return results


def format_calibration(rows: List[Dict[str, Any]]) -> str:
    parts = []
    for c in rows:
        s = (f"{c['threads']} thread{'s' if c['threads'] > 1 else ''}: sequential read "
             f"{c['seq_read_gbs']:.1f} GB/s, random lines {c['random_lines_per_s'] / 1e6:.1f} M/s, "
             f"row gathers {c['gather_rows_per_s_256'] / 1e6:.1f} M/s (256 B) and "
             f"{c['gather_rows_per_s_512'] / 1e6:.1f} M/s (512 B)")
        if c.get("sgemm_gflops"):
            s += f", NumPy SGEMM {c['sgemm_gflops']:.0f} GFLOP/s"
        parts.append(s)
    return "B0: " + "; ".join(parts)


# ---- threads and pinning (rule 4) -------------------------------------------------------------

def thread_env(threads: int, base: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """The environment for a worker with ``threads`` threads: every pool sized the same."""
    env = dict(os.environ if base is None else base)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                "NUMEXPR_NUM_THREADS", "DGL_NUM_THREADS", "GNNKIT_NUM_THREADS"):
        env[var] = str(threads)
    env["GNNKIT_BENCH_THREADS"] = str(threads)
    env.setdefault("PYTHONHASHSEED", "0")
    return env


def taskset_prefix(threads: int) -> List[str]:
    """``taskset -c 0-(threads-1)`` when taskset exists and the cores are there."""
    cores = os.cpu_count() or 1
    if shutil.which("taskset") is None or threads > cores:
        return []
    return ["taskset", "-c", f"0-{threads - 1}"]


def apply_threads(threads: Optional[int] = None) -> int:
    """Inside a worker: size torch's and DGL's pools too (env vars alone miss torch's
    inter-op pool). Returns the thread count."""
    n = int(threads or os.environ.get("GNNKIT_BENCH_THREADS", "1"))
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        torch.set_num_threads(n)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:
            pass  # already started
    if "dgl" in sys.modules:
        try:
            sys.modules["dgl"].utils.set_num_threads(n)
        except Exception:  # older dgl: OMP_NUM_THREADS governs
            pass
    return n


def jemalloc_env(env: Dict[str, str]) -> Dict[str, str]:
    """Preloads Debian's jemalloc for torch-based anchors (rule 8) when it is installed."""
    if JEMALLOC.exists():
        env = dict(env)
        env["LD_PRELOAD"] = (str(JEMALLOC) + " " + env.get("LD_PRELOAD", "")).strip()
    return env


def allocator_name(env: Dict[str, str]) -> str:
    return "jemalloc" if "libjemalloc" in env.get("LD_PRELOAD", "") else "glibc malloc"


# ---- memory (rule 6) --------------------------------------------------------------------------

def proc_status_kib(field_name: str, pid: Optional[int] = None) -> int:
    """A kB field of /proc/<pid>/status (VmHWM: peak RSS; VmRSS: current RSS)."""
    path = f"/proc/{pid or 'self'}/status"
    with open(path) as f:
        for line in f:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    raise KeyError(f"{field_name} not in {path}")


def rss_bytes() -> int:
    return proc_status_kib("VmRSS") * 1024


def peak_rss_bytes() -> int:
    return proc_status_kib("VmHWM") * 1024


# ---- gnnkit's python ---------------------------------------------------------------------------

def gnnkit_env(env: Dict[str, str]) -> Dict[str, str]:
    """The environment in which ``GNNKIT_PYTHON`` imports a gnnkit with HeteroGraph.

    Uses the installed package when it is current; otherwise stages the in-tree package
    (python/gnnkit/*.py plus the newest built _core from build-python/) on PYTHONPATH, so a
    benchmark sees the working tree without reinstalling the project's venv."""
    probe = "import gnnkit, sys; sys.exit(0 if hasattr(gnnkit, 'HeteroGraph') else 3)"
    if subprocess.run([str(GNNKIT_PYTHON), "-c", probe], env=env, capture_output=True,
                      cwd=tempfile.gettempdir()).returncode == 0:
        return env
    cores = sorted(ROOT.glob("build-python/**/_core*.so"), key=lambda p: p.stat().st_mtime)
    if not cores:
        raise RuntimeError(f"{GNNKIT_PYTHON}: gnnkit lacks HeteroGraph and no "
                           "build-python/**/_core*.so exists; run scripts/setup first")
    stage = BUILD_DIR / "gnnkit-stage" / "gnnkit"
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    for py in (ROOT / "python" / "gnnkit").glob("*.py"):
        (stage / py.name).symlink_to(py)
    (stage / cores[-1].name).symlink_to(cores[-1])
    log(f"note: {GNNKIT_PYTHON}'s installed gnnkit is stale; using the working tree's "
        f"python/gnnkit with {cores[-1].relative_to(ROOT)}")
    env = dict(env)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(stage.parent), env.get("PYTHONPATH")]))
    return env


# ---- subprocess workers -----------------------------------------------------------------------

@dataclass
class WorkerResult:
    result: Dict[str, Any]
    peak_rss: int      # VmHWM the worker read at its end (bytes)
    maxrss_wait: int   # ru_maxrss from wait4, a cross-check (bytes)
    wall_s: float


def run_worker(python: Path, args: Sequence[str], threads: int,
               env: Optional[Dict[str, str]] = None) -> WorkerResult:
    """Runs ``python <args>`` pinned to ``threads`` cores in a fresh process. The worker prints
    one line ``GNNKIT_BENCH_RESULT {json}`` (see ``emit``); its other output passes through."""
    env = thread_env(threads, env)
    cmd = [*taskset_prefix(threads), str(python), *args]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=None, text=True, env=env,
                            cwd=tempfile.gettempdir())
    out_lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(RESULT_PREFIX):
            out_lines.append(line[len(RESULT_PREFIX):])
        else:
            sys.stderr.write(line)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode != 0 or not out_lines:
        raise RuntimeError(f"worker failed (exit {proc.returncode}): {' '.join(cmd)}")
    result = json.loads(out_lines[-1])
    return WorkerResult(result, int(result.get("peak_rss", 0)), usage.ru_maxrss * 1024, wall)


def emit(result: Dict[str, Any]) -> None:
    """Worker side: prints the result line, with this process's peak RSS added."""
    result = dict(result)
    result["peak_rss"] = peak_rss_bytes()
    print(RESULT_PREFIX + json.dumps(result), flush=True)


# ---- timing (rule 5) --------------------------------------------------------------------------

def time_calls(fn: Callable[[], Any], warmup: int = 3, iterations: int = 20,
               after: Optional[Callable[[Any], None]] = None) -> List[float]:
    """Runs ``fn`` ``warmup`` times untimed, then ``iterations`` times timed; returns seconds.
    ``after(result)`` runs outside the timed region (e.g. to drop the output)."""
    for _ in range(warmup):
        r = fn()
        if after:
            after(r)
        del r
    seconds = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        r = fn()
        seconds.append(time.perf_counter() - t0)
        if after:
            after(r)
        del r
    return seconds


@dataclass
class Summary:
    median: float
    p10: float
    p90: float
    n: int

    def fmt(self, unit: float = 1.0, digits: int = 3) -> str:
        return (f"{self.median * unit:.{digits}g} ({self.p10 * unit:.{digits}g}-"
                f"{self.p90 * unit:.{digits}g})")


def summarize(seconds: Sequence[float]) -> Summary:
    """Median and p10/p90 (nearest rank, as bench/common/timing.hpp)."""
    s = sorted(seconds)
    at = lambda q: s[int(q * (len(s) - 1) + 0.5)]  # noqa: E731
    return Summary(at(0.5), at(0.1), at(0.9), len(s))


def interleave(names: Sequence[str], rounds: int, run_one: Callable[[str, int], Dict[str, Any]]
               ) -> Dict[str, List[Dict[str, Any]]]:
    """Runs ``run_one(name, round)`` for every name, A B C A B C ..., ``rounds`` times."""
    out: Dict[str, List[Dict[str, Any]]] = {n: [] for n in names}
    for r in range(rounds):
        for name in names:
            out[name].append(run_one(name, r))
    return out


# ---- reporting --------------------------------------------------------------------------------

def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], file=None) -> str:
    """Prints (and returns) a Markdown table with aligned columns."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    fmt = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    lines = [fmt(cells[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += [fmt(r) for r in cells[1:]]
    text = "\n".join(lines)
    print(text, file=file or sys.stdout, flush=True)
    return text


def gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def machine_line() -> str:
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return (f"{platform.node()}: {os.cpu_count()} cores, {cpu}, {gib(mem)} RAM, "
            f"{platform.platform()}")
