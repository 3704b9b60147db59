"""Read the canonical leads and deals (expectations.contract) from the warehouse's dbt
intermediate models, `intermediate.int_leads` and `intermediate.int_deals`.

Column names assumed (optional ones are used when present, else null):

int_leads: source_system, account, lead_id, created_at, modified_at, lead_title, first_name,
    [last_name], comments, [phones JSON list | phone], [emails JSON list | email], source_code,
    channel, manager_id, [manager_key], [contact_id], [amount | opportunity], status_id,
    [crm_junk_reason], [is_crm_junk]
int_deals: source_system, account, deal_id, lead_id, created_at, [contact_id], [closed_at],
    [won_at], [lost_at]
"""

from __future__ import annotations

import duckdb
import pandas as pd


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> set[str]:
    rows = con.execute("select column_name from information_schema.columns where table_schema = ? "
                       "and table_name = ?", [schema, table]).fetchall()
    return {r[0] for r in rows}


def has_intermediate(con, schema: str = "intermediate") -> bool:
    return bool(_columns(con, schema, "int_leads"))


def read_leads(con: duckdb.DuckDBPyConnection, schema: str = "intermediate") -> tuple[pd.DataFrame, pd.DataFrame]:
    cols = _columns(con, schema, "int_leads")
    if not cols:
        raise LookupError(f"{schema}.int_leads not found: run dbt (dbt build --select intermediate) first")

    def opt(name: str, expr: str | None = None, typ: str = "varchar") -> str:
        return f"{expr or name}" if name in cols else f"cast(null as {typ})"

    name = ("trim(coalesce(first_name, '') || ' ' || coalesce(last_name, ''))" if "last_name" in cols
            else opt("first_name"))
    if "phones" in cols:
        phone = "phones"  # a JSON list of raw strings (or of {VALUE: ...})
    else:
        phone = opt("phone")
    email = "emails" if "emails" in cols else opt("email")
    amount = ("cast(amount as double)" if "amount" in cols else
              "cast(opportunity as double)" if "opportunity" in cols else "cast(null as double)")
    crm_junk = ("is_crm_junk" if "is_crm_junk" in cols else
                "(crm_junk_reason is not null or status_id = 'JUNK')" if "crm_junk_reason" in cols else
                "cast(null as boolean)")
    known = "manager_key is not null" if "manager_key" in cols else "true"
    sql = f"""
        select source_system, account, lead_id, {opt('lead_title')} as title, {name} as name,
               {opt('comments')} as comments, {phone} as {'phones' if 'phones' in cols else 'phone'},
               {email} as {'emails' if 'emails' in cols else 'email'}, {opt('source_code')} as source_code,
               {opt('channel')} as channel, {opt('manager_id', typ='bigint')} as responsible_id,
               {opt('contact_id', typ='bigint')} as contact_id, {amount} as amount, created_at,
               {opt('modified_at', typ='timestamptz')} as updated_at, {crm_junk} as crm_junk,
               (manager_id is null or {known}) as responsible_known
        from {schema}.int_leads"""
    if "manager_id" not in cols:
        sql = sql.replace("(manager_id is null or true)", "true")
    leads = con.execute(sql).df()
    for c in ("phones", "emails"):
        if c in leads.columns:
            leads[c] = leads[c].map(_json_list)
    dcols = _columns(con, schema, "int_deals")
    if not dcols:
        return leads, pd.DataFrame()
    closed = ("closed_at" if "closed_at" in dcols else
              "coalesce(won_at, lost_at)" if {"won_at", "lost_at"} <= dcols else "cast(null as timestamptz)")
    contact = "coalesce(d.contact_id, l.contact_id)" if "contact_id" in dcols else "l.contact_id"
    lc = "l.contact_id" if "contact_id" in cols else "cast(null as bigint)"
    contact = contact.replace("l.contact_id", lc)
    deals = con.execute(f"""
        select d.source_system, d.account, d.deal_id, d.lead_id, {contact} as contact_id,
               d.created_at as opened_at, {closed.replace('closed_at', 'd.closed_at') if closed == 'closed_at'
                                           else closed} as closed_at
        from {schema}.int_deals d
        left join {schema}.int_leads l
          on l.source_system = d.source_system and l.account = d.account and l.lead_id = d.lead_id""").df()
    return leads, deals


def _json_list(v):
    import json

    if v is None or (isinstance(v, float) and v != v):
        return None
    items = json.loads(v) if isinstance(v, str) else v
    if not isinstance(items, list):
        items = [items]
    return [str(i.get("VALUE", i.get("value", "")) if isinstance(i, dict) else i) for i in items]
