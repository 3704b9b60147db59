"""The fault matrix: every fault the sandbox can inject, for each CRM it applies to, during a full
and then an incremental extraction (after a day of adds, changes and deletions at the source).
Each test ends with the warehouse compared to the sandbox's state — ids and modification times per
entity, every key once, tombstones for deletions — or with a bounded stop and a clear message.

Retry pauses are shortened (fixture `fast_retries`); attempt limits and wait budgets are not."""

from __future__ import annotations

import time
import zlib

import pytest

from extract.amocrm import AmoCRMExtractor
from extract.bitrix24 import Bitrix24Extractor
from extract.common.errors import AuthError, RateLimited
from tests.reliability.helpers import (AMO, AMO_API_PATHS, AMO_CORE, B24, B24_CORE, WEBHOOK_PATHS,
                                       assert_amo_equal, assert_b24_equal, failed)
from warehouse.landing import Warehouse

GENERIC = ["reset", "timeout", "truncate", "http_500", "http_502", "http_504"]
B24_KINDS = GENERIC + ["query_limit", "operation_limit", "expired_token", "internal_error", "html_error"]
AMO_KINDS = GENERIC + ["rate_limit", "unauthorized", "html_error", "server_error"]
MATRIX = [("bitrix24", k) for k in B24_KINDS] + [("amocrm", k) for k in AMO_KINDS]

pytestmark = pytest.mark.usefixtures("fast_retries")


def _fault_cfg(crm: str, kind: str, rate: float = 0.5, max_faults: int = 3) -> dict:
    if kind in ("timeout", "rate_limit", "operation_limit"):
        max_faults = 2  # each costs a real pause (a read timeout, a 429 back-off)
    return {"rates": {kind: rate}, "seed": zlib.crc32(f"{crm}:{kind}".encode()), "max_faults": max_faults,
            "after_requests": 0, "timeout_seconds": 2.0,
            "path_pattern": WEBHOOK_PATHS if crm == "bitrix24" else AMO_API_PATHS}


def _b24_auth(kind: str) -> str:
    return "oauth" if kind == "expired_token" else "webhook"  # a webhook never expires


def _b24_cycle(sandbox, settings, auth: str, entities=B24_CORE, faults: dict | None = None,
               between=None):
    """full run → compare → mutate the source → incremental run (with reconciliation) → compare.
    Returns the server stats of both runs."""
    sandbox.start()
    if faults:
        sandbox.set_faults(B24, **faults)
    acc = sandbox.b24_account(auth)
    stats = []
    with Warehouse(settings.warehouse_path) as wh:
        runs = Bitrix24Extractor(acc, wh, settings).run(entities, full=True)
        assert not failed(runs), failed(runs)
        stats.append(sandbox.stats(B24))
        if between:
            between()
        assert_b24_equal(wh.con, sandbox, entities)
        log = sandbox.mutate(B24, seed=5)
        deleted = set(log["deleted"].get("crm_lead", []))
        assert deleted, "the mutation deleted no lead: tombstones would go untested"
        runs = Bitrix24Extractor(acc, wh, settings).run(entities, reconcile=True)
        assert not failed(runs), failed(runs)
        assert {r.mode for r in runs if r.entity == "leads"} <= {"incremental+reconcile", "resume+reconcile"}
        stats.append(sandbox.stats(B24))
        assert_b24_equal(wh.con, sandbox, entities, deleted)
    return stats


def _amo_cycle(sandbox, settings, entities=AMO_CORE, faults: dict | None = None, between=None, **options):
    sandbox.start()
    if faults:
        sandbox.set_faults(AMO, **faults)
    acc = sandbox.amo_account(**options)
    stats = []
    with Warehouse(settings.warehouse_path) as wh:
        runs = AmoCRMExtractor(acc, wh, settings).run(entities, full=True)
        assert not failed(runs), failed(runs)
        stats.append(sandbox.stats(AMO))
        if between:
            between()
        assert_amo_equal(wh.con, sandbox, entities)
        log = sandbox.mutate(AMO, seed=5)
        deleted = set(log["deleted"].get("leads", []))
        assert deleted, "the mutation deleted no lead: tombstones would go untested"
        runs = AmoCRMExtractor(acc, wh, settings).run(entities)
        assert not failed(runs), failed(runs)
        assert {r.mode for r in runs if r.entity == "leads"} == {"incremental"}
        stats.append(sandbox.stats(AMO))
        assert_amo_equal(wh.con, sandbox, entities, deleted)
    return stats


