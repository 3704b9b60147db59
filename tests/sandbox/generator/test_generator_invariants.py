"""Invariants of a generated sandbox: CRM records agree with themselves and with the truth files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import phonenumbers
import pytest

from sandbox import state
from sandbox.generator import render_amocrm as RA


def test_manifest_and_tables(sandbox):
    m = sandbox.manifest
    assert [a["account"] for a in m["accounts"]] == ["b24-msk", "amo-kzn"]
    assert sum(1 for _ in m["accounts"]) == 2 and m["leads"] == 4000
    for entry in m["accounts"]:
        con = sandbox.con(entry["system"])
        tables = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
        assert set(state.ddl_for(entry["system"])) <= tables
    b24, amo = sandbox.con("bitrix24"), sandbox.con("amocrm")
    truth = sandbox.truth("leads")
    n_b24 = b24.execute("select count(*) from crm_lead").fetchone()[0]
    n_amo = amo.execute("select count(*) from leads").fetchone()[0]
    deleted_b24 = int(truth[(truth.source_system == "bitrix24") & truth.is_deleted].shape[0])
    # Bitrix24 drops deleted rows, amoCRM keeps them flagged; truth has every generated lead.
    assert n_b24 + deleted_b24 + n_amo == len(truth) == 4000
    assert amo.execute("select count(*) from leads where is_deleted").fetchone()[0] == int(
        truth[(truth.source_system == "amocrm") & truth.is_deleted].shape[0])


def test_conversion_is_a_few_percent_and_showings_precede_most_contracts(sandbox):
    t = sandbox.truth("leads")
    share = t.contract_at.notna().mean()
    assert 0.01 < share < 0.08
    with_contract = t[t.contract_at.notna()]
    assert with_contract.shown_at.notna().mean() > 0.8
    assert (with_contract.junk_kind.isna()).all()


def test_no_contract_without_deal(sandbox):
    t = sandbox.truth("leads")
    assert t[t.contract_at.notna()].deal_id.notna().all()
    b24 = sandbox.con("bitrix24")
    orphans = b24.execute("""select count(*) from crm_deal d left join crm_lead l on l.ID = d.LEAD_ID
                             where l.ID is null or l.STATUS_ID <> 'CONVERTED'""").fetchone()[0]
    assert orphans == 0
    assert b24.execute("select count(*) from crm_deal where UF_CRM_CONTRACT_DATE is not null").fetchone()[0] > 0
    # every contract date belongs to a deal that reached the contract stage
    bad = b24.execute("""select count(*) from crm_deal d where UF_CRM_CONTRACT_DATE is not null and not exists
        (select 1 from crm_stagehistory h where h.ENTITY_TYPE_ID = 2 and h.OWNER_ID = d.ID
         and h.STAGE_ID like '%UC_CONTRACT')""").fetchone()[0]
    assert bad == 0


def test_bitrix_stage_history_ordered_and_matches_current_status(sandbox):
    con = sandbox.con("bitrix24")
    h = con.execute("""select ENTITY_TYPE_ID, OWNER_ID, TYPE_ID, CREATED_TIME, coalesce(STATUS_ID, STAGE_ID) s, ID
                       from crm_stagehistory order by ENTITY_TYPE_ID, OWNER_ID, CREATED_TIME, ID""").df()
    assert len(h) > 0
    first = h.groupby(["ENTITY_TYPE_ID", "OWNER_ID"]).head(1)
    assert (first.TYPE_ID == 1).all()  # history starts with "created"
    last = h.groupby(["ENTITY_TYPE_ID", "OWNER_ID"]).tail(1)
    # the final stage of each history is the entity's current stage
    leads = con.execute("select ID, STATUS_ID from crm_lead").df().set_index("ID").STATUS_ID
    ll = last[last.ENTITY_TYPE_ID == 1].set_index("OWNER_ID").s
    assert (ll == leads.reindex(ll.index)).all()
    deals = con.execute("select ID, STAGE_ID from crm_deal").df().set_index("ID").STAGE_ID
    dl = last[last.ENTITY_TYPE_ID == 2].set_index("OWNER_ID").s
    assert (dl == deals.reindex(dl.index)).all()
    assert set(dl.index) == set(deals.index) and set(ll.index) == set(leads.index)
    assert (last.s.str.endswith(("WON", "LOSE", "CONVERTED", "JUNK")) == (last.TYPE_ID == 3)).all()
    # DATE_MODIFY is the latest change
    lm = con.execute("select ID, DATE_MODIFY from crm_lead").df().set_index("ID").DATE_MODIFY
    hl = h[h.ENTITY_TYPE_ID == 1].groupby("OWNER_ID").CREATED_TIME.max()
    assert (lm.reindex(hl.index) == hl).all()


def test_payments_never_exceed_price_and_match_invoices(sandbox):
    deals = sandbox.truth("deals")
    pay = sandbox.truth("payments")
    assert len(pay) > 0
    s = pay.groupby(["source_system", "deal_id"]).amount.sum()
    price = deals.set_index(["source_system", "deal_id"]).price.reindex(s.index)
    assert (s <= price + 0.01).all()
    assert set(pay.payment_form) >= {"mortgage", "installment"}
    forms = deals[deals.contract_at.notna()].payment_form.value_counts(normalize=True)
    assert forms.idxmax() == "mortgage"
    con = sandbox.con("bitrix24")
    paid = con.execute("""select sum(p.sum) from sale_payment p join crm_invoice i on i.id = p.entityId
                          where i.stageId = 'DT31_2:P'""").fetchone()[0]
    assert float(paid) == float(pay[pay.source_system == "bitrix24"].amount.sum())
    over = con.execute("""select count(*) from (select i.parentId2, sum(i.opportunity) s from crm_invoice i
                          group by 1) x join crm_deal d on d.ID = x.parentId2 where x.s > d.OPPORTUNITY""").fetchone()[0]
    assert over == 0
    # installments pay monthly: several payments for some installment deals
    inst = pay[pay.payment_form == "installment"].groupby("deal_id").size()
    assert inst.max() >= 2


def test_junk_labels_consistent_with_records(sandbox):
    t = sandbox.truth("leads").set_index(["source_system", "lead_id"])
    assert set(t.junk_kind.dropna()) >= {"exact_duplicate", "phone_format_duplicate", "test", "spam",
                                         "invalid_phone", "missing_source", "missing_responsible", "bot_burst"}
    con = sandbox.con("bitrix24")
    leads = con.execute("select ID, NAME, TITLE, COMMENTS, SOURCE_ID, ASSIGNED_BY_ID, PHONE from crm_lead").df()
    leads["phone"] = leads.PHONE.map(lambda j: json.loads(j)[0]["VALUE"] if j else None)
    leads = leads.set_index("ID")
    bt = t.loc["bitrix24"]
    bt = bt[~bt.is_deleted]

    def norm(p):
        try:
            return phonenumbers.format_number(phonenumbers.parse(p, "RU"), phonenumbers.PhoneNumberFormat.E164)
        except phonenumbers.NumberParseException:
            return None

    pf = bt[bt.junk_kind == "phone_format_duplicate"]
    pf = pf[pf.duplicate_of_lead_id.isin(leads.index)]
    assert len(pf) > 0
    for lid, orig in zip(pf.index, pf.duplicate_of_lead_id):
        a, b = leads.at[lid, "phone"], leads.at[orig, "phone"]
        assert a != b and norm(a) == norm(b) == bt.at[lid, "phone_e164"]
    ex = bt[bt.junk_kind == "exact_duplicate"]
    ex = ex[ex.duplicate_of_lead_id.isin(leads.index)]
    assert len(ex) > 0
    for lid, orig in zip(ex.index, ex.duplicate_of_lead_id):
        assert leads.at[lid, "phone"] == leads.at[orig, "phone"]
        assert bt.at[lid, "created_at"] > bt.at[orig, "created_at"]
    for lid in bt[bt.junk_kind == "test"].index:
        r = leads.loc[lid]
        text = f"{r.NAME} {r.TITLE} {r.COMMENTS} {r.phone}".lower()
        assert "тест" in text or "test" in text or "79999999999" in text
    assert leads.loc[bt[bt.junk_kind == "missing_responsible"].index].ASSIGNED_BY_ID.isna().all()
    assert leads.loc[bt[bt.junk_kind == "missing_source"].index].SOURCE_ID.isna().all()
    assert leads.loc[bt[bt.junk_kind == "spam"].index].COMMENTS.str.contains("http").all()
    assert bt[bt.junk_kind == "invalid_phone"].phone_e164.isna().all()
    rep = bt[bt.junk_kind == "repeat_open_deal"]
    orig = bt.reindex(rep.duplicate_of_lead_id)
    assert orig.deal_id.notna().all()
    # bots come at night (Moscow 01:00-06:00)
    hours = bt[bt.junk_kind == "bot_burst"].created_at.dt.tz_convert("Europe/Moscow").dt.hour
    assert hours.between(0, 6).mean() > 0.95
    # CRM-marked junk: JUNK status with a reason, and the truth flag agrees
    st = con.execute("select ID, STATUS_ID, UF_CRM_JUNK_REASON from crm_lead").df().set_index("ID")
    cj = bt.crm_junk.reindex(st.index)
    assert ((st.STATUS_ID == "JUNK") == cj).all()
    assert st[st.STATUS_ID == "JUNK"].UF_CRM_JUNK_REASON.notna().all()


def test_phone_format_variety(sandbox):
    con = sandbox.con("bitrix24")
    phones = [json.loads(j)[0]["VALUE"] for (j,) in con.execute("select PHONE from crm_lead").fetchall()]
    shapes = {("+7" if p.startswith("+7") else p[:1]) + ("(" if "(" in p else "") + (" " if " " in p else "")
              for p in phones}
    assert len(shapes) >= 5


def test_control_points_monotone(sandbox):
    t = sandbox.truth("leads")
    chain = ["created_at", "taken_at", "classified_at", "shown_at", "booked_at", "contract_at", "paid_at"]
    for a, b in zip(chain, chain[1:]):
        both = t[a].notna() & t[b].notna()
        assert (t.loc[both, a] <= t.loc[both, b]).all(), (a, b)
    for later in chain[2:]:
        # a later point implies the earlier ones, except a booking straight from qualification
        if later == "shown_at":
            continue
        assert t.loc[t[later].notna(), "classified_at"].notna().all()
    as_of = pd.Timestamp("2026-11-27", tz="Europe/Moscow")
    for c in chain:
        assert (t[c].dropna() <= as_of).all()
    assert ((t.rejected_at.notna()) == t.crm_junk).all()


def test_plans_cover_managers(sandbox):
    plans = pd.read_csv(sandbox.path / "truth" / "plans.csv")
    xl = pd.read_excel(sandbox.path / "truth" / "plans.xlsx")
    assert len(xl) == len(plans)
    assert list(plans.columns) == ["period_start", "scope_type", "scope_id", "scope_name", "metric", "target"]
    assert set(plans.scope_type) == {"company", "branch", "department", "manager", "project"}
    assert set(plans.metric) >= {"units", "revenue", "payments_received", "leads", "meetings", "showings",
                                 "contracts"}
    assert (pd.to_datetime(plans.period_start).dt.day == 1).all()
    mgr = sandbox.truth("managers")
    ids = {f"{s}:{a}:{m}" for s, a, m in zip(mgr.source_system, mgr.account, mgr.manager_id)}
    planned = set(plans[plans.scope_type == "manager"].scope_id)
    assert planned <= ids and len(planned) == len(ids)
    # active managers get a plan for the last month; leavers do not after they leave
    last = plans.period_start.max()
    fired = mgr[mgr.fired_at.notna()]
    for s, a, m, f in zip(fired.source_system, fired.account, fired.manager_id, fired.fired_at):
        months = plans[(plans.scope_id == f"{s}:{a}:{m}")].period_start
        assert (pd.to_datetime(months) <= f.tz_convert("Europe/Moscow").tz_localize(None)).all()
    assert (plans.target > 0).all() and last == "2026-11-01"
    assert 20 <= len(mgr) <= 40 and 4 <= mgr.department.nunique() <= 8


def test_amocrm_pipelines_statuses_and_events(sandbox):
    con = sandbox.con("amocrm")
    pipes = con.execute("select id from pipelines").df().id
    assert len(pipes) == 2
    for p in pipes:
        ids = set(con.execute("select id from statuses where pipeline_id = ?", [int(p)]).df().id)
        assert {142, 143} <= ids
        assert con.execute("select count(*) from statuses where pipeline_id = ? and type = 1", [int(p)]).fetchone()[0] == 1
    ev = con.execute("""select entity_id, type, value_after, created_at, seq from events
                        where type in ('lead_added', 'lead_status_changed') order by entity_id, created_at, seq""").df()
    last = ev[ev.type == "lead_status_changed"].groupby("entity_id").tail(1)
    leads = con.execute("select id, status_id, pipeline_id, is_deleted, loss_reason_id from leads").df().set_index("id")
    after = last.value_after.map(lambda v: json.loads(v)[0]["lead_status"])
    got = pd.DataFrame({"status_id": [a["id"] for a in after], "pipeline_id": [a["pipeline_id"] for a in after]},
                       index=last.entity_id.to_numpy())
    exp = leads.reindex(got.index)
    assert (got.status_id.to_numpy() == exp.status_id.to_numpy()).all()
    assert (got.pipeline_id.to_numpy() == exp.pipeline_id.to_numpy()).all()
    # status changes chain: each value_before equals the previous value_after
    sc = con.execute("""select entity_id, value_before, value_after from events where type = 'lead_status_changed'
                        order by entity_id, created_at, seq""").df()
    prev = sc.groupby("entity_id").value_after.shift(1)
    m = prev.notna()
    assert (sc.value_before[m] == prev[m]).all()
    assert (ev.groupby("entity_id").head(1).type == "lead_added").all()
    assert set(ev.entity_id) == set(leads.index)
    deleted = set(con.execute("select entity_id from events where type = 'lead_deleted'").df().entity_id)
    assert deleted == set(leads[leads.is_deleted].index) and deleted
    lost = leads[leads.status_id == 143]
    assert lost.loss_reason_id.notna().all()
    assert leads[leads.status_id != 143].loss_reason_id.isna().all()
    # task types: a custom "Показ" type, showings use it
    tt = con.execute("select id from task_types where name = 'Показ'").fetchone()[0]
    assert tt == RA.TT_SHOWING
    assert con.execute("select count(*) from tasks where task_type_id = ?", [tt]).fetchone()[0] > 0
    # invoices catalog elements are payments linked to leads
    inv = con.execute("select id from catalogs where type = 'invoices'").fetchone()[0]
    n = con.execute("""select count(*) from catalog_elements e join leads l on l.id = e.lead_id
                       where e.catalog_id = ?""", [inv]).fetchone()[0]
    assert n > 0


def test_amocrm_custom_fields_shape(sandbox):
    con = sandbox.con("amocrm")
    cf = con.execute("select custom_fields_values from leads where price > 0 limit 20").df().custom_fields_values
    fields = {f["field_id"]: f for v in cf for f in json.loads(v)}
    assert RA.CF["payment_form"] in fields
    f = fields[RA.CF["payment_form"]]
    assert set(f) == {"field_id", "field_name", "field_code", "field_type", "values"}
    assert "enum_id" in f["values"][0]
    c = json.loads(con.execute("select custom_fields_values from contacts limit 1").fetchone()[0])
    phone = next(x for x in c if x["field_code"] == "PHONE")
    assert phone["field_type"] == "multitext" and phone["values"][0]["enum_code"] in ("WORK", "MOB")


def test_amocrm_json_columns_are_strict_json(sandbox):
    """No `NaN`/`Infinity` (not JSON; the real API never sends them): an empty value — an unset
    UTM (tracking_data) field, a contact without e-mail — is absent from custom_fields_values."""
    con = sandbox.con("amocrm")
    for table, column in con.execute("select table_name, column_name from information_schema.columns "
                                     "where data_type = 'JSON'").fetchall():
        for (text,) in con.execute(f'select "{column}" from "{table}" where "{column}" is not null').fetchall():
            json.loads(text, parse_constant=lambda c: pytest.fail(f"{table}.{column} holds {c}: {text[:200]}"))
    utm = con.execute("select count(*) from leads where custom_fields_values like '%tracking_data%'").fetchone()[0]
    assert utm > 0  # the check above saw real UTM values


def test_bitrix_activities_and_userfields(sandbox):
    con = sandbox.con("bitrix24")
    a = con.execute("select TYPE_ID, PROVIDER_ID, SUBJECT, COMPLETED from crm_activity").df()
    calls = a[a.TYPE_ID == 2]
    assert (calls.PROVIDER_ID == "VOXIMPLANT_CALL").all()
    shows = a[(a.TYPE_ID == 1) & a.SUBJECT.str.startswith("Показ")]
    assert len(shows) > 0 and shows.COMPLETED.any() and (~shows.COMPLETED).any()
    cols = set(con.execute("describe crm_deal").df().column_name)
    ufs = set(con.execute("select FIELD_NAME from crm_userfield where ENTITY_ID = 'CRM_DEAL'").df().FIELD_NAME)
    assert ufs <= cols and {"UF_CRM_PAYMENT_FORM", "UF_CRM_PROJECT", "UF_CRM_CONTRACT_DATE", "UF_CRM_AREA"} <= ufs
    st = con.execute("select ENTITY_ID, STATUS_ID, SEMANTICS from crm_status").df()
    assert {"NEW", "IN_PROCESS", "JUNK", "CONVERTED"} <= set(st[st.ENTITY_ID == "STATUS"].STATUS_ID)
    assert st[st.ENTITY_ID == "DEAL_STAGE_1"].STATUS_ID.str.startswith("C1:").all()
    # department tree: every sales department's ancestor under the root is a branch department
    d = con.execute("select ID, PARENT from b_department").df().set_index("ID").PARENT
    assert d[1] is pd.NA or pd.isna(d[1])
    users = con.execute("select UF_DEPARTMENT from b_user").df().UF_DEPARTMENT.map(json.loads)
    assert all(set(u) <= set(d.index) for u in users)
    truth_acts = sandbox.truth("activities")
    assert len(truth_acts[truth_acts.source_system == "bitrix24"]) == len(a)
