"""Secrets never leave the environment and the token files: the WHOLE pipeline (both CRMs
extracted, dbt, junk detection, marts, publish: bi.duckdb, HTML reports, Parquet/XLSX exports,
Great Expectations Data Docs) runs against a sandbox whose credentials are recognisable strings,
then every output is scanned for each secret, plain and URL-encoded: captured log records and
stdout/stderr, every Dagster event of the run, every file under DAGSTER_HOME, every VARCHAR/JSON
column of every table of the warehouse and of bi.duckdb, every file (zip members too) under the
output folder. Token files legitimately hold tokens: they are checked for mode 0600 instead.
The sandbox binds 127.0.0.1 only. (The PostgreSQL BI role: tests/publish/test_postgres.py.)"""

from __future__ import annotations

import json
import logging
import os
import zipfile
from pathlib import Path
from urllib.parse import quote, quote_plus

import duckdb
import pytest

WEBHOOK = "SECRETWEBHOOK7f3a9c"
AMO_CLIENT_SECRET = "SECRET-CLIENT-amo-5b1e0c"
AMO_REFRESH = "def50200SECRETREFRESH9d2c41"
B24_CLIENT_SECRET = "SECRET-CLIENT-b24-77a0d3"
B24_REFRESH = "SECRETB24REFRESH4e8f21"


def _forms(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), quote_plus(secret)}


def _hits(text: str, secrets: set[str]) -> list[str]:
    return sorted({s for s in secrets if s in text})


def _text_columns(path: Path, secrets: set[str]) -> list[str]:
    found = []
    with duckdb.connect(str(path), read_only=True) as con:
        cols = con.execute("""SELECT schema_name, table_name, column_name FROM duckdb_columns()
                              WHERE NOT internal AND (data_type IN ('VARCHAR', 'JSON') OR data_type LIKE '%VARCHAR%'
                                    OR data_type LIKE '%JSON%' OR data_type LIKE 'STRUCT%' OR data_type LIKE 'MAP%')
                                AND database_name = current_database()""").fetchall()
        for schema, table, col in cols:
            for s in secrets:
                n = con.execute(f'SELECT count(*) FROM "{schema}"."{table}" WHERE strpos(CAST("{col}" AS VARCHAR), ?) > 0',
                                [s]).fetchone()[0]
                if n:
                    found.append(f"{path.name}:{schema}.{table}.{col} holds {s!r} ({n} rows)")
    return found


def _files(root: Path, secrets: set[str], skip: tuple[Path, ...] = ()) -> list[str]:
    found = []
    for p in sorted(root.rglob("*")):
        if not p.is_file() or any(p == s or s in p.parents for s in skip) or p.suffix in (".duckdb", ".wal"):
            continue
        blobs = [(str(p), p.read_bytes())]
        if zipfile.is_zipfile(p):  # xlsx
            with zipfile.ZipFile(p) as z:
                blobs += [(f"{p}!{n}", z.read(n)) for n in z.namelist()]
        for where, data in blobs:
            text = data.decode("utf-8", "replace")
            found += [f"{where} holds {s!r}" for s in _hits(text, secrets)]
        if p.suffix == ".parquet":
            with duckdb.connect() as con:
                text = json.dumps(con.execute(f"SELECT * FROM read_parquet('{p}')").fetchall(), default=str)
            found += [f"{p} (decoded) holds {s!r}" for s in _hits(text, secrets)]
    return found


