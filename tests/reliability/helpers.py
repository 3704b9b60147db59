"""Shared machinery of the reliability tests: a served sandbox with both CRMs, accounts pointing at
it (secrets in the environment, as in production), and the one comparison every test ends with —
the warehouse against the sandbox's own state: ids and modification times per entity, no
duplicates, tombstones for what the source deleted."""

from __future__ import annotations

import json
import os
import socket
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import requests

from extract.common.config import AccountConfig, Settings

B24, AMO = "b24-msk", "amo-kzn"
WEBHOOK_PATHS = r"^/rest/"  # Bitrix24 API calls (not the OAuth server)
AMO_API_PATHS = r"^/api/v4/"  # amoCRM API calls (not the token endpoint)

# Bitrix24 landing table -> (sandbox table, id column, modification column or None, extra WHERE)
B24_STATE = {
    "statuses": ("crm_status", "ID", None, ""),
    "leads": ("crm_lead", "ID", "DATE_MODIFY", ""),
    "contacts": ("crm_contact", "ID", "DATE_MODIFY", ""),
    "companies": ("crm_company", "ID", "DATE_MODIFY", ""),
    "deals": ("crm_deal", "ID", "DATE_MODIFY", ""),
    "activities": ("crm_activity", "ID", "LAST_UPDATED", ""),
    "lead_stage_history": ("crm_stagehistory", "ID", "CREATED_TIME", "ENTITY_TYPE_ID = 1"),
    "deal_stage_history": ("crm_stagehistory", "ID", "CREATED_TIME", "ENTITY_TYPE_ID = 2"),
    "invoices": ("crm_invoice", "id", None, ""),
    "products": ("crm_product", "ID", None, ""),
    # a product row lives and dies with its deal (the emulator's between-pages deletions leave orphans)
    "deal_productrows": ("crm_productrow", "ID", None, "OWNER_TYPE = 'D' AND OWNER_ID IN (SELECT \"ID\" FROM crm_deal)"),
    "payments": ("sale_payment", "id", None, ""),
    "users": ("b_user", "ID", None, ""),
    "departments": ("b_department", "ID", None, ""),
}
# amoCRM landing table -> (SQL giving (id, modified unix|None) of what the API serves as live)
AMO_STATE = {
    "leads": "SELECT id, updated_at FROM leads WHERE NOT coalesce(is_deleted, false)",
    "contacts": "SELECT id, updated_at FROM contacts WHERE NOT coalesce(is_deleted, false)",
    "companies": "SELECT id, updated_at FROM companies WHERE NOT coalesce(is_deleted, false)",
    "tasks": "SELECT id, updated_at FROM tasks",
    "events": "SELECT id, created_at FROM events",
    "users": "SELECT id, NULL FROM users",
    "pipelines": "SELECT id, NULL FROM pipelines",
    "loss_reasons": "SELECT id, NULL FROM loss_reasons",
    "catalog_elements": "SELECT id, updated_at FROM catalog_elements WHERE NOT coalesce(is_deleted, false)",
}
# the entities the fault matrix extracts (every paginator kind of each extractor, and deletions)
B24_CORE = ["statuses", "users", "leads", "deals", "lead_stage_history", "deal_productrows"]
AMO_CORE = ["pipelines", "statuses", "leads", "contacts", "events"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sandbox:
    """A generated sandbox folder, served in this process on fixed ports (so that a restart after an
    offline `mutate` keeps the URLs the accounts point at)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.manifest = json.loads((self.data_dir / "manifest.json").read_text())
        self.base_port = _port_pair()
        self.servers: dict[str, Any] = {}
        self.info: dict[str, Any] = {}
        self.faults: dict[str, dict[str, Any]] = {}
        self._mutations = 0

    # ------------------------------------------------------------------ serving
    def start(self, limits: bool = False, **options: Any) -> "Sandbox":
        from sandbox.serve import serve_all

        if self.servers:
            return self
        self.servers = serve_all(self.data_dir, limits=limits, base_port=self.base_port, options=options or None)
        self.info = json.loads((self.data_dir / "servers.json").read_text())
        for name, cfg in self.faults.items():
            self.set_faults(name, **cfg)
        return self

    def stop(self) -> None:
        for s in self.servers.values():
            s.stop()
        self.servers = {}

    def url(self, name: str) -> str:
        return self.info[name]["url"]

    def cred(self, name: str) -> dict[str, Any]:
        return self.info[name]["credentials"]

    def admin(self, name: str, action: str, method: str = "GET", **kw: Any) -> Any:
        r = requests.request(method, f"{self.url(name)}/_sandbox/{action}", timeout=10, **kw)
        r.raise_for_status()
        return r.json()

    def set_faults(self, name: str, **cfg: Any) -> None:
        """Configure the FaultConfig of one account's emulator (kept across restarts)."""
        self.faults[name] = cfg
        if self.servers:
            self.admin(name, "faults", "POST", json=cfg)

    def clear_faults(self, name: str | None = None) -> None:
        for n in ([name] if name else list(self.faults)):
            self.faults.pop(n, None)
            if self.servers:
                self.admin(n, "faults", "POST", json={})

    def stats(self, name: str) -> dict[str, Any]:
        return self.admin(name, "stats")

    def mutate(self, name: str, seed: int, changes: int = 40) -> dict[str, Any]:
        """One day of CRM work (adds, changes, deletions) on one account, offline (the emulator is
        stopped meanwhile and served again on the same port). Returns the generator's log."""
        from sandbox.generator import mutate_account

        running = bool(self.servers)
        self.stop()
        entry = next(a for a in self.manifest["accounts"] if a["account"] == name)
        as_of = datetime.fromisoformat(self.manifest["as_of"]) + timedelta(days=self._mutations)
        self._mutations += 1
        con = duckdb.connect(str(self.data_dir / entry["file"]))
        try:
            con.execute("BEGIN")
            log = mutate_account(con, entry["system"], name, seed, as_of, changes)
            con.execute("COMMIT")
        finally:
            con.close()
        if running:
            self.start()
        return log

    def state(self, name: str) -> duckdb.DuckDBPyConnection:
        entry = next(a for a in self.manifest["accounts"] if a["account"] == name)
        return duckdb.connect(str(self.data_dir / entry["file"]))

    # ------------------------------------------------------------------ accounts
    def b24_account(self, auth: str = "webhook", env: dict[str, str] | None = None, **options: Any) -> AccountConfig:
        """The Bitrix24 account (limits off on the server: no client-side pacing needed)."""
        srv, cred = self.info[B24], self.cred(B24)
        acc = AccountConfig(name=B24, system="bitrix24", auth=auth, rate_per_second=500, burst=500,
                            base_url=srv["url"] if auth == "oauth" else None,
                            oauth_server_url=srv["url"] + "/oauth/token/" if auth == "oauth" else None,
                            options=options)
        env = os.environ if env is None else env
        if auth == "webhook":
            env[acc.env_name("WEBHOOK_URL")] = f"{srv['url']}/rest/{cred['webhook_user_id']}/{cred['webhook_code']}/"
        else:
            env[acc.env_name("CLIENT_ID")] = cred["oauth_client_id"]
            env[acc.env_name("CLIENT_SECRET")] = cred["oauth_client_secret"]
            env[acc.env_name("REFRESH_TOKEN")] = cred["oauth_refresh_token"]
        return acc

    def amo_account(self, env: dict[str, str] | None = None, auth: str = "oauth", **options: Any) -> AccountConfig:
        options.setdefault("rate_limit_per_second", 200)
        acc = AccountConfig(name=AMO, system="amocrm", auth=auth, base_url=self.url(AMO), options=options)
        cred = self.cred(AMO)
        env = os.environ if env is None else env
        if auth == "long_lived":
            env[acc.env_name("LONG_LIVED_TOKEN")] = cred["long_lived_token"]
            return acc
        for k in ("client_id", "client_secret", "redirect_uri", "refresh_token"):
            env[acc.env_name(k.upper())] = cred[k]
        return acc

    # ------------------------------------------------------------------ the truth
    def b24_truth(self, entity: str) -> dict[int, datetime | None]:
        table, idc, mod, where = B24_STATE[entity]
        con = self.state(B24)
        try:
            sql = f'SELECT "{idc}", {f"{chr(34)}{mod}{chr(34)}" if mod else "NULL"} FROM "{table}"' + (
                f" WHERE {where}" if where else "")
            return {int(r[0]): _utc(r[1]) for r in con.execute(sql).fetchall()}
        finally:
            con.close()

    def amo_truth(self, entity: str) -> dict[Any, datetime | None]:
        con = self.state(AMO)
        try:
            return {r[0]: (None if r[1] is None else datetime.fromtimestamp(int(r[1]), tz=timezone.utc))
                    for r in con.execute(AMO_STATE[entity]).fetchall()}
        finally:
            con.close()




def _port_pair() -> int:
    """A base port p with p and p+1 free (serve_all puts account i on base_port + i)."""
    for _ in range(50):
        p = free_port()
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", p))
                b.bind(("127.0.0.1", p + 1))
            return p
        except OSError:
            continue
    raise RuntimeError("no free port pair")


def _utc(v: Any) -> datetime | None:
    """UTC, to the second (the APIs serve seconds; the sandbox state keeps microseconds)."""
    if v is None:
        return None
    if isinstance(v, datetime):
        v = v.astimezone(timezone.utc) if v.tzinfo else v.replace(tzinfo=timezone.utc)
        return v.replace(microsecond=0)
    from extract.common.records import parse_time

    return parse_time(v)


def settings_for(tmp: Path, **kw: Any) -> Settings:
    base = dict(warehouse_path=tmp / "wh.duckdb", token_dir=tmp / "tokens", chunk_rows=300,
                http_read_timeout=5, http_retries=6, reconcile_hours=0)
    base.update(kw)
    return Settings(**base)


# ---------------------------------------------------------------------- comparisons
def landed(con, system: str, entity: str, account: str) -> tuple[dict[Any, datetime | None], set[Any], int, int]:
    """(live {id: _modified_at}, tombstoned ids, rows, distinct ids) of one landing table."""
    rows = con.execute(f'SELECT id, _modified_at, _is_deleted FROM raw_{system}."{entity}" WHERE _account = ?',
                       [account]).fetchall()
    live = {r[0]: _utc(r[1]) for r in rows if not r[2]}
    dead = {r[0] for r in rows if r[2]}
    return live, dead, len(rows), len({r[0] for r in rows})


def assert_b24_equal(con, sb: Sandbox, entities: list[str], deleted: set[int] | None = None) -> None:
    """Live rows == the portal (ids and modification times); every key once; `deleted` (ids the
    source deleted after we landed them) are tombstones."""
    for entity in entities:
        if entity not in B24_STATE:
            continue
        truth = sb.b24_truth(entity)
        live, dead, n, distinct = landed(con, "bitrix24", entity, B24)
        assert n == distinct, f"{entity}: duplicated keys"
        assert truth, f"sandbox has no {entity}: the comparison would prove nothing"
        missing, extra = set(truth) - set(live), set(live) - set(truth)
        assert not missing and not extra, f"{entity}: missing {sorted(missing)[:10]}, extra {sorted(extra)[:10]}"
        stale = {i for i, t in truth.items() if t is not None and live[i] != t}
        assert not stale, f"{entity}: stale modification times for {sorted(stale)[:10]}"
        if deleted and entity == "leads":
            assert deleted <= dead, f"leads deleted at the source but not tombstoned: {sorted(deleted - dead)[:10]}"


def assert_amo_equal(con, sb: Sandbox, entities: list[str], deleted: set[int] | None = None) -> None:
    for entity in entities:
        if entity not in AMO_STATE:
            continue
        truth = sb.amo_truth(entity)
        live, dead, n, distinct = landed(con, "amocrm", entity, AMO)
        assert n == distinct, f"{entity}: duplicated keys"
        assert truth, f"sandbox has no {entity}: the comparison would prove nothing"
        missing, extra = set(truth) - set(live), set(live) - set(truth)
        assert not missing and not extra, f"{entity}: missing {sorted(missing)[:10]}, extra {sorted(extra)[:10]}"
        stale = {i for i, t in truth.items() if t is not None and live[i] != t}
        assert not stale, f"{entity}: stale modification times for {sorted(stale)[:10]}"
        if deleted and entity == "leads":
            assert deleted <= dead, f"leads deleted at the source but not tombstoned: {sorted(deleted - dead)[:10]}"


def failed(runs) -> list[tuple[str, str]]:
    return [(r.entity, r.error) for r in runs if r.status != "success"]
