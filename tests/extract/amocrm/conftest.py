"""Fixtures for the amoCRM extractor tests: one generated account per session (copied per test,
since token use and mutations change its state), served over real HTTP, secrets in the
environment as in production, a fresh warehouse per test."""

from __future__ import annotations

import json
import shutil

import duckdb
import pytest
import requests

from extract.common.config import AccountConfig
from tests.extract.conftest import generate_sandbox, start_servers

ACCOUNT = "amo-kzn"
LEADS = 1200


@pytest.fixture(scope="session")
def amo_sandbox(tmp_path_factory):
    out = tmp_path_factory.mktemp("amo_sandbox")
    manifest = generate_sandbox(out, leads=LEADS, accounts=[ACCOUNT])
    return out, manifest


@pytest.fixture()
def amo_copy(amo_sandbox, tmp_path):
    src, manifest = amo_sandbox
    dst = tmp_path / "sandbox"
    shutil.copytree(src, dst)
    return dst, manifest


class Served:
    def __init__(self, data_dir, manifest, limits=True, **kw):
        self.data_dir, self.manifest = data_dir, manifest
        self.servers, self.info = start_servers(data_dir, limits=limits, **kw)
        self.url = self.info[ACCOUNT]["url"]
        self.cred = self.info[ACCOUNT]["credentials"]

    def stop(self):
        for s in self.servers.values():
            s.stop()

    def stats(self) -> dict:
        return requests.get(self.url + "/_sandbox/stats", timeout=10).json()

    def admin(self, action: str, method: str = "GET", **kw) -> dict:
        return requests.request(method, f"{self.url}/_sandbox/{action}", timeout=10, **kw).json()

    def state(self):
        """The emulator's state file (shared DuckDB instance in this process)."""
        entry = next(a for a in self.manifest["accounts"] if a["account"] == ACCOUNT)
        return duckdb.connect(str(self.data_dir / entry["file"]))


@pytest.fixture()
def serve(amo_copy):
    started: list[Served] = []

    def _serve(limits: bool = True, **kw) -> Served:
        s = Served(*amo_copy, limits=limits, **kw)
        started.append(s)
        return s

    yield _serve
    for s in started:
        s.stop()


def amo_account(served: Served, monkeypatch, name: str = ACCOUNT, auth: str = "oauth", fast: bool = False,
                **options) -> AccountConfig:
    """An AccountConfig for the served account; its secrets go into the environment."""
    if fast:  # limits off on the server: no need to pace
        options.setdefault("rate_limit_per_second", 200)
    acc = AccountConfig(name=name, system="amocrm", auth=auth, base_url=served.url, options=options)
    cred = served.cred
    if auth == "long_lived":
        monkeypatch.setenv(acc.env_name("LONG_LIVED_TOKEN"), cred["long_lived_token"])
    else:
        monkeypatch.setenv(acc.env_name("CLIENT_ID"), cred["client_id"])
        monkeypatch.setenv(acc.env_name("CLIENT_SECRET"), cred["client_secret"])
        monkeypatch.setenv(acc.env_name("REDIRECT_URI"), cred["redirect_uri"])
        monkeypatch.setenv(acc.env_name("REFRESH_TOKEN"), cred["refresh_token"])
    return acc


def live(wh, entity: str, account: str = ACCOUNT, key: str = "id") -> dict:
    """{key: payload without _links} of the live rows of raw_amocrm.<entity>."""
    rows = wh.con.execute(f'SELECT {key}, payload FROM raw_amocrm."{entity}" WHERE _account = ? AND NOT _is_deleted',
                          [account]).fetchall()
    return {r[:-1] if len(r) > 2 else r[0]: _strip(json.loads(r[-1])) for r in rows}


def _strip(obj):
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k != "_links"}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj
