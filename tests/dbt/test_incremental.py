"""An incremental run gives the same marts as a full build on the same data.

The warehouse first holds the landing data as it was five days before the sandbox's as_of (rows
modified since then removed) and is built in full; the removed rows are then landed again as a
new batch, as the next extraction would, and `dbt build` runs incrementally. Its marts must equal
those of the full build on the complete data (the session `built` warehouse)."""

from __future__ import annotations

import shutil

import duckdb
import numpy as np
import pandas as pd

from tests.dbt.conftest import copy_project, dbt_env, run_dbt
from tests.dbt.test_cross_engine import MARTS, _normalise

CUTOFF = "2026-10-27 00:00:00+00"


def _raw_tables(con) -> list[tuple[str, str]]:
    return [(s, t) for s, t in con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_schema in ('raw_bitrix24', 'raw_amocrm') and table_catalog = current_database()").fetchall()]


def assert_marts_equal(wh, built) -> None:
    """Every mart in warehouse `wh` has the rows of the `built` warehouse's (floats within 1e-9)."""
    con = duckdb.connect(str(wh), read_only=True)
    try:
        for mart in MARTS:
            got = _normalise(con.execute(f"select * from marts.{mart}").df())
            want = _normalise(built.query(f"select * from marts.{mart}"))
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
        removed += con.execute(f'delete from {s}."{t}" where _modified_at >= ?', [CUTOFF]).fetchone()[0]
    con.close()
    assert removed > 100
    project = copy_project(tmp_path / "dbt_project")
    shutil.copy(built.project / "seeds" / "sales_plans.csv", project / "seeds" / "sales_plans.csv")
    env = dbt_env(wh)
    run_dbt(project, ["build"], env)

    con = duckdb.connect(str(wh))
    con.execute(f"attach '{raw}' as full_raw (read_only)")
    for s, t in _raw_tables(con):
        con.execute(f'insert into {s}."{t}" select * replace (now() as _extracted_at, \'incremental-test\' as _batch_id) '
                    f'from full_raw.{s}."{t}" where _modified_at >= ?', [CUTOFF])
    con.close()
    proc = run_dbt(project, ["build"], env)
    assert "incremental" in proc.stdout

    assert_marts_equal(wh, built)


def test_docs_generate(built):
    proc = run_dbt(built.project, ["docs", "generate"], dbt_env(built.warehouse))
    assert (built.project / "target" / "catalog.json").exists(), proc.stdout[-2000:]
