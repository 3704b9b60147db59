"""Nothing phones home: switch off the usage statistics of every tool we embed.

Called on import of `crmwh` (the CLI, Dagster definitions and tests all import it). Values are set
only where the user has not chosen otherwise. Dagster's own switch lives in
$DAGSTER_HOME/dagster.yaml (`telemetry: enabled: false`), written by `ensure_dagster_home`.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

ENV_SWITCHES = {
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "DO_NOT_TRACK": "1",
    "GX_ANALYTICS_ENABLED": "false",
}


DAGSTER_YAML = """# written by crmwh (crmwh/privacy.py); delete this line to keep your own edits
telemetry:
  enabled: false
concurrency:
  pools:
    # DuckDB takes one writer at a time: every asset that writes the warehouse is in the
    # `warehouse_writer` pool, so at most one of them runs at once, across all runs.
    default_limit: 1
"""


def ensure_dagster_home(home: Path | None = None) -> Path:
    home = Path(os.environ.get("DAGSTER_HOME") or home or PROJECT_ROOT / ".dagster_home")
    home.mkdir(parents=True, exist_ok=True)
    cfg = home / "dagster.yaml"
    if not cfg.exists() or cfg.read_text(encoding="utf-8").startswith("# written by crmwh"):
        if not cfg.exists() or cfg.read_text(encoding="utf-8") != DAGSTER_YAML:
            cfg.write_text(DAGSTER_YAML, encoding="utf-8")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def disable_usage_statistics() -> None:
    for key, value in ENV_SWITCHES.items():
        os.environ.setdefault(key, value)
    ensure_dagster_home()