@pytest.mark.parametrize("crm,kind", MATRIX, ids=[f"{c}-{k}" for c, k in MATRIX])
def test_fault_during_full_and_incremental_extraction(sandbox, settings, crm, kind):
    faults = _fault_cfg(crm, kind)
    if crm == "bitrix24":
        settings.http_read_timeout = 1.0
        stats = _b24_cycle(sandbox, settings, _b24_auth(kind), faults=faults)
    else:
        stats = _amo_cycle(sandbox, settings, faults=faults, read_timeout=1.0)
    for phase, st in zip(("full", "incremental"), stats):
        assert st["faults_injected"].get(kind), f"no {kind} fault was injected in the {phase} run: {st}"


@pytest.mark.parametrize("crm", ["bitrix24", "amocrm"])
def test_records_change_and_vanish_during_pagination(sandbox, settings, crm):
    """mutate_between_pages: before list pages the source bumps modification times, adds a record
    and deletes one. The run completes; one more incremental run (the source now quiet) and the
    warehouse equals the source: nothing skipped by a moving page, nothing duplicated."""
    faults = {"mutate_between_pages": 0.3, "seed": 4}
    if crm == "bitrix24":
        sandbox.start()
        sandbox.set_faults(B24, **faults)
        acc = sandbox.b24_account()
        with Warehouse(settings.warehouse_path) as wh:
            assert not failed(Bitrix24Extractor(acc, wh, settings).run(B24_CORE, full=True))
            assert sandbox.stats(B24)["bitrix24"]["mutations"] > 0
            assert not failed(Bitrix24Extractor(acc, wh, settings).run(B24_CORE, reconcile=True))
            assert sandbox.stats(B24)["bitrix24"]["mutations"] > 1  # also during the incremental run
            sandbox.clear_faults(B24)
            assert not failed(Bitrix24Extractor(acc, wh, settings).run(B24_CORE, reconcile=True))
            assert_b24_equal(wh.con, sandbox, B24_CORE)  # product rows of deleted deals too
    else:
        sandbox.start()
        sandbox.set_faults(AMO, **faults)
        acc = sandbox.amo_account()
        with Warehouse(settings.warehouse_path) as wh:
            assert not failed(AmoCRMExtractor(acc, wh, settings).run(AMO_CORE, full=True))
            assert sandbox.stats(AMO)["mutations"] > 0
            assert not failed(AmoCRMExtractor(acc, wh, settings).run(AMO_CORE))
            sandbox.clear_faults(AMO)
            assert not failed(AmoCRMExtractor(acc, wh, settings).run(AMO_CORE))
            assert_amo_equal(wh.con, sandbox, AMO_CORE)
            con = sandbox.state(AMO)
            gone = {r[0] for r in con.execute("SELECT id FROM leads WHERE is_deleted").fetchall()}
            con.close()
            dead = {r[0] for r in wh.con.execute("SELECT id FROM raw_amocrm.leads WHERE _is_deleted").fetchall()}
            assert gone and gone <= dead, "leads deleted during pagination are tombstones"


@pytest.mark.parametrize("crm", ["bitrix24", "amocrm"])
def test_access_tokens_expire_mid_run(sandbox, settings, crm):
    """expire_tokens_after: every access token dies after a few requests; the client refreshes
    (rotating, persisted refresh tokens) and the data is complete."""
    if crm == "bitrix24":
        stats = _b24_cycle(sandbox, settings, "oauth", faults={"expire_tokens_after": 3, "seed": 2})
        assert stats[0]["bitrix24"]["tokens_expired_by_fault"] and stats[1]["bitrix24"]["tokens_issued"]
    else:
        stats = _amo_cycle(sandbox, settings, faults={"expire_tokens_after": 10, "seed": 2})
        assert stats[0]["expired_by_fault"]


