"""The amoCRM extractor against the amoCRM emulator over real HTTP (real DuckDB in tmp_path).

The emulator (sandbox/amocrm) is an independent reading of the API; these tests compare what we
land with the emulator's own state file.
"""

from __future__ import annotations

import json
import logging
import os

import pytest

from extract.amocrm import AmoCRMExtractor, extract_account, extract_accounts
from extract.amocrm.entities import ENTITIES
from extract.common.errors import AuthError
from extract.common.tokens import TokenStore
from sandbox.generator import mutate
from tests.extract.amocrm.conftest import ACCOUNT, amo_account, live
from warehouse.landing import Warehouse

# landing table -> (state SQL returning the ids the API serves)
STATE_IDS = {
    "leads": "SELECT id FROM leads WHERE NOT coalesce(is_deleted, false)",
    "contacts": "SELECT id FROM contacts WHERE NOT coalesce(is_deleted, false)",
    "companies": "SELECT id FROM companies WHERE NOT coalesce(is_deleted, false)",
    "tasks": "SELECT id FROM tasks",
    "events": "SELECT id FROM events",
    "users": "SELECT id FROM users",
    "pipelines": "SELECT id FROM pipelines",
    "statuses": "SELECT pipeline_id, id FROM statuses",
    "loss_reasons": "SELECT id FROM loss_reasons",
    "catalogs": "SELECT id FROM catalogs",
    "catalog_elements": "SELECT id FROM catalog_elements WHERE NOT coalesce(is_deleted, false)",
    "custom_fields": "SELECT entity_type, id FROM custom_fields",
    "task_types": "SELECT id FROM task_types",
    "account": "SELECT id FROM account",
}
KEYS = {"statuses": "pipeline_id, id", "custom_fields": "entity_type, id"}


def state_ids(served, entity):
    con = served.state()
    try:
        rows = con.execute(STATE_IDS[entity]).fetchall()
    finally:
        con.close()
    return {r if len(r) > 1 else r[0] for r in rows}


def landed_ids(wh, entity, account=ACCOUNT):
    key = KEYS.get(entity, "id")
    rows = wh.con.execute(f'SELECT {key} FROM raw_amocrm."{entity}" WHERE _account = ? AND NOT _is_deleted',
                          [account]).fetchall()
    return {r if len(r) > 1 else r[0] for r in rows}


def ok(runs):
    bad = [(r.entity, r.error) for r in runs if r.status != "success"]
    assert not bad, bad


