"""The extraction assets as Dagster runs them: definitions load, and materializing them against the
sandbox (real HTTP, limits on) lands every entity with per-materialization metadata."""

from __future__ import annotations

import json

import dagster as dg
import duckdb
import pandas as pd
import pytest
import requests

from crmwh.sandbox_link import link_sandbox
from orchestration.defs import bitrix24
from orchestration.defs.resources import CrmwhResource


@pytest.fixture(scope="module")
def served_sandbox(tmp_path_factory):
    from sandbox.generator import generate
    from sandbox.serve import serve_all

    data = tmp_path_factory.mktemp("sandbox")
    generate(data, seed=5, leads=1500, as_of="2026-11-01", accounts=["b24-msk"])
    servers = serve_all(data, limits=True)
    yield data, servers
    for s in servers.values():
        s.stop()


def test_definitions_load_and_name_every_landing_table():
    from orchestration.definitions import defs

    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"raw_bitrix24/leads", "raw_bitrix24/deals", "raw_bitrix24/payments",
            "raw_bitrix24/deal_stage_history"} <= keys


def test_materialize_bitrix24_extraction(served_sandbox, tmp_path, monkeypatch):
    data, servers = served_sandbox
    accounts_file, env = link_sandbox(data, accounts_file=tmp_path / "accounts.yaml", apply=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("CRMWH_TOKEN_DIR", str(tmp_path / "tokens"))
    warehouse = tmp_path / "wh.duckdb"
    resource = CrmwhResource(warehouse_path=str(warehouse), accounts_file=str(accounts_file))
    result = dg.materialize(bitrix24.build_defs().assets, resources={"crmwh": resource},
                            instance=dg.DagsterInstance.ephemeral())
    assert result.success
    mats = {m.asset_key.to_user_string(): m.metadata
            for m in (e.event_specific_data.materialization for e in result.get_asset_materialization_events())}
    assert set(mats) == {f"raw_bitrix24/{e}" for g in bitrix24.GROUPS.values() for e in g}

    truth = pd.read_parquet(data / "truth" / "leads.parquet")
    live_leads = int((~truth.is_deleted.astype(bool)).sum())
    with duckdb.connect(str(warehouse), read_only=True) as con:
        landed = con.execute("SELECT count(*) FROM raw_bitrix24.leads WHERE NOT _is_deleted").fetchone()[0]
        payload = json.loads(con.execute("SELECT payload FROM raw_bitrix24.leads LIMIT 1").fetchone()[0])
    assert landed == live_leads
    assert "TITLE" in payload and "webhook" not in json.dumps(payload).lower()
    assert mats["raw_bitrix24/leads"]["rows"].value == live_leads
    assert mats["raw_bitrix24/leads"]["requests"].value >= 1
    assert mats["raw_bitrix24/leads"]["rate_limit_refusals"].value == 0

    stats = requests.get(servers["b24-msk"].url + "/_sandbox/stats", timeout=5).json()
    assert stats["rate_limit_violations"] == 0


def test_failed_credential_fails_the_asset_with_the_setting_named(served_sandbox, tmp_path, monkeypatch):
    data, _ = served_sandbox
    accounts_file, env = link_sandbox(data, accounts_file=tmp_path / "accounts.yaml", apply=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v.replace("/rest/1/", "/rest/1/x") if k.endswith("WEBHOOK_URL") else v)
    resource = CrmwhResource(warehouse_path=str(tmp_path / "wh.duckdb"), accounts_file=str(accounts_file))
    result = dg.materialize(bitrix24.build_defs().assets, resources={"crmwh": resource},
                            instance=dg.DagsterInstance.ephemeral(), raise_on_error=False,
                            selection=["raw_bitrix24/leads"])
    assert not result.success
    text = " ".join(str(e.message) + str(e.event_specific_data) for e in result.all_events)
    assert "BITRIX24_B24_MSK_WEBHOOK_URL" in text
    wrong = env["BITRIX24_B24_MSK_WEBHOOK_URL"].replace("/rest/1/", "/rest/1/x")
    assert wrong.split("/")[-2] not in text  # the secret itself is never shown