def test_bitrix24_oauth_server_failing_briefly_is_retried(sandbox, settings):
    faults = {"rates": {"http_502": 1.0}, "max_faults": 2, "path_pattern": r"^/oauth/token", "seed": 1,
              "expire_tokens_after": 40}
    stats = _b24_cycle(sandbox, settings, "oauth", faults=faults)
    assert stats[0]["faults_injected"].get("http_502") == 2


def test_bitrix24_refresh_failure_stops_with_a_clear_message(sandbox, settings):
    """The OAuth server is down for good: the run stops after bounded retries, names what failed,
    and lands nothing half-done."""
    sandbox.start()
    sandbox.set_faults(B24, rates={"http_500": 1.0}, path_pattern=r"^/oauth/token", seed=1)
    acc = sandbox.b24_account("oauth")
    started = time.monotonic()
    with Warehouse(settings.warehouse_path) as wh:
        try:
            runs = Bitrix24Extractor(acc, wh, settings).run(["statuses", "leads"])
            errors = [r.error for r in runs]
            assert all(r.status == "failed" for r in runs), errors
        except AuthError as exc:
            errors = [str(exc)]
        assert all("refresh" in e.lower() or "oauth" in e.lower() for e in errors), errors
        assert wh.con.execute("SELECT count(*) FROM meta.extract_cursors WHERE account = ? AND entity = 'leads'",
                              [B24]).fetchone()[0] == 0
    token_requests = sandbox.stats(B24)["faults_injected"]["http_500"]
    assert token_requests <= settings.http_retries, "one bounded retry layer, then the run stops"
    assert time.monotonic() - started < 60


def test_amocrm_revoked_refresh_token_stops_with_a_clear_message(sandbox, settings):
    sandbox.start()
    acc = sandbox.amo_account()
    with Warehouse(settings.warehouse_path) as wh:
        assert not failed(AmoCRMExtractor(acc, wh, settings).run(["users"]))
        sandbox.admin(AMO, "revoke-tokens")  # e.g. an admin disabled the integration
        with pytest.raises(AuthError) as err:
            AmoCRMExtractor(acc, wh, settings).run(["users", "leads"])
    msg = str(err.value)
    assert "AMOCRM_AMO_KZN_REFRESH_TOKEN" in msg and "re-authorise" in msg, msg


def test_amocrm_token_endpoint_failing_briefly_is_retried(sandbox, settings):
    """A 502 before the token endpoint handled the exchange: the refresh token was not spent and
    the retry succeeds."""
    faults = {"rates": {"http_502": 1.0}, "max_faults": 2, "path_pattern": r"^/oauth2/access_token", "seed": 1}
    stats = _amo_cycle(sandbox, settings, faults=faults)
    assert stats[0]["faults_injected"].get("http_502") == 2


def test_amocrm_token_answer_lost_after_rotation_stops_with_a_clear_message(sandbox, settings):
    """The token endpoint rotated (the refresh token is spent) but its answer is cut off. amoCRM's
    refresh tokens are single-use, so no client can recover the pair it never received: the run
    stops at once (no retry loop against a revoked token) and says how to re-authorise. This is a
    property of the API (crm-api.md, amoCRM §1), documented in docs/reliability.md."""
    sandbox.start()
    sandbox.set_faults(AMO, rates={"truncate": 1.0}, max_faults=1, path_pattern=r"^/oauth2/access_token", seed=1)
    acc = sandbox.amo_account()
    with Warehouse(settings.warehouse_path) as wh, pytest.raises(AuthError) as err:
        AmoCRMExtractor(acc, wh, settings).run(["users"])
    msg = str(err.value)
    assert "AMOCRM_AMO_KZN_REFRESH_TOKEN" in msg and "re-authorise" in msg, msg
    assert sandbox.stats(AMO)["requests"] <= 3  # the cut answer, one retry refused, nothing more