def test_full_extraction_complete_exact_no_429_no_secrets(serve, settings, monkeypatch, caplog):
    served = serve(limits=True)
    acc = amo_account(served, monkeypatch)
    secrets = [served.cred[k] for k in ("client_secret", "refresh_token")]
    with caplog.at_level(logging.DEBUG), Warehouse(settings.warehouse_path) as wh:
        runs = extract_account(acc, wh, settings=settings)
        ok(runs)
        assert {r.entity for r in runs} == {e.name for e in ENTITIES}
        assert sum(r.rate_limit_refusals for r in runs) == 0
        for entity in STATE_IDS:
            expected = state_ids(served, entity)
            assert expected, f"sandbox has no {entity}: the comparison would prove nothing"
            assert landed_ids(wh, entity) == expected, entity
        # groups come from /account?with=users_groups
        assert wh.con.execute("SELECT count(*) FROM raw_amocrm.user_groups").fetchone()[0] >= 2

        # contents: typed values in the payload equal the state; custom fields arrive as they are
        con = served.state()
        truth = {r[0]: r[1:] for r in con.execute(
            "SELECT id, name, price, status_id, pipeline_id, responsible_user_id, updated_at, loss_reason_id, "
            "contacts, custom_fields_values FROM leads WHERE NOT is_deleted").fetchall()}
        trash = {r[0] for r in con.execute("SELECT id FROM leads WHERE is_deleted").fetchall()}
        events = {r[0]: r[1:] for r in con.execute("SELECT id, type, entity_id, created_at FROM events").fetchall()}
        con.close()
        for lid, payload, modified in wh.con.execute(
                "SELECT id, payload, _modified_at FROM raw_amocrm.leads WHERE NOT _is_deleted").fetchall():
            p = json.loads(payload)
            name, price, status, pipe, resp, upd, loss, contacts, cfv = truth[lid]
            assert (p["name"], p["price"], p["status_id"], p["pipeline_id"], p["responsible_user_id"]) == \
                (name, price, status, pipe, resp)
            assert p["updated_at"] == upd == int(modified.timestamp())
            assert p["loss_reason_id"] == loss
            if loss:
                assert p["_embedded"]["loss_reason"][0]["id"] == loss
            assert sorted(c["id"] for c in p["_embedded"]["contacts"]) == \
                sorted(c["id"] for c in json.loads(contacts or "[]"))
            assert [f["field_id"] for f in p["custom_fields_values"] or []] == \
                [f["field_id"] for f in json.loads(cfv or "[]")]
        for eid, payload, typ, etype, entity_id in wh.con.execute(
                "SELECT id, payload, type, entity_type, entity_id FROM raw_amocrm.events").fetchall():
            assert (typ, entity_id, json.loads(payload)["created_at"]) == events[eid]
        # the trash is landed as tombstones with their payload (history never dropped)
        tomb = dict(wh.con.execute("SELECT id, payload FROM raw_amocrm.leads WHERE _is_deleted").fetchall())
        assert set(tomb) == trash and trash
        assert all(json.loads(p)["is_deleted"] is True for p in tomb.values())
        # every row carries its account, extraction time and batch
        assert wh.con.execute("SELECT count(*) FROM raw_amocrm.leads WHERE _account <> ? OR _extracted_at IS NULL "
                              "OR _batch_id IS NULL", [ACCOUNT]).fetchone()[0] == 0
        dump = " ".join(str(r) for t in ("meta.extract_runs", "meta.extract_cursors", "quality.quarantine_records")
                        for r in wh.con.execute(f"SELECT * FROM {t}").fetchall())
        payloads = " ".join(r[0] for r in wh.con.execute("SELECT payload::VARCHAR FROM raw_amocrm.account").fetchall())
    st = served.stats()
    assert st["http_429"] == 0 and not st["blocked"]
    assert st["requests"] == sum(r.requests for r in runs)  # the token exchange included
    logs = caplog.text
    for s in secrets:
        assert s not in logs and s not in dump and s not in payloads
    # and the rotated tokens only live in the 0600 token store
    stored = TokenStore(settings.token_dir).load("amocrm_amo_kzn")
    assert stored["access_token"] not in logs and stored["refresh_token"] not in logs
    assert oct(os.stat(settings.token_dir / "amocrm_amo_kzn.json").st_mode & 0o777) == "0o600"


def test_incremental_after_mutate_equals_full_and_deletions_become_tombstones(serve, settings, monkeypatch, tmp_path):
    served = serve(limits=False)
    acc = amo_account(served, monkeypatch, fast=True)
    with Warehouse(settings.warehouse_path) as wh:
        ok(extract_account(acc, wh, settings=settings))
        before = {e: landed_ids(wh, e) for e in ("leads", "events")}
        log = mutate(served.data_dir, seed=3, changes=60)["accounts"][ACCOUNT]
        runs = extract_account(acc, wh, settings=settings)
        ok(runs)
        changed = sum(len(v) for part in ("changed", "added", "deleted") for v in log[part].values())
        by = {r.entity: r for r in runs}
        # cost proportional to the change: one page per incremental list here
        for e in ("leads", "contacts", "companies", "tasks", "events"):
            assert by[e].requests <= 2, (e, by[e].requests)
        assert changed > 10
        deleted = set(log["deleted"]["leads"])
        assert deleted and deleted <= before["leads"]
        tomb = dict(wh.con.execute("SELECT id, payload FROM raw_amocrm.leads WHERE _is_deleted AND _account = ?",
                                   [ACCOUNT]).fetchall())
        assert deleted <= set(tomb)
        assert all(json.loads(tomb[i])["is_deleted"] is False for i in deleted)  # last seen version kept
        assert by["events"].deleted >= len(deleted)
        incremental = {e.name: live(wh, e.name, key=KEYS.get(e.name, "id")) for e in ENTITIES}
    with Warehouse(tmp_path / "full.duckdb") as wh2:
        monkeypatch.setattr(settings, "token_dir", settings.token_dir)
        ok(extract_account(acc, wh2, full=True, settings=settings))
        for e in ENTITIES:
            assert live(wh2, e.name, key=KEYS.get(e.name, "id")) == incremental[e.name], e.name
        for e in ("leads", "contacts", "tasks", "events"):
            assert landed_ids(wh2, e) == state_ids(served, e), e


