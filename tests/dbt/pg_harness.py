"""A throwaway PostgreSQL server for the cross-engine tests, from the Debian postgresql binaries.

initdb refuses to run as root, so when root the server runs as the `postgres` OS user
(`runuser -u postgres -- ...`) in a temporary directory it owns. Raw landing tables are copied
from DuckDB with DuckDB's CSV writer and psycopg2 COPY (DuckDB's postgres extension needs a
download, which is not available offline).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import duckdb

PG_TYPES = {"BIGINT": "bigint", "INTEGER": "integer", "VARCHAR": "text", "BOOLEAN": "boolean",
            "TIMESTAMP WITH TIME ZONE": "timestamptz", "TIMESTAMP": "timestamp", "DOUBLE": "double precision",
            "JSON": "jsonb", "DATE": "date"}


def find_bindir() -> Path | None:
    for cand in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(cand, "initdb").exists() and Path(cand, "pg_ctl").exists():
            return Path(cand)
    exe = shutil.which("pg_ctl")
    return Path(exe).parent if exe else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.as_root = os.geteuid() == 0
        self.base = Path(tempfile.mkdtemp(prefix="crmwh_pg_"))
        self.data = self.base / "data"
        self.port = _free_port()
        self.user = "postgres"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = list(args)
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=120)

    def start(self) -> "PostgresServer":
        if self.as_root:
            shutil.chown(self.base, "postgres", "postgres")
        os.chmod(self.base, 0o755)
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", self.user, "-A", "trust",
                  "-E", "UTF8", "--no-locale")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.base / "log"), "-w",
                  "-o", f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off "
                        f"-c synchronous_commit=off -c full_page_writes=off -c shared_buffers=128MB "
                        f"-c work_mem=64MB", "start")
        return self

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop", check=False)
        shutil.rmtree(self.base, ignore_errors=True)

    def connect(self, dbname: str = "postgres"):
        import psycopg2

        deadline = time.time() + 30
        while True:
            try:
                con = psycopg2.connect(host="127.0.0.1", port=self.port, user=self.user, dbname=dbname)
                con.autocommit = True
                return con
            except Exception:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)

    def env(self, dbname: str) -> dict:
        return {"CRMWH_DBT_TARGET": "postgres", "CRMWH_PG_HOST": "127.0.0.1", "CRMWH_PG_PORT": str(self.port),
                "CRMWH_PG_USER": self.user, "CRMWH_PG_PASSWORD": "", "CRMWH_PG_DBNAME": dbname}


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
