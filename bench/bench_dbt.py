"""dbt build time and peak RSS on DuckDB at 100k and 1M leads, and the ratio to running the same
compiled SQL directly in DuckDB.

Data: a sandbox of `--base-leads` leads (three accounts, both CRMs) is generated and extracted once
through the real extractors (cached under --out). Larger sizes clone its landing tables under
renamed accounts (`<account>~<n>`): every key carries the account, so each clone is an
independent portal with realistic payloads, and the 1M-lead warehouse is built in seconds instead
of the hours a rate-limited extraction of a million leads takes.

Measured, each in a fresh `dbt` process (peak RSS = the child's ru_maxrss), after one `dbt parse`
of the copied project (printed; the Dagster code location parses once at load time too):
- `dbt build` full (seeds, models, data tests) on a fresh copy of the raw warehouse, as the
  pipeline runs it (orchestration/defs/dbt.PIPELINE_BUILD: dbt's unit tests run in `make test`, not
  in production; their own time is printed after the full build);
- `dbt build` again right after (the incremental daily run with one day of new data: every
  landing row modified in its table's newest day re-landed — leads, deals, stage changes,
  activities, ... — so incremental models merge it and the rest rebuild; rounds 1–4 re-landed the
  activities only),
  leaving alone the views and seeds nothing changed, as the pipeline's incremental run does
  (warehouse/dbt_unchanged.py; both builds go through `pipeline_build`);
- `dbt build --full-refresh` after that: the canonical model and the marts recomputed from the
  staging tables, which keep the landing parsed (dbt_project.yml, `reparse_landing`) — what a
  full rebuild costs once the warehouse exists (from round 10 on);
- the compiled SQL of every model executed directly in one DuckDB connection, in dbt's order
  (the ratio = dbt run time ÷ direct SQL time).

    .venv/bin/python bench/bench_dbt.py --sizes 10000 100000 1000000
    .venv/bin/python bench/bench_dbt.py --sizes 1000000 --project /tmp/before/dbt_project
    .venv/bin/python bench/bench_dbt.py --sizes 1000000 --keep   # then bench/profile_model.py
    .venv/bin/python bench/bench_dbt.py --base-leads 100000 --sizes 1000000   # 30 larger portals, not 300

The 10k size is the base dataset itself: its SQL takes a fraction of a second, so its build time is
dbt's fixed cost per build (start-up, parsing, ~110 nodes each rendered, logged and run) — the
floor under any incremental run. Wall seconds swing with whatever else runs on the machine; the
CPU seconds (user + system of the dbt process and its DuckDB threads) are the steadier figure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orchestration.defs.dbt import PIPELINE_BUILD  # noqa: E402
from tests.dbt import conftest as C  # noqa: E402

DBT = str(Path(sys.executable).with_name("dbt"))


def base_dataset(out: Path, leads: int) -> tuple[Path, Path]:
    raw = out / f"base_{leads}" / "raw.duckdb"
    data = out / f"base_{leads}" / "sandbox"
    if not raw.exists():
        from sandbox.generator import generate

        shutil.rmtree(raw.parent, ignore_errors=True)
        manifest = generate(data, seed=C.SEED, leads=leads, as_of=C.AS_OF, accounts=C.ACCOUNTS)
        C.extract_sandbox(data, manifest, raw, raw.parent / "tokens")
    return raw, data


def clone(raw: Path, dst: Path, copies: int) -> int:
    """A warehouse with `copies` clones of every raw table (accounts renamed); returns lead count."""
    if dst.exists():
        dst.unlink()
    con = duckdb.connect(str(dst))
    con.execute("SET preserve_insertion_order=false")
    con.execute(f"ATTACH '{raw}' AS base (READ_ONLY)")
    tables = con.execute("select schema_name, table_name from duckdb_tables() where database_name = 'base' "
                         "and schema_name in ('raw_bitrix24', 'raw_amocrm', 'meta', 'quality')").fetchall()
    for schema, table in tables:
        con.execute(f'create schema if not exists "{schema}"')
        if schema.startswith("raw_"):
            con.execute(f'''create table "{schema}"."{table}" as
                select * replace (case when k.range = 0 then _account else _account || '~' || k.range end as _account)
                from base."{schema}"."{table}", range({copies}) as k''')
        else:
            con.execute(f'create table "{schema}"."{table}" as select * from base."{schema}"."{table}"')
    n = con.execute("select (select count(*) from raw_bitrix24.leads) + "
                    "coalesce((select count(*) from raw_amocrm.leads), 0)").fetchone()[0]
    con.close()
    return n


def timed(cmd: list[str], env: dict, cwd: Path) -> tuple[float, float, float, str]:
    """Run `cmd` in a fresh helper process; returns (wall seconds, peak RSS MB, CPU seconds (user +
    system) of the command, stdout). CPU seconds are the steadier figure on a shared machine."""
    helper = ("import resource, subprocess, sys, time, json; t = time.perf_counter(); "
              "p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
              "print(json.dumps({'s': time.perf_counter() - t, 'rc': p.returncode, "
              "'rss': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, "
              "'cpu': resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime + "
              "resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime, "
              "'out': p.stdout[-4000:] + p.stderr[-2000:]}))")
    p = subprocess.run([sys.executable, "-c", helper, *cmd], env=env, cwd=cwd, capture_output=True, text=True)
    r = json.loads(p.stdout.strip().splitlines()[-1])
    if r["rc"] != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r['out']}")
    return r["s"], r["rss"], r["cpu"], r["out"]


def profile_settings(project: Path) -> dict[str, str]:
    """The DuckDB settings of the project's profile (profiles.yml, target duckdb), each
    `{{ env_var('NAME', 'default') }}` resolved as dbt resolves it in the bench (the bench's dbt runs
    inherit this environment)."""
    profile = yaml.safe_load((project / "profiles.yml").read_text())
    settings = next(iter(profile.values()))["outputs"]["duckdb"].get("settings", {})
    env_var = re.compile(r"\{\{\s*env_var\('([^']+)',\s*'([^']*)'\)\s*\}\}")
    return {k: env_var.sub(lambda m: os.environ.get(m[1], m[2]), str(v)) for k, v in settings.items()}


def connect(warehouse: Path, settings: dict[str, str]) -> duckdb.DuckDBPyConnection:
    """A connection to `warehouse` with the profile's DuckDB `settings` (profile_settings)."""
    con = duckdb.connect(str(warehouse))
    for name, value in settings.items():
        con.execute(f"SET {name} = '{value}'")
    return con


