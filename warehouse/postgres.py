"""Publish the marts to PostgreSQL for BI tools' native connectors, readable by a read-only role.

Metabase's and Power BI's PostgreSQL connectors need no extra driver, so the marts are also
published to a PostgreSQL database. `publish_postgres()` copies every table of the source's
`marts` schema (normally the published `warehouse/bi.duckdb`, see `warehouse.publish`):

1. In one transaction, under an advisory lock (two publishes never interleave), it builds a fresh
   schema `<schema>__new` (CREATE TABLE + COPY from DuckDB's CSV writer, dbt descriptions as
   COMMENTs, which Metabase shows as field descriptions), grants the reader, then swaps it in:
   `<schema>` → `<schema>__old` (dropped), `<schema>__new` → `<schema>`. Readers see either the
   whole previous publication or the whole new one, never a half; a failure rolls back and the
   previous marts stay.
2. The reader role (default `bi_reader`) is created if missing: LOGIN, no superuser/createdb/
   createrole, `default_transaction_read_only`, CONNECT on the database, USAGE on the marts schema
   and SELECT on its tables - nothing on raw_*, staging, intermediate, quality or public.

Because the marts schema is dropped and recreated on every publish, objects that others create in
it (or views elsewhere that depend on its tables) are dropped too: keep analysts' views in their
own schema and recreate them, or query the marts directly.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from warehouse.labels import column_description, table_description

ADVISORY_LOCK_KEY = 0x63726D77  # "crmw"

PG_TYPES = {
    "BIGINT": "bigint", "INTEGER": "integer", "SMALLINT": "smallint", "TINYINT": "smallint",
    "HUGEINT": "numeric", "UBIGINT": "numeric", "UINTEGER": "bigint", "USMALLINT": "integer",
    "UTINYINT": "smallint", "DOUBLE": "double precision", "FLOAT": "real", "BOOLEAN": "boolean",
    "VARCHAR": "text", "DATE": "date", "TIMESTAMP": "timestamp", "TIMESTAMP_NS": "timestamp",
    "TIMESTAMP_MS": "timestamp", "TIMESTAMP_S": "timestamp", "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "TIME": "time", "INTERVAL": "interval", "UUID": "uuid", "JSON": "jsonb", "BLOB": "bytea",
}


@dataclass
class PostgresPublishResult:
    schema: str
    reader_role: str
    tables: dict[str, int]
    seconds: float


def pg_type(duck_type: str) -> str:
    t = duck_type.upper()
    if t.startswith("DECIMAL") or t.startswith("NUMERIC"):
        return t.replace("DECIMAL", "numeric").lower()
    if t.endswith("[]") or t.startswith(("STRUCT", "MAP", "LIST", "UNION")):
        return "text"
    return PG_TYPES.get(t, "text")


def _source_tables(con, schema: str) -> list[tuple[str, list[tuple[str, str]]]]:
    out = []
    for (t,) in con.execute("select table_name from information_schema.tables where table_schema = ? "
                            "order by table_name", [schema]).fetchall():
        cols = con.execute("select column_name, data_type from information_schema.columns where table_schema = ? "
                           "and table_name = ? order by ordinal_position", [schema, t]).fetchall()
        out.append((t, cols))
    return out


def _duck_comments(con, schema: str) -> tuple[dict, dict]:
    """Table and column comments already in the DuckDB file (publish_duckdb writes them)."""
    tcom = {r[0]: r[1] for r in con.execute(
        "select table_name, comment from duckdb_tables() where schema_name = ? and comment is not null",
        [schema]).fetchall()}
    ccom = {(r[0], r[1]): r[2] for r in con.execute(
        "select table_name, column_name, comment from duckdb_columns() where schema_name = ? "
        "and comment is not null", [schema]).fetchall()}
    return tcom, ccom


def publish_postgres(source: str | Path, dsn: str, *, schema: str = "marts", reader_role: str = "bi_reader",
                     reader_password: str | None = None, source_schema: str = "marts",
                     manifest: str | Path | None = None) -> PostgresPublishResult:
    """Create/refresh `schema` in the PostgreSQL database `dsn` from the DuckDB file `source`.

    `dsn` must connect as a role that may create schemas and roles (the publishing owner).
    `reader_password` (default: env CRMWH_BI_READER_PASSWORD) sets the reader's login password; without
    one an existing role keeps its password and a new one is created without (set it yourself).
    """
    import psycopg2
    from psycopg2 import sql

    t0 = time.monotonic()
    if reader_password is None:
        reader_password = os.environ.get("CRMWH_BI_READER_PASSWORD")
    manifest_s = str(manifest) if manifest else None
    new, old = f"{schema}__new", f"{schema}__old"
    work = Path(tempfile.mkdtemp(prefix="crmwh_pgpub_"))
    duck = duckdb.connect(str(source), read_only=True)
    pg = psycopg2.connect(dsn)
    tables: dict[str, int] = {}
    try:
        duck.execute("set TimeZone = 'UTC'")
        src_tables = _source_tables(duck, source_schema)
        if not src_tables:
            raise RuntimeError(f"{source} has no tables in schema {source_schema!r}")
        tcom, ccom = _duck_comments(duck, source_schema)
        # what an earlier publish could not drop after its swap (a BI query still read it then)
        if not _drop_old_publication(pg, old):
            raise RuntimeError(f"the previous publication (PostgreSQL schema {old!r}) is still locked by a BI "
                               "session, perhaps a transaction left open; nothing was changed: publish again "
                               "once it ends")
        with pg:  # one transaction: commit on success, rollback on any error
            cur = pg.cursor()
            cur.execute("set local timezone = 'UTC'")
            cur.execute("select pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])
            _ensure_reader(cur, sql, reader_role, reader_password)
            cur.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(new)))
            cur.execute(sql.SQL("create schema {}").format(sql.Identifier(new)))
            for table, cols in src_tables:
                ident = sql.Identifier(new, table)
                cur.execute(sql.SQL("create table {} ({})").format(ident, sql.SQL(", ").join(
                    sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(pg_type(t))) for c, t in cols)))
                csv = work / f"{table}.csv"
                sel = ", ".join(_csv_expr(c, t) for c, t in cols)
                duck.execute(f'copy (select {sel} from "{source_schema}"."{table}") to \'{csv}\' '
                             "(format csv, header false, null '')")
                with open(csv, encoding="utf-8") as fh:
                    cur.copy_expert(sql.SQL("copy {} from stdin with (format csv)").format(ident).as_string(pg), fh)
                tables[table] = cur.rowcount if cur.rowcount >= 0 else 0
                csv.unlink()
                tdesc = tcom.get(table) or table_description(table, manifest_s)
                if tdesc:
                    cur.execute(sql.SQL("comment on table {} is %s").format(ident), [tdesc])
                for c, _ in cols:
                    d = ccom.get((table, c)) or column_description(table, c, manifest_s)
                    if d:
                        cur.execute(sql.SQL("comment on column {}.{} is %s").format(ident, sql.Identifier(c)), [d])
            cur.execute(sql.SQL("grant usage on schema {} to {}").format(sql.Identifier(new),
                                                                      sql.Identifier(reader_role)))
            cur.execute(sql.SQL("grant select on all tables in schema {} to {}").format(
                sql.Identifier(new), sql.Identifier(reader_role)))
            # the swap: readers see the old schema until commit, then the new one. No lock on a table
            # of the old publication in this transaction: a BI query that began before the swap may
            # hold one of them and wait for the next, and a drop here, holding that next one,
            # deadlocked with it (PostgreSQL then aborted the whole publish). The old schema is
            # hidden from the reader now and dropped after the commit.
            cur.execute("select 1 from pg_namespace where nspname = %s", [schema])
            had_previous = cur.fetchone() is not None
            if had_previous:
                cur.execute(sql.SQL("alter schema {} rename to {}").format(sql.Identifier(schema),
                                                                           sql.Identifier(old)))
            cur.execute(sql.SQL("alter schema {} rename to {}").format(sql.Identifier(new), sql.Identifier(schema)))
            if had_previous:
                cur.execute(sql.SQL("revoke all on schema {} from {}").format(sql.Identifier(old),
                                                                           sql.Identifier(reader_role)))
        _drop_old_publication(pg, old)  # if a BI query still reads it, the next publish drops it
    finally:
        pg.close()
        duck.close()
        shutil.rmtree(work, ignore_errors=True)
    return PostgresPublishResult(schema=schema, reader_role=reader_role, tables=tables,
                                 seconds=round(time.monotonic() - t0, 3))


def _drop_old_publication(pg, old: str, attempts: int = 5) -> bool:
    """Drop the previous publication after the swap committed, in its own transaction. Its lock
    timeout is far below PostgreSQL's deadlock_timeout (1 s): while a query that started before the
    swap still reads the old tables, the drop gives up and retries instead of holding one table
    while waiting for another. If it never gets them, the next publish tries again before it
    starts (and stops with a clear error while it still cannot). Returns whether it was dropped."""
    import psycopg2
    from psycopg2 import sql

    for attempt in range(attempts):
        try:
            with pg:
                cur = pg.cursor()
                cur.execute("set local lock_timeout = '200ms'")
                cur.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(old)))
            return True
        except (psycopg2.errors.LockNotAvailable, psycopg2.errors.DeadlockDetected):
            time.sleep(0.1 * (attempt + 1))
    return False


def _csv_expr(col: str, duck_type: str) -> str:
    c = '"' + col.replace('"', '""') + '"'
    t = duck_type.upper()
    if t == "BOOLEAN":
        return f"case when {c} then 't' when not {c} then 'f' end"
    if t.endswith("[]") or t.startswith(("STRUCT", "MAP", "LIST", "UNION")):
        return f"cast({c} as varchar)"
    return c


def _ensure_reader(cur, sql, role: str, password: str | None) -> None:
    cur.execute("select 1 from pg_roles where rolname = %s", [role])
    exists = cur.fetchone() is not None
    verb = "alter" if exists else "create"
    stmt = sql.SQL(verb + " role {} with login nosuperuser nocreatedb nocreaterole noinherit noreplication "
                   "nobypassrls").format(sql.Identifier(role))
    if password:
        stmt = stmt + sql.SQL(" password {}").format(sql.Literal(password))
    cur.execute(stmt)
    cur.execute(sql.SQL("alter role {} set default_transaction_read_only = on").format(sql.Identifier(role)))
    cur.execute("select current_database()")
    db = cur.fetchone()[0]
    cur.execute(sql.SQL("grant connect on database {} to {}").format(sql.Identifier(db), sql.Identifier(role)))
    # PostgreSQL 15 already denies CREATE on public to PUBLIC; older servers do not (only the owner may revoke).
    cur.execute("savepoint crmwh_public")
    try:
        cur.execute("revoke create on schema public from public")
        cur.execute("release savepoint crmwh_public")
    except Exception:
        cur.execute("rollback to savepoint crmwh_public")


def reader_can_see(dsn: str) -> list[tuple[str, str]]:
    """(schema, table) pairs the connecting role may SELECT from, outside the system catalogs (for checks)."""
    import psycopg2

    with psycopg2.connect(dsn) as con, con.cursor() as cur:
        cur.execute("""select table_schema, table_name from information_schema.tables
                       where table_schema not in ('pg_catalog', 'information_schema')
                         and has_table_privilege(quote_ident(table_schema) || '.' || quote_ident(table_name),
                                                 'select')
                       order by 1, 2""")
        return cur.fetchall()
