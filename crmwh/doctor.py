"""`crmwh doctor`: is everything in place to run? Each check says exactly what is wrong and where
to fix it — never a secret's value."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Finding:
    what: str
    ok: bool
    detail: str


def _account_checks(settings) -> list[Finding]:
    from extract.common.config import load_accounts
    from extract.common.errors import AuthError, ConfigError
    from extract.common.redact import redact

    out: list[Finding] = []
    try:
        accounts = load_accounts(settings.accounts_file)
    except ConfigError as exc:
        return [Finding("accounts file", False, f"{exc} — copy accounts.example.yaml to {settings.accounts_file} "
                                               "or set CRMWH_ACCOUNTS_FILE")]
    out.append(Finding("accounts file", True, f"{settings.accounts_file}: {len(accounts)} account(s)"))
    for acc in accounts:
        label = f"{acc.system} account {acc.name!r}"
        try:
            if acc.system == "bitrix24":
                from extract.bitrix24.client import Bitrix24Client

                client = Bitrix24Client(acc, settings)
                try:
                    profile = client.call("profile").get("result", {})
                    admin = "admin" if profile.get("ADMIN") else "not an admin (payments read per deal)"
                    out.append(Finding(label, True, f"credentials accepted; webhook/app user is {admin}"))
                finally:
                    client.close()
            else:
                from extract.amocrm.client import AmoCRMClient

                client = AmoCRMClient(acc, settings)
                try:
                    info = client.get("/account") or {}
                    out.append(Finding(label, True, f"credentials accepted; account {info.get('name', '?')!r}, "
                                                    f"time zone {info.get('timezone', '?')}"))
                finally:
                    client.close()
        except (ConfigError, AuthError) as exc:
            out.append(Finding(label, False, redact(str(exc))))
        except Exception as exc:  # connectivity: name the account and the kind of failure
            out.append(Finding(label, False, f"cannot reach the API: {type(exc).__name__}: {redact(str(exc))[:300]}"))
    return out


def _warehouse_check(settings) -> Finding:
    path = Path(settings.warehouse_path)
    lock = path.with_name(path.name + ".lock")
    if not path.parent.exists():
        return Finding("warehouse", False, f"folder {path.parent} does not exist (CRMWH_WAREHOUSE_PATH)")
    if not os.access(path.parent, os.W_OK):
        return Finding("warehouse", False, f"folder {path.parent} is not writable (CRMWH_WAREHOUSE_PATH)")
    import fcntl

    if lock.exists():
        with open(lock, "a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(fh, fcntl.LOCK_UN)
            except OSError:
                fh.seek(0)
                holder = fh.read().strip() or "another process"
                return Finding("warehouse", False, f"{path} is being written by {holder}; wait for that run")
    state = "exists" if path.exists() else "will be created on the first run"
    return Finding("warehouse", True, f"{path} ({state})")


def _postgres_check() -> Finding | None:
    dsn = os.environ.get("CRMWH_PG_PUBLISH_DSN")
    if not dsn:
        return None
    import psycopg2

    try:
        psycopg2.connect(dsn, connect_timeout=5).close()
        return Finding("PostgreSQL publishing", True, "CRMWH_PG_PUBLISH_DSN connects")
    except psycopg2.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Finding("PostgreSQL publishing", False, f"CRMWH_PG_PUBLISH_DSN does not connect: {first}")


def run_doctor() -> list[Finding]:
    from extract.common.config import Settings

    settings = Settings()
    findings = _account_checks(settings)
    findings.append(_warehouse_check(settings))
    pg = _postgres_check()
    if pg:
        findings.append(pg)
    return findings
