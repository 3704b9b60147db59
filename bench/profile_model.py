"""Where a model's time goes: run its compiled SQL (of the full build) once in a built warehouse
under DuckDB's profiler and print the operators that took longest.

    .venv/bin/python bench/bench_dbt.py --sizes 1000000 --keep
    .venv/bin/python bench/profile_model.py bench/out/dbt/run_1000000 fct_funnel int_stage_transitions

The run directory is what `bench_dbt.py --keep` leaves: `wh.duckdb` (built; the compiled SQL names
its catalog after the file's stem) and `full_target/manifest.json` (the full build's compiled SQL,
so incremental models run their full-refresh branch). The result goes to a temporary table:
the warehouse is not changed. Operator times are summed over DuckDB's threads.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import duckdb


def operators(node: dict, depth: int = 0) -> list[tuple[float, int, str, int, str]]:
    out = [(node.get("operator_timing", 0.0), depth, node.get("operator_type", ""),
            node.get("operator_cardinality", 0), json.dumps(node.get("extra_info", {}), ensure_ascii=False))]
    for child in node.get("children", []):
        out += operators(child, depth + 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir", type=Path, help="a directory left by bench_dbt.py --keep")
    ap.add_argument("models", nargs="+")
    ap.add_argument("--top", type=int, default=8)
    ap.add_argument("--memory-limit", default="2GB", help="as the dbt profile sets it")
    a = ap.parse_args()
    manifest = json.loads((a.run_dir / "full_target" / "manifest.json").read_text())
    con = duckdb.connect(str(a.run_dir / "wh.duckdb"), read_only=True)
    con.execute(f"SET memory_limit='{a.memory_limit}'")
    con.execute("SET preserve_insertion_order=false")
    with tempfile.TemporaryDirectory() as tmp:
        for model in a.models:
            node = manifest["nodes"][f"model.{manifest['metadata'].get('project_name', 'crm_sales_warehouse')}.{model}"]
            out = Path(tmp) / f"{model}.json"
            con.execute("PRAGMA enable_profiling='json'")
            con.execute(f"PRAGMA profiling_output='{out}'")
            con.execute(f"create or replace temp table _profile as {node['compiled_code']}")
            con.execute("PRAGMA disable_profiling")
            prof = json.loads(out.read_text())
            rows = [op for child in prof.get("children", []) for op in operators(child)]
            print(f"{model}: {prof.get('latency', 0):.2f} s wall, {prof.get('cpu_time', 0):.2f} s in operators, "
                  f"{prof.get('rows_returned', '?')} rows")
            for t, depth, kind, card, info in sorted(rows, reverse=True)[:a.top]:
                print(f"  {t:6.2f} s  {kind:<16} rows={card:<9} depth {depth}  {info[:140]}")
            con.execute("drop table _profile")
    con.close()


if __name__ == "__main__":
    main()
