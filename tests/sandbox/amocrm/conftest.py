"""Fixtures for the amoCRM emulator tests: a small deterministic account built directly with
sandbox.state (independent of the generator), served over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import duckdb
import pandas as pd
import pytest
import requests

from sandbox.amocrm.app import AmoCRMApp
from sandbox.common.faults import FaultConfig
from sandbox.common.http import RunningServer, start
from sandbox.state import create_tables

ACCOUNT_ID = 31000001
SUBDOMAIN = "amo-test"
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
N_LEADS = 300
DELETED_EVERY = 50  # every 50th lead is in the trash
PIPELINES = (3001, 3002)
CATALOG_PAYMENTS, CATALOG_FLATS = 7001, 7002
CREDENTIALS = {"client_id": "5c1b1c7a-0d1e-4f3a-9b7e-000000000001", "client_secret": "sandbox-secret",
               "redirect_uri": "https://example.com/oauth", "auth_code": "def50200sandboxcode",
               "refresh_token": "def50200sandboxrefresh"}


def lead_id(i: int) -> int:
    return 20_000_000 + i * 3  # not contiguous, like real ids


def status_ids(pipeline: int) -> list[int]:
    return [pipeline * 10 + 1, pipeline * 10 + 2, pipeline * 10 + 3, pipeline * 10 + 4, 142, 143]


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple]) -> None:
    # Through a DataFrame: DuckDB's executemany costs ~1 ms a row, this is one statement.
    cols = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
    frame = pd.DataFrame(rows, columns=cols[:len(rows[0])], dtype=object)
    con.register("_rows", frame)
    con.execute(f"INSERT INTO {table} ({', '.join(frame.columns)}) SELECT * FROM _rows")
    con.unregister("_rows")


def build_state(path: Path) -> None:
    con = duckdb.connect(str(path))
    create_tables(con, "amocrm")
    j = json.dumps
    con.execute("INSERT INTO account VALUES (?, 'ЖК Тест', ?, 'RUB', 'Europe/Moscow', 'RU', 101, ?, ?)",
                [ACCOUNT_ID, SUBDOMAIN, T0 - 10**7, T0])
    _insert(con, "groups", [(1, "Отдел продаж Казань", "g-1"), (2, "Отдел продаж Москва", "g-2")])
    _insert(con, "users", [
        (100 + k, f"Менеджер {k}", f"m{k}@example.com", "ru",
         j({"group_id": 1 + k % 2, "is_active": True, "is_admin": k == 1, "role_id": None}))
        for k in range(1, 7)])
    _insert(con, "pipelines", [(p, f"Воронка {p}", k * 10, k == 0, True, False, ACCOUNT_ID) for k, p in enumerate(PIPELINES)])
    statuses = []
    for p in PIPELINES:
        names = ["Неразобранное", "Первичный контакт", "Показ", "Бронь",
                 "Успешно реализовано", "Закрыто и не реализовано"]
        for k, (sid, name) in enumerate(zip(status_ids(p), names)):
            statuses.append((sid, p, name, k * 10 + (10000 if sid in (142, 143) else 0), sid not in (142, 143),
                             "#99ccff", 1 if k == 0 else 0, ACCOUNT_ID))
    _insert(con, "statuses", statuses)
    _insert(con, "loss_reasons", [(1, "Дорого", 1, T0, T0), (2, "Спам", 2, T0, T0), (3, "Дубль", 3, T0, T0)])
    fields = [
        (501, "leads", "Канал", None, 1, "select", False, True, None,
         j([{"id": 11, "value": "Avito", "sort": 1}, {"id": 12, "value": "ЦИАН", "sort": 2}])),
        (502, "leads", "Форма оплаты", None, 2, "select", False, True, None,
         j([{"id": 21, "value": "Ипотека", "sort": 1}, {"id": 22, "value": "Рассрочка", "sort": 2}])),
        (503, "leads", "Площадь, м²", None, 3, "numeric", False, True, None, None),
        (601, "contacts", "Телефон", "PHONE", 1, "multitext", False, False, None,
         j([{"id": 31, "value": "WORK", "sort": 1}, {"id": 32, "value": "MOB", "sort": 2}])),
        (701, f"catalogs:{CATALOG_PAYMENTS}", "Сумма", "PRICE", 1, "price", False, False, None, None),
        (702, f"catalogs:{CATALOG_PAYMENTS}", "Дата оплаты", None, 2, "date", False, True, None, None),
    ]
    _insert(con, "custom_fields", fields)
    _insert(con, "sources", [(801, "Сайт", PIPELINES[0], "site", True), (802, "Avito", PIPELINES[0], "avito", False)])
    _insert(con, "task_types", [(1, "Связаться", None, None, "FOLLOW_UP"), (2, "Встреча", None, None, "MEETING"),
                               (3, "Показ", None, None, None)])
    leads, events = [], []
    seq = 0
    for i in range(1, N_LEADS + 1):
        lid = lead_id(i)
        p = PIPELINES[i % 2]
        st = status_ids(p)[i % 6]
        created = T0 + i * 600
        updated = created + (i * 7919) % 86400  # updated order differs from created order
        cfv = [{"field_id": 501, "field_name": "Канал", "field_code": None, "field_type": "select",
                "values": [{"value": "Avito" if i % 3 else "ЦИАН", "enum_id": 11 if i % 3 else 12}]}]
        leads.append((lid, f"Сделка {i}", 1_000_000 + i * 1000, 100 + 1 + i % 6, 1 + i % 2, st, p,
                      (1 + i % 3) if st == 143 else None, 801 + i % 2, 101, 101, created, updated,
                      updated if st in (142, 143) else None, None, i % DELETED_EVERY == 0, j(cfv), None,
                      ACCOUNT_ID, None, j([{"id": 1, "name": "тест", "color": None}] if i % 25 == 0 else []),
                      j([{"id": 40_000 + i % 150, "is_main": True}]),
                      j([{"id": 60_000 + i % 20}] if i % 4 == 0 else [])))
        seq += 1
        events.append((f"ev{seq:024d}", seq, "lead_added", lid, "lead", 101, created,
                       j([{"note": {"id": 90_000 + i}}]), "[]", ACCOUNT_ID))
        if i % 2 == 0:
            seq += 1
            events.append((f"ev{seq:024d}", seq, "lead_status_changed", lid, "lead", 101, created + 60,
                           j([{"lead_status": {"id": st, "pipeline_id": p}}]),
                           j([{"lead_status": {"id": status_ids(p)[0], "pipeline_id": p}}]), ACCOUNT_ID))
        if i % 5 == 0:
            seq += 1
            events.append((f"ev{seq:024d}", seq, "entity_responsible_changed", lid, "lead", 101, created + 120,
                           j([{"responsible_user": {"id": 102}}]), j([{"responsible_user": {"id": 101}}]),
                           ACCOUNT_ID))
    _insert(con, "leads", leads)
    _insert(con, "events", events)
    contacts = [(40_000 + k, f"Клиент {k}", "Клиент", str(k), 101 + k % 6, 1, 101, 101, T0 + k, T0 + 2 * k, None,
                 False, False, j([{"field_id": 601, "field_name": "Телефон", "field_code": "PHONE",
                                   "field_type": "multitext",
                                   "values": [{"value": f"+7900{k:07d}", "enum_id": 31, "enum": "WORK"}]}]),
                 ACCOUNT_ID, "[]", j([{"id": lead_id(k or 150)}]), "[]") for k in range(150)]
    _insert(con, "contacts", contacts)
    _insert(con, "companies", [(60_000 + k, f"ООО Компания {k}", 101, 1, 101, 101, T0 + k, T0 + k, None, False, None,
                      ACCOUNT_ID, "[]") for k in range(20)])
    tasks = [(50_000 + k, 101, 101, T0 + k * 300, T0 + k * 300 + 60, 101 + k % 6, 1, lead_id(1 + k % N_LEADS),
              "leads" if k % 10 else "contacts", k % 3 == 0, 1 + k % 3, f"Задача {k}", 0, T0 + k * 300 + 3600,
              j({"text": "готово"} if k % 3 == 0 else {}), ACCOUNT_ID) for k in range(120)]
    _insert(con, "tasks", tasks)
    _insert(con, "catalogs", [(CATALOG_PAYMENTS, "Счета-покупки", "invoices", 1, True, False, ACCOUNT_ID),
                     (CATALOG_FLATS, "Квартиры", "regular", 2, True, False, ACCOUNT_ID)])
    elements = [(70_000 + k, CATALOG_PAYMENTS, f"Платёж {k}", 101, 101, T0 + k, T0 + k, False,
                 j([{"field_id": 701, "field_name": "Сумма", "field_code": "PRICE", "field_type": "price",
                     "values": [{"value": 500_000 + k}]}]), lead_id(2 + 2 * k), ACCOUNT_ID) for k in range(60)]
    _insert(con, "catalog_elements", elements)
    con.close()


@pytest.fixture(scope="session")
def amo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("amo-template") / f"amocrm_{SUBDOMAIN}.duckdb"
    build_state(path)
    return path


@dataclass
class Amo:
    """A running emulator and a thin HTTP client for it (requests, nothing mocked)."""
    running: RunningServer
    app: AmoCRMApp
    session: requests.Session
    token: str | None = None

    @property
    def url(self) -> str:
        return self.running.url

    def get(self, path: str, params: Any = None, token: str | None = None, **kw: Any) -> requests.Response:
        tok = token if token is not None else self.token
        headers = {"Authorization": f"Bearer {tok}"} if tok else {}
        return self.session.get(self.url + path, params=params, headers=headers, timeout=10, **kw)

    def admin(self, action: str, method: str = "GET", **kw: Any) -> Any:
        r = self.session.request(method, f"{self.url}/_sandbox/{action}", timeout=10, **kw)
        assert r.status_code == 200, r.text
        return r.json()

    def oauth(self, **body: Any) -> requests.Response:
        return self.session.post(self.url + "/oauth2/access_token", json=body, timeout=10)

    def all_pages(self, path: str, params: dict[str, Any] | None = None, key: str | None = None) -> list[dict]:
        """Follow `_links.next.href` from the first page, as the official SDK does."""
        items: list[dict] = []
        r = self.get(path, params=params)
        while True:
            if r.status_code == 204:
                return items
            assert r.status_code == 200, r.text
            body = r.json()
            items.extend(body["_embedded"][key or path.rsplit("/", 1)[-1]])
            nxt = body["_links"].get("next")
            if not nxt:
                return items
            r = self.session.get(nxt["href"], headers={"Authorization": f"Bearer {self.token}"}, timeout=10)


def _serve(tmp_path: Path, template: Path, limits: bool, options: dict[str, Any] | None,
           credentials: dict[str, Any] | None, faults: FaultConfig | None = None) -> Iterator[Amo]:
    target = tmp_path / template.name
    shutil.copy(template, target)
    account = {"system": "amocrm", "account": SUBDOMAIN, "file": target.name, "subdomain": SUBDOMAIN}
    if credentials is not None:
        account["credentials"] = credentials
    app = AmoCRMApp(tmp_path, account, limits=limits, options=options)
    running = start(app, faults=faults)
    session = requests.Session()
    amo = Amo(running, app, session)
    amo.token = app.tokens.creds["long_lived_token"]
    try:
        yield amo
    finally:
        session.close()
        running.stop()
        app.close()


@pytest.fixture(scope="module")
def amo_ro(amo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Amo]:
    """Read-only tests share one server: limits off, long-lived token."""
    yield from _serve(tmp_path_factory.mktemp("amo-ro"), amo_template, False, None, dict(CREDENTIALS))


@pytest.fixture
def make_amo(amo_template: Path, tmp_path: Path):
    """A fresh copy of the account per call: make_amo(limits=..., options=..., credentials=...)."""
    stack: list[Iterator[Amo]] = []

    def make(limits: bool = False, options: dict[str, Any] | None = None,
             credentials: dict[str, Any] | None = CREDENTIALS, faults: FaultConfig | None = None,
             subdir: str = "a") -> Amo:
        d = tmp_path / subdir
        d.mkdir(exist_ok=True)
        gen = _serve(d, amo_template, limits, options, dict(credentials) if credentials else None, faults)
        stack.append(gen)
        return next(gen)

    yield make
    for gen in reversed(stack):
        gen.close()
