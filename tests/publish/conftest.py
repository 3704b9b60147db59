"""Fixtures for the BI publishing tests: a fixture warehouse shaped like the dbt marts, its
published BI file, a real PostgreSQL server per session, and the real dbt output (the dbt tests'
session fixtures: a generated sandbox extracted and built with `dbt build`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dbt.conftest import built, sandbox_raw  # noqa: F401  (the real dbt output, shared fixtures)
from tests.publish.fixture_warehouse import build_fixture_warehouse
from tests.support.system import PostgresServer, find_chromium, find_pg_bindir, require
from warehouse.publish import publish_duckdb

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "screenshots"


@pytest.fixture(scope="session")
def fixture_wh(tmp_path_factory) -> Path:
    return build_fixture_warehouse(tmp_path_factory.mktemp("fixture_wh") / "crm.duckdb")


@pytest.fixture(scope="session")
def bi_file(fixture_wh, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bi") / "bi.duckdb"
    publish_duckdb(fixture_wh, out)
    return out


@pytest.fixture(scope="session")
def pg_server():
    bindir = find_pg_bindir()
    require("PostgreSQL server binaries (initdb, pg_ctl)", bindir)
    server = PostgresServer(bindir).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def chromium_exe() -> str:
    exe = find_chromium()
    require("Chromium (headless)", exe)
    return exe


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
