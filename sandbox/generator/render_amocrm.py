"""Render the simulated world and lead chunks as amoCRM state tables (sandbox/state.py).

An amoCRM lead (сделка) is one object that walks one pipeline: the lead part (unsorted → new →
taken → qualified) and then the deal part (selection → showing planned → showing held → booking
→ contract → awaiting payment → 142 won), or 143 lost with a loss reason at any point.

Id conventions (per account index i, pipeline number p = 1 main "Продажи", 2 "Агентства"):
pipeline id = 7_700_000 + 10*i + p; status id = 60_000_000 + 10_000*i + 100*p + k with k the index
in STATUS_CODES; 142/143 in every pipeline. Task types: 1 call, 2 meeting, 3001 "Показ",
3002 "Подготовить подборку". Catalogs: 5001 + 10*i 'invoices' (payments, one element per
scheduled payment, INVOICE_STATUS "Оплачен" when received), 5002 + 10*i 'regular' (apartments).
Junk reasons are loss_reasons 1000+k (W.REJECT_REASONS); deal loss reasons 1100+k.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from sandbox.generator import world as W
from sandbox.generator.render_bitrix24 import nint
from sandbox.generator.simulate import HOUR, MINUTE, SimChunk

LEAD_BASE = 30_000_000
CONTACT_BASE = 40_000_000
TASK_BASE = 60_000_000
STATUS_CODES = ["UNSORTED", "NEW", "TAKEN", "QUALIFIED", "PREP", "SHOWPLAN", "SHOWN", "BOOKED", "CONTRACT",
                "INVOICE"]
STATUS_NAMES = ["Неразобранное", "Новая заявка", "Взят в работу", "Квалифицирован", "Подбор квартиры",
                "Показ назначен", "Показ проведён", "Бронь", "Договор подписан", "Ожидание оплаты"]
AGENT_PIPELINE_SKIPS = {"QUALIFIED", "INVOICE"}  # the smaller partner pipeline lacks these stages
WON, LOST = 142, 143
TT_CALL, TT_MEETING, TT_SHOWING, TT_TASK = 1, 2, 3001, 3002
CF = {"payment_form": 900101, "project": 900102, "area": 900103, "contract_date": 900104,
      "lead_class": 900105, "utm_source": 900111, "utm_medium": 900112, "utm_campaign": 900113,
      "utm_content": 900114, "utm_term": 900115, "phone": 900201, "email": 900202,
      "inv_status": 900301, "inv_price": 900302, "inv_paid_date": 900303, "inv_due": 900304,
      "inv_form": 900305,
      "apt_price": 900401, "apt_project": 900402, "apt_rooms": 900403, "apt_area": 900404, "apt_floor": 900405}
ENUM_FORM = {i: 910001 + i for i in range(len(W.PAYMENT_FORMS))}
ENUM_PROJECT = {i: 910101 + i for i in range(len(W.PROJECTS))}
ENUM_CLASS = {"target": 910201, "nontarget": 910202}
ENUM_PHONE = {"WORK": 910301, "MOB": 910302}
ENUM_EMAIL_WORK = 910311
ENUM_INV = {"created": 910401, "paid": 910402}
INTEGRATION_CHANNELS = {"avito", "cian", "domclick", "paid_search", "website"}


def pipeline_id(acc, p: int) -> int:
    return 7_700_000 + 10 * acc.index + p


def status_id(acc, p: int, code: str) -> int:
    return 60_000_000 + 10_000 * acc.index + 100 * p + STATUS_CODES.index(code)


def account_id(acc) -> int:
    return 29_000_000 + acc.index


def catalog_ids(acc) -> tuple[int, int]:
    return 5001 + 10 * acc.index, 5002 + 10 * acc.index


def static_tables(acc: W.Account, as_of: float, t_start: float) -> dict[str, pd.DataFrame]:
    aid = account_id(acc)
    mg, dp = acc.managers, acc.departments
    created = int(t_start - 900 * 86400)
    account = pd.DataFrame([{"id": aid, "name": f"Новострой {acc.branches[0]}", "subdomain": acc.account,
                             "currency": "RUB", "timezone": "Europe/Moscow", "country": "RU",
                             "current_user_id": acc.admin_id, "created_at": created, "updated_at": int(as_of) - 86400}])

    def rights(group, active, admin):
        return json.dumps({"leads": {"view": "A", "edit": "A", "add": "A", "delete": "D" if not admin else "A",
                                     "export": "D"}, "mail_access": False, "catalog_access": True,
                           "status_rights": [], "is_admin": admin, "is_free": False, "is_active": bool(active),
                           "group_id": None if group is None else int(group), "role_id": None})

    users = pd.DataFrame({
        "id": np.concatenate([[acc.admin_id], mg["manager_id"]]),
        "name": ["Администратор"] + list(mg["name"]),
        "email": [f"admin@{acc.account}.example"] + [f"user{u}@{acc.account}.example" for u in mg["manager_id"]],
        "lang": "ru",
        "rights": [rights(None, True, True)] + [rights(g, not (f <= as_of), False)
                                               for g, f in zip(mg["dept_id"], mg["fired_at"])],
    })
    groups = pd.DataFrame({"id": dp["dept_id"], "name": dp["name"],
                           "uuid": [f"00000000-0000-4000-8000-{int(g):012d}" for g in dp["dept_id"]]})
    pipelines = pd.DataFrame({"id": [pipeline_id(acc, 1), pipeline_id(acc, 2)], "name": ["Продажи", "Агентства"],
                              "sort": [1, 2], "is_main": [True, False], "is_unsorted_on": True,
                              "is_archive": False, "account_id": aid})
    st = []
    for p in (1, 2):
        sort = 10
        for k, code in enumerate(STATUS_CODES):
            if p == 2 and code in AGENT_PIPELINE_SKIPS:
                continue
            name = "Заявка от агента" if (p == 2 and code == "NEW") else STATUS_NAMES[k]
            st.append((status_id(acc, p, code), pipeline_id(acc, p), name, sort, code != "UNSORTED",
                       "#c1c1c1" if code == "UNSORTED" else "#99ccff", 1 if code == "UNSORTED" else 0, aid))
            sort += 10
        st.append((WON, pipeline_id(acc, p), "Успешно реализовано", 10000, False, "#CCFF66", 0, aid))
        st.append((LOST, pipeline_id(acc, p), "Закрыто и не реализовано", 11000, False, "#D5D8DB", 0, aid))
    statuses = pd.DataFrame(st, columns=["id", "pipeline_id", "name", "sort", "is_editable", "color", "type",
                                         "account_id"])
    lr = [(1000 + i, r, 10 * (i + 1)) for i, r in enumerate(W.REJECT_REASONS)] + \
         [(1100 + i, r, 100 + 10 * (i + 1)) for i, r in enumerate(W.DEAL_LOSS_REASONS)]
    loss_reasons = pd.DataFrame(lr, columns=["id", "name", "sort"])
    loss_reasons["created_at"] = created
    loss_reasons["updated_at"] = created

    def enums(pairs):
        return json.dumps([{"id": k, "value": v, "sort": 10 * (j + 1)} for j, (k, v) in enumerate(pairs)],
                          ensure_ascii=False)

    inv_cat, apt_cat = catalog_ids(acc)
    cf = [
        (CF["payment_form"], "leads", "Форма оплаты", None, "select",
         enums([(ENUM_FORM[i], f) for i, f in enumerate(W.PAYMENT_FORM_RU)])),
        (CF["project"], "leads", "ЖК", None, "select",
         enums([(ENUM_PROJECT[i], p[1]) for i, p in enumerate(W.PROJECTS)])),
        (CF["area"], "leads", "Площадь, м²", None, "numeric", None),
        (CF["contract_date"], "leads", "Дата договора", None, "date", None),
        (CF["lead_class"], "leads", "Квалификация", None, "select",
         enums([(ENUM_CLASS["target"], "Целевой"), (ENUM_CLASS["nontarget"], "Нецелевой")])),
        (CF["utm_source"], "leads", "utm_source", "UTM_SOURCE", "tracking_data", None),
        (CF["utm_medium"], "leads", "utm_medium", "UTM_MEDIUM", "tracking_data", None),
        (CF["utm_campaign"], "leads", "utm_campaign", "UTM_CAMPAIGN", "tracking_data", None),
        (CF["utm_content"], "leads", "utm_content", "UTM_CONTENT", "tracking_data", None),
        (CF["utm_term"], "leads", "utm_term", "UTM_TERM", "tracking_data", None),
        (CF["phone"], "contacts", "Телефон", "PHONE", "multitext",
         enums([(ENUM_PHONE["WORK"], "WORK"), (ENUM_PHONE["MOB"], "MOB")])),
        (CF["email"], "contacts", "Email", "EMAIL", "multitext", enums([(ENUM_EMAIL_WORK, "WORK")])),
        (CF["inv_status"], f"catalogs:{inv_cat}", "Статус", "INVOICE_STATUS", "select",
         enums([(ENUM_INV["created"], "Создан, не оплачен"), (ENUM_INV["paid"], "Оплачен")])),
        (CF["inv_price"], f"catalogs:{inv_cat}", "Итоговая сумма к оплате", "PRICE", "numeric", None),
        (CF["inv_paid_date"], f"catalogs:{inv_cat}", "Дата оплаты", "PAYMENT_DATE", "date", None),
        (CF["inv_due"], f"catalogs:{inv_cat}", "Срок оплаты", "DUE_DATE", "date", None),
        (CF["inv_form"], f"catalogs:{inv_cat}", "Форма оплаты", None, "text", None),
        (CF["apt_price"], f"catalogs:{apt_cat}", "Цена", "PRICE", "price", None),
        (CF["apt_project"], f"catalogs:{apt_cat}", "ЖК", None, "text", None),
        (CF["apt_rooms"], f"catalogs:{apt_cat}", "Комнат", None, "numeric", None),
        (CF["apt_area"], f"catalogs:{apt_cat}", "Площадь, м²", None, "numeric", None),
        (CF["apt_floor"], f"catalogs:{apt_cat}", "Этаж", None, "numeric", None),
    ]
    custom_fields = pd.DataFrame([(i, e, n, c, 10 * (j + 1), t, False, c not in ("PHONE", "EMAIL"), None, en)
                                  for j, (i, e, n, c, t, en) in enumerate(cf)],
                                 columns=["id", "entity_type", "name", "code", "sort", "type", "is_api_only",
                                          "is_deletable", "group_id", "enums"])
    sources = pd.DataFrame({
        "id": 20_000 + 100 * acc.index + np.arange(len(W.CHANNELS)), "name": W.CH_NAME,
        "pipeline_id": [pipeline_id(acc, 2 if k == "agent" else 1) for k in W.CH_KEY],
        "external_id": W.CH_KEY, "is_default": W.CH_KEY == "website"})
    task_types = pd.DataFrame({"id": [TT_CALL, TT_MEETING, TT_SHOWING, TT_TASK],
                               "name": ["Связаться", "Встреча", "Показ", "Подготовить подборку"],
                               "color": [None, None, "#ffcc00", "#66ccff"], "icon_id": [None, None, 5, 3],
                               "code": ["FOLLOW_UP", "MEETING", None, None]})
    catalogs = pd.DataFrame({"id": [inv_cat, apt_cat], "name": ["Счета-покупки", "Квартиры"],
                             "type": ["invoices", "regular"], "sort": [10, 20], "can_add_elements": True,
                             "can_link_multiple": [False, True], "account_id": aid})
    companies = pd.DataFrame({"id": 50_000_001 + np.arange(5), "name": ["АН «Этажи»", "АН «Дом Казань»",
                                                                        "АН «Миэль»", "АН «Таткоммерц»",
                                                                        "Частный брокер"],
                              "responsible_user_id": acc.admin_id, "group_id": None, "created_by": acc.admin_id,
                              "updated_by": acc.admin_id, "created_at": created, "updated_at": created,
                              "closest_task_at": None, "is_deleted": False, "custom_fields_values": None,
                              "account_id": aid, "tags": "[]"})
    return {"account": account, "users": users, "groups": groups, "pipelines": pipelines, "statuses": statuses,
            "loss_reasons": loss_reasons, "custom_fields": custom_fields, "sources": sources,
            "task_types": task_types, "catalogs": catalogs, "companies": companies}


def _cf(field_id, name, ftype, value, enum_id=None, code=None) -> str:
    v = {"value": value}
    if enum_id is not None:
        v["enum_id"] = int(enum_id)
    return json.dumps({"field_id": field_id, "field_name": name, "field_code": code, "field_type": ftype,
                       "values": [v]}, ensure_ascii=False, allow_nan=False)


def _missing(value) -> bool:
    """No value: None, or pandas' NaN for a missing string (json.dumps would write `NaN`, which is
    not JSON and which the real API never sends — an empty field is simply absent)."""
    return value is None or (isinstance(value, float) and value != value) or value == ""


def _join(frags: list[list]) -> list:
    rows = zip(*frags)
    return ["[" + ",".join(f for f in r if f) + "]" if any(r) else None for r in rows]


def _i(a) -> np.ndarray:
    return np.floor(np.asarray(a, dtype=float))


def status_transitions(acc, L: pd.DataFrame, D: pd.DataFrame) -> pd.DataFrame:
    """Long table (lead_id, at, pipeline, status) of every status a lead entered, in order."""
    pipe = np.where(L["channel"].to_numpy() == W.CH_AGENT, 2, 1)
    unsorted = np.isin(W.CH_KEY[L["channel"]], list(INTEGRATION_CHANNELS))
    dd = D.set_index("lead_id").reindex(L["lead_id"])
    won = dd["won_at"].to_numpy()
    lost = np.where(np.isnan(won), dd["lost_at"].to_numpy(), np.nan)
    closed_lost = np.fmin(L["rejected_at"].to_numpy(), lost)
    target = L["converted_at"].notna().to_numpy()
    steps = [
        (L["created_at"].to_numpy(), np.where(unsorted, "UNSORTED", "NEW")),
        (L["taken_at"].to_numpy(), "TAKEN"),
        (np.where(target, L["classified_at"], np.nan), "QUALIFIED"),
        (L["converted_at"].to_numpy(), "PREP"),
        (dd["show_created_at"].to_numpy(), "SHOWPLAN"), (dd["shown_at"].to_numpy(), "SHOWN"),
        (dd["booked_at"].to_numpy(), "BOOKED"), (dd["contract_at"].to_numpy(), "CONTRACT"),
        (dd["invoice_at"].to_numpy(), "INVOICE"), (won, "WON"), (closed_lost, "LOST"),
    ]
    parts = []
    n = len(L)
    for k, (t, code) in enumerate(steps):
        m = ~np.isnan(t)
        if k in (2, 8):  # stages the agents pipeline does not have
            m &= pipe == 1
        shift = (pipe[m] - 1) * 100  # status ids are laid out per pipeline (see status_id)
        if k == 0:
            sid = np.where(code[m] == "UNSORTED", status_id(acc, 1, "UNSORTED"), status_id(acc, 1, "NEW")) + shift
        elif code in ("WON", "LOST"):
            sid = np.full(int(m.sum()), WON if code == "WON" else LOST, dtype=np.int64)
        else:
            sid = status_id(acc, 1, code) + shift
        parts.append(pd.DataFrame({"lead_id": L["lead_id"].to_numpy()[m], "at": t[m], "step": k,
                                   "pipeline_id": 7_700_000 + 10 * acc.index + pipe[m], "status_id": sid}))
    tr = pd.concat(parts, ignore_index=True).sort_values(["lead_id", "step"], kind="stable")
    return tr.reset_index(drop=True)


def chunk_tables(ch: SimChunk, rng: np.random.Generator, ids: dict, as_of: float) -> dict[str, pd.DataFrame]:
    acc = ch.account
    aid = account_id(acc)
    L, D, A, P = ch.leads, ch.deals, ch.activities, ch.payments
    n = len(L)
    mgr = L["manager_id"].to_numpy()
    group_of = acc.managers.set_index("manager_id")["dept_id"]
    group = L["manager_id"].map(group_of).fillna(-1).astype(np.int64).to_numpy()
    tr = status_transitions(acc, L, D)
    last = tr.groupby("lead_id").tail(1).set_index("lead_id").reindex(L["lead_id"])
    dd = D.set_index("lead_id").reindex(L["lead_id"])
    won = dd["won_at"].to_numpy()
    closed = np.where(last["status_id"].isin([WON, LOST]).to_numpy(), last["at"].to_numpy(), np.nan)
    loss = np.where(L["reject_reason"] >= 0, 1000 + L["reject_reason"],
                    np.where(np.isnan(won) & (dd["lost_reason"].fillna(-1).to_numpy() >= 0),
                             1100 + dd["lost_reason"].fillna(0).to_numpy(), -1)).astype(np.int64)
    loss[last["status_id"].to_numpy() != LOST] = -1
    updated = np.fmax(last["at"].to_numpy(), L["deleted_at"].fillna(-1).to_numpy())
    # custom fields
    booked = dd["booked_at"].notna().to_numpy()
    form = dd["payment_form"].fillna(-1).astype(int).to_numpy()
    has_project = ~L["kind"].isin([W.J_SPAM, W.J_BOT, W.J_TEST, W.J_INVALID]).to_numpy()
    proj = L["project"].to_numpy()
    cls = np.select([L["converted_at"].notna() | (L["classified_at"].notna() & ~L["nontarget"]),
                     L["classified_at"].notna() & L["nontarget"]], [1, 2], 0)
    frags = [
        [_cf(CF["payment_form"], "Форма оплаты", "select", W.PAYMENT_FORM_RU[f], ENUM_FORM[f]) if b and f >= 0 else None
         for b, f in zip(booked, form)],
        [_cf(CF["project"], "ЖК", "select", W.PROJECTS[p][1], ENUM_PROJECT[p]) if h else None
         for h, p in zip(has_project, proj)],
        [_cf(CF["area"], "Площадь, м²", "numeric", str(a)) if b else None
         for b, a in zip(booked, dd["area_m2"].to_numpy())],
        [_cf(CF["contract_date"], "Дата договора", "date", int(t)) if t == t else None
         for t in dd["contract_at"].to_numpy()],
        [None if c == 0 else _cf(CF["lead_class"], "Квалификация", "select", "Целевой" if c == 1 else "Нецелевой",
                                 ENUM_CLASS["target" if c == 1 else "nontarget"]) for c in cls],
    ]
    for key in ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term"):
        frags.append([None if _missing(v) else _cf(CF[key], key, "tracking_data", v, code=key.upper())
                      for v in L[key]])
    cfv = _join(frags)
    contact = CONTACT_BASE + (L["lead_id"].to_numpy() - LEAD_BASE)
    rep = (L["kind"] == W.J_REPEAT).to_numpy()
    contact = np.where(rep, CONTACT_BASE + (L["dup_of_lead_id"].to_numpy() - LEAD_BASE), contact)
    channel = L["channel"].to_numpy()
    nosrc = L["missing_source"].to_numpy()
    tags = [None if s else f'[{{"id":{70_000 + c},"name":"{W.CH_NAME[c]}","color":null}}]'
            for s, c in zip(nosrc, channel)]
    company = np.where(channel == W.CH_AGENT, 50_000_001 + L["lead_id"].to_numpy() % 5, -1)
    manual = np.isin(W.CH_KEY[channel], ["call", "walk_in", "referral"])
    out = {}
    out["leads"] = pd.DataFrame({
        "id": L["lead_id"], "name": (L["first"].astype(str) + " " + L["last"].fillna("").astype(str)).str.strip(),
        "price": np.nan_to_num(np.where(booked, dd["price"].to_numpy(), 0)).astype(np.int64),
        "responsible_user_id": nint(mgr), "group_id": nint(group), "status_id": last["status_id"].to_numpy(),
        "pipeline_id": last["pipeline_id"].to_numpy(), "loss_reason_id": nint(loss),
        "source_id": nint(np.where(nosrc, -1, 20_000 + 100 * acc.index + channel)),
        "created_by": np.where(manual & (mgr >= 0), mgr, 0), "updated_by": np.where(mgr >= 0, mgr, 0),
        "created_at": _i(L["created_at"]).astype(np.int64), "updated_at": _i(updated).astype(np.int64),
        "closed_at": pd.array(np.where(np.isnan(closed), np.nan, _i(closed)), dtype="Int64"),
        "closest_task_at": None, "is_deleted": L["is_deleted"].to_numpy(), "custom_fields_values": cfv,
        "score": None, "account_id": aid, "labor_cost": None, "tags": tags,
        "contacts": [f'[{{"id":{c},"is_main":true}}]' for c in contact],
        "companies": [f'[{{"id":{c}}}]' if c > 0 else "[]" for c in company],
    })
    # contacts: one per lead except repeat inquiries, which reuse the client's contact
    C = L[~rep]
    cid = CONTACT_BASE + (C["lead_id"].to_numpy() - LEAD_BASE)
    phone_enum = rng.choice(["WORK", "MOB"], len(C), p=[0.4, 0.6])
    cf_c = []
    for ph, pe, em in zip(C["phone_raw"], phone_enum, C["email"]):
        v = [{"field_id": CF["phone"], "field_name": "Телефон", "field_code": "PHONE", "field_type": "multitext",
              "values": [{"value": ph, "enum_id": ENUM_PHONE[pe], "enum_code": pe}]}]
        if not _missing(em):
            v.append({"field_id": CF["email"], "field_name": "Email", "field_code": "EMAIL", "field_type": "multitext",
                      "values": [{"value": em, "enum_id": ENUM_EMAIL_WORK, "enum_code": "WORK"}]})
        cf_c.append(json.dumps(v, ensure_ascii=False, allow_nan=False))
    # The contact's lead list: its own lead plus repeat inquiries linked to it within the chunk.
    rep_of = L.loc[rep, ["dup_of_lead_id", "lead_id"]]
    extra = rep_of.groupby("dup_of_lead_id")["lead_id"].apply(list).to_dict()
    cmgr = C["manager_id"].to_numpy()
    out["contacts"] = pd.DataFrame({
        "id": cid, "name": (C["first"].astype(str) + " " + C["last"].fillna("").astype(str)).str.strip(),
        "first_name": C["first"], "last_name": C["last"], "responsible_user_id": nint(cmgr),
        "group_id": nint(C["manager_id"].map(group_of).fillna(-1).astype(np.int64)),
        "created_by": np.where(cmgr >= 0, cmgr, 0), "updated_by": np.where(cmgr >= 0, cmgr, 0),
        "created_at": _i(C["created_at"]).astype(np.int64), "updated_at": _i(C["created_at"]).astype(np.int64),
        "closest_task_at": None, "is_deleted": False, "is_unsorted": False, "custom_fields_values": cf_c,
        "account_id": aid, "tags": "[]",
        "leads": [json.dumps([{"id": int(x)} for x in [lid] + extra.get(lid, [])]) for lid in C["lead_id"]],
        "companies": "[]",
    })
    # ------------------------------------------------------------------ events
    tr["prev_status"] = tr.groupby("lead_id")["status_id"].shift(1)
    tr["prev_pipeline"] = tr.groupby("lead_id")["pipeline_id"].shift(1)
    by = L.set_index("lead_id")["manager_id"].reindex(tr["lead_id"]).to_numpy()
    first = tr["prev_status"].isna().to_numpy()
    va = np.where(first, ['[{"note":{"id":%d}}]' % (80_000_000 + x) for x in tr["lead_id"]],
                  ['[{"lead_status":{"id":%d,"pipeline_id":%d}}]' % (s, p)
                   for s, p in zip(tr["status_id"], tr["pipeline_id"])])
    vb = np.where(first, "[]", ['[{"lead_status":{"id":%d,"pipeline_id":%d}}]' % (s, p) if s == s else "[]"
                                for s, p in zip(tr["prev_status"].fillna(-1).astype(np.int64),
                                                tr["prev_pipeline"].fillna(-1).astype(np.int64))])
    ev = [pd.DataFrame({"type": np.where(first, "lead_added", "lead_status_changed"), "entity_id": tr["lead_id"],
                        "created_by": np.where(first | (by < 0), 0, by), "created_at": _i(tr["at"]),
                        "value_after": va, "value_before": vb})]
    # Some leads are first routed to another manager and reassigned when taken.
    re = L[(mgr >= 0) & (rng.random(n) < 0.08)]
    if len(re):
        other = acc.managers["manager_id"].to_numpy()[rng.integers(0, len(acc.managers), len(re))]
        other = np.where(other == re["manager_id"].to_numpy(), acc.admin_id, other)
        t = np.fmin(re["taken_at"].fillna(np.inf).to_numpy() - 60, re["created_at"].to_numpy() + 120)
        t = np.minimum(np.maximum(t, re["created_at"].to_numpy() + 1), as_of - 1)
        ev.append(pd.DataFrame({"type": "entity_responsible_changed", "entity_id": re["lead_id"], "created_by": 0,
                                "created_at": _i(t),
                                "value_after": ['[{"responsible_user":{"id":%d}}]' % m for m in re["manager_id"]],
                                "value_before": ['[{"responsible_user":{"id":%d}}]' % m for m in other]}))
    dl = L[L["is_deleted"]]
    if len(dl):
        ev.append(pd.DataFrame({"type": "lead_deleted", "entity_id": dl["lead_id"],
                                "created_by": np.where(dl["manager_id"] >= 0, dl["manager_id"], acc.admin_id),
                                "created_at": _i(dl["deleted_at"]), "value_after": "[]", "value_before": "[]"}))
    ev = pd.concat(ev, ignore_index=True)
    ev["created_at"] = ev["created_at"].astype(np.int64)
    ev = ev.sort_values(["created_at", "entity_id"], kind="stable").reset_index(drop=True)
    seq = ids["event"] + np.arange(len(ev), dtype=np.int64)
    ids["event"] += len(ev)
    ev["seq"] = seq
    ev["id"] = ["01%02x%022x" % (acc.index, s) for s in seq]
    ev["entity_type"] = "lead"
    ev["account_id"] = aid
    out["events"] = ev
    # ------------------------------------------------------------------ tasks
    kind = A["kind"].to_numpy()
    done = A["is_completed"].to_numpy()
    amgr = A["manager_id"].to_numpy()
    out["tasks"] = pd.DataFrame({
        "id": A["activity_id"], "created_by": amgr, "updated_by": amgr,
        "created_at": _i(A["created_at"]).astype(np.int64),
        "updated_at": _i(np.where(done, np.minimum(A["held_at"] + 600, as_of - 1), A["created_at"])).astype(np.int64),
        "responsible_user_id": amgr, "group_id": A["manager_id"].map(group_of).fillna(0).astype(np.int64),
        "entity_id": A["lead_id"], "entity_type": "leads", "is_completed": done,
        "task_type_id": np.select([kind == "call", kind == "meeting", kind == "showing"],
                                  [TT_CALL, TT_MEETING, TT_SHOWING], TT_TASK),
        "text": np.select([kind == "call", kind == "meeting", kind == "showing"],
                          ["Позвонить клиенту", "Встреча в офисе продаж", "Показ квартиры"], "Подготовить подборку"),
        "duration": A["duration"].astype(np.int64),
        "complete_till": _i(A["planned_at"]).astype(np.int64),
        "result": np.where(done, np.select([kind == "showing", kind == "call"],
                                           ['{"text":"Показ проведён"}', '{"text":"Дозвонился"}'],
                                           '{"text":"Выполнено"}'), "{}"),
        "account_id": aid,
    })
    # ------------------------------------------------------------------ catalogs
    inv_cat, apt_cat = catalog_ids(acc)
    els = []
    if len(P):
        PD = D.set_index("deal_id").loc[P["deal_id"]]
        created = np.minimum(PD["contract_at"].to_numpy() + HOUR, as_of - 1)
        paid = P["paid"].to_numpy()
        cfs = []
        for pd_, amt, due, pa, frm in zip(paid, P["amount"], P["due_at"], P["paid_at"], P["payment_form"]):
            v = [{"field_id": CF["inv_status"], "field_name": "Статус", "field_code": "INVOICE_STATUS",
                  "field_type": "select", "values": [{"value": "Оплачен" if pd_ else "Создан, не оплачен",
                                                      "enum_id": ENUM_INV["paid" if pd_ else "created"]}]},
                 {"field_id": CF["inv_price"], "field_name": "Итоговая сумма к оплате", "field_code": "PRICE",
                  "field_type": "numeric", "values": [{"value": str(int(amt))}]},
                 {"field_id": CF["inv_due"], "field_name": "Срок оплаты", "field_code": "DUE_DATE",
                  "field_type": "date", "values": [{"value": int(due)}]},
                 {"field_id": CF["inv_form"], "field_name": "Форма оплаты", "field_code": None,
                  "field_type": "text", "values": [{"value": W.PAYMENT_FORM_RU[frm]}]}]
            if pd_:
                v.append({"field_id": CF["inv_paid_date"], "field_name": "Дата оплаты", "field_code": "PAYMENT_DATE",
                          "field_type": "date", "values": [{"value": int(pa)}]})
            cfs.append(json.dumps(v, ensure_ascii=False))
        els.append(pd.DataFrame({
            "id": P["payment_id"], "catalog_id": inv_cat,
            "name": "Счёт №" + P["payment_id"].astype(str) + " (платёж " + (P["seq"] + 1).astype(str) + ")",
            "created_by": PD["manager_id"].to_numpy(), "updated_by": PD["manager_id"].to_numpy(),
            "created_at": _i(created).astype(np.int64),
            "updated_at": _i(np.where(paid, P["paid_at"], created)).astype(np.int64), "is_deleted": False,
            "custom_fields_values": cfs, "lead_id": P["deal_id"].to_numpy(), "account_id": aid}))
    B = D[D["apartment_id"] >= 0]
    if len(B):
        cfs = [json.dumps([
            {"field_id": CF["apt_price"], "field_name": "Цена", "field_code": "PRICE", "field_type": "price",
             "values": [{"value": str(int(pr))}]},
            {"field_id": CF["apt_project"], "field_name": "ЖК", "field_code": None, "field_type": "text",
             "values": [{"value": W.PROJECTS[p][1]}]},
            {"field_id": CF["apt_rooms"], "field_name": "Комнат", "field_code": None, "field_type": "numeric",
             "values": [{"value": str(r)}]},
            {"field_id": CF["apt_area"], "field_name": "Площадь, м²", "field_code": None, "field_type": "numeric",
             "values": [{"value": str(a)}]},
            {"field_id": CF["apt_floor"], "field_name": "Этаж", "field_code": None, "field_type": "numeric",
             "values": [{"value": str(f)}]}], ensure_ascii=False)
            for pr, p, r, a, f in zip(B["price"], B["project"], B["rooms"], B["area_m2"], B["floor"])]
        els.append(pd.DataFrame({
            "id": 90_000_000 + B["apartment_id"].to_numpy(), "catalog_id": apt_cat,
            "name": [f"{W.PROJECTS[p][1]}, корп. {b}, кв. {a % 900 + 1}" for p, b, a in
                     zip(B["project"], B["building"], B["apartment_id"])],
            "created_by": acc.admin_id, "updated_by": B["manager_id"].to_numpy(),
            "created_at": _i(B["created_at"] - 200 * 86400).astype(np.int64),
            "updated_at": _i(B["booked_at"]).astype(np.int64), "is_deleted": False,
            "custom_fields_values": cfs, "lead_id": B["lead_id"].to_numpy(), "account_id": aid}))
    if els:
        out["catalog_elements"] = pd.concat(els, ignore_index=True)
    return out
