"""CSV edge-list reading: gnnkit.read_edge_list vs pandas.read_csv + factorize of the key
columns, side by side on the same file (issue 3: at least 2x faster on a 10M-row edge list
with string keys). Outputs are checked equal first (both number keys by first appearance).

    .venv/bin/python bench/io/run_csv.py [--rows 10000000] [--dir /tmp/gnnkit-bench] [--rounds 3]
"""
import argparse
import hashlib
import os
import statistics
import time

import numpy as np


def make_file(path, rows, seed=1):
    """card,device,timestamp,amount rows: 16-digit card numbers (1M distinct, Zipf-skewed
    use), device ids (300K distinct), increasing timestamps, amounts."""
    if os.path.exists(path):
        return
    rng = np.random.default_rng(seed)
    cards = rng.integers(4_000_000_000_000_000, 4_999_999_999_999_999, 1_000_000)
    devices = np.array([f"dev-{x:08x}" for x in rng.integers(0, 2**32, 300_000)])
    card_idx = np.minimum(rng.zipf(1.3, rows) - 1, len(cards) - 1)
    dev_idx = rng.integers(0, len(devices), rows)
    ts = np.cumsum(rng.integers(0, 5, rows)) + 1_600_000_000
    amount = np.round(rng.gamma(2.0, 30.0, rows), 2)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("card,device,ts,amount\n")
        chunk = 1_000_000
        for s in range(0, rows, chunk):
            e = min(rows, s + chunk)
            lines = [f"{c},{d},{t},{a}\n" for c, d, t, a in
                     zip(cards[card_idx[s:e]], devices[dev_idx[s:e]], ts[s:e], amount[s:e])]
            f.write("".join(lines))
    os.replace(tmp, path)


def run_gnnkit(path, threads):
    import gnnkit
    e = gnnkit.read_edge_list(path, timestamp_column=2, weight_column=3, shared_ids=False,
                              num_threads=threads)
    return e.src, e.dst, e.timestamps


def run_pandas(path):
    import pandas as pd
    df = pd.read_csv(path, dtype={"card": str, "device": str, "ts": np.int64, "amount": np.float32})
    src, _ = pd.factorize(df["card"])
    dst, _ = pd.factorize(df["device"])
    return src, dst, df["ts"].to_numpy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--dir", default="/tmp/gnnkit-bench")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    path = os.path.join(args.dir, f"edges-{args.rows}.csv")
    make_file(path, args.rows)
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read(1 << 24)).hexdigest()[:16]
    print(f"input {path}: {os.path.getsize(path) / 1e6:.0f} MB, {args.rows:,} rows, sha256(first 16 MiB) {digest}")
    import pandas as pd
    import gnnkit
    print(f"gnnkit {gnnkit.__version__}, pandas {pd.__version__}, numpy {np.__version__}, cores {os.cpu_count()}")

    # Correctness first: identical ids (both number keys by first appearance) and timestamps.
    g = run_gnnkit(path, 2)
    p = run_pandas(path)
    for name, a, b in zip(("src", "dst", "ts"), g, p):
        assert np.array_equal(a, b), f"{name} differs"
    print("outputs identical (src ids, dst ids, timestamps)")

    times = {"gnnkit 1 thread": [], "gnnkit 2 threads": [], "pandas read_csv + factorize": []}
    for _ in range(args.rounds):  # interleaved A B C rounds, after the warm-up above
        for name in times:
            t0 = time.perf_counter()
            if name.startswith("gnnkit"):
                run_gnnkit(path, 1 if "1 thread" in name else 2)
            else:
                run_pandas(path)
            times[name].append(time.perf_counter() - t0)
    base = statistics.median(times["pandas read_csv + factorize"])
    print(f"{'reader':32} {'median s':>9} {'min':>7} {'max':>7} {'M rows/s':>9} {'vs pandas':>10}")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:32} {med:9.2f} {min(ts):7.2f} {max(ts):7.2f} {args.rows / med / 1e6:9.1f} {base / med:9.1f}x")


if __name__ == "__main__":
    main()
