"""A day of CRM work applied to a RUNNING emulator (admin action `/_sandbox/work-day`).

`crmwh sandbox mutate` changes the state files offline, which needs the emulator stopped (it holds
its DuckDB file). Tests and demos of incremental extraction want the same change while the
servers run, so each emulator exposes it as an admin action that calls the generator's
`mutate_account` on its own open connection, under its write lock.

The day ends now by default (not at the manifest's `as_of`), so no record is dated in the future.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Any

from sandbox.common.http import Request, Response


def account_index(data_dir: Any, account: dict[str, Any]) -> int:
    """The account's position in the manifest (the generator seeds each account by it)."""
    from sandbox.state import load_manifest

    try:
        names = [a["account"] for a in load_manifest(data_dir)["accounts"]]
    except FileNotFoundError:  # a hand-built state without a manifest (emulator tests)
        return 0
    return names.index(account["account"]) if account["account"] in names else 0


def work_day(con: Any, write_lock: threading.Lock, account: dict[str, Any], account_index: int,
             request: Request) -> Response:
    from sandbox.generator import mutate_account

    body = request.json() if request.body else {}
    try:
        seed = int(body.get("seed", 0))
        changes = int(body.get("changes", 100))
        day_start = (datetime.fromisoformat(body["day_start"]) if body.get("day_start")
                     else datetime.now(timezone.utc) - timedelta(days=1))
    except (TypeError, ValueError, KeyError) as exc:
        return Response.json_body(400, {"error": f"bad work-day request: {exc}"})
    with write_lock:
        log = mutate_account(con, account["system"], account["account"], seed, day_start, changes,
                             account_index=account_index)
    return Response.json_body(200, {"account": account["account"], "day_start": day_start.isoformat(), "log": log})
