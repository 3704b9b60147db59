"""The Bitrix24 extractor against the Bitrix24 emulator over real HTTP, with real limits on.

The emulator (sandbox/bitrix24) is an independent reading of the API; these tests compare what we
land with the sandbox's own DuckDB state.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from decimal import Decimal

import duckdb
import pytest
import requests

from extract.bitrix24 import Bitrix24Extractor, extract_accounts
from extract.bitrix24.entities import ENTITIES
from extract.common.errors import AuthError
from extract.common.records import parse_time
from tests.extract.conftest import b24_account, start_servers, stats
from warehouse.landing import Warehouse

# landing table → (sandbox table, id column, extra WHERE)
STATE = {
    "leads": ("crm_lead", "ID", ""),
    "contacts": ("crm_contact", "ID", ""),
    "companies": ("crm_company", "ID", ""),
    "deals": ("crm_deal", "ID", ""),
    "activities": ("crm_activity", "ID", ""),
    "lead_stage_history": ("crm_stagehistory", "ID", "ENTITY_TYPE_ID = 1"),
    "deal_stage_history": ("crm_stagehistory", "ID", "ENTITY_TYPE_ID = 2"),
    "invoices": ("crm_invoice", "id", ""),
    "products": ("crm_product", "ID", ""),
    "deal_productrows": ("crm_productrow", "ID", "OWNER_TYPE = 'D'"),
    "payments": ("sale_payment", "id", ""),
    "statuses": ("crm_status", "ID", ""),
    "users": ("b_user", "ID", ""),
    "departments": ("b_department", "ID", ""),
}


def state_con(data_dir, manifest, account):
    """The sandbox state file; the running emulator holds it open in this process, so connect
    with the same (default) configuration to share its database instance."""
    entry = next(a for a in manifest["accounts"] if a["account"] == account)
    return duckdb.connect(str(data_dir / entry["file"]))


def state_ids(data_dir, manifest, account, table, id_col, where):
    con = state_con(data_dir, manifest, account)
    try:
        sql = f'SELECT "{id_col}" FROM "{table}"' + (f" WHERE {where}" if where else "")
        return {r[0] for r in con.execute(sql).fetchall()}
    finally:
        con.close()


def landed_ids(wh, entity, account, live=True):
    sql = f'SELECT id FROM raw_bitrix24."{entity}" WHERE _account = ?' + (" AND NOT _is_deleted" if live else "")
    return {r[0] for r in wh.con.execute(sql, [account]).fetchall()}


@pytest.fixture()
def served(sandbox_copy):
    data_dir, manifest = sandbox_copy
    servers, info = start_servers(data_dir, limits=True)
    yield data_dir, manifest, servers, info
    for s in servers.values():
        s.stop()


def test_full_extraction_is_complete_exact_and_never_rate_limited(served, settings, monkeypatch, caplog):
    data_dir, manifest, servers, info = served
    acc = b24_account("b24-msk", info, manifest, monkeypatch)
    secret = os.environ[acc.env_name("WEBHOOK_URL")].rstrip("/").rsplit("/", 1)[1]
    with caplog.at_level(logging.DEBUG), Warehouse(settings.warehouse_path) as wh:
        runs = Bitrix24Extractor(acc, wh, settings).run()
        assert {r.entity for r in runs} == {e.name for e in ENTITIES}
        assert all(r.status == "success" for r in runs), [(r.entity, r.error) for r in runs if r.status != "success"]
        assert sum(r.rate_limit_refusals for r in runs) == 0
        for entity, (table, id_col, where) in STATE.items():
            expected = state_ids(data_dir, manifest, "b24-msk", table, id_col, where)
            assert landed_ids(wh, entity, "b24-msk") == expected, entity
            assert expected, f"sandbox has no {entity}: the comparison would prove nothing"

        # contents: typed values in the payload equal the sandbox state
        con = state_con(data_dir, manifest, "b24-msk")
        truth = {r[0]: r[1:] for r in con.execute(
            'SELECT "ID", "TITLE", "STATUS_ID", "ASSIGNED_BY_ID", "OPPORTUNITY", "DATE_MODIFY", "PHONE" FROM crm_lead').fetchall()}
        deals = {r[0]: r[1:] for r in con.execute('SELECT "ID", "STAGE_ID", "OPPORTUNITY", "CATEGORY_ID" FROM crm_deal').fetchall()}
        pay_sum = con.execute("SELECT sum(sum) FROM sale_payment").fetchone()[0]
        uf_cols = [r[0] for r in con.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = 'crm_lead' "
                                             "AND column_name LIKE 'UF_CRM_%'").fetchall()]
        con.close()
        for lid, payload, modified in wh.con.execute(
                "SELECT id, payload, _modified_at FROM raw_bitrix24.leads WHERE _account = 'b24-msk'").fetchall():
            p = json.loads(payload)
            title, status, assigned, opp, dmod, phone = truth[lid]
            assert (p["TITLE"], p["STATUS_ID"]) == (title, status)
            assert int(p["ASSIGNED_BY_ID"] or 0) == (assigned or 0)
            assert Decimal(p["OPPORTUNITY"] or "0") == (opp or 0)
            assert parse_time(p["DATE_MODIFY"]) == dmod == modified
            assert len(p.get("PHONE") or []) == len(json.loads(phone) if phone else [])
            assert set(uf_cols) <= set(p), "custom fields arrive without code changes"
        for did, payload in wh.con.execute("SELECT id, payload FROM raw_bitrix24.deals").fetchall():
            p = json.loads(payload)
            stage, opp, cat = deals[did]
            assert (p["STAGE_ID"], Decimal(p["OPPORTUNITY"] or "0"), int(p["CATEGORY_ID"])) == (stage, opp or 0, cat)
        landed_sum = wh.con.execute("SELECT sum((payload->>'sum')::DECIMAL(18,2)) FROM raw_bitrix24.payments").fetchone()[0]
        assert landed_sum == pay_sum

        assert wh.con.execute("SELECT count(*) FROM meta.extract_runs WHERE status = 'success'").fetchone()[0] == len(runs)
        # no secret in the warehouse
        dump = " ".join(str(r) for t in ("meta.extract_runs", "meta.extract_cursors")
                        for r in wh.con.execute(f"SELECT * FROM {t}").fetchall())
        assert secret not in dump
    st = stats(info["b24-msk"]["url"])
    assert st["rate_limit_violations"] == 0, st["rate_limited"]
    assert st["requests"] == sum(r.requests for r in runs)
    assert secret not in caplog.text


def test_incremental_after_mutate_equals_full_reextraction(served, settings, monkeypatch, tmp_path):
    from sandbox.generator.mutate import mutate

    data_dir, manifest, servers, info = served
    acc = b24_account("b24-msk", info, manifest, monkeypatch)
    with Warehouse(settings.warehouse_path) as wh:
        first = Bitrix24Extractor(acc, wh, settings).run()
        assert all(r.status == "success" for r in first)
    for s in servers.values():
        s.stop()
    summary = mutate(data_dir, seed=11, changes=300)
    log = summary["accounts"]["b24-msk"]
    assert log["deleted"].get("crm_lead") and log["changed"].get("crm_lead") and log["added"].get("crm_lead")
    servers2, info2 = start_servers(data_dir, limits=True)
    try:
        acc = b24_account("b24-msk", info2, manifest, monkeypatch)
        with Warehouse(settings.warehouse_path) as wh:
            inc = Bitrix24Extractor(acc, wh, settings).run(reconcile=True)
            assert all(r.status == "success" for r in inc), [(r.entity, r.error) for r in inc]
            inc_leads = next(r for r in inc if r.entity == "leads")
            changed = len(log["changed"]["crm_lead"]) + len(log["added"]["crm_lead"])
            assert inc_leads.rows < changed + 200  # the changed rows (+ the overlap window), not the table
            # deletions became tombstones, history kept
            deleted = set(log["deleted"]["crm_lead"])
            rows = wh.con.execute("SELECT id FROM raw_bitrix24.leads WHERE _is_deleted").fetchall()
            assert {r[0] for r in rows} == deleted
            inc_state = {e.name: _live(wh, e.name) for e in ENTITIES}
        with Warehouse(tmp_path / "full.duckdb") as full_wh:
            full = Bitrix24Extractor(acc, full_wh, settings).run(full=True)
            assert all(r.status == "success" for r in full)
            full_state = {e.name: _live(full_wh, e.name) for e in ENTITIES}
        for name in inc_state:
            assert inc_state[name] == full_state[name], name
        assert stats(info2["b24-msk"]["url"])["rate_limit_violations"] == 0
    finally:
        for s in servers2.values():
            s.stop()


def _live(wh, entity):
    keys = [k for k, _ in next(e for e in ENTITIES if e.name == entity).keys]
    cols = ", ".join(f'"{k}"' for k in keys)
    return set(wh.con.execute(f'SELECT {cols}, payload::VARCHAR FROM raw_bitrix24."{entity}" '
                              f"WHERE NOT _is_deleted").fetchall())


def test_incremental_run_without_changes_costs_a_small_constant(served, settings, monkeypatch):
    data_dir, manifest, servers, info = served
    acc = b24_account("b24-msk", info, manifest, monkeypatch)
    with Warehouse(settings.warehouse_path) as wh:
        Bitrix24Extractor(acc, wh, settings).run()
        again = Bitrix24Extractor(acc, wh, settings).run(reconcile=False)
    per_entity = {r.entity: r.requests for r in again}
    assert max(per_entity.values()) <= 5, per_entity
    assert sum(per_entity.values()) <= 40


def test_oauth_refresh_rotates_and_persists_the_new_token(served, settings, monkeypatch):
    data_dir, manifest, servers, info = served
    acc = b24_account("b24-msk", info, manifest, monkeypatch, auth="oauth")
    first_refresh = os.environ[acc.env_name("REFRESH_TOKEN")]
    url = info["b24-msk"]["url"]
    with Warehouse(settings.warehouse_path) as wh:
        ex = Bitrix24Extractor(acc, wh, settings)
        assert ex.run(["leads"])[0].status == "success"
        token_file = next(settings.token_dir.glob("*.json"))
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        stored = json.loads(token_file.read_text())
        assert stored["refresh_token"] != first_refresh
        # every access token expires mid-run: the client refreshes on 401 expired_token and goes on
        requests.post(url + "/_sandbox/expire-tokens", timeout=5)
        run = ex.run(["deals"], full=True)[0]
        assert run.status == "success" and run.rows > 0
        assert ex.client.counters.refreshes == 2
        assert json.loads(token_file.read_text())["refresh_token"] != stored["refresh_token"]
        # a new process (new client) starts from the stored pair, not the spent env token
        ex2 = Bitrix24Extractor(acc, wh, settings)
        assert ex2.run(["statuses"])[0].status == "success"


def test_wrong_webhook_names_the_setting_never_the_value(served, settings, monkeypatch):
    data_dir, manifest, servers, info = served
    acc = b24_account("b24-msk", info, manifest, monkeypatch)
    bad = info["b24-msk"]["url"] + "/rest/1/wrongcode123456/"
    monkeypatch.setenv(acc.env_name("WEBHOOK_URL"), bad)
    with Warehouse(settings.warehouse_path) as wh, pytest.raises(AuthError) as err:
        Bitrix24Extractor(acc, wh, settings).run(["leads"])
    assert "BITRIX24_B24_MSK_WEBHOOK_URL" in str(err.value)
    assert "wrongcode123456" not in str(err.value)


def test_two_portals_into_one_warehouse(served, settings, monkeypatch):
    data_dir, manifest, servers, info = served
    accounts = [b24_account(n, info, manifest, monkeypatch) for n in ("b24-msk", "b24-spb")]
    with Warehouse(settings.warehouse_path) as wh:
        runs = extract_accounts(accounts, wh, settings, entities=["leads", "deals", "users"])
        assert all(r.status == "success" for r in runs)
        for name in ("b24-msk", "b24-spb"):
            assert landed_ids(wh, "leads", name) == state_ids(data_dir, manifest, name, "crm_lead", "ID", "")
            assert landed_ids(wh, "users", name) == state_ids(data_dir, manifest, name, "b_user", "ID", "")
        batches = wh.con.execute("SELECT DISTINCT _batch_id FROM raw_bitrix24.leads").fetchall()
        assert len(batches) == 1
    for name in ("b24-msk", "b24-spb"):
        assert stats(info[name]["url"])["rate_limit_violations"] == 0


def test_bad_record_is_quarantined_and_the_run_goes_on(served, settings, monkeypatch):
    data_dir, manifest, servers, info = served
    acc = b24_account("b24-msk", info, manifest, monkeypatch)
    with Warehouse(settings.warehouse_path) as wh:
        ex = Bitrix24Extractor(acc, wh, settings)
        real_batch = ex.client.batch

        def corrupting_batch(commands, *a, **kw):  # the portal returns one malformed record
            inner = real_batch(commands, *a, **kw)
            page = (inner.get("result") or {}).get("c0")
            if isinstance(page, list) and len(page) > 3:
                page[1]["DATE_MODIFY"] = "31.02.2026 25:61"
                page[2]["ID"] = "not-a-number"
            return inner

        ex.client.batch = corrupting_batch
        run = ex.run(["leads"], reconcile=False)[0]
        assert run.status == "success" and run.quarantined >= 2
        reasons = wh.con.execute("SELECT reason, raw_text FROM quality.quarantine_records "
                                 "WHERE entity = 'leads'").fetchall()
        assert any("not-a-number" in r[0] for r in reasons) and any("31.02.2026" in r[1] for r in reasons)
        expected = state_ids(data_dir, manifest, "b24-msk", "crm_lead", "ID", "")
        assert len(landed_ids(wh, "leads", "b24-msk")) == len(expected) - run.quarantined


def test_crashed_run_resumes_without_loss_or_duplication(served, settings, monkeypatch):
    data_dir, manifest, servers, info = served
    acc = b24_account("b24-msk", info, manifest, monkeypatch)
    with Warehouse(settings.warehouse_path) as wh:
        ex = Bitrix24Extractor(acc, wh, settings)
        real_merge = wh.merge
        calls = {"n": 0}

        def crash_on_third(*a, **kw):
            calls["n"] += 1
            if calls["n"] == 3:
                raise KeyboardInterrupt("killed")  # like a SIGINT mid-run
            return real_merge(*a, **kw)

        monkeypatch.setattr(wh, "merge", crash_on_third)
        with pytest.raises(KeyboardInterrupt):
            ex.run(["leads"], reconcile=False)
        monkeypatch.setattr(wh, "merge", real_merge)
        cursor = json.loads(wh.get_cursor("bitrix24", "b24-msk", "leads"))
        assert cursor["scan"]["last_id"] > 0  # progress of the two committed chunks
        run = ex.run(["leads"], reconcile=False)[0]
        assert run.mode == "resume" and run.status == "success"
        expected = state_ids(data_dir, manifest, "b24-msk", "crm_lead", "ID", "")
        assert landed_ids(wh, "leads", "b24-msk") == expected
        assert run.rows == len(expected) - 2 * settings.chunk_rows  # nothing read twice
        assert json.loads(wh.get_cursor("bitrix24", "b24-msk", "leads"))["scan"] is None


def test_survives_injected_faults(served, settings, monkeypatch):
    data_dir, manifest, servers, info = served
    url = info["b24-msk"]["url"]
    requests.post(url + "/_sandbox/faults", json={
        "rates": {"reset": 0.05, "truncate": 0.05, "http_502": 0.05, "html_error": 0.05,
                  "internal_error": 0.05, "query_limit": 0.05}, "seed": 3}, timeout=5).raise_for_status()
    acc = b24_account("b24-msk", info, manifest, monkeypatch)
    with Warehouse(settings.warehouse_path) as wh:
        runs = Bitrix24Extractor(acc, wh, settings).run(["leads", "deals", "statuses", "deal_productrows"])
        assert all(r.status == "success" for r in runs), [(r.entity, r.error) for r in runs]
        assert landed_ids(wh, "leads", "b24-msk") == state_ids(data_dir, manifest, "b24-msk", "crm_lead", "ID", "")
        assert landed_ids(wh, "deal_productrows", "b24-msk") == state_ids(
            data_dir, manifest, "b24-msk", "crm_productrow", "ID", "OWNER_TYPE = 'D'")
    assert stats(url)["faults_injected"]
