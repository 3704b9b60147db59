"""Benchmark the sandbox generator: wall time and the child's peak RSS per size.

    .venv/bin/python bench/bench_generator.py --sizes 100000 1000000

Each size runs in a fresh subprocess so ru_maxrss of RUSAGE_CHILDREN is that run's peak alone
(sizes run in increasing order; the children's maximum is monotone, so we report it per run).
"""

from __future__ import annotations

import argparse
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date

CHILD = """
import sys
from sandbox.generator import generate
generate(sys.argv[1], seed=42, leads=int(sys.argv[2]), as_of="2026-11-27")
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    args = ap.parse_args()
    import os
    print(f"# generator benchmark {date.today()} on {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, python {platform.python_version()}")
    print(f"{'leads':>10} {'seconds':>9} {'peak_rss_mb':>12}")
    for n in sorted(args.sizes):
        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", CHILD, d, str(n)], check=True)
            dt = time.perf_counter() - t0
        rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
        print(f"{n:>10} {dt:>9.1f} {rss_mb:>12.0f}", flush=True)


if __name__ == "__main__":
    main()
