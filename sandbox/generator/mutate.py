"""mutate(): one day of CRM work applied to a generated sandbox, for incremental-extraction tests.

Per account it moves some leads and deals forward (with stage history / status-change events and
fresh modification times), edits fields, adds new leads, deletes some (Bitrix24: rows removed;
amoCRM: is_deleted + lead_deleted event) and records payments that fell due. The manifest's
as_of advances by one day; DIR/mutations/NNNN.json lists the changed/added/deleted ids per account
and table. mutate_account() does the same on an open DuckDB connection, so a running emulator can
call it without closing its database.

The ground-truth Parquet files describe the generated state and are not rewritten by mutate;
the mutation log is the truth for what changed.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np

from sandbox import state
from sandbox.generator import render_amocrm as RA
from sandbox.generator import world as W

HOUR = 3600.0
B24_NEXT_STAGE = {"NEW": "PREPARATION", "PREPARATION": "UC_SHOWPLAN", "UC_SHOWPLAN": "UC_SHOWN",
                  "UC_SHOWN": "UC_BOOKED", "UC_BOOKED": "UC_CONTRACT", "UC_CONTRACT": "FINAL_INVOICE"}
SHARES = {"lead_move": 0.35, "deal_move": 0.25, "edit": 0.10, "add": 0.20, "delete": 0.05, "pay": 0.05}


class _Log:
    def __init__(self):
        self.changed: dict[str, set] = {}
        self.added: dict[str, set] = {}
        self.deleted: dict[str, set] = {}

    def mark(self, what: str, table: str, ids) -> None:
        d = getattr(self, what)
        d.setdefault(table, set()).update(int(i) if not isinstance(i, str) else i for i in ids)

    def as_dict(self) -> dict:
        # an id added today is "added", not also "changed"
        for t, ids in self.added.items():
            if t in self.changed:
                self.changed[t] -= ids
        return {k: {t: sorted(v) for t, v in getattr(self, k).items() if v}
                for k in ("changed", "added", "deleted")}


def _times(rng, n: int, day_start: float) -> np.ndarray:
    """Working-hours moments of the mutated day, in order (changes happen one after another)."""
    return np.sort(day_start + rng.uniform(9.5, 20.0, n) * HOUR)


def _pick(rng, ids, k: int) -> list:
    ids = list(ids)
    if not ids or k <= 0:
        return []
    return [ids[i] for i in sorted(rng.choice(len(ids), min(k, len(ids)), replace=False))]


def _quota(changes: int) -> dict[str, int]:
    q = {k: int(round(changes * v)) for k, v in SHARES.items()}
    q["lead_move"] += changes - sum(q.values())
    return q


def mutate_account(con: duckdb.DuckDBPyConnection, system: str, account: str, seed: int, as_of: datetime,
                   changes: int = 100, account_index: int = 0) -> dict:
    """Apply one day of work (as_of .. as_of + 1 day) to one open account database; returns its log."""
    day0 = as_of.timestamp()
    # The day is part of the seed so that successive mutations with one seed differ.
    rng = np.random.default_rng([seed, account_index, int(day0 // 86400), 5151])
    q = _quota(changes)
    log = _Log()
    if system == "bitrix24":
        _mutate_b24(con, rng, day0, q, log)
    else:
        _mutate_amo(con, rng, day0, q, log, account_index)
    return log.as_dict()


def _ts(t: float) -> datetime:
    return datetime.fromtimestamp(int(t), tz=W.MSK)


def _next_id(con, table: str, col: str = "ID") -> int:
    return int(con.execute(f'select coalesce(max("{col}"), 0) + 1 from "{table}"').fetchone()[0])


def _mutate_b24(con, rng, day0, q, log: _Log) -> None:
    sh_id = _next_id(con, "crm_stagehistory")
    hist = []
    # --- leads forward: NEW -> IN_PROCESS, IN_PROCESS -> PROCESSED or JUNK (could not reach)
    open_leads = con.execute("select ID, STATUS_ID, ASSIGNED_BY_ID from crm_lead where STATUS_ID in "
                             "('NEW','IN_PROCESS') and ASSIGNED_BY_ID is not null order by ID").fetchall()
    picked = _pick(rng, open_leads, q["lead_move"])
    for (lid, st, mgr), t in zip(picked, _times(rng, len(picked), day0)):
        if st == "NEW":
            new, sem, typ, reason = "IN_PROCESS", "P", 2, None
        elif rng.random() < 0.7:
            new, sem, typ, reason = "PROCESSED", "P", 2, None
        else:
            new, sem, typ, reason = "JUNK", "F", 3, 301 + W.R_NOREACH
        con.execute("""update crm_lead set STATUS_ID=?, STATUS_SEMANTIC_ID=?, DATE_MODIFY=?, MOVED_TIME=?,
                       MODIFY_BY_ID=?, MOVED_BY_ID=?, UF_CRM_JUNK_REASON=coalesce(?, UF_CRM_JUNK_REASON),
                       DATE_CLOSED=case when ?='JUNK' then ? else DATE_CLOSED end where ID=?""",
                    [new, sem, _ts(t), _ts(t), mgr, mgr, reason, new, _ts(t), lid])
        hist.append((1, typ, lid, t, None, new, sem, None, None))
        log.mark("changed", "crm_lead", [lid])
    # --- deals forward one stage
    open_deals = con.execute("""select ID, CATEGORY_ID, STAGE_ID, ASSIGNED_BY_ID, UF_CRM_PROJECT from crm_deal
                                where not CLOSED order by ID""").fetchall()
    movable = [d for d in open_deals if B24_NEXT_STAGE.get(d[2].split(":")[-1]) and not (
        d[1] == 1 and d[2].endswith("UC_CONTRACT"))]
    picked = _pick(rng, movable, q["deal_move"])
    for (did, cat, stage, mgr, proj), t in zip(picked, _times(rng, len(picked), day0)):
        nxt = B24_NEXT_STAGE[stage.split(":")[-1]]
        new = ("C1:" if cat == 1 else "") + nxt
        sets, args = ["STAGE_ID=?", "DATE_MODIFY=?", "MOVED_TIME=?", "IS_NEW=false"], [new, _ts(t), _ts(t)]
        if nxt == "UC_BOOKED":
            pidx = int(proj) - 201 if proj is not None else 0
            area = round(float(rng.uniform(30, 90)), 1)
            sets += ["OPPORTUNITY=?", "UF_CRM_AREA=?", "UF_CRM_PAYMENT_FORM=?"]
            args += [round(area * W.PROJECTS[pidx][3], -3), area,
                     101 + int(rng.choice(5, p=W.PAYMENT_FORM_WEIGHTS))]
        if nxt == "UC_CONTRACT":
            sets.append("UF_CRM_CONTRACT_DATE=?")
            args.append(_ts(t).date())
        con.execute(f"update crm_deal set {', '.join(sets)} where ID=?", args + [did])
        hist.append((2, 2, did, t, cat, None, None, new, "P"))
        log.mark("changed", "crm_deal", [did])
    # --- field edits: a manager adds a comment
    rows = con.execute("select ID, ASSIGNED_BY_ID from crm_lead where ASSIGNED_BY_ID is not null order by ID").fetchall()
    picked = _pick(rng, rows, q["edit"])
    for (lid, mgr), t in zip(picked, _times(rng, len(picked), day0)):
        con.execute("update crm_lead set COMMENTS=?, DATE_MODIFY=?, MODIFY_BY_ID=? where ID=?",
                    ["Перезвонить после 18:00", _ts(t), mgr, lid])
        log.mark("changed", "crm_lead", [lid])
    # --- new leads
    users = [u for (u,) in con.execute("select ID from b_user where ACTIVE and ID <> 1 order by ID").fetchall()]
    lid0 = _next_id(con, "crm_lead")
    mf0 = 10_000_000 + lid0  # multifield ids of mutations live above the generated range
    n_new = q["add"]
    first, last, second, _f = W.person_names(rng, n_new)
    chans = rng.choice(len(W.CHANNELS), n_new, p=W.CH_WEIGHT / W.CH_WEIGHT.sum())
    for k, t in enumerate(_times(rng, n_new, day0)):
        lid, mgr = lid0 + k, users[int(rng.integers(0, len(users)))]
        phone = "+79" + "".join(str(x) for x in rng.integers(0, 10, 9))
        con.execute("""insert into crm_lead (ID, TITLE, NAME, SECOND_NAME, LAST_NAME, STATUS_ID, STATUS_SEMANTIC_ID,
                       SOURCE_ID, ASSIGNED_BY_ID, CREATED_BY_ID, MODIFY_BY_ID, MOVED_BY_ID, DATE_CREATE, DATE_MODIFY,
                       MOVED_TIME, OPPORTUNITY, CURRENCY_ID, OPENED, IS_RETURN_CUSTOMER, PHONE)
                       values (?, ?, ?, ?, ?, 'NEW', 'P', ?, ?, 1, ?, ?, ?, ?, ?, 0, 'RUB', true, false, ?)""",
                    [lid, f"{W.CH_NAME[chans[k]]}: {first[k]}", first[k], second[k], last[k], W.CH_B24[chans[k]],
                     mgr, mgr, mgr, _ts(t), _ts(t), _ts(t),
                     json.dumps([{"ID": str(mf0 + k), "VALUE_TYPE": "MOBILE", "VALUE": phone, "TYPE_ID": "PHONE"}])])
        hist.append((1, 1, lid, t, None, "NEW", "P", None, None))
        log.mark("added", "crm_lead", [lid])
    # --- deletions: rubbish leads removed with their history and activities
    rows = [r for (r,) in con.execute("select ID from crm_lead where STATUS_ID in ('JUNK','NEW') order by ID").fetchall()
            if r < lid0]
    for lid in _pick(rng, rows, q["delete"]):
        sh = [i for (i,) in con.execute("select ID from crm_stagehistory where ENTITY_TYPE_ID=1 and OWNER_ID=?",
                                        [lid]).fetchall()]
        ac = [i for (i,) in con.execute("select ID from crm_activity where OWNER_TYPE_ID=1 and OWNER_ID=?",
                                        [lid]).fetchall()]
        con.execute("delete from crm_stagehistory where ENTITY_TYPE_ID=1 and OWNER_ID=?", [lid])
        con.execute("delete from crm_activity where OWNER_TYPE_ID=1 and OWNER_ID=?", [lid])
        con.execute("delete from crm_lead where ID=?", [lid])
        log.mark("deleted", "crm_lead", [lid])
        log.mark("deleted", "crm_stagehistory", sh)
        log.mark("deleted", "crm_activity", ac)
    # --- payments that fell due: invoice paid, payment row, deal won on its first payment
    due = con.execute("""select i.id, i.parentId2, i.opportunity, i.assignedById, d.STAGE_ID, d.CATEGORY_ID
                         from crm_invoice i join crm_deal d on d.ID = i.parentId2
                         where i.stageId = 'DT31_2:N' order by i.closedate, i.id""").fetchall()
    pay_id = _next_id(con, "sale_payment", "id")
    for k, ((iid, did, amt, mgr, stage, cat), t) in enumerate(zip(due[: q["pay"]], _times(rng, q["pay"], day0))):
        con.execute("update crm_invoice set stageId='DT31_2:P', updatedTime=? where id=?", [_ts(t), iid])
        con.execute("""insert into sale_payment (id, orderId, entityTypeId, entityId, accountNumber, paid, datePaid,
                       dateBill, empPaidId, paySystemId, paySystemName, sum, currency, updatedTime)
                       values (?, ?, 31, ?, ?, true, ?, ?, ?, 2, 'Банковский перевод', ?, 'RUB', ?)""",
                    [pay_id + k, did, iid, f"{did}/m{k + 1}", _ts(t), _ts(t), mgr, amt, _ts(t)])
        log.mark("changed", "crm_invoice", [iid])
        log.mark("added", "sale_payment", [pay_id + k])
        if not stage.endswith("WON"):
            new = ("C1:" if cat == 1 else "") + "WON"
            con.execute("""update crm_deal set STAGE_ID=?, STAGE_SEMANTIC_ID='S', CLOSED=true, DATE_MODIFY=?,
                           MOVED_TIME=?, CLOSEDATE=? where ID=?""", [new, _ts(t), _ts(t), _ts(t), did])
            hist.append((2, 3, did, t, cat, None, None, new, "S"))
            log.mark("changed", "crm_deal", [did])
    hist.sort(key=lambda h: h[3])
    for k, (ent, typ, owner, t, cat, status, ssem, stage, stsem) in enumerate(hist):
        con.execute("""insert into crm_stagehistory (ID, ENTITY_TYPE_ID, TYPE_ID, OWNER_ID, CREATED_TIME, CATEGORY_ID,
                       STATUS_ID, STATUS_SEMANTIC_ID, STAGE_ID, STAGE_SEMANTIC_ID) values (?,?,?,?,?,?,?,?,?,?)""",
                    [sh_id + k, ent, typ, owner, _ts(t), cat, status, ssem, stage, stsem])
        log.mark("added", "crm_stagehistory", [sh_id + k])


def _mutate_amo(con, rng, day0, q, log: _Log, account_index: int) -> None:
    events = []
    statuses = con.execute("select pipeline_id, id, type from statuses order by pipeline_id, sort").fetchall()
    order: dict[int, list[int]] = {}
    for p, s, _t in statuses:
        if s not in (142, 143):
            order.setdefault(p, []).append(s)
    # --- move leads one status forward (never into 142: payments do that)
    rows = con.execute("""select id, status_id, pipeline_id, responsible_user_id from leads
                          where not is_deleted and status_id not in (142, 143) and responsible_user_id is not null
                          order by id""").fetchall()
    movable = [r for r in rows if order[r[2]].index(r[1]) + 1 < len(order[r[2]])]
    picked = _pick(rng, movable, q["lead_move"] + q["deal_move"])
    for (lid, st, pipe, mgr), t in zip(picked, _times(rng, len(picked), day0)):
        new = order[pipe][order[pipe].index(st) + 1]
        con.execute("update leads set status_id=?, updated_at=?, updated_by=? where id=?", [new, int(t), mgr, lid])
        events.append(("lead_status_changed", lid, mgr, int(t),
                       json.dumps([{"lead_status": {"id": new, "pipeline_id": pipe}}]),
                       json.dumps([{"lead_status": {"id": st, "pipeline_id": pipe}}])))
        log.mark("changed", "leads", [lid])
    # --- edits: lead renamed by its manager
    rows = con.execute("select id, name, responsible_user_id from leads where not is_deleted and "
                       "responsible_user_id is not null order by id").fetchall()
    picked = _pick(rng, rows, q["edit"])
    for (lid, name, mgr), t in zip(picked, _times(rng, len(picked), day0)):
        con.execute("update leads set name=?, updated_at=?, updated_by=? where id=?",
                    [f"{name} (повторно)", int(t), mgr, lid])
        log.mark("changed", "leads", [lid])
    # --- new leads (unsorted of the main pipeline) with a contact
    users = [u for (u, r) in con.execute("select id, rights from users order by id").fetchall()
             if json.loads(r).get("group_id") and json.loads(r).get("is_active")]
    groups = {u: json.loads(r).get("group_id") for (u, r) in con.execute("select id, rights from users").fetchall()}
    lid0 = _next_id(con, "leads", "id")
    aid = con.execute("select id from account").fetchone()[0]
    main = con.execute("select id from pipelines where is_main").fetchone()[0]
    unsorted = next(s for p, s, ty in statuses if p == main and ty == 1)
    first, last, _s, _f = W.person_names(rng, q["add"])
    for k, t in enumerate(_times(rng, q["add"], day0)):
        lid, mgr = lid0 + k, users[int(rng.integers(0, len(users)))]
        cid = RA.CONTACT_BASE + (lid - RA.LEAD_BASE)
        con.execute("""insert into leads (id, name, price, responsible_user_id, group_id, status_id, pipeline_id,
                       created_by, updated_by, created_at, updated_at, is_deleted, account_id, tags, contacts, companies)
                       values (?, ?, 0, ?, ?, ?, ?, 0, 0, ?, ?, false, ?, '[]', ?, '[]')""",
                    [lid, f"{first[k]} {last[k]}", mgr, groups[mgr], unsorted, main, int(t), int(t), aid,
                     json.dumps([{"id": cid, "is_main": True}])])
        phone = "+79" + "".join(str(x) for x in rng.integers(0, 10, 9))
        con.execute("""insert into contacts (id, name, first_name, last_name, responsible_user_id, group_id, created_by,
                       updated_by, created_at, updated_at, is_deleted, is_unsorted, custom_fields_values, account_id,
                       tags, leads, companies) values (?, ?, ?, ?, ?, ?, 0, 0, ?, ?, false, false, ?, ?, '[]', ?, '[]')""",
                    [cid, f"{first[k]} {last[k]}", first[k], last[k], mgr, groups[mgr], int(t), int(t),
                     json.dumps([{"field_id": RA.CF["phone"], "field_name": "Телефон", "field_code": "PHONE",
                                  "field_type": "multitext", "values": [{"value": phone, "enum_id": RA.ENUM_PHONE["MOB"],
                                                                         "enum_code": "MOB"}]}], ensure_ascii=False),
                     aid, json.dumps([{"id": lid}])])
        events.append(("lead_added", lid, 0, int(t), json.dumps([{"note": {"id": 80_000_000 + lid}}]), "[]"))
        log.mark("added", "leads", [lid])
        log.mark("added", "contacts", [cid])
    # --- deletions: flagged, with a lead_deleted event
    rows = con.execute("select id, responsible_user_id from leads where not is_deleted and status_id = 143 "
                       "and id < ? order by id", [lid0]).fetchall()
    picked = _pick(rng, rows, q["delete"])
    for (lid, mgr), t in zip(picked, _times(rng, len(picked), day0)):
        con.execute("update leads set is_deleted=true, updated_at=? where id=?", [int(t), lid])
        events.append(("lead_deleted", lid, mgr or 0, int(t), "[]", "[]"))
        log.mark("deleted", "leads", [lid])
    # --- payments that fell due
    inv_cat = con.execute("select id from catalogs where type='invoices'").fetchone()[0]
    rows = con.execute("""select e.id, e.lead_id, e.custom_fields_values, l.status_id, l.pipeline_id,
                          l.responsible_user_id from catalog_elements e join leads l on l.id = e.lead_id
                          where e.catalog_id = ? and e.custom_fields_values::varchar like '%Создан, не оплачен%'
                          order by e.id""", [inv_cat]).fetchall()
    for (eid, lid, cfv, st, pipe, mgr), t in zip(rows[: q["pay"]], _times(rng, q["pay"], day0)):
        v = json.loads(cfv)
        for f in v:
            if f["field_code"] == "INVOICE_STATUS":
                f["values"] = [{"value": "Оплачен", "enum_id": RA.ENUM_INV["paid"]}]
        v.append({"field_id": RA.CF["inv_paid_date"], "field_name": "Дата оплаты", "field_code": "PAYMENT_DATE",
                  "field_type": "date", "values": [{"value": int(t)}]})
        con.execute("update catalog_elements set custom_fields_values=?, updated_at=? where id=?",
                    [json.dumps(v, ensure_ascii=False), int(t), eid])
        log.mark("changed", "catalog_elements", [eid])
        if st != 142:
            con.execute("update leads set status_id=142, closed_at=?, updated_at=? where id=?", [int(t), int(t), lid])
            events.append(("lead_status_changed", lid, mgr or 0, int(t),
                           json.dumps([{"lead_status": {"id": 142, "pipeline_id": pipe}}]),
                           json.dumps([{"lead_status": {"id": st, "pipeline_id": pipe}}])))
            log.mark("changed", "leads", [lid])
    seq0 = int(con.execute("select coalesce(max(seq), 0) + 1 from events").fetchone()[0])
    events.sort(key=lambda e: e[3])
    for k, (typ, lid, by, t, va, vb) in enumerate(events):
        eid = "01%02x%022x" % (account_index, seq0 + k)
        con.execute("""insert into events (id, seq, type, entity_id, entity_type, created_by, created_at, value_after,
                       value_before, account_id) values (?, ?, ?, ?, 'lead', ?, ?, ?, ?, ?)""",
                    [eid, seq0 + k, typ, lid, by, t, va, vb, aid])
        log.mark("added", "events", [eid])


def mutate(data_dir, seed: int, changes: int = 200) -> dict:
    """Apply one day of CRM work to every account of a sandbox; returns the summary (= the log)."""
    data = Path(data_dir)
    manifest = state.load_manifest(data)
    as_of = datetime.fromisoformat(manifest["as_of"])
    total_w = len(manifest["accounts"])
    per = [changes // total_w + (1 if i < changes % total_w else 0) for i in range(total_w)]
    summary = {"seed": seed, "as_of_before": manifest["as_of"],
               "as_of_after": (as_of + timedelta(days=1)).isoformat(), "accounts": {}}
    for i, (entry, n) in enumerate(zip(manifest["accounts"], per)):
        con = duckdb.connect(str(data / entry["file"]))
        try:
            con.execute("BEGIN")
            log = mutate_account(con, entry["system"], entry["account"], seed, as_of, n, account_index=i)
            con.execute("COMMIT")
        finally:
            con.close()
        summary["accounts"][entry["account"]] = {"system": entry["system"], **log}
    mdir = data / "mutations"
    mdir.mkdir(exist_ok=True)
    number = len(list(mdir.glob("*.json"))) + 1
    summary["number"] = number
    (mdir / f"{number:04d}.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
    manifest["as_of"] = summary["as_of_after"]
    manifest.setdefault("mutations", []).append(f"mutations/{number:04d}.json")
    (data / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return summary
