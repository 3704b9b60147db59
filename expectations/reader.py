"""Read the canonical leads and deals (expectations.contract) from the warehouse's dbt
intermediate models, `intermediate.int_leads` and `intermediate.int_deals`.

Column names assumed (optional ones are used when present, else null):

int_leads: source_system, account, lead_id, created_at, modified_at, lead_title, first_name,
    [last_name], comments, [phones JSON list | phone], [emails JSON list | email], source_code,
    channel, manager_id, [manager_key], [contact_id], [amount | opportunity], status_id,
    [crm_junk_reason], [is_crm_junk]
int_lead_contact_points (when present: every phone and e-mail of the lead and of its contact,
    preferred over int_leads' phone / email): source_system, account, lead_id, kind, value, value_rank
int_deals: source_system, account, deal_id, lead_id, created_at, [contact_id], [closed_at],
    [won_at], [lost_at]
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow as pa


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> set[str]:
    rows = con.execute("select column_name from information_schema.columns where table_schema = ? "
                       "and table_name = ?", [schema, table]).fetchall()
    return {r[0] for r in rows}


def has_intermediate(con, schema: str = "intermediate") -> bool:
    return bool(_columns(con, schema, "int_leads"))


def points_lists_sql(schema: str = "intermediate", only: str | None = None) -> str:
    """Per lead, its phones and e-mails (int_lead_contact_points) as lists in value_rank order.
    (`list(... order by ...)` needs GBs at 1M leads: the ordered lists are built from max() per rank.)
    only: a relation of (source_system, account, lead_id) to restrict to (e.g. the changed leads)."""
    def ordered(kind: str) -> str:
        # ranks 1-3 by plain max() (nearly every lead has one phone), any further ones sorted
        head = ", ".join(f"max(value) filter (where kind = '{kind}' and value_rank = {i})" for i in (1, 2, 3))
        tail = (f"list_transform(list_sort(list({{'r': value_rank, 'v': value}}) "
                f"filter (where kind = '{kind}' and value_rank > 3)), x -> x.v)")
        return f"nullif(list_filter([{head}], x -> x is not null) || coalesce({tail}, []), [])"
    restrict = f" semi join {only} using (source_system, account, lead_id)" if only else ""
    return f"""select source_system, account, lead_id, {ordered('phone')} as phones, {ordered('email')} as emails
        from {schema}.int_lead_contact_points{restrict} group by all"""


def has_points(con: duckdb.DuckDBPyConnection, schema: str = "intermediate") -> bool:
    return _columns(con, schema, "int_lead_contact_points") >= {"kind", "value", "value_rank"}


def leads_sql(con: duckdb.DuckDBPyConnection, schema: str = "intermediate", lists_from: str | None = None) -> str:
    """SQL selecting the canonical lead columns (expectations.contract) from `{schema}.int_leads`,
    plus crm_junk, responsible_known and `_fp`, a fingerprint of everything the rules read
    (DuckDB's hash over the columns, computed in parallel inside the database).

    Phones and e-mails come from int_lead_contact_points when it exists (every value of the lead
    and of its contact); the fingerprint hashes those rows, so finding changed leads builds no
    lists. lists_from: a relation shaped like points_lists_sql() (e.g. a temp table of the changed
    leads' lists, which a large read needs: joining the aggregate inline needs far more memory)."""
    cols = _columns(con, schema, "int_leads")
    if not cols:
        raise LookupError(f"{schema}.int_leads not found: run dbt (dbt build --select intermediate) first")

    def opt(name: str, expr: str | None = None, typ: str = "varchar") -> str:
        return f"{expr or name}" if name in cols else f"cast(null as {typ})"

    name = ("trim(coalesce(first_name, '') || ' ' || coalesce(last_name, ''))" if "last_name" in cols
            else opt("first_name"))
    join, points_fp = "", "cast(0 as ubigint)"
    points = has_points(con, schema)
    if points:
        phone_col, phone, email_col, email = "phones", "cl.phones", "emails", "cl.emails"
        points_fp = "coalesce(cf.points_fp, 0)"
        join = f"""
        left join (
            select source_system, account, lead_id, bit_xor(hash(kind, value, value_rank)) as points_fp
            from {schema}.int_lead_contact_points group by all) cf
          using (source_system, account, lead_id)
        left join {lists_from or "(" + points_lists_sql(schema) + ")"} cl
          using (source_system, account, lead_id)"""
    else:
        if "phones" in cols:  # a JSON list of raw strings (or of {VALUE: ...})
            phone_col, phone = "phones", _json_list_sql("phones")
        else:
            phone_col, phone = "phone", opt("phone")
        if "emails" in cols:
            email_col, email = "emails", _json_list_sql("emails")
        else:
            email_col, email = "email", opt("email")
    amount = ("cast(amount as double)" if "amount" in cols else
              "cast(opportunity as double)" if "opportunity" in cols else "cast(null as double)")
    crm_junk = ("is_crm_junk" if "is_crm_junk" in cols else
                "(crm_junk_reason is not null or status_id = 'JUNK')" if "crm_junk_reason" in cols else
                "cast(null as boolean)")
    known = "manager_key is not null" if "manager_key" in cols else "true"
    resp_known = f"(manager_id is null or {known})" if "manager_id" in cols else "true"
    inner = f"""
        select source_system, account, lead_id, {opt('lead_title')} as title, {name} as name,
               {opt('comments')} as comments, {phone} as {phone_col}, {email} as {email_col},
               {opt('source_code')} as source_code, {opt('channel')} as channel,
               {opt('manager_id', typ='bigint')} as responsible_id, {opt('contact_id', typ='bigint')} as contact_id,
               {amount} as amount, created_at, {opt('modified_at', typ='timestamptz')} as updated_at,
               {crm_junk} as crm_junk, {resp_known} as responsible_known, {points_fp} as _points_fp
        from {schema}.int_leads{join}"""
    fp_cols = ", ".join(["title", "name", "comments"] + (["_points_fp"] if points else [phone_col, email_col])
                        + ["source_code", "channel", "responsible_id", "contact_id", "amount", "created_at",
                           "updated_at"])
    return f"select * exclude (_points_fp), cast(hash({fp_cols}) >> 1 as bigint) as _fp from ({inner})"


def _json_list_sql(col: str) -> str:
    """A JSON list of raw strings or of {VALUE: ...} objects as a DuckDB list of strings."""
    return (f"list_transform(cast(json({col}) as json[]), x -> coalesce(x->>'VALUE', x->>'value', "
            f"case when json_type(x) = 'OBJECT' then '' else x->>'$' end))")


def deals_sql(con: duckdb.DuckDBPyConnection, schema: str = "intermediate") -> str | None:
    cols = _columns(con, schema, "int_leads")
    dcols = _columns(con, schema, "int_deals")
    if not dcols:
        return None
    closed = ("d.closed_at" if "closed_at" in dcols else
              "coalesce(d.won_at, d.lost_at)" if {"won_at", "lost_at"} <= dcols else "cast(null as timestamptz)")
    lc = "l.contact_id" if "contact_id" in cols else "cast(null as bigint)"
    contact = f"coalesce(d.contact_id, {lc})" if "contact_id" in dcols else lc
    return f"""
        select d.source_system, d.account, d.deal_id, d.lead_id, {contact} as contact_id,
               d.created_at as opened_at, {closed} as closed_at
        from {schema}.int_deals d
        left join {schema}.int_leads l
          on l.source_system = d.source_system and l.account = d.account and l.lead_id = d.lead_id"""


def arrow_frame(con: duckdb.DuckDBPyConnection, sql: str, params=None) -> pd.DataFrame:
    """Run a query and return pandas over Arrow (string columns stay Arrow-backed, no objects)."""
    rel = con.execute(sql, params or [])
    t = rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.fetch_arrow_table()
    # list columns (phones, e-mails) stay Arrow lists: converting them makes a Python object per row
    return t.to_pandas(split_blocks=True, self_destruct=True,
                       types_mapper=lambda typ: pd.ArrowDtype(typ) if pa.types.is_list(typ) else None)


def read_leads(con: duckdb.DuckDBPyConnection, schema: str = "intermediate") -> tuple[pd.DataFrame, pd.DataFrame]:
    """All canonical leads and deals (through Arrow). The runner reads only what it needs:
    fingerprints of every lead, full columns of new or changed leads."""
    leads = arrow_frame(con, leads_sql(con, schema)).drop(columns=["_fp"])
    for c in ("phones", "emails"):
        if c in leads.columns:
            leads[c] = leads[c].map(lambda v: None if v is None else list(v))
    dsql = deals_sql(con, schema)
    return leads, (arrow_frame(con, dsql) if dsql else pd.DataFrame())

