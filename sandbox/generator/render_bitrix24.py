"""Render the simulated world and lead chunks as Bitrix24 state tables (sandbox/state.py).

Conventions an emulator or extractor relies on (also listed in the generator's README section of
the report):

* Lead statuses (crm_status ENTITY_ID=STATUS): NEW, IN_PROCESS (taken), PROCESSED (classified as
  target), CONVERTED (S, deal created), JUNK (F, CRM-marked junk; reason in UF_CRM_JUNK_REASON).
* Deal stages, category 0 "Продажи" and category 1 "Агентства" (ids prefixed "C1:"):
  NEW, PREPARATION (подбор), UC_SHOWPLAN (показ назначен), UC_SHOWN (показ проведён),
  UC_BOOKED (бронь), UC_CONTRACT (договор), FINAL_INVOICE (ожидание оплаты; category 0 only),
  WON (S, first payment received), LOSE (F, reason in UF_CRM_LOSS_REASON).
* Activities: calls TYPE_ID 2 / VOXIMPLANT_CALL; meetings TYPE_ID 1 / CRM_MEETING, showings are
  meetings whose SUBJECT starts with "Показ"; tasks TYPE_ID 6 / CRM_TODO.
* Payments: one smart invoice (entityTypeId 31, category 2, stages DT31_2:N / DT31_2:P) per
  scheduled payment, parentId2 = deal; each received payment is a sale_payment row (paid=true)
  with entityTypeId 31, entityId = the invoice, orderId = the deal.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from sandbox.generator import world as W
from sandbox.generator.simulate import HOUR, SimChunk

LEAD_STATUSES = [  # STATUS_ID, NAME, SORT, SEMANTICS
    ("NEW", "Не обработан", 10, None), ("IN_PROCESS", "В работе", 20, None),
    ("PROCESSED", "Квалифицирован", 30, None), ("CONVERTED", "Сделка создана", 40, "S"),
    ("JUNK", "Некачественный лид", 50, "F"),
]
DEAL_STAGES = [  # STATUS_ID, NAME, SORT, SEMANTICS, present in category 1
    ("NEW", "Новая сделка", 10, None, True), ("PREPARATION", "Подбор квартиры", 20, None, True),
    ("UC_SHOWPLAN", "Показ назначен", 30, None, True), ("UC_SHOWN", "Показ проведён", 40, None, True),
    ("UC_BOOKED", "Бронь", 50, None, True), ("UC_CONTRACT", "Договор (ДДУ) подписан", 60, None, True),
    ("FINAL_INVOICE", "Ожидание оплаты", 70, None, False), ("WON", "Сделка успешна", 80, "S", True),
    ("LOSE", "Сделка провалена", 90, "F", True),
]
INVOICE_STAGES = [("DT31_2:N", "Новый", 10, None), ("DT31_2:S", "Отправлен клиенту", 20, None),
                  ("DT31_2:P", "Оплачен", 30, "S"), ("DT31_2:D", "Отклонён", 40, "F")]
AGENCIES = ["АН «Этажи»", "АН «Инком-Недвижимость»", "АН «Миэль»", "АН «Самолёт Плюс»", "Частный брокер"]

# Enumeration ids of the UF fields (stable so tests and mappings can name them).
UF_PAYMENT_FORM = {i: 101 + i for i in range(len(W.PAYMENT_FORMS))}
UF_PROJECT = {i: 201 + i for i in range(len(W.PROJECTS))}
UF_JUNK_REASON = {i: 301 + i for i in range(len(W.REJECT_REASONS))}
UF_LEAD_CLASS = {"target": 401, "nontarget": 402}
UF_LOSS_REASON = {i: 501 + i for i in range(len(W.DEAL_LOSS_REASONS))}

USERFIELDS = [  # ENTITY_ID, FIELD_NAME, USER_TYPE_ID, label ru, label en, enum list, SQL type
    ("CRM_LEAD", "UF_CRM_JUNK_REASON", "enumeration", "Причина брака", "Junk reason",
     [(UF_JUNK_REASON[i], r) for i, r in enumerate(W.REJECT_REASONS)], "BIGINT"),
    ("CRM_LEAD", "UF_CRM_LEAD_CLASS", "enumeration", "Квалификация", "Lead classification",
     [(401, "Целевой"), (402, "Нецелевой")], "BIGINT"),
    ("CRM_LEAD", "UF_CRM_PROJECT", "enumeration", "ЖК", "Project",
     [(UF_PROJECT[i], p[1]) for i, p in enumerate(W.PROJECTS)], "BIGINT"),
    ("CRM_DEAL", "UF_CRM_PAYMENT_FORM", "enumeration", "Форма оплаты", "Payment form",
     [(UF_PAYMENT_FORM[i], f) for i, f in enumerate(W.PAYMENT_FORM_RU)], "BIGINT"),
    ("CRM_DEAL", "UF_CRM_PROJECT", "enumeration", "ЖК", "Project",
     [(UF_PROJECT[i], p[1]) for i, p in enumerate(W.PROJECTS)], "BIGINT"),
    ("CRM_DEAL", "UF_CRM_CONTRACT_DATE", "date", "Дата договора", "Contract date", None, "DATE"),
    ("CRM_DEAL", "UF_CRM_AREA", "double", "Площадь, м²", "Area, m2", None, "DOUBLE"),
    ("CRM_DEAL", "UF_CRM_LOSS_REASON", "enumeration", "Причина проигрыша", "Loss reason",
     [(UF_LOSS_REASON[i], r) for i, r in enumerate(W.DEAL_LOSS_REASONS)], "BIGINT"),
]
PAY_SYSTEMS = {0: (3, "Эскроу-счёт (ипотека)"), 1: (2, "Банковский перевод"), 2: (2, "Банковский перевод"),
               3: (4, "Материнский капитал (СФР)"), 4: (2, "Банковский перевод")}


def ts(a) -> pd.Series:
    """float unix seconds (NaN = NULL) -> tz-aware UTC timestamps, whole seconds."""
    return pd.to_datetime(np.floor(np.asarray(a, dtype=float)), unit="s", utc=True)


def nint(a) -> pd.array:
    """Nullable BIGINT from an int array where -1 means NULL."""
    a = np.asarray(a, dtype=np.int64)
    out = pd.array(a, dtype="Int64")
    out[a < 0] = pd.NA
    return out


def static_tables(acc: W.Account, as_of: float, t_start: float) -> dict[str, pd.DataFrame]:
    mg, dp = acc.managers, acc.departments
    users = pd.DataFrame({
        "ID": np.concatenate([[acc.admin_id], mg["manager_id"]]),
        "ACTIVE": np.concatenate([[True], ~(mg["fired_at"] <= as_of)]),
        "NAME": ["Администратор"] + list(mg["first"]),
        "LAST_NAME": ["Портала"] + list(mg["last"]),
        "SECOND_NAME": [None] + list(mg["second"]),
        "EMAIL": [f"admin@{acc.account}.example"] + [f"user{u}@{acc.account}.example" for u in mg["manager_id"]],
        "WORK_POSITION": ["Администратор CRM"] + list(mg["position"]),
        "PERSONAL_MOBILE": [None] + [f"+7916{u % 10_000_000:07d}" for u in mg["manager_id"]],
        "UF_DEPARTMENT": ["[1]"] + [f"[{d}]" for d in mg["dept_id"]],
        "USER_TYPE": "employee",
        "DATE_REGISTER": ts(np.concatenate([[t_start - 2000 * 86400], mg["hired_at"]])),
        "LAST_LOGIN": ts(np.concatenate([[as_of - 3600], np.fmin(mg["fired_at"], as_of - 7200)])),
        "IS_ONLINE": False,
    })
    depts = pd.DataFrame({
        "ID": np.concatenate([[1], dp["dept_id"]]),
        "NAME": ["Компания «Новострой»"] + list(dp["name"]),
        "SORT": 500, "PARENT": pd.array([None] + [1 if pd.isna(p) else int(p) for p in dp["parent"]],
                                        dtype="Int64"),
        "UF_HEAD": np.concatenate([[acc.admin_id], dp["head_id"].fillna(acc.admin_id).astype(np.int64)]),
    })
    # Branch departments are headed by the admin; sales departments by their first manager.
    st = []

    def add(entity, sid, name, sort, sem, cat=None):
        st.append((len(st) + 1, entity, sid, name, name, sort, sid in ("NEW", "CONVERTED", "JUNK", "WON", "LOSE"),
                   cat, "#39A8EF" if sem is None else ("#7BD500" if sem == "S" else "#FF5752"), sem))

    for sid, name, sort, sem in LEAD_STATUSES:
        add("STATUS", sid, name, sort, sem)
    for i, key in enumerate(W.CH_KEY):
        add("SOURCE", W.CH_B24[i], W.CH_NAME[i], 10 * (i + 1), None)
    for sid, name, sort, sem, _c1 in DEAL_STAGES:
        add("DEAL_STAGE", sid, name, sort, sem, 0)
    for sid, name, sort, sem, c1 in DEAL_STAGES:
        if c1:
            add("DEAL_STAGE_1", "C1:" + sid, name, sort, sem, 1)
    add("DEAL_TYPE", "SALE", "Продажа квартиры", 10, None)
    add("DEAL_TYPE", "UC_PARKING", "Машиноместо", 20, None)
    for sid, name, sort, sem in INVOICE_STAGES:
        add("SMART_INVOICE_STAGE_2", sid, name, sort, sem, 2)
    status = pd.DataFrame(st, columns=["ID", "ENTITY_ID", "STATUS_ID", "NAME", "NAME_INIT", "SORT", "SYSTEM",
                                       "CATEGORY_ID", "COLOR", "SEMANTICS"])
    status["CATEGORY_ID"] = pd.array(status["CATEGORY_ID"], dtype="Int64")
    category = pd.DataFrame({"id": [0, 1, 2], "entityTypeId": [2, 2, 31],
                             "name": ["Продажи", "Агентства", "Счета"], "sort": [100, 200, 100],
                             "isDefault": [True, False, True]})
    uf = []
    for i, (ent, name, typ, ru, en, lst, _sql) in enumerate(USERFIELDS):
        uf.append((i + 1, ent, name, typ, name, 100 + 10 * i, False, False,
                   json.dumps({"DISPLAY": "LIST"} if typ == "enumeration" else {}),
                   json.dumps({"ru": ru, "en": en}, ensure_ascii=False),
                   None if lst is None else json.dumps(
                       [{"ID": str(k), "VALUE": v, "SORT": str(10 * (j + 1)), "DEF": "N"}
                        for j, (k, v) in enumerate(lst)], ensure_ascii=False)))
    userfield = pd.DataFrame(uf, columns=["ID", "ENTITY_ID", "FIELD_NAME", "USER_TYPE_ID", "XML_ID", "SORT",
                                          "MULTIPLE", "MANDATORY", "SETTINGS", "EDIT_FORM_LABEL", "LIST"])
    company = pd.DataFrame({
        "ID": np.arange(1, len(AGENCIES) + 1), "TITLE": AGENCIES, "COMPANY_TYPE": "PARTNER",
        "INDUSTRY": "REAL_ESTATE", "ASSIGNED_BY_ID": acc.admin_id, "CREATED_BY_ID": acc.admin_id,
        "MODIFY_BY_ID": acc.admin_id, "DATE_CREATE": ts(np.full(len(AGENCIES), t_start - 400 * 86400)),
        "DATE_MODIFY": ts(np.full(len(AGENCIES), t_start - 300 * 86400)), "OPENED": True,
        "PHONE": [f'[{{"ID":"{90000 + i}","VALUE_TYPE":"WORK","VALUE":"+7495{1000000 + i * 7919}","TYPE_ID":"PHONE"}}]'
                  for i in range(len(AGENCIES))],
        "EMAIL": None,
    })
    return {"b_user": users, "b_department": depts, "crm_status": status, "crm_category": category,
            "crm_userfield": userfield, "crm_company": company}


def add_userfield_columns(con) -> None:
    """One UF_CRM_* column per crm_userfield row (the emulator discovers them with DESCRIBE)."""
    for ent, name, *_rest, sql in USERFIELDS:
        table = "crm_lead" if ent == "CRM_LEAD" else "crm_deal"
        con.execute(f'ALTER TABLE {table} ADD COLUMN IF NOT EXISTS "{name}" {sql}')


def _multifield(ids_start: int, values, vtypes, type_id: str) -> tuple[list, int]:
    out = []
    k = ids_start
    for v, t in zip(values, vtypes):
        if v is None or (isinstance(v, float) and v != v):  # missing (pandas gives NaN): no multifield at all
            out.append(None)
        else:
            out.append(f'[{{"ID":"{k}","VALUE_TYPE":"{t}","VALUE":{json.dumps(v, ensure_ascii=False, allow_nan=False)},'
                       f'"TYPE_ID":"{type_id}"}}]')
            k += 1
    return out, k


def _latest(*cols) -> np.ndarray:
    """Row-wise latest time, NaN where every column is NaN."""
    out = np.asarray(cols[0], dtype=float).copy()
    for c in cols[1:]:
        out = np.fmax(out, np.asarray(c, dtype=float))
    return out


def chunk_tables(ch: SimChunk, rng: np.random.Generator, ids: dict, as_of: float) -> dict[str, pd.DataFrame]:
    acc = ch.account
    L = ch.leads
    D = ch.deals
    keep = ~L["is_deleted"].to_numpy()  # Bitrix24 removes deleted leads outright
    L = L[keep].reset_index(drop=True)
    n = len(L)
    contact_of_lead = D.set_index("lead_id")["contact_id"]
    # A repeat inquiry gets linked to the client's existing contact (the CRM found the match).
    contact = L["lead_id"].map(contact_of_lead)
    rep = L["kind"] == W.J_REPEAT
    contact[rep] = L.loc[rep, "dup_of_lead_id"].map(contact_of_lead)

    status = np.select(
        [L["converted_at"].notna(), L["rejected_at"].notna(), L["classified_at"].notna(), L["taken_at"].notna()],
        ["CONVERTED", "JUNK", "PROCESSED", "IN_PROCESS"], "NEW")
    sem = np.select([status == "CONVERTED", status == "JUNK"], ["S", "F"], "P")
    modify = _latest(L["created_at"], L["taken_at"], L["classified_at"], L["rejected_at"], L["converted_at"])
    moved = _latest(L["taken_at"], L["classified_at"], L["rejected_at"], L["converted_at"])
    mgr = L["manager_id"].to_numpy()
    manual = L["channel"].isin([W.CH_KEY.tolist().index(k) for k in ("call", "walk_in", "referral")]).to_numpy()
    created_by = np.where(manual & (mgr >= 0), mgr, acc.admin_id)
    phone_json, k = _multifield(ids["multifield"], L["phone_raw"],
                                rng.choice(["MOBILE", "WORK", "OTHER"], n, p=[0.7, 0.2, 0.1]), "PHONE")
    email_json, k = _multifield(k, L["email"], np.full(n, "WORK"), "EMAIL")
    ids["multifield"] = k
    src = np.where(L["missing_source"], None, W.CH_B24[L["channel"]])
    title = np.where(L["kind"] == W.J_TEST, "test: " + L["first"].astype(str),
                     W.CH_NAME[L["channel"]] + ": " + L["first"].astype(str))
    lclass = np.select([L["converted_at"].notna() | (L["classified_at"].notna() & ~L["nontarget"]),
                        L["classified_at"].notna() & L["nontarget"]], [401, 402], -1)
    has_project = ~L["kind"].isin([W.J_SPAM, W.J_BOT, W.J_TEST, W.J_INVALID]).to_numpy()
    lead = pd.DataFrame({
        "ID": L["lead_id"], "TITLE": title, "NAME": L["first"], "SECOND_NAME": L["second"],
        "LAST_NAME": L["last"], "STATUS_ID": status, "STATUS_SEMANTIC_ID": sem, "STATUS_DESCRIPTION": None,
        "SOURCE_ID": src, "SOURCE_DESCRIPTION": None,
        "ASSIGNED_BY_ID": nint(mgr), "CREATED_BY_ID": created_by,
        "MODIFY_BY_ID": np.where(mgr >= 0, mgr, acc.admin_id), "MOVED_BY_ID": np.where(mgr >= 0, mgr, acc.admin_id),
        "DATE_CREATE": ts(L["created_at"]), "DATE_MODIFY": ts(modify), "MOVED_TIME": ts(np.where(
            np.isnan(moved), L["created_at"], moved)),
        "DATE_CLOSED": ts(np.fmin(L["rejected_at"], L["converted_at"])), "OPPORTUNITY": 0.0, "CURRENCY_ID": "RUB",
        "COMMENTS": L["comments"], "CONTACT_ID": pd.array(contact, dtype="Int64"), "COMPANY_ID": None,
        "IS_RETURN_CUSTOMER": rep.to_numpy(), "OPENED": True,
        "UTM_SOURCE": L["utm_source"], "UTM_MEDIUM": L["utm_medium"], "UTM_CAMPAIGN": L["utm_campaign"],
        "UTM_CONTENT": L["utm_content"], "UTM_TERM": L["utm_term"], "PHONE": phone_json, "EMAIL": email_json,
        "UF_CRM_JUNK_REASON": nint(np.where(L["reject_reason"] >= 0, 301 + L["reject_reason"], -1)),
        "UF_CRM_LEAD_CLASS": nint(lclass),
        "UF_CRM_PROJECT": nint(np.where(has_project, 201 + L["project"], -1)),
    })

    # ------------------------------------------------------------------ stage history (leads)
    sh_parts = []
    for col, sid, typ in (("created_at", "NEW", 1), ("taken_at", "IN_PROCESS", 2), ("classified_at", "PROCESSED", 2),
                          ("converted_at", "CONVERTED", 3), ("rejected_at", "JUNK", 3)):
        m = L[col].notna()
        sh_parts.append(pd.DataFrame({"ENTITY_TYPE_ID": 1, "TYPE_ID": typ, "OWNER_ID": L.loc[m, "lead_id"],
                                      "CREATED_TIME": L.loc[m, col], "CATEGORY_ID": None, "STATUS_ID": sid,
                                      "STATUS_SEMANTIC_ID": {"CONVERTED": "S", "JUNK": "F"}.get(sid, "P"),
                                      "STAGE_ID": None, "STAGE_SEMANTIC_ID": None}))

    # ------------------------------------------------------------------ deals
    out = {"crm_lead": lead}
    if len(D):
        cat = np.where(D["channel"] == W.CH_AGENT, 1, 0)
        pref = np.where(cat == 1, "C1:", "")
        won = D["won_at"].notna().to_numpy()
        lost = D["lost_at"].notna().to_numpy() & ~won
        stage = np.select(
            [won, lost, D["invoice_at"].notna() & (cat == 0), D["contract_at"].notna(), D["booked_at"].notna(),
             D["shown_at"].notna(), D["show_created_at"].notna(), D["prep_at"].notna()],
            ["WON", "LOSE", "FINAL_INVOICE", "UC_CONTRACT", "UC_BOOKED", "UC_SHOWN", "UC_SHOWPLAN", "PREPARATION"],
            "NEW")
        dsem = np.select([won, lost], ["S", "F"], "P")
        LD = L.set_index("lead_id").loc[D["lead_id"]]
        dmod = _latest(D["created_at"], D["prep_at"], D["show_created_at"], D["shown_at"], D["booked_at"],
                       D["contract_at"], np.where(cat == 0, D["invoice_at"], np.nan), D["won_at"],
                       np.where(lost, D["lost_at"], np.nan))
        closed_at = np.where(won, D["won_at"], np.where(lost, D["lost_at"], np.nan))
        agency = np.where(cat == 1, (D["deal_id"].to_numpy() % len(AGENCIES)) + 1, -1)
        contract_date = ts(D["contract_at"]).tz_convert(W.MSK).tz_localize(None).normalize()
        deal = pd.DataFrame({
            "ID": D["deal_id"], "TITLE": "Квартира в " + pd.Series([W.PROJECTS[p][1] for p in D["project"]]) + ", "
            + LD["first"].astype(str).to_numpy() + " " + LD["last"].fillna("").astype(str).to_numpy(),
            "TYPE_ID": "SALE", "CATEGORY_ID": cat, "STAGE_ID": pref + stage, "STAGE_SEMANTIC_ID": dsem,
            "IS_NEW": stage == "NEW", "CLOSED": won | lost, "OPPORTUNITY": np.nan_to_num(D["price"].to_numpy()),
            "CURRENCY_ID": "RUB", "ASSIGNED_BY_ID": D["manager_id"], "CREATED_BY_ID": D["manager_id"],
            "MODIFY_BY_ID": D["manager_id"], "MOVED_BY_ID": D["manager_id"],
            "DATE_CREATE": ts(D["created_at"]), "DATE_MODIFY": ts(dmod),
            "MOVED_TIME": ts(dmod), "BEGINDATE": ts(D["created_at"]),
            "CLOSEDATE": ts(np.where(np.isnan(closed_at), D["created_at"] + 30 * 86400, closed_at)),
            "LEAD_ID": D["lead_id"], "CONTACT_ID": D["contact_id"], "COMPANY_ID": nint(agency),
            "SOURCE_ID": lead.set_index("ID").loc[D["lead_id"], "SOURCE_ID"].to_numpy(), "SOURCE_DESCRIPTION": None,
            "COMMENTS": None, "OPENED": True,
            "UTM_SOURCE": LD["utm_source"].to_numpy(), "UTM_MEDIUM": LD["utm_medium"].to_numpy(),
            "UTM_CAMPAIGN": LD["utm_campaign"].to_numpy(), "UTM_CONTENT": LD["utm_content"].to_numpy(),
            "UTM_TERM": LD["utm_term"].to_numpy(),
            "UF_CRM_PAYMENT_FORM": nint(np.where(D["payment_form"] >= 0, 101 + D["payment_form"], -1)),
            "UF_CRM_PROJECT": 201 + D["project"].to_numpy(),
            "UF_CRM_CONTRACT_DATE": contract_date.to_numpy(),
            "UF_CRM_AREA": D["area_m2"].to_numpy(),
            "UF_CRM_LOSS_REASON": nint(np.where(lost & (D["lost_reason"] >= 0), 501 + D["lost_reason"], -1)),
        })
        out["crm_deal"] = deal
        for col, sid, typ in (("created_at", "NEW", 1), ("prep_at", "PREPARATION", 2),
                              ("show_created_at", "UC_SHOWPLAN", 2), ("shown_at", "UC_SHOWN", 2),
                              ("booked_at", "UC_BOOKED", 2), ("contract_at", "UC_CONTRACT", 2),
                              ("invoice_at", "FINAL_INVOICE", 2), ("won_at", "WON", 3), ("lost_at", "LOSE", 3)):
            m = D[col].notna().to_numpy().copy()
            if sid == "FINAL_INVOICE":
                m &= cat == 0
            if sid == "LOSE":
                m &= ~won
            sh_parts.append(pd.DataFrame({
                "ENTITY_TYPE_ID": 2, "TYPE_ID": typ, "OWNER_ID": D.loc[m, "deal_id"], "CREATED_TIME": D.loc[m, col],
                "CATEGORY_ID": cat[m], "STATUS_ID": None, "STATUS_SEMANTIC_ID": None, "STAGE_ID": pref[m] + sid,
                "STAGE_SEMANTIC_ID": {"WON": "S", "LOSE": "F"}.get(sid, "P")}))
        # contacts of converted leads
        cph, k = _multifield(ids["multifield"], LD["phone_raw"], np.full(len(D), "MOBILE"), "PHONE")
        cem, k = _multifield(k, LD["email"], np.full(len(D), "HOME"), "EMAIL")
        ids["multifield"] = k
        out["crm_contact"] = pd.DataFrame({
            "ID": D["contact_id"], "NAME": LD["first"].to_numpy(), "SECOND_NAME": LD["second"].to_numpy(),
            "LAST_NAME": LD["last"].to_numpy(), "TYPE_ID": "CLIENT", "SOURCE_ID": deal["SOURCE_ID"].to_numpy(),
            "ASSIGNED_BY_ID": D["manager_id"], "CREATED_BY_ID": D["manager_id"], "MODIFY_BY_ID": D["manager_id"],
            "DATE_CREATE": ts(D["created_at"]), "DATE_MODIFY": ts(D["created_at"]), "OPENED": True,
            "COMPANY_ID": None, "LEAD_ID": D["lead_id"], "PHONE": cph, "EMAIL": cem})
        B = D[D["apartment_id"] >= 0]
        names = [f"{W.PROJECTS[p][1]}, корп. {b}, кв. {a % 900 + 1}, {'студия' if r == 0 else f'{r}-комн.'}, {s} м²"
                 for p, b, a, r, s in zip(B["project"], B["building"], B["apartment_id"], B["rooms"], B["area_m2"])]
        out["crm_product"] = pd.DataFrame({
            "ID": B["apartment_id"], "NAME": names, "SECTION_ID": B["project"] + 1, "PRICE": B["price"],
            "CURRENCY_ID": "RUB", "MEASURE": 796, "DATE_CREATE": ts(B["created_at"] - 200 * 86400),
            "TIMESTAMP_X": ts(B["booked_at"]), "PROPERTY_PROJECT": [W.PROJECTS[p][1] for p in B["project"]],
            "PROPERTY_BUILDING": "Корпус " + B["building"].astype(str), "PROPERTY_ROOMS": B["rooms"],
            "PROPERTY_AREA": B["area_m2"], "PROPERTY_FLOOR": B["floor"]})
        out["crm_productrow"] = pd.DataFrame({
            "ID": B["apartment_id"], "OWNER_ID": B["deal_id"], "OWNER_TYPE": "D", "PRODUCT_ID": B["apartment_id"],
            "PRODUCT_NAME": names, "PRICE": B["price"], "QUANTITY": 1.0, "DISCOUNT_SUM": 0.0, "TAX_RATE": None,
            "MEASURE_CODE": 796, "MEASURE_NAME": "шт", "SORT": 10})
        P = ch.payments
        if len(P):
            PD = D.set_index("deal_id").loc[P["deal_id"]]
            created = np.minimum(PD["contract_at"].to_numpy() + HOUR, as_of - 1)
            out["crm_invoice"] = pd.DataFrame({
                "id": P["payment_id"], "title": "Платёж " + (P["seq"] + 1).astype(str) + " по сделке "
                + P["deal_id"].astype(str), "categoryId": 2,
                "stageId": np.where(P["paid"], "DT31_2:P", "DT31_2:N"), "opportunity": P["amount"],
                "currencyId": "RUB", "assignedById": PD["manager_id"].to_numpy(),
                "createdBy": PD["manager_id"].to_numpy(), "updatedBy": PD["manager_id"].to_numpy(),
                "createdTime": ts(created), "updatedTime": ts(np.where(P["paid"], P["paid_at"], created)),
                "begindate": ts(created), "closedate": ts(P["due_at"]), "parentId2": P["deal_id"],
                "contactId": PD["contact_id"].to_numpy(), "companyId": None})
            Q = P[P["paid"]]
            QD = D.set_index("deal_id").loc[Q["deal_id"]]
            ps = np.array([PAY_SYSTEMS[f] for f in Q["payment_form"]], dtype=object).reshape(-1, 2)
            out["sale_payment"] = pd.DataFrame({
                "id": Q["payment_id"], "orderId": Q["deal_id"], "entityTypeId": 31, "entityId": Q["payment_id"],
                "accountNumber": Q["deal_id"].astype(str) + "/" + (Q["seq"] + 1).astype(str), "paid": True,
                "datePaid": ts(Q["paid_at"]), "dateBill": ts(np.minimum(QD["contract_at"].to_numpy() + HOUR, as_of - 1)),
                "empPaidId": QD["manager_id"].to_numpy(), "paySystemId": ps[:, 0].astype(np.int64),
                "paySystemName": ps[:, 1], "sum": Q["amount"], "currency": "RUB", "updatedTime": ts(Q["paid_at"])})

    sh = pd.concat(sh_parts, ignore_index=True)
    sh = sh.sort_values(["CREATED_TIME", "ENTITY_TYPE_ID", "OWNER_ID"], kind="stable")
    sh["ID"] = ids["stagehistory"] + np.arange(len(sh), dtype=np.int64)
    ids["stagehistory"] += len(sh)
    sh["CREATED_TIME"] = ts(sh["CREATED_TIME"])
    sh["CATEGORY_ID"] = pd.array(sh["CATEGORY_ID"], dtype="Int64")
    out["crm_stagehistory"] = sh

    A = ch.activities
    project_of_deal = D.set_index("deal_id")["project"] if len(D) else pd.Series(dtype=int)
    kind = A["kind"].to_numpy()
    is_deal = A["deal_id"].to_numpy() >= 0
    call_in = (kind == "call") & (A["lead_id"].map(L.set_index("lead_id")["channel"]) == W.CH_KEY.tolist().index(
        "call")).to_numpy() & ~is_deal
    proj_name = np.array([W.PROJECTS[p][1] for p in range(len(W.PROJECTS))])
    subj_proj = proj_name[A["deal_id"].map(project_of_deal).fillna(0).astype(int)]
    subject = np.select([kind == "call", kind == "showing", kind == "meeting"],
                        [np.where(call_in, "Входящий звонок", "Исходящий звонок"), "Показ квартиры, " + subj_proj,
                         "Встреча в офисе продаж"], "Подготовить подборку квартир")
    done = A["is_completed"].to_numpy()
    out["crm_activity"] = pd.DataFrame({
        "ID": A["activity_id"], "OWNER_TYPE_ID": np.where(is_deal, 2, 1),
        "OWNER_ID": np.where(is_deal, A["deal_id"], A["lead_id"]),
        "TYPE_ID": np.select([kind == "call", kind == "task"], [2, 6], 1),
        "PROVIDER_ID": np.select([kind == "call", kind == "task"], ["VOXIMPLANT_CALL", "CRM_TODO"], "CRM_MEETING"),
        "PROVIDER_TYPE_ID": np.select([kind == "call", kind == "task"], ["CALL", "TODO"], "MEETING"),
        "SUBJECT": subject, "DESCRIPTION": None,
        "START_TIME": ts(A["planned_at"]), "END_TIME": ts(A["planned_at"] + A["duration"]),
        "DEADLINE": ts(A["planned_at"]), "COMPLETED": done, "STATUS": np.where(done, 2, 1),
        "DIRECTION": np.select([call_in, kind == "call"], [1, 2], 0), "PRIORITY": 2,
        "RESPONSIBLE_ID": A["manager_id"], "AUTHOR_ID": A["manager_id"], "EDITOR_ID": A["manager_id"],
        "CREATED": ts(A["created_at"]),
        "LAST_UPDATED": ts(np.where(done, np.minimum(A["held_at"] + np.where(kind == "call", A["duration"], 3600),
                                                     as_of - 1), A["created_at"])),
    })
    return out
