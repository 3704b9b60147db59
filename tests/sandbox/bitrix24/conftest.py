"""A small deterministic Bitrix24 portal built directly with sandbox.state (independent of the
generator), served on 127.0.0.1 by sandbox.common.http.start."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import pytest
import requests

from sandbox.bitrix24.app import Bitrix24App
from sandbox.common.faults import FaultConfig
from sandbox.common.http import RunningServer, start
from sandbox.state import create_tables

N_LEADS, N_DEALS, N_CONTACTS, N_COMPANIES, N_ACTIVITIES = 320, 130, 60, 10, 210
BASE = datetime(2026, 1, 10, 9, 0, tzinfo=timezone.utc)
ACCOUNT: dict[str, Any] = {
    "system": "bitrix24", "account": "b24-test", "file": "bitrix24_b24-test.duckdb", "plan": "standard",
    "portal_offset": "+03:00",
    "credentials": {"webhook_user_id": 1, "webhook_code": "hook5ecret0000ab", "oauth_client_id": "local.test.1",
                    "oauth_client_secret": "client-secret", "oauth_refresh_token": "refresh-0"},
}
LEAD_STATUSES = ["NEW", "IN_PROCESS", "PROCESSED", "JUNK", "CONVERTED"]
SOURCES = ["CALL", "WEB", "ADVERTISING"]


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple]) -> None:
    import pandas as pd

    cols = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
    df = pd.DataFrame(rows, columns=cols, dtype=object)  # noqa: F841 - read by DuckDB below
    con.execute(f"INSERT INTO {table} SELECT * FROM df")


def _ts(hours: float) -> datetime:
    return BASE + timedelta(hours=hours)


def build_portal(path: Path) -> None:
    con = duckdb.connect(str(path))
    create_tables(con, "bitrix24")
    for table, col, typ in [("crm_lead", "UF_CRM_CHANNEL", "VARCHAR"), ("crm_lead", "UF_CRM_1700000000", "VARCHAR"),
                            ("crm_deal", "UF_CRM_PAYMENT_FORM", "VARCHAR"), ("crm_deal", "UF_CRM_AREA", "DOUBLE")]:
        con.execute(f"ALTER TABLE {table} ADD COLUMN {col} {typ}")
    users = []
    for i in range(1, 13):
        users.append((i, i != 11, f"Name{i}", f"Last{i}", None, f"user{i}@example.ru", "Manager", None,
                      json.dumps([1 + i % 4]), "bot" if i == 12 else "employee", _ts(-1000 + i), _ts(i), False))
    _insert(con, "b_user", users)
    con.executemany("INSERT INTO b_department VALUES (?,?,?,?,?)",
                    [(1, "Company", 500, None, 1), (2, "Sales Moscow", 500, 1, 2), (3, "Sales Region", 600, 1, 3),
                     (4, "Call centre", 700, 1, 4)])
    statuses, sid = [], 0

    def st(entity: str, status: str, name: str, sort: int, sem: str | None, cat: int | None = None) -> None:
        nonlocal sid
        sid += 1
        statuses.append((sid, entity, status, name, name, sort, True, cat, "#39A8EF", sem))

    for k, s in enumerate(LEAD_STATUSES):
        st("STATUS", s, s.title(), 10 * (k + 1), {"JUNK": "F", "CONVERTED": "S"}.get(s))
    for k, s in enumerate(SOURCES):
        st("SOURCE", s, s.title(), 10 * (k + 1), None)
    for k, s in enumerate(["NEW", "PREPARATION", "EXECUTING", "WON", "LOSE"]):
        st("DEAL_STAGE", s, s.title(), 10 * (k + 1), {"WON": "S", "LOSE": "F"}.get(s), 0)
    for k, s in enumerate(["C1:NEW", "C1:WON", "C1:LOSE"]):
        st("DEAL_STAGE_1", s, s, 10 * (k + 1), {"C1:WON": "S", "C1:LOSE": "F"}.get(s), 1)
    st("DEAL_TYPE", "SALE", "Sale", 10, None)
    _insert(con, "crm_status", statuses)
    con.executemany("INSERT INTO crm_category VALUES (?,?,?,?,?)",
                    [(0, 2, "General", 100, True), (1, 2, "Resale", 200, False), (0, 31, "Invoices", 100, True)])
    _insert(con, "crm_userfield", [
        (1, "CRM_LEAD", "UF_CRM_CHANNEL", "string", None, 100, False, False, "{}",
         json.dumps({"ru": "Канал", "en": "Channel"}), None),
        (2, "CRM_LEAD", "UF_CRM_1700000000", "string", None, 110, False, False, "{}",
         json.dumps({"ru": "Код", "en": "Code"}), None),
        (3, "CRM_DEAL", "UF_CRM_PAYMENT_FORM", "enumeration", None, 100, False, True, "{}",
         json.dumps({"ru": "Форма оплаты", "en": "Payment form"}),
         json.dumps([{"ID": "1", "VALUE": "mortgage", "SORT": "10", "DEF": "N"}])),
        (4, "CRM_DEAL", "UF_CRM_AREA", "double", None, 110, False, False, "{}",
         json.dumps({"ru": "Площадь", "en": "Area"}), None),
    ])
    leads = []
    for i in range(1, N_LEADS + 1):
        phone = None if i % 5 == 0 else json.dumps([{"ID": str(10000 + i), "VALUE_TYPE": "WORK",
                                                      "VALUE": f"+7900{i:07d}", "TYPE_ID": "PHONE"}])
        email = json.dumps([{"ID": str(20000 + i), "VALUE_TYPE": "WORK", "VALUE": f"lead{i}@mail.ru",
                             "TYPE_ID": "EMAIL"}]) if i % 3 == 0 else None
        status = LEAD_STATUSES[i % 5]
        leads.append((i, f"Lead {i}" + (" test" if i % 50 == 0 else ""), f"Ivan{i}", None, f"Petrov{i}", status,
                      {"JUNK": "F", "CONVERTED": "S"}.get(status, "P"), None, SOURCES[i % 3], None,
                      1 + i % 10, 1, 1, 1, _ts(i), _ts(i + 24 * (i % 7)), _ts(i), None,
                      i * 1000 + 0.5, "RUB", None, None, None, False, i % 2 == 0, "yandex" if i % 4 == 0 else None,
                      None, None, None, None, phone, email, ["avito", "cian", "site"][i % 3],
                      None if i % 2 else f"code-{i}"))
    _insert(con, "crm_lead", leads)
    deals = []
    for i in range(1, N_DEALS + 1):
        cat = i % 2
        stage = ["NEW", "PREPARATION", "EXECUTING", "WON", "LOSE"][i % 5] if cat == 0 else \
            ["C1:NEW", "C1:WON", "C1:LOSE"][i % 3]
        sem = "S" if stage.endswith("WON") else ("F" if stage.endswith("LOSE") else "P")
        deals.append((i, f"Deal {i}", "SALE", cat, stage, sem, i % 10 == 0, sem != "P", 5_000_000 + i * 1000,
                      "RUB", 1 + i % 10, 1, 1, 1, _ts(2 * i), _ts(2 * i + 5), _ts(2 * i), _ts(2 * i), _ts(2 * i + 700),
                      2 * i, None, None, SOURCES[i % 3], None, None, True, None, None, None, None, None,
                      ["mortgage", "installment", "full_payment"][i % 3], 30.0 + i))
    _insert(con, "crm_deal", deals)
    _insert(con, "crm_contact", [
        (i, f"C{i}", None, f"L{i}", "CLIENT", "CALL", 1, 1, 1, _ts(i), _ts(i), True, None, i,
         json.dumps([{"ID": str(30000 + i), "VALUE_TYPE": "MOBILE", "VALUE": f"+7911{i:07d}", "TYPE_ID": "PHONE"}]),
         None) for i in range(1, N_CONTACTS + 1)])
    _insert(con, "crm_company", [
        (i, f"Company {i}", "CUSTOMER", "IT", 1, 1, 1, _ts(i), _ts(i), True, None, None)
        for i in range(1, N_COMPANIES + 1)])
    _insert(con, "crm_activity", [
        (i, 1 if i % 3 else 2, 1 + i % N_LEADS, [1, 2, 6][i % 3], ["CRM_MEETING", "VOXIMPLANT_CALL", "CRM_TODO"][i % 3],
         ["MEETING", "CALL", "TODO"][i % 3], f"Act {i}", "", _ts(500 - i), _ts(501 - i), _ts(500 - i), i % 2 == 0,
         2 if i % 2 == 0 else 1, 1 + i % 2, 2, 1 + i % 10, 1, 1, _ts(i), _ts(i)) for i in range(1, N_ACTIVITIES + 1)])
    hist, hid = [], 0
    for i in range(1, N_LEADS + 1):
        hid += 1
        hist.append((hid, 1, 1, i, _ts(i), None, "NEW", "P", None, None))
    for i in range(1, N_DEALS + 1):
        hid += 1
        hist.append((hid, 2, 1, i, _ts(2 * i), i % 2, None, None, "NEW" if i % 2 == 0 else "C1:NEW", "P"))
    _insert(con, "crm_stagehistory", hist)
    _insert(con, "crm_product", [
        (i, f"Apartment {i}", 1, 5_000_000 + i * 10_000, "RUB", 9, _ts(-500), _ts(-400), "ЖК Север", "B1",
         1 + i % 3, 30.5 + i, 1 + i % 20) for i in range(1, 21)])
    rows, rid = [], 0
    for d in range(1, 51):
        for k in range(1 + d % 2):
            rid += 1
            rows.append((rid, d, "D", 1 + (d + k) % 20, f"Apartment {1 + (d + k) % 20}", 5_000_000 + d * 1000, 1, 0,
                         0, 796, "шт", 10 * (k + 1)))
    _insert(con, "crm_productrow", rows)
    _insert(con, "crm_invoice", [
        (i, f"Invoice {i}", 0, "DT31_1:N", 100000 + i, "RUB", 1, 1, 1, _ts(3 * i), _ts(3 * i + 1), _ts(3 * i),
         _ts(3 * i + 100), 1 + i % N_DEALS, None, None) for i in range(1, 41)])
    _insert(con, "sale_payment", [
        (i, 1000 + i, 2 if i % 4 else 31, 1 + i % 20, f"{1000 + i}/1", i % 3 != 0, _ts(4 * i) if i % 3 else None,
         _ts(4 * i - 10), 1, 2, "Bank transfer", 250000 + i * 10, "RUB", _ts(4 * i)) for i in range(1, 81)])
    con.close()


@pytest.fixture(scope="session")
def portal_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("b24-template")
    build_portal(d / ACCOUNT["file"])
    return d / ACCOUNT["file"]


@dataclass
class Portal:
    running: RunningServer
    app: Bitrix24App
    creds: dict[str, Any]
    data_dir: Path

    @property
    def url(self) -> str:
        return self.running.url

    @property
    def webhook(self) -> str:
        return f"{self.url}/rest/{self.creds['webhook_user_id']}/{self.creds['webhook_code']}/"

    def call(self, method: str, params: dict[str, Any] | None = None, how: str = "json",
             webhook: str | None = None) -> requests.Response:
        url = (webhook or self.webhook) + method
        if how == "json":
            return requests.post(url, json=params or {}, timeout=10)
        if how == "get":
            return requests.get(url, params=params or {}, timeout=10)
        return requests.post(url, data=params or {}, timeout=10)

    def ok(self, method: str, params: dict[str, Any] | None = None, how: str = "json") -> dict[str, Any]:
        r = self.call(method, params, how)
        assert r.status_code == 200, r.text
        return r.json()

    def admin(self, action: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        url = f"{self.url}/_sandbox/{action}"
        r = requests.post(url, json=payload, timeout=10) if payload is not None else requests.get(url, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture
def make_portal(portal_template: Path, tmp_path: Path):
    started: list[Portal] = []

    def factory(limits: bool = False, options: dict[str, Any] | None = None,
                faults: FaultConfig | None = None, account: dict[str, Any] | None = None,
                data_dir: Path | None = None) -> Portal:
        acc = dict(account or ACCOUNT)
        d = data_dir or tmp_path / f"portal{len(started)}"
        d.mkdir(exist_ok=True)
        if not (d / acc["file"]).exists():
            shutil.copy(portal_template, d / acc["file"])
        app = Bitrix24App(d, acc, limits=limits, options=options)
        running = start(app, faults=faults)
        portal = Portal(running, app, app.creds, d)
        started.append(portal)
        return portal

    yield factory
    for p in started:
        p.running.stop()
        p.app.close()


@pytest.fixture(scope="module")
def portal(portal_template: Path, tmp_path_factory: pytest.TempPathFactory):
    """One read-only portal per test module, limits off so functional tests are not throttled.
    Tests that change state (tokens, limits, faults) use `make_portal` instead."""
    d = tmp_path_factory.mktemp("b24-ro")
    shutil.copy(portal_template, d / ACCOUNT["file"])
    app = Bitrix24App(d, ACCOUNT, limits=False)
    running = start(app)
    yield Portal(running, app, app.creds, d)
    running.stop()
    app.close()
