"""The `crmwh` command as a user runs it: generate, serve (a real subprocess), mutate."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import requests

CRMWH = [sys.executable, "-m", "crmwh.cli"]


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*CRMWH, *args], capture_output=True, text=True, timeout=timeout, check=False)


def wait_for(path: Path, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"serve exited early: {proc.stdout.read()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear in {seconds} s")
        time.sleep(0.2)


def test_generate_serve_mutate(tmp_path: Path) -> None:
    data = tmp_path / "crm"
    gen = run("sandbox", "generate", "--seed", "3", "--leads", "1500", "--out", str(data), "--as-of", "2026-11-01")
    assert gen.returncode == 0, gen.stderr
    manifest = json.loads((data / "manifest.json").read_text(encoding="utf-8"))
    truth = pd.read_parquet(data / "truth" / "leads.parquet")
    assert len(truth) == 1500

    proc = subprocess.Popen([*CRMWH, "sandbox", "serve", "--data", str(data), "--no-limits"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "COLUMNS": "200"})
    try:
        wait_for(data / "servers.json", proc)
        servers = json.loads((data / "servers.json").read_text(encoding="utf-8"))
        for acc in manifest["accounts"]:
            srv = servers[acc["account"]]
            assert srv["url"].startswith("http://127.0.0.1:")
            creds = acc["credentials"]
            live = truth[(truth.account == acc["account"]) & ~truth.is_deleted.astype(bool)]
            if acc["system"] == "bitrix24":
                url = f"{srv['url']}/rest/{creds['webhook_user_id']}/{creds['webhook_code']}/crm.lead.list.json"
                body = requests.get(url, timeout=10).json()
                assert body["total"] == len(live)
                bad = requests.get(url.replace(creds["webhook_code"], "wrong"), timeout=10)
                assert bad.status_code == 401 and bad.json()["error"] == "NO_AUTH_FOUND"
            else:
                r = requests.get(f"{srv['url']}/api/v4/leads?limit=250", timeout=10,
                                 headers={"Authorization": f"Bearer {creds['long_lived_token']}"})
                assert r.status_code == 200 and r.headers["content-type"].startswith("application/hal+json")
                assert len(r.json()["_embedded"]["leads"]) == min(250, len(live))
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "webhook URL:" in out and "/api/v4/" in out  # the user is told where to point a client

    mut = run("sandbox", "mutate", "--data", str(data), "--seed", "5", "--changes", "40")
    assert mut.returncode == 0, mut.stderr
    logs = sorted((data / "mutations").glob("*.json"))
    assert len(logs) == 1
    after = json.loads((data / "manifest.json").read_text(encoding="utf-8"))
    assert after["as_of"] > manifest["as_of"]  # a day of CRM work moves the clock


def test_serve_without_a_sandbox_says_what_to_do(tmp_path: Path) -> None:
    result = run("sandbox", "serve", "--data", str(tmp_path / "missing"))
    assert result.returncode != 0
    assert "crmwh sandbox generate" in (result.stdout + result.stderr)


def test_bad_faults_option_is_named(tmp_path: Path) -> None:
    data = tmp_path / "crm"
    assert run("sandbox", "generate", "--seed", "1", "--leads", "1000", "--out", str(data),
               "--as-of", "2026-11-01").returncode == 0
    result = run("sandbox", "serve", "--data", str(data), "--faults", '{"nope": 1}')
    assert result.returncode != 0
    assert "--faults" in (result.stdout + result.stderr)


def test_ui_serves_the_pipeline_jobs(tmp_path: Path) -> None:
    """`crmwh ui` starts the Dagster UI (dagster dev) on the pipeline's definitions: its GraphQL
    answers with the jobs and schedules a data engineer runs."""
    from tests.support.system import _free_port

    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster_home"),
           "CRMWH_WAREHOUSE_PATH": str(tmp_path / "wh.duckdb")}
    proc = subprocess.Popen([*CRMWH, "ui", "--port", str(port)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    query = ("{ repositoriesOrError { ... on RepositoryConnection { nodes { "
             "jobs { name } schedules { name } } } } }")
    try:
        deadline, answer = time.monotonic() + 180, None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"crmwh ui exited early: {proc.stdout.read()[-3000:]}")
            try:
                r = requests.post(f"http://127.0.0.1:{port}/graphql", json={"query": query}, timeout=5)
                nodes = r.json()["data"]["repositoriesOrError"].get("nodes") or []
                if nodes and nodes[0]["jobs"]:
                    answer = nodes[0]
                    break
            except (requests.RequestException, KeyError, TypeError, ValueError):
                pass
            time.sleep(1)
        assert answer, "the Dagster UI did not serve the definitions within 180 s"
        jobs = {j["name"] for j in answer["jobs"]}
        assert {"incremental_run", "full_reconciliation", "plans_refresh"} <= jobs
        assert answer["schedules"]
        # the instance is the one crmwh configured: telemetry off
        assert "enabled: false" in (tmp_path / "dagster_home" / "dagster.yaml").read_text(encoding="utf-8")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
