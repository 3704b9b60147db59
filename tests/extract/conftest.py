"""Fixtures for the extractor tests: a generated sandbox served over real HTTP, accounts pointing
at it (secrets through environment variables, as in production), and a fresh warehouse."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import requests

from extract.common.config import AccountConfig, Settings


def generate_sandbox(out: Path, leads: int, accounts: list[str], seed: int = 7) -> dict:
    from sandbox.generator import generate

    return generate(out, seed=seed, leads=leads, accounts=accounts)


def start_servers(data_dir: Path, limits: bool = True, **kw):
    from sandbox.serve import serve_all

    servers = serve_all(data_dir, limits=limits, **kw)
    info = json.loads((data_dir / "servers.json").read_text())
    return servers, info


def b24_account(name: str, info: dict, manifest: dict, monkeypatch, auth: str = "webhook",
                **extra) -> AccountConfig:
    """An AccountConfig for a served portal; its secret goes into the environment."""
    srv = info[name]
    cred = srv["credentials"]
    plan = next(a for a in manifest["accounts"] if a["account"] == name).get("plan", "standard")
    acc = AccountConfig(name=name, system="bitrix24", auth=auth, plan=plan,
                        base_url=srv["url"] if auth == "oauth" else None,
                        oauth_server_url=srv["url"] + "/oauth/token/" if auth == "oauth" else None,
                        **extra)
    if auth == "webhook":
        monkeypatch.setenv(acc.env_name("WEBHOOK_URL"),
                           f"{srv['url']}/rest/{cred['webhook_user_id']}/{cred['webhook_code']}/")
    else:
        monkeypatch.setenv(acc.env_name("CLIENT_ID"), cred["oauth_client_id"])
        monkeypatch.setenv(acc.env_name("CLIENT_SECRET"), cred["oauth_client_secret"])
        monkeypatch.setenv(acc.env_name("REFRESH_TOKEN"), cred["oauth_refresh_token"])
    return acc


def stats(url: str) -> dict:
    return requests.get(url + "/_sandbox/stats", timeout=10).json()


@pytest.fixture(scope="session")
def b24_sandbox(tmp_path_factory):
    """Two Bitrix24 portals (b24-msk, b24-spb), a few thousand leads, generated once per session.
    Tests that change the state copy it first (`sandbox_copy`)."""
    out = tmp_path_factory.mktemp("b24_sandbox")
    manifest = generate_sandbox(out, leads=4000, accounts=["b24-msk", "b24-spb"])
    return out, manifest


@pytest.fixture()
def sandbox_copy(b24_sandbox, tmp_path):
    src, manifest = b24_sandbox
    dst = tmp_path / "sandbox"
    shutil.copytree(src, dst)
    return dst, manifest


@pytest.fixture()
def settings(tmp_path) -> Settings:
    return Settings(warehouse_path=tmp_path / "wh.duckdb", token_dir=tmp_path / "tokens",
                    chunk_rows=1000, http_read_timeout=20, reconcile_hours=0)
