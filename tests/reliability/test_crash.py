"""Crashes: the extraction runs in a separate process and is killed with SIGKILL at seeded random
moments (during requests, merges, commits), then resumed. After every kill — before resuming —
no cursor is ahead of the rows committed with it; after the last run the warehouse equals the
source. A day of source changes lands between two kills. Also: SIGKILL around an amoCRM token
rotation, and two runs started at once."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from extract.bitrix24.entities import BY_NAME as B24_ENTITIES
from extract.common.records import parse_time
from tests.reliability.helpers import (AMO, AMO_STATE, B24, B24_STATE, assert_amo_equal, assert_b24_equal,
                                       landed)
from warehouse.landing import Warehouse

REPO = Path(__file__).resolve().parents[2]
KILLS = int(os.environ.get("CRMWH_CRASH_KILLS", "22"))
OVERLAP = 300
# the default run kills a run of the core entities (every paginator kind: keyset scans, append-only
# history, children; amoCRM sliced scans, events and their tombstones); the slow one everything
CORE = {"bitrix24": ["statuses", "leads", "deals", "lead_stage_history", "deal_productrows"],
        "amocrm": ["pipelines", "statuses", "leads", "contacts", "events"]}
MAX_DELAY = 3.5


def _config(tmp: Path, accounts, entities=None, crash: str = "", **settings) -> Path:
    base = {"warehouse_path": str(tmp / "wh.duckdb"), "token_dir": str(tmp / "tokens"), "chunk_rows": 40,
            "http_read_timeout": 10, "reconcile_hours": 0}
    base.update(settings)
    cfg = {"accounts": [a.model_dump() for a in accounts], "settings": base,
           "entities": entities or {}, "crash": crash}
    path = tmp / f"run-{crash or 'plain'}.json"
    path.write_text(json.dumps(cfg))
    return path


def _start(cfg: Path, env: dict[str, str]) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-m", "tests.reliability.crash_runner", str(cfg)], cwd=REPO, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    assert line.strip() == "READY", (line, p.stderr.read() if p.poll() is not None else "")
    return p


def _finish(p: subprocess.Popen, timeout: float = 120) -> tuple[int, str, str]:
    out, err = p.communicate(timeout=timeout)
    return p.returncode, out, err


def _env(sandbox, amo_auth: str = "oauth") -> tuple[dict[str, str], list]:
    env = dict(os.environ)
    accounts = [sandbox.b24_account(env=env), sandbox.amo_account(env=env, auth=amo_auth)]
    return env, accounts


# ---------------------------------------------------------------------- the cursor invariant
def _b24_uncovered(wh_con, sandbox, skip_scans: set) -> list[str]:
    """Source rows a Bitrix24 cursor claims as landed but that are not (or are stale)."""
    problems = []
    for entity in ("leads", "deals", "lead_stage_history", "deal_stage_history", "activities", "contacts",
                   "companies"):
        row = wh_con.execute("SELECT cursor FROM meta.extract_cursors WHERE system = 'bitrix24' AND account = ? "
                             "AND entity = ?", [B24, entity]).fetchone()
        if not row:
            continue
        cur = json.loads(row[0])
        truth = sandbox.b24_truth(entity)
        live, dead, _, _ = landed(wh_con, "bitrix24", entity, B24)
        if B24_ENTITIES[entity].append_only:
            covered = {i for i in truth if i <= int(cur.get("last_id", 0))}
        else:
            since = parse_time(cur["since"]) if cur.get("since") else None
            covered = {i for i, t in truth.items() if since is not None and t < since}
            scan = cur.get("scan")
            if scan and json.dumps(scan, sort_keys=True) not in skip_scans:
                lo = parse_time(scan["since"]) - timedelta(seconds=OVERLAP) if scan.get("since") else None
                hi = parse_time(scan["started"]) if scan.get("started") else None
                covered |= {i for i, t in truth.items() if i <= int(scan["last_id"])
                            and (lo is None or t >= lo) and (hi is None or t <= hi)}
        for i in covered:
            if i not in live or (truth[i] is not None and live[i] != truth[i]
                                 and not B24_ENTITIES[entity].append_only):
                problems.append(f"{entity} {i}: cursor {cur} but landed {live.get(i)} vs source {truth[i]}")
    return problems


def _amo_uncovered(wh_con, sandbox, skip_scans: set) -> list[str]:
    problems = []
    for entity in ("leads", "contacts", "companies", "tasks", "events"):
        row = wh_con.execute("SELECT cursor FROM meta.extract_cursors WHERE system = 'amocrm' AND account = ? "
                             "AND entity = ?", [AMO, entity]).fetchone()
        if not row:
            continue
        cur = json.loads(row[0])
        truth = {i: int(t.timestamp()) for i, t in sandbox.amo_truth(entity).items()}
        live, dead, _, _ = landed(wh_con, "amocrm", entity, AMO)
        since = cur.get("since")
        covered = {i for i, t in truth.items() if since is not None and t < int(since)}
        scan = cur.get("scan")
        if scan and scan.get("mode") == "filter" and json.dumps(scan, sort_keys=True) not in skip_scans:
            w = int(scan.get("since") or 0)
            remaining = [(int(lo), None if hi is None else int(hi)) for lo, hi in scan.get("ranges") or []]
            covered |= {i for i, t in truth.items() if w <= t <= int(scan["started"])
                        and not any(lo <= t and (hi is None or t <= hi) for lo, hi in remaining)}
        for i in covered:
            got = live.get(i)
            if got is None or int(got.timestamp()) != truth[i]:
                problems.append(f"{entity} {i}: cursor {cur} but landed {got} vs source {truth[i]}")
    return problems


def _scans(wh_con) -> set[str]:
    out = set()
    for (c,) in wh_con.execute("SELECT cursor FROM meta.extract_cursors").fetchall():
        try:
            scan = json.loads(c).get("scan")
        except (ValueError, AttributeError):
            continue
        if scan:
            out.add(json.dumps(scan, sort_keys=True))
    return out


def _has(con, system: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = 'leads'",
                            [f"raw_{system}"]).fetchone()[0])


def _kill_and_resume(sandbox, tmp_path, kills: int, seed: int, max_delay: float, entities=None):
    """Kill runs until `kills` SIGKILLs have landed (a run that finishes before its kill time
    counts as a clean run, not a kill), at most 3 × `kills` runs.

    amoCRM uses a long-lived token here: this test is about data and cursors. A kill inside an
    OAuth exchange that the server has already completed spends the single-use refresh token for
    good — no client can recover a pair it never received; that case, and the ones a client can
    survive, have their own tests below."""
    sandbox.start()
    env, accounts = _env(sandbox, amo_auth="long_lived")
    cfg = _config(tmp_path, accounts, entities)
    rng = random.Random(seed)
    done = killed = 0
    skip_scans: set[str] = set()
    deleted: dict[str, set] = {B24: set(), AMO: set()}
    log = []
    mutated = False
    # The first kill lands right after a committed chunk of the first full scan, so a resume of a
    # half-done scan is always exercised; the others land at seeded random times.
    rc, _, err = _finish(_start(_config(tmp_path, accounts, entities, crash="after_merges:12"), env))
    assert rc == -signal.SIGKILL, err[-2000:]
    killed += 1
    log.append(("after 12 chunks", rc))
    with Warehouse(cfg.parent / "wh.duckdb") as wh:
        problems = _b24_uncovered(wh.con, sandbox, skip_scans) + _amo_uncovered(wh.con, sandbox, skip_scans)
        assert not problems, f"after the mid-scan kill: cursor ahead of data: {problems[:5]}"
    i = -1
    while killed < kills and i < 3 * kills:
        i += 1
        if not mutated and killed >= kills // 2:  # a day of source changes between two kills
            mutated = True
            with Warehouse(cfg.parent / "wh.duckdb") as wh:
                skip_scans = _scans(wh.con)  # scans in flight now read part of the old state
                had = {n: set(landed(wh.con, s, "leads", n)[0]) if _has(wh.con, s) else set()
                       for n, s in ((B24, "bitrix24"), (AMO, "amocrm"))}
            # deletions of leads we had landed must become tombstones (the others were never seen)
            deleted[B24] |= set(sandbox.mutate(B24, seed=i)["deleted"].get("crm_lead", [])) & had[B24]
            deleted[AMO] |= set(sandbox.mutate(AMO, seed=i)["deleted"].get("leads", [])) & had[AMO]
        p = _start(cfg, env)
        delay = rng.uniform(0.05, max_delay)
        time.sleep(delay)
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            killed += 1
        rc, out, err = _finish(p)
        log.append((round(delay, 2), rc))
        if rc == 0:
            done += 1
        else:
            assert rc == -signal.SIGKILL, (rc, err[-2000:])
        with Warehouse(cfg.parent / "wh.duckdb") as wh:  # the next run's view after the crash
            problems = _b24_uncovered(wh.con, sandbox, skip_scans) + _amo_uncovered(wh.con, sandbox, skip_scans)
            assert not problems, f"after kill {i} (at {delay:.2f} s): cursor ahead of data: {problems[:5]}"
    p = _start(cfg, env)
    rc, out, err = _finish(p)
    assert rc == 0, err[-3000:]
    with Warehouse(cfg.parent / "wh.duckdb") as wh:
        resumed = wh.con.execute("SELECT count(*) FROM meta.extract_runs WHERE mode LIKE 'resume%'").fetchone()[0]
        b24 = (entities or {}).get("bitrix24") or list(B24_STATE)
        amo = (entities or {}).get("amocrm") or list(AMO_STATE)
        assert_b24_equal(wh.con, sandbox, b24, deleted[B24])
        assert_amo_equal(wh.con, sandbox, amo, deleted[AMO])
    return killed, resumed, log


def test_sigkill_at_random_points_then_resume(sandbox, tmp_path):
    """≥ 20 seeded SIGKILLs during extraction and loading of both CRMs (chunks of 100 rows: many
    commits to land in), resumed each time; a mutation of both sources half-way."""
    killed, resumed, log = _kill_and_resume(sandbox, tmp_path, KILLS, seed=20261127, max_delay=MAX_DELAY,
                                            entities=CORE)
    assert killed >= 20, log
    assert resumed >= 1, f"no kill landed inside a scan, the resume path went untested: {log}"


@pytest.mark.slow
def test_sigkill_at_many_random_points_then_resume(sandbox, tmp_path):
    killed, resumed, log = _kill_and_resume(sandbox, tmp_path, 100, seed=7, max_delay=8.0)
    assert killed >= 80, log


# ---------------------------------------------------------------------- amoCRM token rotation
def _amo_only(sandbox, tmp_path, crash: str = ""):
    sandbox.start()
    env = dict(os.environ)
    acc = sandbox.amo_account(env=env)
    return env, _config(tmp_path, [acc], {"amocrm": ["users", "pipelines"]}, crash=crash)


def _token_requests(sandbox) -> int:
    return sum(1 for e in sandbox.admin(AMO, "requests")["requests"] if e["path"].startswith("/oauth2/"))


def _run_ok(cfg, env):
    rc, out, err = _finish(_start(cfg, env))
    assert rc == 0, err[-2000:]


def test_sigkill_while_the_token_request_is_in_flight_does_not_lock_out(sandbox, tmp_path):
    """Killed while the token endpoint has not handled the exchange yet: nothing was spent."""
    env, cfg = _amo_only(sandbox, tmp_path)
    sandbox.set_faults(AMO, rates={"timeout": 1.0}, max_faults=1, timeout_seconds=4.0,
                       path_pattern=r"^/oauth2/access_token")
    p = _start(cfg, env)
    time.sleep(1.5)  # the exchange is the run's first request: it hangs in the emulator now
    p.send_signal(signal.SIGKILL)
    assert _finish(p)[0] == -signal.SIGKILL
    assert not any(t["status"] == "used" for t in sandbox.admin(AMO, "tokens").get("tokens", [])
                   if t.get("kind") == "refresh")
    sandbox.clear_faults(AMO)
    _run_ok(cfg, env)  # authenticates with the unspent refresh token


def test_sigkill_after_the_rotated_pair_is_persisted_does_not_lock_out(sandbox, tmp_path):
    env, cfg = _amo_only(sandbox, tmp_path, crash="after_token_save")
    rc, out, err = _finish(_start(cfg, env))
    assert rc == -signal.SIGKILL
    _, plain = _amo_only(sandbox, tmp_path)
    _run_ok(plain, env)  # the env token is spent; the stored pair is used
    sandbox.admin(AMO, "expire-tokens")
    _run_ok(plain, env)  # and rotates on from the stored pair
    assert oct(os.stat(tmp_path / "tokens" / "amocrm_amo_kzn.json").st_mode & 0o777) == "0o600"


def test_sigkill_while_persisting_the_rotated_pair_does_not_lock_out(sandbox, tmp_path):
    env, cfg = _amo_only(sandbox, tmp_path, crash="in_token_save")
    assert _finish(_start(cfg, env))[0] == -signal.SIGKILL
    token_dir = tmp_path / "tokens"
    assert list(token_dir.glob(".amocrm_amo_kzn.*.tmp")), "the kill left the new pair in the temp file"
    _, plain = _amo_only(sandbox, tmp_path)
    _run_ok(plain, env)  # the recovered (unspent) pair authenticates
    assert not list(token_dir.glob(".amocrm_amo_kzn.*.tmp"))  # promoted over the file
    assert oct(os.stat(token_dir / "amocrm_amo_kzn.json").st_mode & 0o777) == "0o600"
    sandbox.admin(AMO, "expire-tokens")
    _run_ok(plain, env)  # and rotates on from it


def test_sigkill_after_the_server_rotated_but_before_the_answer_stops_clearly(sandbox, tmp_path):
    """The token endpoint spent the refresh token and the process dies before the answer arrives.
    amoCRM refresh tokens are single-use (crm-api.md amoCRM §1): no client can recover a pair it
    never received. The next run stops at once with a message naming the variable and the remedy
    (re-authorise) — it does not retry against the revoked token (docs/reliability.md)."""
    env, cfg = _amo_only(sandbox, tmp_path)
    sandbox.set_faults(AMO, hold_response={r"^/oauth2/access_token": 5.0})
    p = _start(cfg, env)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if any(t["status"] == "used" for t in sandbox.admin(AMO, "tokens").get("tokens", [])
               if t.get("kind") == "refresh"):
            break
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    assert _finish(p)[0] == -signal.SIGKILL
    sandbox.clear_faults(AMO)
    before = _token_requests(sandbox)
    rc, out, err = _finish(_start(cfg, env))
    assert rc == 1 or rc != 0
    assert "AMOCRM_AMO_KZN_REFRESH_TOKEN" in err and "re-authorise" in err, err[-2000:]
    assert _token_requests(sandbox) - before == 1  # one refused exchange, no retry loop


# ---------------------------------------------------------------------- two runs at once
def test_two_runs_at_once_second_refuses_clearly_state_intact(sandbox, tmp_path):
    sandbox.start()
    env, accounts = _env(sandbox)
    cfg = _config(tmp_path, accounts, CORE)
    sandbox.set_faults(B24, latency_ms=40)  # the first run takes a few seconds
    first = _start(cfg, env)
    time.sleep(1.0)
    started = time.monotonic()
    rc, out, err = _finish(_start(cfg, env), timeout=30)
    assert rc == 3 and time.monotonic() - started < 10
    assert "locked by another writer" in err and f"pid {first.pid}" in err, err
    assert _finish(first)[0] == 0
    sandbox.clear_faults(B24)
    with Warehouse(cfg.parent / "wh.duckdb") as wh:
        assert_b24_equal(wh.con, sandbox, CORE["bitrix24"])
        assert_amo_equal(wh.con, sandbox, CORE["amocrm"])
        assert wh.con.execute("SELECT count(*) FROM meta.extract_runs WHERE status <> 'success'").fetchone()[0] == 0


def test_token_store_recovers_a_complete_temp_file_and_ignores_a_half_written_one(tmp_path):
    """The unit behind the SIGKILL test above: a half-written temp never replaces the pair; a
    complete, newer one is returned by load() and promoted over the file, mode 0600."""
    from extract.common.tokens import TokenStore

    store = TokenStore(tmp_path)
    store.save("amocrm_x", {"refresh_token": "old-refresh", "access_token": "old-access"})
    (tmp_path / ".amocrm_x.abcd1234.tmp").write_text('{"refresh_token": "half-wri')
    assert store.load("amocrm_x")["refresh_token"] == "old-refresh"
    newer = tmp_path / ".amocrm_x.efgh5678.tmp"
    newer.write_text(json.dumps({"refresh_token": "new-refresh", "access_token": "new-access"}))
    os.chmod(newer, 0o600)
    t = time.time() + 5
    os.utime(newer, (t, t))
    assert store.load("amocrm_x")["refresh_token"] == "new-refresh"
    assert json.loads((tmp_path / "amocrm_x.json").read_text())["refresh_token"] == "new-refresh"
    assert not list(tmp_path.glob(".amocrm_x.*.tmp"))
    assert oct(os.stat(tmp_path / "amocrm_x.json").st_mode & 0o777) == "0o600"