def test_token_rotation_persisted_and_reused_after_restart(serve, settings, monkeypatch):
    served = serve(limits=False)
    acc = amo_account(served, monkeypatch, fast=True)
    store = TokenStore(settings.token_dir)
    with Warehouse(settings.warehouse_path) as wh:
        ok(extract_account(acc, wh, settings=settings, entities=["users"]))
        first = store.load("amocrm_amo_kzn")
        assert first["refresh_token"] != served.cred["refresh_token"]
        # the access token dies: the next call gets 401, refreshes once, retries
        served.admin("expire-tokens")
        ok(extract_account(acc, wh, settings=settings, entities=["users", "pipelines"]))
        second = store.load("amocrm_amo_kzn")
        assert second["refresh_token"] != first["refresh_token"]
        assert second["access_token"] != first["access_token"]
        # a restarted extractor (new process state) uses the stored pair, not the spent env token
        ex = AmoCRMExtractor(acc, wh, settings)
        ok(ex.run(["users"]))
        assert ex.client.counters.refreshes == 0
        assert store.load("amocrm_amo_kzn")["refresh_token"] == second["refresh_token"]
    # the server never saw a spent refresh token again: every exchange succeeded
    tokens = served.admin("tokens")
    assert served.stats()["by_status"].get("401", 0) == 1, tokens  # only the expired access token


def test_crash_between_persisting_and_using_tokens_does_not_lock_out(serve, settings, monkeypatch):
    served = serve(limits=False)
    acc = amo_account(served, monkeypatch, fast=True)
    original = TokenStore.save

    def save_then_crash(self, key, data):
        original(self, key, data)
        raise KeyboardInterrupt("simulated crash after the new pair was persisted")

    with Warehouse(settings.warehouse_path) as wh:
        monkeypatch.setattr(TokenStore, "save", save_then_crash)
        with pytest.raises(KeyboardInterrupt):
            extract_account(acc, wh, settings=settings, entities=["users"])
        monkeypatch.setattr(TokenStore, "save", original)
        # the env still holds the spent initial refresh token; the store holds the new pair
        ok(extract_account(acc, wh, settings=settings, entities=["users"]))
        served.admin("expire-tokens")
        ok(extract_account(acc, wh, settings=settings, entities=["users"]))  # rotates from the stored pair
        assert landed_ids(wh, "users") == state_ids(served, "users")


def test_wrong_credentials_name_the_setting_not_the_value(serve, settings, monkeypatch):
    served = serve(limits=False)
    acc = amo_account(served, monkeypatch, fast=True)
    monkeypatch.setenv(acc.env_name("CLIENT_SECRET"), "wrong-secret-value-123")
    with Warehouse(settings.warehouse_path) as wh:
        with pytest.raises(AuthError) as err:
            extract_account(acc, wh, settings=settings, entities=["users"])
        assert "AMOCRM_AMO_KZN_" in str(err.value)
        assert "wrong-secret-value-123" not in str(err.value)
        runs = wh.con.execute("SELECT status, error FROM meta.extract_runs").fetchall()
        assert runs[0][0] == "failed" and "wrong-secret-value-123" not in runs[0][1]
    ll = amo_account(served, monkeypatch, auth="long_lived", fast=True)
    monkeypatch.setenv(ll.env_name("LONG_LIVED_TOKEN"), "not-a-valid-long-lived-token")
    with Warehouse(settings.warehouse_path) as wh:
        with pytest.raises(AuthError) as err:
            extract_account(ll, wh, settings=settings, entities=["users"])
        assert "AMOCRM_AMO_KZN_LONG_LIVED_TOKEN" in str(err.value)
        assert "not-a-valid-long-lived-token" not in str(err.value)


def test_long_lived_token_and_two_accounts_in_one_warehouse(serve, settings, monkeypatch):
    a = serve(limits=False)
    b = serve(limits=False)  # a second emulator on a copy: another account, another URL
    acc_a = amo_account(a, monkeypatch, auth="long_lived", fast=True)
    acc_b = amo_account(b, monkeypatch, name="amo-kzn-2", fast=True)
    entities = ["users", "pipelines", "statuses", "leads", "catalog_elements"]
    with Warehouse(settings.warehouse_path) as wh:
        ok(extract_accounts([acc_a, acc_b], wh, settings=settings, entities=entities))
        for e in ("leads", "statuses", "catalog_elements"):
            assert landed_ids(wh, e, ACCOUNT) == landed_ids(wh, e, "amo-kzn-2") == state_ids(a, e)
        accounts = {r[0] for r in wh.con.execute("SELECT DISTINCT _account FROM raw_amocrm.leads").fetchall()}
        assert accounts == {ACCOUNT, "amo-kzn-2"}