def run_models(con: duckdb.DuckDBPyConnection, nodes: list[dict], kind: str | None = None) -> list[tuple[float, str]]:
    """Replace each model node's relation by its compiled SQL, in the order given — as a `kind`
    ("view" or "table"), or as the project materialises it (views as views, the rest as tables) —
    and return (seconds, model name) per node."""
    times = []
    for node in nodes:
        t = time.perf_counter()
        replace_relation(con, node, kind or ("view" if node["config"]["materialized"] == "view" else "table"))
        times.append((time.perf_counter() - t, node["name"]))
    return times


def direct_sql(target: Path, warehouse: Path, settings: dict[str, str]) -> float:
    """Execute every model's compiled SQL (of the full build, in its order) directly in DuckDB,
    with the profile's DuckDB `settings`."""
    manifest = json.loads((target / "manifest.json").read_text())
    results = json.loads((target / "run_results.json").read_text())
    order = [manifest["nodes"][r["unique_id"]] for r in results["results"] if r["unique_id"].startswith("model.")]
    con = connect(warehouse, settings)
    t = time.perf_counter()
    run_models(con, order)
    s = time.perf_counter() - t
    con.close()
    return s


def replace_relation(con: duckdb.DuckDBPyConnection, node: dict, kind: str) -> None:
    """Replace a model's relation (view or table, whichever is there) by a `kind` of its compiled SQL."""
    rel = f'"{node["schema"]}"."{node["alias"]}"'
    con.execute(f'create schema if not exists "{node["schema"]}"')
    existing = con.execute("select table_type from information_schema.tables where table_schema = ? "
                           "and table_name = ?", [node["schema"], node["alias"]]).fetchone()
    if existing:
        con.execute(f"drop {'view' if existing[0] == 'VIEW' else 'table'} {rel} cascade")
    con.execute(f"create {kind} {rel} as {node['compiled_code']}")


