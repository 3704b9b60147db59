"""Landing tables from DuckDB into PostgreSQL for the cross-engine tests (the server itself is
tests.support.system.PostgresServer). Copied with DuckDB's CSV writer and psycopg2 COPY: DuckDB's
postgres extension needs a download, which is not available offline.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import duckdb

PG_TYPES = {"BIGINT": "bigint", "INTEGER": "integer", "VARCHAR": "text", "BOOLEAN": "boolean",
            "TIMESTAMP WITH TIME ZONE": "timestamptz", "TIMESTAMP": "timestamp", "DOUBLE": "double precision",
            "JSON": "jsonb", "DATE": "date"}


def copy_raw(duck_path: Path, pg_con, schemas=("raw_bitrix24", "raw_amocrm"), workdir: Path | None = None) -> int:
    """Copy the landing tables of `schemas` from DuckDB into PostgreSQL (same names and types)."""
    workdir = Path(workdir or tempfile.mkdtemp(prefix="crmwh_copy_"))
    dk = duckdb.connect(str(duck_path), read_only=True)
    cur = pg_con.cursor()
    n = 0
    try:
        tables = dk.execute("select table_schema, table_name from information_schema.tables "
                            "where table_schema in ({}) order by 1, 2".format(
                                ",".join(f"'{s}'" for s in schemas))).fetchall()
        for schema, table in tables:
            cols = dk.execute("select column_name, data_type from information_schema.columns where table_schema = ? "
                              "and table_name = ? order by ordinal_position", [schema, table]).fetchall()
            ddl = ", ".join(f'"{c}" {PG_TYPES.get(t, "text")}' for c, t in cols)
            cur.execute(f'create schema if not exists "{schema}"')
            cur.execute(f'drop table if exists "{schema}"."{table}"')
            cur.execute(f'create table "{schema}"."{table}" ({ddl})')
            csv = workdir / f"{schema}.{table}.csv"
            dk.execute(f"copy (select * from \"{schema}\".\"{table}\") to '{csv}' (header false, format csv)")
            with open(csv, encoding="utf-8") as fh:
                cur.copy_expert(f'copy "{schema}"."{table}" from stdin with (format csv)', fh)
            n += 1
    finally:
        dk.close()
        shutil.rmtree(workdir, ignore_errors=True)
    return n