def test_filter_fallback_when_api_filtering_is_off(serve, settings, monkeypatch, tmp_path):
    served = serve(limits=False, options={"filters_enabled": False})
    acc = amo_account(served, monkeypatch, fast=True)
    entities = ["leads", "contacts", "tasks", "events"]
    with Warehouse(settings.warehouse_path) as wh:
        ex = AmoCRMExtractor(acc, wh, settings)
        ok(ex.run(entities))
        assert ex.filters_ignored  # detected: a filtered answer held rows outside the filter
        for e in entities:
            assert landed_ids(wh, e) == state_ids(served, e), e
        mutate(served.data_dir, seed=5, changes=60)
        runs = AmoCRMExtractor(acc, wh, settings).run(entities)
        ok(runs)
        for r in runs:  # order[updated_at]=desc down to the cursor: a page or two, not the table
            assert r.requests <= 3 and "desc" in r.mode, (r.entity, r.requests, r.mode)
        incremental = {e: live(wh, e) for e in entities}
    off = amo_account(served, monkeypatch, fast=True, api_filters="off")
    with Warehouse(tmp_path / "full.duckdb") as wh2:
        ok(extract_account(off, wh2, full=True, settings=settings, entities=entities))
        for e in entities:
            assert live(wh2, e) == incremental[e], e


def test_unparseable_record_is_quarantined_and_the_run_goes_on(serve, settings, monkeypatch):
    served = serve(limits=False)
    acc = amo_account(served, monkeypatch, fast=True)
    from extract.amocrm.client import AmoCRMClient

    real_get = AmoCRMClient.get
    spoiled: list = []

    def get(self, path, params=None):
        data = real_get(self, path, params)
        if data and "leads" in (data.get("_embedded") or {}) and not spoiled:
            rec = data["_embedded"]["leads"][0]
            spoiled.append(rec["id"])
            rec["id"], rec["updated_at"] = "not-an-id", "yesterday"
        return data

    monkeypatch.setattr(AmoCRMClient, "get", get)
    with Warehouse(settings.warehouse_path) as wh:
        runs = extract_account(acc, wh, settings=settings, entities=["leads", "contacts"])
        ok(runs)
        assert runs[0].quarantined == 1
        q = wh.con.execute("SELECT entity, record_key, reason FROM quality.quarantine_records").fetchall()
        assert q == [("leads", "not-an-id", q[0][2])] and "not an integer id" in q[0][2]
        assert landed_ids(wh, "leads") == state_ids(served, "leads") - set(spoiled)


def test_crash_mid_scan_resumes_without_loss(serve, settings, monkeypatch):
    served = serve(limits=False)
    acc = amo_account(served, monkeypatch, fast=True, concurrency=2)
    settings.chunk_rows = 250
    original = Warehouse.merge
    calls = {"n": 0}

    def merge(self, spec, *a, **kw):
        if spec.entity == "events":
            calls["n"] += 1
            if calls["n"] == 4:
                raise RuntimeError("simulated crash while landing events")
        return original(self, spec, *a, **kw)

    with Warehouse(settings.warehouse_path) as wh:
        monkeypatch.setattr(Warehouse, "merge", merge)
        runs = extract_account(acc, wh, settings=settings, entities=["events"])
        assert runs[0].status == "failed"
        cursor = json.loads(wh.get_cursor("amocrm", ACCOUNT, "events"))
        assert cursor["scan"]["ranges"], cursor  # the committed part is remembered
        landed_before = len(landed_ids(wh, "events"))
        monkeypatch.setattr(Warehouse, "merge", original)
        runs = extract_account(acc, wh, settings=settings, entities=["events"])
        ok(runs)
        assert runs[0].mode.startswith("resume")
        assert landed_ids(wh, "events") == state_ids(served, "events")
        assert runs[0].rows < len(state_ids(served, "events")) - landed_before + 600  # did not start over
        assert json.loads(wh.get_cursor("amocrm", ACCOUNT, "events"))["scan"] is None


def test_injected_429_and_html_errors_are_survived(serve, settings, monkeypatch):
    from sandbox.common.faults import FaultConfig

    served = serve(limits=True, faults=FaultConfig(rates={"rate_limit": 0.03, "html_error": 0.03}, seed=1,
                                                   path_pattern="/api/v4/(leads|contacts)$", max_faults=4))
    acc = amo_account(served, monkeypatch)
    with Warehouse(settings.warehouse_path) as wh:
        runs = extract_account(acc, wh, settings=settings, entities=["leads", "contacts"])
        ok(runs)
        for e in ("leads", "contacts"):
            assert landed_ids(wh, e) == state_ids(served, e)
    assert not served.stats()["blocked"]
