"""The project's own DuckDB `table` and `view` materializations (macros/duckdb_materializations.sql):
one `CREATE OR REPLACE` in the model's transaction must keep what dbt-duckdb's
build-aside-and-rename guaranteed — a model that fails leaves the previous table untouched, and a
model that changes between view and table replaces the old relation without leftovers."""

from __future__ import annotations

import shutil

import duckdb

from tests.dbt.conftest import copy_project, dbt_env, run_dbt


def _relations(wh) -> dict[str, str]:
    with duckdb.connect(str(wh), read_only=True) as con:
        return dict(con.execute("select table_schema || '.' || table_name, table_type "
                                "from information_schema.tables").fetchall())


def test_failed_model_keeps_previous_table_and_materialization_switch_leaves_nothing_behind(built, tmp_path):
    wh = tmp_path / "wh.duckdb"  # same file stem = same catalog name as the built warehouse
    shutil.copy(built.warehouse, wh)
    project = copy_project(tmp_path / "dbt_project")
    shutil.copy(built.project / "seeds" / "sales_plans.csv", project / "seeds" / "sales_plans.csv")
    env = dbt_env(wh)
    before = built.query("select * from marts.dim_channels order by all")
    assert len(before) > 0

    # A runtime error while the rows are inserted (after CREATE OR REPLACE created the empty table).
    model = project / "models" / "marts" / "dim_channels.sql"
    model.write_text("select * from (\n" + model.read_text() + "\n) as m\n"
                     "where cast(m.channel || 'x' as integer) is not null\n")
    proc = run_dbt(project, ["run", "--select", "dim_channels"], env, check=False)
    assert proc.returncode != 0 and "Conversion Error" in proc.stdout, proc.stdout[-3000:]
    with duckdb.connect(str(wh), read_only=True) as con:
        after = con.execute("select * from marts.dim_channels order by all").df()
    assert after.equals(before)

    # The canonical users: table -> view; Bitrix24 users: view -> table.
    rel = _relations(wh)
    assert rel["intermediate.int_users"] == "BASE TABLE" and rel["staging.stg_bitrix24__users"] == "VIEW"
    cfg = project / "dbt_project.yml"
    text = cfg.read_text()
    for old, new in [("      bitrix24:\n", "      bitrix24:\n        stg_bitrix24__users: {+materialized: table}\n"),
                     ("      +schema: intermediate\n", "      +schema: intermediate\n      int_users: {+materialized: view}\n")]:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    cfg.write_text(text)
    run_dbt(project, ["run", "--select", "int_users", "stg_bitrix24__users"], env)
    rel = _relations(wh)
    assert rel["intermediate.int_users"] == "VIEW"
    assert rel["staging.stg_bitrix24__users"] == "BASE TABLE"
    assert not [name for name in rel if "__dbt_" in name]
    users = built.query("select count(*) as n from intermediate.int_users")["n"][0]
    with duckdb.connect(str(wh), read_only=True) as con:
        assert con.execute("select count(*) from intermediate.int_users").fetchone()[0] == users
