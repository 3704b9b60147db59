"""Publish what BI reads into a separate DuckDB file, swapped in atomically.

DuckDB lets one process write a database file at a time, and a BI tool (Metabase, Power BI through
ODBC, an analyst's notebook) holding the warehouse open would block the next pipeline run. So BI
never opens `warehouse/crm.duckdb`: after each successful run the marts, the dimensions and a small
data-quality summary are copied into `warehouse/bi.duckdb.tmp`, which is then renamed over
`warehouse/bi.duckdb` with `os.replace` (atomic on POSIX and on one Windows volume). A reader that
has the old file open keeps reading the old marts; the next connection sees the new ones; a run
that fails or is blocked leaves the previous publication untouched.

Published (schema `marts` in the BI file):
  fct_*, dim_*         every table/view of the warehouse's `marts` schema, as tables, with the dbt
                       descriptions as table and column comments (`COMMENT ON`)
  dq_runs              data-quality run history (from quality.dq_runs), when the GE step has run
  dq_check_results     the publish gates of the latest runs (from quality.check_results)
  publish_info         one row per published table: row count, publish time, source warehouse

Nothing else (raw_*, staging, intermediate, quality) is copied.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from warehouse.labels import column_description, table_description

MARTS_SCHEMA = "marts"
DQ_RUNS_KEPT = 30


class PublishError(RuntimeError):
    """Publishing failed; the previously published file (if any) is unchanged."""


@dataclass
class PublishResult:
    path: Path
    tables: dict[str, int]                 # table -> rows
    published_at: datetime
    seconds: float
    dq_summary: bool                       # the data-quality summary tables were included
    missing_marts: list[str] = field(default_factory=list)

    @property
    def total_rows(self) -> int:
        return sum(self.tables.values())


EXPECTED_MARTS = ("fct_lead_control_points", "fct_funnel", "fct_plan_vs_fact", "fct_manager_daily_activity",
                  "fct_daily_targets", "fct_payment_forms", "fct_sales_channels", "fct_data_quality")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + (text or "").replace("'", "''") + "'"


def _connect_source(path: Path, attempts: int, wait_seconds: float) -> duckdb.DuckDBPyConnection:
    """Open the warehouse read-only; a writer holding it makes DuckDB refuse, so retry a little then give up."""
    last: Exception | None = None
    for i in range(max(attempts, 1)):
        try:
            return duckdb.connect(str(path), read_only=True)
        except duckdb.IOException as exc:  # "Could not set lock on file": another process writes
            last = exc
            if i + 1 < attempts:
                time.sleep(wait_seconds)
    raise PublishError(f"warehouse {path} is locked by another process; previous publication kept: {last}")


def list_marts(con: duckdb.DuckDBPyConnection, catalog: str | None = None, schema: str = MARTS_SCHEMA) -> list[str]:
    where = "table_schema = ?" + (" and table_catalog = ?" if catalog else "")
    params = [schema] + ([catalog] if catalog else [])
    return [r[0] for r in con.execute(
        f"select table_name from information_schema.tables where {where} order by table_name", params).fetchall()]


def publish_duckdb(warehouse_path: str | Path, bi_path: str | Path, *, schema: str = MARTS_SCHEMA,
                   manifest: str | Path | None = None, lock_attempts: int = 3,
                   lock_wait_seconds: float = 1.0) -> PublishResult:
    """Copy the marts (+ dims + data-quality summary) of `warehouse_path` into `bi_path`, atomically.

    Builds `<bi_path>.tmp` next to the target and `os.replace`s it over `bi_path`. Raises
    PublishError (leaving `bi_path` as it was) when the warehouse is locked or has no marts.
    `manifest` is dbt's target/manifest.json for column comments (default: the marts YAML).
    """
    t0 = time.monotonic()
    warehouse_path, bi_path = Path(warehouse_path), Path(bi_path)
    if not warehouse_path.exists():
        raise PublishError(f"warehouse {warehouse_path} does not exist")
    if warehouse_path.resolve() == bi_path.resolve():
        raise PublishError("bi_path must be a separate file from the warehouse")
    bi_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = bi_path.with_name(bi_path.name + ".tmp")
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        leftover.unlink(missing_ok=True)
    manifest_s = str(manifest) if manifest else None
    src_probe = _connect_source(warehouse_path, lock_attempts, lock_wait_seconds)
    src_probe.close()
    published_at = datetime.now(timezone.utc).replace(microsecond=0)
    tables: dict[str, int] = {}
    dq = False
    try:
        con = duckdb.connect(str(tmp))
        try:
            con.execute("set TimeZone = 'UTC'")
            con.execute(f"attach {_lit(str(warehouse_path))} as src (read_only)")
            marts = list_marts(con, "src", schema)
            if not marts:
                raise PublishError(f"warehouse {warehouse_path} has no tables in schema {schema!r}")
            con.execute("begin")
            con.execute(f"create schema {_q(schema)}")
            for t in marts:
                con.execute(f"create table {_q(schema)}.{_q(t)} as select * from src.{_q(schema)}.{_q(t)}")
                tables[t] = con.execute(f"select count(*) from {_q(schema)}.{_q(t)}").fetchone()[0]
                _comment(con, schema, t, manifest_s)
            dq = _copy_dq_summary(con, schema, tables)
            con.execute(f"create table {_q(schema)}.publish_info (table_name varchar, row_count bigint, "
                        "published_at timestamptz, source_warehouse varchar)")
            con.executemany(f"insert into {_q(schema)}.publish_info values (?, ?, ?, ?)",
                            [[t, n, published_at, str(warehouse_path)] for t, n in tables.items()])
            tables["publish_info"] = len(tables)
            con.execute("commit")
            con.execute("detach src")
            con.execute("checkpoint")
        finally:
            con.close()
        tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)
        os.replace(tmp, bi_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)
        raise
    return PublishResult(path=bi_path, tables=tables, published_at=published_at,
                         seconds=round(time.monotonic() - t0, 3), dq_summary=dq,
                         missing_marts=[m for m in EXPECTED_MARTS if m not in tables])


def _comment(con, schema: str, table: str, manifest: str | None) -> None:
    stmts = []
    desc = table_description(table, manifest)
    if desc:
        stmts.append(f"comment on table {_q(schema)}.{_q(table)} is {_lit(desc)}")
    for (col,) in con.execute("select column_name from information_schema.columns where table_schema = ? and "
                              "table_name = ? and table_catalog = current_database()", [schema, table]).fetchall():
        d = column_description(table, col, manifest)
        if d:
            stmts.append(f"comment on column {_q(schema)}.{_q(table)}.{_q(col)} is {_lit(d)}")
    if stmts:
        con.execute(";\n".join(stmts))


def _copy_dq_summary(con, schema: str, tables: dict[str, int]) -> bool:
    """The latest data-quality runs and their publish gates, when the Great Expectations step has run."""
    have = set(list_marts(con, "src", "quality"))
    if "dq_runs" not in have:
        return False
    run_cols = {r[0] for r in con.execute(
        "select column_name from information_schema.columns where table_catalog = 'src' and table_schema = "
        "'quality' and table_name = 'dq_runs'").fetchall()}
    wanted = ["run_id", "started_at", "finished_at", "mode", "leads_total", "leads_checked", "leads_flagged",
              "junk_share", "ge_success", "publish_allowed"]
    cols = ", ".join(_q(c) for c in wanted if c in run_cols)
    con.execute(f"create table {_q(schema)}.dq_runs as select {cols} from src.quality.dq_runs "
                f"order by started_at desc limit {DQ_RUNS_KEPT}")
    tables["dq_runs"] = con.execute(f"select count(*) from {_q(schema)}.dq_runs").fetchone()[0]
    con.execute(f"comment on table {_q(schema)}.dq_runs is "
                f"{_lit('Data-quality runs (запуски проверок качества), newest first.')}")
    if "check_results" in have:
        con.execute(f"""create table {_q(schema)}.dq_check_results as
            select c.run_id, r.started_at, c.name as check_name, c.severity, c.passed, c.observed, c.threshold,
                   c.description
            from src.quality.check_results c join {_q(schema)}.dq_runs r using (run_id)
            order by r.started_at desc, c.severity, c.name""")
        tables["dq_check_results"] = con.execute(
            f"select count(*) from {_q(schema)}.dq_check_results").fetchone()[0]
        con.execute(f"comment on table {_q(schema)}.dq_check_results is "
                    f"{_lit('Publish gates of the data-quality runs (проверки публикации).')}")
    return True


def read_only_connection(bi_path: str | Path) -> duckdb.DuckDBPyConnection:
    """How every reader (report, exports, BI) opens the published file."""
    return duckdb.connect(str(bi_path), read_only=True)
