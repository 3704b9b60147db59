"""Each model's own cost: the full build's compiled SQL run directly in DuckDB, one model at a time
in dbt's order, on a fresh copy of a built warehouse — and, with `--variant`, the same passes
under other DuckDB settings, alternated with the project's own, to weigh a setting side by side.

    .venv/bin/python bench/bench_dbt.py --sizes 1000000 --keep --out /tmp/r11
    .venv/bin/python bench/model_times.py /tmp/r11/run_1000000 --repeat 2 \
        --variant memory_limit=8GB --variant force_compression=uncompressed

Each pass prints its total seconds (what the bench's "direct SQL" column measures) and the slowest
models; the variants' settings are applied over the profile's. A model's seconds here are its
SQL alone with both cores to itself — dbt runs two at a time, so its node seconds are larger.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_dbt import connect, profile_settings, run_models  # noqa: E402
from staging_share import build_order  # noqa: E402


def one_pass(run_dir: Path, order: list[dict], settings: dict[str, str]) -> list[tuple[float, str]]:
    """Seconds per model, in build order, on a fresh copy of the run's warehouse."""
    with tempfile.TemporaryDirectory(dir=run_dir) as tmp:
        wh = Path(tmp) / "wh.duckdb"  # the compiled SQL names its catalog after the file's stem
        shutil.copy(run_dir / "wh.duckdb", wh)
        con = connect(wh, settings)
        times = run_models(con, order)
        con.close()
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir", type=Path, help="a directory left by bench_dbt.py --keep")
    ap.add_argument("--project", type=Path, default=Path(__file__).resolve().parents[1] / "dbt_project",
                    help="whose profile's DuckDB settings to apply")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=VALUE",
                    help="a DuckDB setting to weigh against the profile's (repeatable: one variant each)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--top", type=int, default=12)
    a = ap.parse_args()
    base = profile_settings(a.project)
    variants = [("as profiled", base)]
    for v in a.variant:
        name, sep, value = v.partition("=")
        if not (name and sep):
            ap.error(f"--variant {v!r}: expected NAME=VALUE, a DuckDB setting and its value")
        variants.append((v, {**base, name: value}))
    order = build_order(a.run_dir)
    print(f"{len(order)} models; settings as profiled: {base}", flush=True)
    for i in range(a.repeat):
        for label, settings in variants:
            times = one_pass(a.run_dir, order, settings)
            print(f"pass {i + 1}, {label}: {sum(t for t, _ in times):.1f} s", flush=True)
            for t, name in sorted(times, reverse=True)[:a.top]:
                print(f"    {t:6.2f} s  {name}", flush=True)


if __name__ == "__main__":
    main()
