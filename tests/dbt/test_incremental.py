"""An incremental run gives the same marts as a full build on the same data.

The warehouse first holds the landing data as it was five days before the sandbox's as_of (rows
modified since then removed — or, for leads and deals, held in an older version: another row's
payload under their key) and is built in full; the rows are then landed again as a new batch, as
the next extraction would, and `dbt build` runs incrementally. Its marts must equal
those of the full build on the complete data (the session `built` warehouse).

Deletions travel the same way: the first state also holds "phantom" activities and stage-history
rows (copies under new ids) that the next extraction finds deleted at the source. They are
tombstoned through the landing's own code (`Warehouse.tombstone_stale`, as a reconciliation
does), and the incremental run must drop them from the canonical model and the marts."""

from __future__ import annotations

import dataclasses
import shutil

import duckdb
import numpy as np
import pandas as pd

from warehouse import dbt_unchanged
from warehouse.landing import TableSpec, Warehouse

from tests.dbt.conftest import copy_project, dbt_env, run_dbt
from tests.dbt.test_cross_engine import MARTS, _normalise

CUTOFF = "2026-10-27 00:00:00+00"
# landing tables whose rows modified since CUTOFF are held in an older version in the first state
# (the parents of the incremental staging tables, and of the arrays unnested from an amoCRM lead)
# — and which rows: contacts also in a sample edited without their leads (a new phone of the client)
MODIFIED = "_modified_at >= ?"
VERSIONED = {("raw_amocrm", "leads"): MODIFIED, ("raw_bitrix24", "leads"): MODIFIED, ("raw_bitrix24", "deals"): MODIFIED,
             ("raw_amocrm", "contacts"): f"({MODIFIED} or id % 7 = 0)",
             ("raw_bitrix24", "contacts"): f"({MODIFIED} or id % 7 = 0)"}
# incremental intermediate models compared too (no mart shows every column of theirs): the columns
# left out (watermarks differ by construction; re-landed rows carry the test's landing time) and
# the rows compared (the phantoms' tombstones stay in int_activities, flagged deleted)
INTERMEDIATE = {"int_lead_contact_points": (["landed_through"], "true"), "int_leads": (["landed_through"], "true"),
                "int_stage_transitions": (["extracted_at"], "true"),
                "int_activities": (["extracted_at"], "not is_deleted")}
PHANTOM = 10**9  # ids from here on are the phantom rows
# (landing table, rows copied as phantoms) — live rows the marts count: activities of both CRMs and
# Bitrix24 lead stage history
PHANTOM_TABLES = {("bitrix24", "activities"): 40, ("bitrix24", "lead_stage_history"): 40, ("amocrm", "tasks"): 40}


