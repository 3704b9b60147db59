"""Fixtures for the dbt tests: a generated sandbox extracted into a DuckDB warehouse and built with
dbt once per session (a few thousand leads), plus the generator's ground truth to compare with."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
DBT_DIR = ROOT / "dbt_project"
DBT = str(Path(sys.executable).with_name("dbt"))
LEADS = 4000
SEED = 11
AS_OF = "2026-11-01"
ACCOUNTS = ["b24-msk", "amo-kzn", "b24-spb"]
# CRMs the dbt project models; truth comparisons cover the systems that were also extracted.
MODELLED_SYSTEMS = ("bitrix24", "amocrm")


def dbt_env(warehouse: Path, **extra) -> dict:
    env = dict(os.environ, CRMWH_WAREHOUSE_PATH=str(warehouse), DBT_SEND_ANONYMOUS_USAGE_STATS="false",
               DO_NOT_TRACK="1", CRMWH_DBT_THREADS="2")
    env.update(extra)
    return env


def run_dbt(project: Path, args: list[str], env: dict, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [DBT, *args, "--project-dir", str(project), "--profiles-dir", str(project)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=project)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}")
    return proc


def copy_project(dst: Path) -> Path:
    shutil.copytree(DBT_DIR, dst, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    return dst


def amocrm_extractor_available() -> bool:
    return importlib.util.find_spec("extract.amocrm.extractor") is not None


def extract_sandbox(data_dir: Path, manifest: dict, warehouse: Path, token_dir: Path) -> list[str]:
    """Serve the sandbox and run every available extractor into `warehouse`; returns the systems."""
    from extract.common.config import AccountConfig, Settings
    from sandbox.serve import serve_all
    from warehouse.landing import Warehouse

    servers = serve_all(data_dir, limits=False)
    systems = []
    try:
        info = json.loads((data_dir / "servers.json").read_text())
        settings = Settings(warehouse_path=warehouse, token_dir=token_dir, chunk_rows=5000, reconcile_hours=0)
        b24 = []
        for a in manifest["accounts"]:
            if a["system"] != "bitrix24":
                continue
            srv, cred = info[a["account"]], info[a["account"]]["credentials"]
            # The sandbox serves with limits off, so the client keeps no operating-time budget
            # either: its modelled costs would otherwise pause a 100k-lead extraction for minutes.
            acc = AccountConfig(name=a["account"], system="bitrix24", auth="webhook", plan=a.get("plan"),
                                operating_limit_seconds=1e9)
            os.environ[acc.env_name("WEBHOOK_URL")] = (
                f"{srv['url']}/rest/{cred['webhook_user_id']}/{cred['webhook_code']}/")
            b24.append(acc)
        from extract.bitrix24 import extract_accounts as b24_extract

        with Warehouse(warehouse) as wh:
            b24_extract(b24, wh, settings)
        systems.append("bitrix24")
        if amocrm_extractor_available() and "amocrm" in MODELLED_SYSTEMS:
            try:
                systems += _extract_amocrm(manifest, info, warehouse, settings)
            except Exception as exc:  # the amoCRM extractor is optional for these tests
                print(f"amoCRM extraction skipped: {exc!r}")
    finally:
        for s in servers.values():
            s.stop()
    return systems


def _extract_amocrm(manifest, info, warehouse, settings) -> list[str]:
    try:
        from extract.amocrm import extract_accounts as amo_extract
    except ImportError:
        return []
    from extract.common.config import AccountConfig
    from warehouse.landing import Warehouse

    accs = []
    for a in manifest["accounts"]:
        if a["system"] != "amocrm":
            continue
        srv = info[a["account"]]
        acc = AccountConfig(name=a["account"], system="amocrm", auth="long_lived", base_url=srv["url"])
        os.environ[acc.env_name("LONG_LIVED_TOKEN")] = srv["credentials"]["long_lived_token"]
        accs.append(acc)
    with Warehouse(warehouse) as wh:
        amo_extract(accs, wh, settings)
    return ["amocrm"]


@dataclass
class Built:
    data_dir: Path
    warehouse: Path
    project: Path
    manifest: dict
    systems: list[str]
    build_log: str

    def query(self, sql: str, params=None) -> pd.DataFrame:
        con = duckdb.connect(str(self.warehouse), read_only=True)
        try:
            return con.execute(sql, params or []).df()
        finally:
            con.close()

    def truth(self, name: str) -> pd.DataFrame:
        df = pd.read_parquet(self.data_dir / "truth" / f"{name}.parquet")
        if "source_system" in df:
            df = df[df["source_system"].isin(self.systems)]
        return df.reset_index(drop=True)


@pytest.fixture(scope="session")
def sandbox_raw(tmp_path_factory):
    """Generated sandbox + landing tables (raw_* only), shared by the dbt tests; copy before use."""
    from sandbox.generator import generate

    base = tmp_path_factory.mktemp("dbt_sandbox")
    data_dir = base / "sandbox"
    manifest = generate(data_dir, seed=SEED, leads=LEADS, as_of=AS_OF, accounts=ACCOUNTS)
    raw = base / "raw.duckdb"
    systems = extract_sandbox(data_dir, manifest, raw, base / "tokens")
    return data_dir, manifest, raw, systems


@pytest.fixture(scope="session")
def built(sandbox_raw, tmp_path_factory) -> Built:
    """The raw data built by `dbt build` (models, seeds, tests) with the generator's plans."""
    from warehouse.dbt_config import load_plans

    data_dir, manifest, raw, systems = sandbox_raw
    base = tmp_path_factory.mktemp("dbt_built")
    warehouse = base / "wh.duckdb"
    shutil.copy(raw, warehouse)
    project = copy_project(base / "dbt_project")
    load_plans(data_dir / "truth" / "plans.csv", project / "seeds" / "sales_plans.csv")
    proc = run_dbt(project, ["build"], dbt_env(warehouse))
    return Built(data_dir, warehouse, project, manifest, systems, proc.stdout)