def print_slowest_nodes(target: Path, n: int = 10, title: str = "full build") -> None:
    """A build's slowest nodes (dbt's execution time; with `threads: 2` two nodes share the
    cores, so a node's time depends on its neighbour) and the totals per kind of node."""
    results = json.loads((target / "run_results.json").read_text())["results"]
    kinds: dict[str, float] = {}
    for r in results:
        kind = r["unique_id"].split(".")[0]
        kinds[kind] = kinds.get(kind, 0.0) + r["execution_time"]
    print(f"  {title}: node seconds by kind: " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(kinds.items())), flush=True)
    for r in sorted(results, key=lambda r: -r["execution_time"])[:n]:
        print(f"    {r['execution_time']:6.2f} s  {r['unique_id'].split('.')[-1]}", flush=True)


def pipeline_build(project: Path, wh: Path, env: dict, args: list[str]) -> tuple[float, float, float, int]:
    """The build as the pipeline's incremental run does it (orchestration/defs/dbt._build): views
    and seeds unchanged since they were built are excluded (warehouse/dbt_unchanged.py), and what
    was built is recorded afterwards. The wall seconds include that planning and recording;
    returns (wall s, peak RSS MB, CPU s of dbt, number of nodes skipped)."""
    from warehouse import dbt_unchanged

    t = time.perf_counter()
    manifest = json.loads((project / "target" / "manifest.json").read_text())
    plan = dbt_unchanged.plan(project, manifest, wh, env)
    plan_s = time.perf_counter() - t
    wall, rss, cpu, _ = timed([DBT, *PIPELINE_BUILD, *plan.build_args, *args], env, project)
    t = time.perf_counter()
    run_results = json.loads((project / "target" / "run_results.json").read_text())
    with duckdb.connect(str(wh)) as con:
        dbt_unchanged.record(project, manifest, run_results, con, env)
    return wall + plan_s + time.perf_counter() - t, rss, cpu, len(plan.skip)


RELANDED_BATCH = "bench-day"  # the _batch_id of the rows land_one_more_day re-lands


def land_one_more_day(warehouse: Path) -> int:
    """Re-land, as a new batch, every landing row modified in its table's newest day — the leads,
    deals, stage changes, activities, tasks, contacts ... a daily extraction brings (at 1M leads
    ~3,600 leads, ~2,000 deals, ~8,900 activities and tasks). Returns the number of rows re-landed."""
    con = duckdb.connect(str(warehouse))
    n = 0
    for schema, table in con.execute("select table_schema, table_name from information_schema.columns "
                                      "where table_schema like 'raw_%' and column_name = '_modified_at'").fetchall():
        rel = f'"{schema}"."{table}"'
        n += con.execute(f"""update {rel} set _extracted_at = now(), _batch_id = '{RELANDED_BATCH}'
                             where _modified_at >= (select max(_modified_at) - interval 1 day from {rel})""").fetchone()[0]
    con.close()
    return n


