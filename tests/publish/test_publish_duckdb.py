"""publish_duckdb: only marts + dims + data-quality summary, atomic swap, old file readable while a
new publish runs or is blocked."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
import time

import duckdb
import pytest

from tests.publish.fixture_warehouse import build_fixture_warehouse, mart_columns, next_run
from warehouse.publish import EXPECTED_MARTS, PublishError, publish_duckdb


def _schemas(path) -> set[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {r[0] for r in con.execute("select distinct table_schema from information_schema.tables").fetchall()}
    finally:
        con.close()


def _count(path, table) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(f"select count(*) from marts.{table}").fetchone()[0]
    finally:
        con.close()


def test_publishes_only_marts_dims_and_dq_summary(fixture_wh, tmp_path):
    res = publish_duckdb(fixture_wh, tmp_path / "bi.duckdb")
    assert _schemas(res.path) == {"marts"}               # no raw_*, staging, intermediate, quality
    documented = set(mart_columns())
    assert set(res.tables) == documented | {"dq_runs", "dq_check_results", "publish_info"}
    assert res.missing_marts == [] and res.dq_summary
    src = duckdb.connect(str(fixture_wh), read_only=True)
    dst = duckdb.connect(str(res.path), read_only=True)
    try:
        for t in documented:
            assert dst.execute(f"select count(*) from marts.{t}").fetchone()[0] == \
                src.execute(f"select count(*) from marts.{t}").fetchone()[0] == res.tables[t] > 0
        # same rows, not only the same counts
        diff = dst.execute(f"select count(*) from (select * from marts.fct_funnel except all select * from "
                           f"(select * from read_parquet('{_to_parquet(src, 'fct_funnel', fixture_wh)}')))").fetchone()
        assert diff[0] == 0
        # dbt descriptions travel as comments, which DuckDB clients and the exports read
        comment = dst.execute("select comment from duckdb_columns() where table_name = 'fct_funnel' and "
                              "column_name = 'lead_to_contract_rate'").fetchone()[0]
        assert "конверсия лид → договор" in comment
        gates = dst.execute("select count(*), count(*) filter (where not passed) from marts.dq_check_results "
                            "where run_id = 'dq-20261020'").fetchone()
        assert gates == (3, 1)
        assert dst.execute("select count(*) from marts.publish_info").fetchone()[0] == len(res.tables) - 1
    finally:
        src.close()
        dst.close()
    assert not (tmp_path / "bi.duckdb.tmp").exists()


def _to_parquet(con, table, wh) -> str:
    out = wh.parent / f"{table}.cmp.parquet"
    con.execute(f"copy (select * from marts.{table}) to '{out}' (format parquet)")
    return str(out)


READER = textwrap.dedent("""
    import sys, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    print(con.execute("select count(*) from marts.fct_lead_control_points").fetchone()[0], flush=True)
    sys.stdin.readline()
    print(con.execute("select count(*) from marts.fct_lead_control_points").fetchone()[0], flush=True)
""")


def test_swap_is_atomic_and_an_open_reader_keeps_the_old_marts(fixture_wh, tmp_path):
    bi = tmp_path / "bi.duckdb"
    publish_duckdb(fixture_wh, bi)
    old = _count(bi, "fct_lead_control_points")
    # a BI tool (another process) holds the published file open
    reader = subprocess.Popen([sys.executable, "-c", READER, str(bi)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert int(reader.stdout.readline()) == old
        new_wh = next_run(fixture_wh, tmp_path / "next.duckdb")
        publish_duckdb(new_wh, bi)                 # not blocked by the reader
        new = _count(bi, "fct_lead_control_points")  # a fresh connection sees the new publication
        assert new != old
        reader.stdin.write("\n")
        reader.stdin.flush()
        assert int(reader.stdout.readline()) == old  # the open one still reads the old, whole
    finally:
        reader.kill()
        reader.wait()


HOLDER = textwrap.dedent("""
    import sys, duckdb, time
    con = duckdb.connect(sys.argv[1])            # a writer: DuckDB locks the file for this process
    con.execute("create or replace table meta_lock_probe as select 1")
    print("locked", flush=True)
    sys.stdin.readline()
""")


def test_blocked_run_leaves_the_previous_publication_readable(fixture_wh, tmp_path):
    bi = tmp_path / "bi.duckdb"
    publish_duckdb(fixture_wh, bi)
    digest = hashlib.sha256(bi.read_bytes()).hexdigest()
    wh = tmp_path / "busy.duckdb"
    wh.write_bytes(fixture_wh.read_bytes())
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(wh)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        t0 = time.monotonic()
        with pytest.raises(PublishError, match="locked"):
            publish_duckdb(wh, bi, lock_attempts=2, lock_wait_seconds=0.2)
        assert time.monotonic() - t0 < 10
    finally:
        holder.kill()
        holder.wait()
    assert hashlib.sha256(bi.read_bytes()).hexdigest() == digest
    assert _count(bi, "fct_funnel") > 0
    assert not (tmp_path / "bi.duckdb.tmp").exists()


def test_failed_publish_keeps_previous_file_and_cleans_up(fixture_wh, tmp_path):
    bi = tmp_path / "bi.duckdb"
    publish_duckdb(fixture_wh, bi)
    before = _count(bi, "fct_funnel")
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).execute("create schema raw_bitrix24").close()
    with pytest.raises(PublishError, match="no tables in schema 'marts'"):
        publish_duckdb(empty, bi)
    assert _count(bi, "fct_funnel") == before
    assert not (tmp_path / "bi.duckdb.tmp").exists()
    with pytest.raises(PublishError, match="separate file"):
        publish_duckdb(fixture_wh, fixture_wh)


def test_partial_marts_are_published_and_the_missing_ones_named(tmp_path):
    wh = build_fixture_warehouse(tmp_path / "partial.duckdb", marts=["fct_funnel"], quality=False)
    res = publish_duckdb(wh, tmp_path / "bi.duckdb")
    assert "fct_funnel" in res.tables and "dim_managers" in res.tables
    assert set(res.missing_marts) == set(EXPECTED_MARTS) - {"fct_funnel"}
    assert not res.dq_summary and "dq_runs" not in res.tables
