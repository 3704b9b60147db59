"""`crmwh doctor` against a served sandbox: all green when configured, and a wrong secret is
named by its variable, never shown."""

from __future__ import annotations

import pytest

from crmwh.doctor import run_doctor
from crmwh.sandbox_link import link_sandbox


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from sandbox.generator import generate
    from sandbox.serve import serve_all

    data = tmp_path_factory.mktemp("doctor")
    generate(data, seed=4, leads=1000, as_of="2026-11-01")
    servers = serve_all(data, limits=True)
    yield data
    for s in servers.values():
        s.stop()


def _configure(monkeypatch, data, tmp_path, env_patch=None):
    accounts_file, env = link_sandbox(data, accounts_file=tmp_path / "accounts.yaml", apply=False)
    for k, v in env.items():
        monkeypatch.setenv(k, (env_patch or {}).get(k, v))
    monkeypatch.setenv("CRMWH_ACCOUNTS_FILE", str(accounts_file))
    monkeypatch.setenv("CRMWH_WAREHOUSE_PATH", str(tmp_path / "wh.duckdb"))
    monkeypatch.setenv("CRMWH_TOKEN_DIR", str(tmp_path / "tokens"))
    return env


def test_doctor_all_green(served, tmp_path, monkeypatch):
    _configure(monkeypatch, served, tmp_path)
    findings = run_doctor()
    assert all(f.ok for f in findings), findings
    whats = {f.what for f in findings}
    assert {"accounts file", "bitrix24 account 'b24-msk'", "amocrm account 'amo-kzn'", "warehouse"} <= whats


def test_doctor_names_the_wrong_setting_never_its_value(served, tmp_path, monkeypatch):
    accounts_file, env = link_sandbox(served, accounts_file=tmp_path / "a.yaml", apply=False)
    secret_var = "AMOCRM_AMO_KZN_CLIENT_SECRET"
    wrong = "WRONG-" + env[secret_var][6:]
    _configure(monkeypatch, served, tmp_path, {secret_var: wrong})
    findings = {f.what: f for f in run_doctor()}
    amo = findings["amocrm account 'amo-kzn'"]
    assert not amo.ok and secret_var in amo.detail
    text = " ".join(f.detail for f in findings.values())
    assert wrong not in text and env[secret_var] not in text


def test_doctor_missing_accounts_file(tmp_path, monkeypatch):
    monkeypatch.setenv("CRMWH_ACCOUNTS_FILE", str(tmp_path / "nope.yaml"))
    monkeypatch.setenv("CRMWH_WAREHOUSE_PATH", str(tmp_path / "wh.duckdb"))
    findings = run_doctor()
    assert not findings[0].ok and "nope.yaml" in findings[0].detail and "accounts.example.yaml" in findings[0].detail