def _raw_tables(con) -> list[tuple[str, str]]:
    return [(s, t) for s, t in con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_schema in ('raw_bitrix24', 'raw_amocrm') and table_catalog = current_database()").fetchall()]


def assert_marts_equal(wh, built) -> None:
    """Every mart in warehouse `wh` (and each model of INTERMEDIATE) has the rows of the `built`
    warehouse's (floats within 1e-9)."""
    con = duckdb.connect(str(wh), read_only=True)
    models = [(f"marts.{m}", "", "true") for m in MARTS] + [
        (f"intermediate.{m}", f" exclude ({', '.join(cols)})", where) for m, (cols, where) in INTERMEDIATE.items()]
    try:
        for mart, exclude, where in models:
            got = _normalise(con.execute(f"select *{exclude} from {mart} where {where}").df())
            want = _normalise(built.query(f"select *{exclude} from {mart} where {where}"))
            assert len(got) == len(want), (mart, len(got), len(want))
            for c in want.columns:
                a, b = want[c], got[c]
                if pd.api.types.is_float_dtype(a):
                    ok = np.isclose(a, b, rtol=1e-9, atol=1e-9) | (a.isna() & b.isna())
                else:
                    ok = (a == b) | (a.isna() & b.isna())
                assert ok.all(), f"{mart}.{c}: {(~ok).sum()} rows differ"
    finally:
        con.close()


def test_incremental_run_equals_full_build(built, sandbox_raw, tmp_path):
    _, _, raw, _ = sandbox_raw
    wh = tmp_path / "wh.duckdb"
    shutil.copy(raw, wh)
    con = duckdb.connect(str(wh))
    removed = 0
    for s, t in _raw_tables(con):
        if (s, t) in VERSIONED:  # an older version: another row's payload under the same key
            con.execute(f"""update {s}."{t}" as t set payload = (select first(d.payload order by d.id) from {s}."{t}" as d
                            where d._account = t._account and d.id <> t.id) where {VERSIONED[s, t]}""", [CUTOFF])
            continue
        removed += con.execute(f'delete from {s}."{t}" where _modified_at >= ?', [CUTOFF]).fetchone()[0]
    assert removed > 100
    for (system, entity), n in PHANTOM_TABLES.items():
        con.execute(f'insert into raw_{system}."{entity}" select * replace (id + {PHANTOM} as id) '
                    f'from raw_{system}."{entity}" where not _is_deleted using sample {n} rows (reservoir, 7)')
    con.close()
    project = copy_project(tmp_path / "dbt_project")
    shutil.copy(built.project / "seeds" / "sales_plans.csv", project / "seeds" / "sales_plans.csv")
    env = dbt_env(wh)
    run_dbt(project, ["build"], env)
    assert all(_live_phantoms(wh).values())  # the first build took them in

    # the next extraction: the phantoms are gone at the source (tombstones), the rest re-landed
    with Warehouse(wh) as landing:
        for system, entity in PHANTOM_TABLES:
            for (account,) in landing.con.execute(
                    f'select distinct _account from raw_{system}."{entity}" where id >= {PHANTOM}').fetchall():
                landing.tombstone_stale(TableSpec(system, entity), account, "incremental-test", f"id >= {PHANTOM}")
    con = duckdb.connect(str(wh))
    con.execute(f"attach '{raw}' as full_raw (read_only)")
    for s, t in _raw_tables(con):
        where = VERSIONED.get((s, t), MODIFIED)
        if (s, t) in VERSIONED:  # the merge replaces the row (warehouse.landing.Warehouse.merge)
            con.execute(f'delete from {s}."{t}" where {where}', [CUTOFF])
        con.execute(f'insert into {s}."{t}" select * replace (now() as _extracted_at, \'incremental-test\' as _batch_id) '
                    f'from full_raw.{s}."{t}" where {where}', [CUTOFF])
    con.close()
    proc = run_dbt(project, ["build"], env)
    assert "incremental" in proc.stdout

    assert _live_phantoms(wh) == {"activities": 0, "transitions": 0}
    assert_marts_equal(wh, built)
    compiled = project / "target" / "compiled" / "crm_sales_warehouse" / "models" / "intermediate"
    assert "changed_leads" in (compiled / "int_leads.sql").read_text()  # recomputed the changed leads only
    assert "changed_entities" in (compiled / "int_stage_transitions.sql").read_text()  # the changed entities only

    # A dimension the leads copy changes: a list value renamed in the CRM (the extraction lands the
    # fields again). No lead was re-landed, yet every lead with that value must show the new label.
    want, got = _renamed_in_crm(
        wh, project, env, built,
        landing="""update raw_bitrix24.userfields set _extracted_at = now(),
                   payload = replace(cast(payload as varchar), '"VALUE":"Нецелевой"', '"VALUE":"Нецелевой лид"')""",
        recomputed_in_full={"int_leads": "changed_leads"},
        count_by="select classification, count(*) from marts.fct_lead_control_points where source_system = 'bitrix24' "
                 "group by 1")
    assert want.get("Нецелевой", 0) > 0 and got.get("Нецелевой лид") == want["Нецелевой"] and "Нецелевой" not in got, (want, got)

    # Statuses renamed in the CRM (the extraction lands the statuses again): no lead's history was
    # re-landed, yet every transition into such a status must carry the new name — and an amoCRM
    # status maps to its control point by name, so the renamed "taken" status is now unmapped.
    want, got = _renamed_in_crm(
        wh, project, env, built,
        landing="""update raw_bitrix24.statuses set _extracted_at = now(),
                   payload = replace(cast(payload as varchar), '"NAME":"Не обработан",', '"NAME":"Не обработан (новые)",')
                   where cast(payload as varchar) like '%"ENTITY_ID":"STATUS","STATUS_ID":"NEW"%';
                   update raw_amocrm.statuses set _extracted_at = now(),
                   payload = replace(cast(payload as varchar), '"name":"Взят в работу",', '"name":"Взят в работу (новые)",')""",
        recomputed_in_full={"int_stage_transitions": "changed_entities", "int_leads": "changed_leads"},
        count_by="select stage_name, count(*) from intermediate.int_stage_transitions "
                 "where source_system = 'bitrix24' and entity_type = 'lead' and stage_id = 'NEW' group by 1")
    assert want.get("Не обработан", 0) > 0 and got == {"Не обработан (новые)": want["Не обработан"]}, (want, got)
    with duckdb.connect(str(wh), read_only=True) as con:
        assert con.execute("select count(*) from intermediate.int_stage_transitions where source_system = 'amocrm' "
                           "and stage_name = 'Взят в работу (новые)' and control_point is null").fetchone()[0] > 0

    # ... and the marts after these incremental runs are those of a full refresh of the same landing:
    # `--full-refresh` alone, which keeps the incremental staging tables (the landing parsed as it
    # landed: their compiled SQL reads only rows newer than their watermark, none), and with
    # `reparse_landing`, which parses every landing payload again
    staging_sql = project / "target" / "compiled" / "crm_sales_warehouse" / "models" / "staging" / "bitrix24"
    for name, extra in (("refresh", []), ("reparse", ["--vars", dbt_unchanged.REPARSE_VARS])):
        full = tmp_path / name / "wh.duckdb"  # same file stem: the compiled SQL names its catalog after it
        full.parent.mkdir()
        shutil.copy(wh, full)
        run_dbt(project, ["build", "--full-refresh", *extra], dbt_env(full))
        kept = "_extracted_at > cast(" in (staging_sql / "stg_bitrix24__leads.sql").read_text()
        assert kept == (name == "refresh"), name
        assert_marts_equal(wh, dataclasses.replace(built, warehouse=full))


def _renamed_in_crm(wh, project, env, built, landing: str, recomputed_in_full: dict[str, str], count_by: str):
    """Land a renamed dimension value (`landing`: an update of a raw table), run the incremental
    build, check that each model of `recomputed_in_full` recomputed every row (its compiled SQL
    lacks its by-change CTE, the value), and return the counts of `count_by` (label -> rows) in the
    full build and after the rename."""
    with duckdb.connect(str(wh)) as con:
        con.execute(landing)
    run_dbt(project, ["build"], env)
    compiled = project / "target" / "compiled" / "crm_sales_warehouse" / "models" / "intermediate"
    for model, by_change_marker in recomputed_in_full.items():
        assert by_change_marker not in (compiled / f"{model}.sql").read_text(), model  # every row recomputed
    want = dict(built.query(count_by).itertuples(index=False, name=None))
    with duckdb.connect(str(wh), read_only=True) as con:
        got = dict(con.execute(count_by).fetchall())
    return want, got


def _live_phantoms(wh) -> dict[str, int]:
    with duckdb.connect(str(wh), read_only=True) as con:
        return {
            "activities": con.execute("select count(*) from intermediate.int_activities "
                                      f"where activity_id >= {PHANTOM} and not is_deleted").fetchone()[0],
            "transitions": con.execute("select count(*) from intermediate.int_stage_transitions "
                                       f"where history_id >= {PHANTOM}").fetchone()[0]}


def test_docs_generate(built):
    proc = run_dbt(built.project, ["docs", "generate"], dbt_env(built.warehouse))
    assert (built.project / "target" / "catalog.json").exists(), proc.stdout[-2000:]
