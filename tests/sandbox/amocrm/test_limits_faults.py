"""Rate limits (429 non-JSON), the account block (403 nginx HTML), injected faults, data changing
between pages, token expiry mid-run, and the request-log counters of the amoCRM emulator."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

from tests.sandbox.amocrm.conftest import CREDENTIALS, DELETED_EVERY, N_LEADS, lead_id


def burst(amo, n: int, path: str = "/api/v4/account") -> list:
    # Concurrent, so that the burst lands well inside one second even on a slow machine.
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda _: amo.get(path), range(n)))


def burst_on_fresh_server(make_amo, n: int, **options):
    """(server, responses) of n requests that all arrived within one second. The limit is 7 per
    sliding second, and a loaded 2-core machine does not always send n requests that fast; then
    the burst is retried on a fresh server."""
    for attempt in range(3):
        amo = make_amo(limits=True, subdir=f"burst{attempt}", **options)
        started = time.monotonic()
        rs = burst(amo, n)
        if time.monotonic() - started < 0.8:
            break
    return amo, rs


def is_json(text: str) -> bool:
    try:
        json.loads(text)
        return True
    except ValueError:
        return False


def test_burst_over_seven_per_second_gets_429_non_json(make_amo):
    amo, rs = burst_on_fresh_server(make_amo, 12)
    codes = [r.status_code for r in rs]
    assert codes.count(200) == 7 and codes.count(429) == 5
    r429 = next(r for r in rs if r.status_code == 429)
    assert not is_json(r429.text) and r429.headers["content-type"].startswith("text/html")
    assert "Retry-After" not in r429.headers  # ⚠ unconfirmed, absent by default
    time.sleep(1.05)
    assert amo.get("/api/v4/account").status_code == 200  # the window slides on
    stats = amo.admin("stats")
    assert stats["http_429"] == 5 and stats["rate_limited"] == {"429": 5} and stats["blocked"] is False
    assert stats["by_api_method"]["GET /api/v4/account"] == 13


def test_retry_after_option(make_amo):
    amo = make_amo(limits=True, options={"retry_after": 1})
    r429 = [r for r in burst(amo, 10) if r.status_code == 429]
    assert r429 and all(r.headers["Retry-After"] == "1" for r in r429)


def test_repeated_violations_block_the_account_until_unblocked(make_amo):
    amo, rs = burst_on_fresh_server(make_amo, 10, options={"block_threshold": 3, "block_window": 60})
    codes = [r.status_code for r in rs]
    assert codes.count(200) == 7 and codes.count(429) == 3
    r = amo.get("/api/v4/account")
    assert r.status_code == 403 and "nginx" in r.text and not is_json(r.text)
    assert r.headers["content-type"].startswith("text/html")
    # everything is blocked, including token exchange, and blocked answers are not violations
    assert amo.oauth(grant_type="refresh_token").status_code == 403
    stats = amo.admin("stats")
    assert stats["blocked"] is True and stats["blocks"] == 1 and stats["rate_limited"]["blocked"] >= 2
    amo.admin("unblock", method="POST")
    assert amo.get("/api/v4/account").status_code == 200
    assert amo.admin("stats")["blocked"] is False


def test_block_expires_and_reset_limits(make_amo):
    # the block lasts long enough that a loaded machine still sees it right after the burst (at
    # 0.5 s it once expired before the check in CI, which then got the plain 429)
    amo = make_amo(limits=True, options={"block_threshold": 2, "block_seconds": 2.0, "rate_limit_per_second": 2})
    burst(amo, 6)
    assert amo.get("/api/v4/account").status_code == 403
    time.sleep(2.6)
    assert amo.get("/api/v4/account").status_code == 200
    amo.admin("reset-limits", method="POST")
    assert amo.admin("stats")["http_429"] == 0


def test_limits_off_never_limit(make_amo):
    amo = make_amo(limits=False)
    assert {r.status_code for r in burst(amo, 30)} == {200}


def set_faults(amo, **config):
    return amo.admin("faults", method="POST", json=config)


def test_injected_fault_kinds(make_amo):
    amo = make_amo()
    set_faults(amo, rates={"rate_limit": 1.0})
    r = amo.get("/api/v4/leads")
    assert r.status_code == 429 and not is_json(r.text)
    set_faults(amo, rates={"unauthorized": 1.0})
    r = amo.get("/api/v4/leads")
    assert r.status_code == 401 and r.json()["title"] == "Unauthorized"
    set_faults(amo, rates={"html_error": 1.0})
    r = amo.get("/api/v4/leads")
    assert r.status_code == 503 and r.headers["content-type"].startswith("text/html") and "<html>" in r.text
    set_faults(amo, rates={"server_error": 1.0})
    r = amo.get("/api/v4/leads")
    assert r.status_code == 500 and r.json()["status"] == 500
    assert r.headers["content-type"].startswith("application/problem+json")
    set_faults(amo, rates={})
    assert amo.get("/api/v4/leads").status_code == 200
    assert amo.admin("stats")["faults_injected"] == {"rate_limit": 1, "unauthorized": 1, "html_error": 1,
                                                     "server_error": 1}


def test_access_token_expires_mid_run(make_amo):
    amo = make_amo()
    pair = amo.oauth(grant_type="refresh_token", refresh_token=CREDENTIALS["refresh_token"],
                     client_id=CREDENTIALS["client_id"], client_secret=CREDENTIALS["client_secret"]).json()
    set_faults(amo, expire_tokens_after=3)
    codes = [amo.get("/api/v4/leads", token=pair["access_token"]).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 401, 401]
    fresh = amo.oauth(grant_type="refresh_token", refresh_token=pair["refresh_token"],
                      client_id=CREDENTIALS["client_id"], client_secret=CREDENTIALS["client_secret"]).json()
    assert amo.get("/api/v4/leads", token=fresh["access_token"]).status_code == 200
    assert amo.get("/api/v4/leads").status_code == 200  # the long-lived token is exempt
    assert amo.admin("stats")["expired_by_fault"] == 1


def test_data_changes_between_pages_break_a_naive_pager(make_amo):
    amo = make_amo()
    set_faults(amo, mutate_between_pages=1.0, seed=7)
    seen: list[int] = []
    page = 1
    while True:  # the naive way: page numbers over a moving ordering
        r = amo.get("/api/v4/leads", {"limit": 50, "page": page, "order[updated_at]": "asc"})
        if r.status_code == 204:
            break
        body = r.json()
        seen += [x["id"] for x in body["_embedded"]["leads"]]
        if "next" not in body["_links"]:
            break
        page += 1
    set_faults(amo)
    live_now = {x["id"] for x in amo.all_pages("/api/v4/leads", {"limit": 250})}
    mutations = amo.admin("stats")["mutations"]
    assert mutations == page
    assert len(live_now) == N_LEADS - N_LEADS // DELETED_EVERY  # one added, one deleted per mutation
    assert len(seen) != len(set(seen)) or set(seen) != live_now  # repeats or skips
    added = [e for e in amo.all_pages("/api/v4/events", {"filter[type]": "lead_added"})
             if e["entity_id"] > lead_id(N_LEADS)]
    deleted = amo.all_pages("/api/v4/events", {"filter[type]": "lead_deleted"})
    assert len(deleted) == mutations and deleted[0]["value_after"] == []
    gone = {e["entity_id"] for e in deleted}
    assert not gone & live_now
    assert len(added) == mutations and {e["entity_id"] for e in added} - gone <= live_now
    assert all(e["value_after"][0]["note"]["id"] for e in added)


def test_request_log_counts(make_amo):
    amo = make_amo()
    amo.admin("reset-stats", method="POST")
    amo.all_pages("/api/v4/leads", {"limit": 100})
    amo.get("/api/v4/leads/1")
    amo.get("/api/v4/leads", token="bad")
    stats = amo.admin("stats")
    assert stats["by_api_method"] == {"GET /api/v4/leads": 4, "GET /api/v4/leads/{id}": 1}
    assert stats["by_status"] == {"200": 3, "204": 1, "401": 1}
    log = amo.admin("requests")["requests"]
    assert [e["api_method"] for e in log][-1] == "GET /api/v4/leads" and log[-1]["status"] == 401