@pytest.mark.parametrize("crm,kind", [("bitrix24", "http_502"), ("bitrix24", "query_limit"),
                                      ("bitrix24", "html_error"), ("amocrm", "rate_limit"),
                                      ("amocrm", "html_error"), ("amocrm", "reset")])
def test_persistent_fault_stops_after_bounded_retries_with_a_clear_message(sandbox, settings, crm, kind):
    """The fault never clears: the run stops after a bounded number of attempts, each entity's
    error names the failure, and no cursor moves past data that was never landed."""
    sandbox.start()
    name = B24 if crm == "bitrix24" else AMO
    sandbox.set_faults(name, rates={kind: 1.0}, seed=1,
                       path_pattern=WEBHOOK_PATHS if crm == "bitrix24" else AMO_API_PATHS)
    started = time.monotonic()
    with Warehouse(settings.warehouse_path) as wh:
        if crm == "bitrix24":
            acc = sandbox.b24_account(max_rate_limit_wait_seconds=3)
            runs = Bitrix24Extractor(acc, wh, settings).run(["statuses", "leads"])
            assert [r.status for r in runs] == ["failed", "failed"]
            expected = {"http_502": "502", "query_limit": "still refused", "html_error": "still refused"}[kind]
            assert all(expected in r.error for r in runs), [r.error for r in runs]
        else:
            acc = sandbox.amo_account(max_429=2)
            try:
                runs = AmoCRMExtractor(acc, wh, settings).run(["users", "leads"])
                errors = [r.error for r in runs]
                assert all(r.status == "failed" for r in runs), errors
            except RateLimited as exc:
                errors = [str(exc)]
            expected = {"rate_limit": "429", "html_error": "503", "reset": "ConnectionError"}[kind]
            assert all(expected in e for e in errors), errors
        assert wh.con.execute("SELECT count(*) FROM meta.extract_cursors WHERE account = ?",
                              [name]).fetchone()[0] == 0
        assert wh.con.execute("SELECT count(*) FROM meta.extract_runs WHERE status = 'failed'").fetchone()[0] >= 1
    assert sandbox.stats(name)["requests"] <= 2 * 6 * 8  # bounded: entities × attempts × back-off rounds
    assert time.monotonic() - started < 60


def test_product_rows_of_a_deleted_deal_are_tombstoned(sandbox, settings):
    sandbox.start()
    acc = sandbox.b24_account()
    entities = ["deals", "deal_productrows"]
    with Warehouse(settings.warehouse_path) as wh:
        assert not failed(Bitrix24Extractor(acc, wh, settings).run(entities, full=True))
        sandbox.stop()
        con = sandbox.state(B24)  # Bitrix24 deletes a deal's product rows with the deal
        deal = con.execute("SELECT min(\"OWNER_ID\") FROM crm_productrow WHERE \"OWNER_TYPE\" = 'D'").fetchone()[0]
        rows = {r[0] for r in con.execute("SELECT \"ID\" FROM crm_productrow WHERE \"OWNER_TYPE\" = 'D' "
                                          "AND \"OWNER_ID\" = ?", [deal]).fetchall()}
        con.execute("DELETE FROM crm_deal WHERE \"ID\" = ?", [deal])
        con.execute("DELETE FROM crm_productrow WHERE \"OWNER_TYPE\" = 'D' AND \"OWNER_ID\" = ?", [deal])
        con.close()
        sandbox.start()
        assert not failed(Bitrix24Extractor(acc, wh, settings).run(entities, reconcile=True))
        dead = {r[0] for r in wh.con.execute("SELECT id FROM raw_bitrix24.deal_productrows WHERE _is_deleted")
                .fetchall()}
        assert rows and rows <= dead, f"product rows {sorted(rows - dead)} of deleted deal {deal} are still live"
