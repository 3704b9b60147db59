"""How much of the full build is reading the landing payloads: the compiled SQL of the full build
run directly in DuckDB twice, on fresh copies of the same landing tables, alternated:

- `as built`: every model in dbt's order, the staging models as the project materialises them
  (views parsed inside the models that read them; lead and deal staging incremental tables);
- `typed staging`: first every staging model written out as a table (the payloads parsed once,
  timed apart: "staging into tables"), then the other models in dbt's order reading those tables —
  what the build would cost if the landing zone held typed columns instead of the API's JSON.

    .venv/bin/python bench/bench_dbt.py --sizes 1000000 --keep --out /tmp/r9
    .venv/bin/python bench/staging_share.py /tmp/r9/run_1000000 --repeat 2

The run directory is what `bench_dbt.py --keep` leaves: `wh.duckdb` (built: the landing tables and
the seeds the models read) and `full_target/` (the full build's manifest and run results). Each
pass works on its own copy of `wh.duckdb` (the compiled SQL names its catalog after the file's
stem) and replaces every model's relation in dbt's order, as bench_dbt.py's direct SQL does, with
the project profile's DuckDB settings.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_dbt import connect, profile_settings, run_models  # noqa: E402

from warehouse.dbt_unchanged import is_staging  # noqa: E402  (bench_dbt put the repository on the path)


def build_order(run_dir: Path) -> list[dict]:
    """The full build's models, in the order dbt ran them."""
    manifest = json.loads((run_dir / "full_target" / "manifest.json").read_text())
    results = json.loads((run_dir / "full_target" / "run_results.json").read_text())
    return [manifest["nodes"][r["unique_id"]] for r in results["results"] if r["unique_id"].startswith("model.")]


def one_pass(run_dir: Path, order: list[dict], typed: bool, settings: dict[str, str]) -> tuple[float, float]:
    """Returns (seconds writing staging tables — 0 when not typed, seconds of every other model)."""
    staging = [n for n in order if is_staging(n)]
    with tempfile.TemporaryDirectory(dir=run_dir) as tmp:
        wh = Path(tmp) / "wh.duckdb"
        shutil.copy(run_dir / "wh.duckdb", wh)
        con = connect(wh, settings)
        staging_s = 0.0
        if typed:
            t = time.perf_counter()
            run_models(con, staging, "table")
            staging_s = time.perf_counter() - t
        t = time.perf_counter()
        run_models(con, [node for node in order if not (typed and is_staging(node))])
        rest_s = time.perf_counter() - t
        con.close()
    return staging_s, rest_s


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir", type=Path, help="a directory left by bench_dbt.py --keep")
    ap.add_argument("--repeat", type=int, default=2, help="pairs of passes, alternated")
    a = ap.parse_args()
    settings = profile_settings(a.run_dir / "dbt_project")
    order = build_order(a.run_dir)
    print("| pass | staging into tables s | the other models s | all s |")
    print("|---|---:|---:|---:|")
    for _ in range(a.repeat):
        for typed in (False, True):
            staging_s, rest_s = one_pass(a.run_dir, order, typed, settings)
            label = "typed staging" if typed else "as built"
            staging = f"{staging_s:.1f}" if typed else "—"
            print(f"| {label} | {staging} | {rest_s:.1f} | {staging_s + rest_s:.1f} |", flush=True)


if __name__ == "__main__":
    main()