def run(size: int, raw: Path, plans: Path, out: Path, base_leads: int, source: Path, keep: bool = False,
        threads: int = 2) -> dict:
    work = out / f"run_{size}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    copies = max(1, round(size / base_leads))
    pristine = work / "raw.duckdb"
    leads = clone(raw, pristine, copies)
    wh = work / "wh.duckdb"
    shutil.copy(pristine, wh)
    project = work / "dbt_project"
    shutil.copytree(source, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    from warehouse.dbt_config import load_plans

    load_plans(plans, project / "seeds" / "sales_plans.csv")
    env = C.dbt_env(wh, CRMWH_DBT_THREADS=str(threads))
    args = ["--project-dir", str(project), "--profiles-dir", str(project)]
    # The project is parsed once beforehand, as the Dagster code location does at load time
    # (orchestration/defs/dbt.ensure_manifest): each build then re-parses only what changed.
    parse_s, _, _, _ = timed([DBT, "parse", *args], env, project)
    print(f"  dbt parse (once per project, not in the builds below) {parse_s:.1f} s", flush=True)
    full_s, full_rss, full_cpu, _ = pipeline_build(project, wh, env, args)
    print(f"  {leads} leads: full build {full_s:.1f} s ({full_cpu:.0f} CPU s), {full_rss:.0f} MB", flush=True)
    full_target = work / "full_target"
    shutil.copytree(project / "target", full_target, ignore=shutil.ignore_patterns("compiled", "run"))
    print_slowest_nodes(full_target)
    unit_s, _, unit_cpu, _ = timed([DBT, "test", "--select", "test_type:unit", *args], env, project)
    print(f"  unit tests alone (dbt test --select test_type:unit) {unit_s:.1f} s ({unit_cpu:.0f} CPU s)", flush=True)
    relanded = land_one_more_day(wh)
    inc_s, inc_rss, inc_cpu, skipped = pipeline_build(project, wh, env, args)
    print(f"  (one day re-landed: {relanded} rows; the incremental build left {skipped} unchanged views and "
          "seeds alone)", flush=True)
    print(f"  incremental build {inc_s:.1f} s ({inc_cpu:.0f} CPU s), {inc_rss:.0f} MB", flush=True)
    print_slowest_nodes(project / "target", title="incremental build")
    refresh_s, refresh_rss, refresh_cpu, _ = timed([DBT, *PIPELINE_BUILD, "--full-refresh", *args], env, project)
    print(f"  full refresh (the landing stays parsed) {refresh_s:.1f} s ({refresh_cpu:.0f} CPU s), "
          f"{refresh_rss:.0f} MB", flush=True)
    print_slowest_nodes(project / "target", title="full refresh")
    run_s, _, _, _ = timed([DBT, "run", *args], env, project)
    (work / "direct").mkdir()
    direct_wh = work / "direct" / "wh.duckdb"  # same file stem = same catalog name in the compiled SQL
    shutil.copy(wh, direct_wh)
    direct_s = direct_sql(full_target, direct_wh, profile_settings(project))
    res = {"leads": leads, "copies": copies, "full_build_s": round(full_s, 1), "full_build_rss_mb": round(full_rss),
           "full_build_cpu_s": round(full_cpu), "incremental_build_s": round(inc_s, 1),
           "incremental_rss_mb": round(inc_rss), "incremental_cpu_s": round(inc_cpu),
           "full_refresh_s": round(refresh_s, 1), "full_refresh_cpu_s": round(refresh_cpu),
           "full_refresh_rss_mb": round(refresh_rss),
           "dbt_run_s": round(run_s, 1), "direct_sql_s": round(direct_s, 1),
           "dbt_over_direct": round(run_s / direct_s, 2)}
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--base-leads", type=int, default=10_000)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "dbt")
    # Another version of the dbt project for a side-by-side comparison, e.g. an older commit's:
    # git archive <commit> dbt_project | tar -x -C /tmp/before
    ap.add_argument("--project", type=Path, default=C.DBT_DIR, help="the dbt project to measure")
    ap.add_argument("--keep", action="store_true",
                    help="keep <out>/run_<size>/ (the built warehouse wh.duckdb and full_target/) for "
                         "bench/profile_model.py")
    ap.add_argument("--threads", type=int, default=2, help="dbt threads (the profile's CRMWH_DBT_THREADS)")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    raw, data = base_dataset(a.out, a.base_leads)
    print(f"base dataset: {raw} ({a.base_leads} leads, cpus={os.cpu_count()})", flush=True)
    print("| leads | clones | load avg | full build s (CPU s) | full RSS MB | incremental build s (CPU s) | "
          "incr RSS MB | full refresh s (CPU s) | refresh RSS MB | dbt run s | direct SQL s | dbt ÷ direct |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size in a.sizes:
        load0 = os.getloadavg()[0]
        r = run(size, raw, data / "truth" / "plans.csv", a.out, a.base_leads, a.project, a.keep, a.threads)
        print(f"| {r['leads']:,} | {r['copies']} | {load0:.1f} → {os.getloadavg()[0]:.1f} | "
              f"{r['full_build_s']} ({r['full_build_cpu_s']}) | {r['full_build_rss_mb']} | "
              f"{r['incremental_build_s']} ({r['incremental_cpu_s']}) | {r['incremental_rss_mb']} | "
              f"{r['full_refresh_s']} ({r['full_refresh_cpu_s']}) | {r['full_refresh_rss_mb']} | "
              f"{r['dbt_run_s']} | {r['direct_sql_s']} | {r['dbt_over_direct']} |", flush=True)


if __name__ == "__main__":
    main()