@pytest.fixture(scope="module")
def secret_run(tmp_path_factory):
    from crmwh.privacy import ensure_dagster_home
    from crmwh.sandbox_link import link_sandbox
    from sandbox.generator import generate
    from sandbox.serve import serve_all

    base = tmp_path_factory.mktemp("security")
    data = base / "crm"
    generate(data, seed=31, leads=1500, as_of=None)  # as of today: the freshness gate passes
    manifest = json.loads((data / "manifest.json").read_text(encoding="utf-8"))
    for acc in manifest["accounts"]:  # before serving: the emulators read these credentials
        creds = acc["credentials"]
        if acc["system"] == "bitrix24":
            creds.update(webhook_code=WEBHOOK, oauth_client_secret=B24_CLIENT_SECRET, oauth_refresh_token=B24_REFRESH)
        else:
            creds.update(client_secret=AMO_CLIENT_SECRET, refresh_token=AMO_REFRESH)
    (data / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    servers = serve_all(data, limits=True)
    out = base / "out"
    mp = pytest.MonkeyPatch()
    accounts_file, env = link_sandbox(data, apply=False)
    assert WEBHOOK in "".join(env.values()) and AMO_REFRESH in env.values()
    for k, v in {**env, "CRMWH_ACCOUNTS_FILE": str(accounts_file), "CRMWH_WAREHOUSE_PATH": str(out / "wh.duckdb"),
                 "CRMWH_TOKEN_DIR": str(base / "tokens"), "CRMWH_PLANS_FILE": str(data / "truth" / "plans.xlsx"),
                 "DAGSTER_HOME": str(base / "dagster_home"), "CRMWH_EXPORT_XLSX": "1"}.items():
        mp.setenv(k, v)
    ensure_dagster_home()
    yield base, out, servers
    mp.undo()
    for s in servers.values():
        s.stop()


def test_no_secret_in_logs_events_warehouse_reports_or_exports(secret_run, caplog, capfd):
    import dagster as dg

    from crmwh.pipeline import run_pipeline

    base, out, servers = secret_run
    caplog.set_level(logging.DEBUG)
    summary = run_pipeline(full=True, quiet=False)
    assert summary.success, (summary.failures, summary.checks_failed)
    assert {"bi.duckdb"} <= {p.name for p in out.iterdir()}
    assert list(out.rglob("report_*.html")) and list(out.rglob("*.parquet")) and list(out.rglob("*.xlsx"))
    assert list((out / "gx").rglob("*.html")), "Great Expectations Data Docs were built"

    tokens = base / "tokens"
    token_files = list(tokens.glob("*.json"))
    assert token_files, "the amoCRM OAuth pair was rotated and stored"
    rotated: set[str] = set()
    for f in token_files:  # they legitimately hold tokens: owner-only
        assert oct(os.stat(f).st_mode & 0o777) == "0o600", f
        pair = json.loads(f.read_text())
        rotated |= {str(pair[k]) for k in ("access_token", "refresh_token") if pair.get(k)}
    secrets: set[str] = set()
    for s in (WEBHOOK, AMO_CLIENT_SECRET, AMO_REFRESH, B24_CLIENT_SECRET, B24_REFRESH, *rotated):
        secrets |= _forms(s)

    problems: list[str] = []
    for rec in caplog.records:  # every log record, message and arguments
        text = f"{rec.name} {rec.getMessage()} {rec.args!r} {rec.exc_text or ''}"
        problems += [f"log record {rec.name}: {s!r}" for s in _hits(text, secrets)]
    stdout, stderr = capfd.readouterr()
    problems += [f"stdout/stderr: {s!r}" for s in _hits(stdout + stderr, secrets)]
    events = dg.DagsterInstance.get().all_logs(summary.run_id)
    assert len(events) > 50
    for ev in events:
        problems += [f"Dagster event {ev.dagster_event_type}: {s!r}" for s in _hits(repr(ev), secrets)]
    problems += _files(base / "dagster_home", secrets)
    problems += _files(out, secrets)
    for db in (out / "wh.duckdb", out / "bi.duckdb"):
        problems += _text_columns(db, secrets)
    assert not problems, problems[:20]


def test_sandbox_binds_loopback_only(secret_run):
    _, _, servers = secret_run
    for srv in servers.values():
        assert srv.server.server_address[0] == "127.0.0.1", srv.server.server_address
        assert srv.url.startswith("http://127.0.0.1:"), srv.url
