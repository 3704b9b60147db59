"""Start one emulator per CRM account found in a generated sandbox directory.

`crmwh sandbox serve --data DIR` calls `serve_all`; tests call it too (in-process, ephemeral
ports). The URLs and sandbox credentials of the running servers are written to DIR/servers.json so
that the demo and the tests can point the extractors at them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sandbox.common.faults import FaultConfig
from sandbox.common.http import RunningServer, start
from sandbox.state import load_manifest


def make_app(data_dir: Path, account: dict[str, Any], limits: bool = True,
             options: dict[str, Any] | None = None):
    system = account["system"]
    if system == "bitrix24":
        from sandbox.bitrix24.app import Bitrix24App

        return Bitrix24App(data_dir, account, limits=limits, options=options)
    if system == "amocrm":
        from sandbox.amocrm.app import AmoCRMApp

        return AmoCRMApp(data_dir, account, limits=limits, options=options)
    raise ValueError(f"unknown CRM system {system!r} in {data_dir}/manifest.json")


def serve_all(data_dir: str | Path, limits: bool = True, faults: FaultConfig | None = None,
              base_port: int = 0, options: dict[str, Any] | None = None,
              log_dir: str | Path | None = None) -> dict[str, RunningServer]:
    """Start every account's emulator; returns {account name: running server}."""
    data_dir = Path(data_dir)
    manifest = load_manifest(data_dir)
    servers: dict[str, RunningServer] = {}
    try:
        for i, account in enumerate(manifest["accounts"]):
            app = make_app(data_dir, account, limits=limits, options=options)
            port = base_port + i if base_port else 0
            log_path = str(Path(log_dir) / f"{account['account']}.requests.jsonl") if log_dir else None
            servers[account["account"]] = start(app, port=port, faults=faults, log_path=log_path)
    except Exception:
        for s in servers.values():
            s.stop()
        raise
    describe = {
        name: {"system": acc["system"], "url": servers[name].url, "credentials": acc.get("credentials", {})}
        for name, acc in ((a["account"], a) for a in manifest["accounts"])
    }
    (data_dir / "servers.json").write_text(json.dumps(describe, ensure_ascii=False, indent=2), encoding="utf-8")
    return servers
