"""The incremental build leaves alone the views and seeds nothing changed (warehouse/dbt_unchanged.py):
it must skip all of them after a build of the same project on the same source tables, give the
same marts, and rebuild a node as soon as anything it could depend on differs."""

from __future__ import annotations

import json
import shutil

import duckdb

from orchestration.defs.dbt import PIPELINE_BUILD
from tests.dbt.conftest import dbt_env, run_dbt
from tests.dbt.test_incremental import assert_marts_equal
from warehouse import dbt_unchanged


def _record(project, wh, env, run_results):
    manifest = json.loads((project / "target" / "manifest.json").read_text())
    with duckdb.connect(str(wh)) as con:
        return dbt_unchanged.record(project, manifest, run_results, con, env)


def _plan(project, wh, env):
    manifest = json.loads((project / "target" / "manifest.json").read_text())
    return dbt_unchanged.plan(project, manifest, wh, env), manifest


def test_unchanged_views_and_seeds_are_skipped_until_something_they_read_changes(built, tmp_path):
    wh = tmp_path / "wh.duckdb"  # same file stem = same catalog name as the built warehouse
    shutil.copy(built.warehouse, wh)
    project = tmp_path / "dbt_project"
    shutil.copytree(built.project, project, ignore=shutil.ignore_patterns("logs"))
    env = dbt_env(wh)

    plan, manifest = _plan(project, wh, env)
    candidates = sorted(n["name"] for n in manifest["nodes"].values() if dbt_unchanged.is_candidate(n))
    incremental = sorted(n["name"] for n in manifest["nodes"].values() if dbt_unchanged.is_incremental(n))
    # the incremental staging models (the landing parsed; `--full-refresh` keeps them) and the others
    parsed = sorted(n["name"] for n in manifest["nodes"].values()
                    if dbt_unchanged.is_incremental(n) and dbt_unchanged.is_staging(n))
    derived = sorted(set(incremental) - set(parsed))
    staging_views = sorted(n["name"] for n in manifest["nodes"].values()
                           if dbt_unchanged.is_candidate(n) and dbt_unchanged.is_staging(n))
    assert len(candidates) > 30 and plan.skip == [], plan.reason  # nothing recorded yet
    # incremental models without a record may hold rows of another definition: recomputed in full,
    # the incremental staging tables by parsing the landing again
    assert "stg_bitrix24__leads" in parsed and "int_stage_transitions" in derived and len(staging_views) > 20
    assert (plan.refresh, plan.reparse) == (derived, parsed)
    assert plan.build_args[-3:] == ["--full-refresh", "--vars", dbt_unchanged.REPARSE_VARS]

    # What the pipeline records after the build that made this warehouse.
    full_results = json.loads((project / "target" / "run_results.json").read_text())
    assert _record(project, wh, env, full_results) == len(candidates) + len(incremental)
    plan, _ = _plan(project, wh, env)
    assert plan.skip == candidates and plan.refresh == plan.reparse == [] and plan.build_args[:1] == ["--exclude"]
    assert "--full-refresh" not in plan.build_args, plan.reason

    proc = run_dbt(project, [*PIPELINE_BUILD, *plan.build_args], env)
    results = json.loads((project / "target" / "run_results.json").read_text())["results"]
    ran = {r["unique_id"].split(".")[2] for r in results}
    assert not ran & set(candidates), sorted(ran & set(candidates))
    assert {"int_leads", "fct_funnel", "not_null_fct_lead_control_points_lead_key"} <= ran, proc.stdout[-2000:]
    assert_marts_equal(wh, built)
    _record(project, wh, env, {"results": results})  # nothing built: the records stay as they are
    assert _plan(project, wh, env)[0].skip == candidates

    # A view dropped behind dbt's back is rebuilt; the others are still left alone.
    with duckdb.connect(str(wh)) as con:
        con.execute("drop view staging.stg_bitrix24__users")
    assert _plan(project, wh, env)[0].skip == [c for c in candidates if c != "stg_bitrix24__users"]

    # A node whose last build failed loses its record.
    failed = [{"unique_id": "model.crm_sales_warehouse.stg_bitrix24__users", "status": "error"},
              {"unique_id": "model.crm_sales_warehouse.stg_bitrix24__deals", "status": "error"}]
    _record(project, wh, env, {"results": failed})
    with duckdb.connect(str(wh), read_only=True) as con:
        kept = {r[0] for r in con.execute(f"select unique_id from {dbt_unchanged.TABLE}").fetchall()}
    assert not {"model.crm_sales_warehouse.stg_bitrix24__users", "model.crm_sales_warehouse.stg_bitrix24__deals"} & kept
    assert len(kept) == len(candidates) + len(incremental) - 2
    # the incremental stg_bitrix24__deals may now hold rows of an unfinished build: parsed again
    plan = _plan(project, wh, env)[0]
    assert (plan.refresh, plan.reparse) == ([], ["stg_bitrix24__deals"])
    assert plan.build_args[-3:] == ["--full-refresh", "--vars", dbt_unchanged.REPARSE_VARS]
    _record(project, wh, env, full_results)  # (stg_bitrix24__users stays missing: still rebuilt)

    # Anything a view or seed could depend on: an environment variable the project reads...
    assert _plan(project, wh, dbt_env(wh, CRMWH_DUCKDB_MEMORY_LIMIT="3GB"))[0].skip == []
    # ...the columns of a source table upstream of the node (only the nodes over that table)...
    with duckdb.connect(str(wh)) as con:
        con.execute("alter table raw_bitrix24.departments add column extra_column integer")
    assert _plan(project, wh, env)[0].skip == [c for c in candidates
                                              if c not in ("stg_bitrix24__users", "stg_bitrix24__departments")]
    with duckdb.connect(str(wh)) as con:
        con.execute("alter table raw_bitrix24.departments drop column extra_column")
    assert len(_plan(project, wh, env)[0].skip) == len(candidates) - 1
    # ...and any project file: a seed's content — but the staging layer reads no seed, so its views
    # stay and the landing stays parsed: `--full-refresh` recomputes the rest from it
    seed = project / "seeds" / "sales_plans.csv"
    seed.write_text(seed.read_text() + "\n")
    plan = _plan(project, wh, env)[0]
    assert plan.skip == [c for c in staging_views if c != "stg_bitrix24__users"], plan.reason
    assert (plan.refresh, plan.reparse) == (derived, []) and plan.build_args[-1] == "--full-refresh"
    # a macro (any staging model may call it) changes the staging layer: everything, parsed again
    macro = project / "macros" / "payload.sql"
    macro.write_text(macro.read_text() + "\n")
    plan = _plan(project, wh, env)[0]
    assert plan.skip == [] and (plan.refresh, plan.reparse) == (derived, parsed), plan.reason


def test_no_warehouse_or_unreadable_warehouse_builds_everything(built, tmp_path):
    manifest = json.loads((built.project / "target" / "manifest.json").read_text())
    plan = dbt_unchanged.plan(built.project, manifest, tmp_path / "missing.duckdb", dbt_env(tmp_path / "x"))
    assert plan.skip == [] and "no warehouse" in plan.reason
    bad = tmp_path / "bad.duckdb"
    bad.write_bytes(b"not a database")
    plan = dbt_unchanged.plan(built.project, manifest, bad, dbt_env(bad))
    assert plan.skip == [] and "not readable" in plan.reason
