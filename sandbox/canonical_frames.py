"""Canonical leads and deals (expectations.contract) read straight from a sandbox's CRM state
files — what the two CRMs' APIs would return, not the generator's truth.

For tests and benchmarks of junk detection only, standing in for the dbt intermediate models when no warehouse has
been built; production reads the warehouse with `expectations.reader.read_leads`.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from sandbox.state import load_manifest

_B24_LEADS = """
select 'bitrix24' as source_system, ? as account, ID as lead_id, TITLE as title,
       trim(coalesce(NAME, '') || ' ' || coalesce(LAST_NAME, '')) as name, COMMENTS as comments,
       PHONE ->> '$[0].VALUE' as phone, EMAIL ->> '$[0].VALUE' as email, SOURCE_ID as source_code,
       SOURCE_ID as channel, ASSIGNED_BY_ID as responsible_id, CONTACT_ID as contact_id,
       cast(OPPORTUNITY as double) as amount, DATE_CREATE as created_at, DATE_MODIFY as updated_at,
       STATUS_ID = 'JUNK' as crm_junk
from crm_lead"""
_B24_DEALS = """
select 'bitrix24' as source_system, ? as account, d.ID as deal_id, d.LEAD_ID as lead_id,
       coalesce(d.CONTACT_ID, l.CONTACT_ID) as contact_id, d.DATE_CREATE as opened_at,
       case when d.STAGE_SEMANTIC_ID in ('S', 'F') then d.CLOSEDATE end as closed_at
from crm_deal d left join crm_lead l on l.ID = d.LEAD_ID"""
_AMO_LEADS = """
with c as (
    select id as contact_id,
           custom_fields_values ->> '$[0].values[0].value' as phone,
           case when custom_fields_values ->> '$[1].field_code' = 'EMAIL'
                then custom_fields_values ->> '$[1].values[0].value' end as email
    from contacts where not is_deleted
)
select 'amocrm' as source_system, ? as account, l.id as lead_id, l.name as title, l.name as name,
       cast(null as varchar) as comments, c.phone, c.email, cast(l.source_id as varchar) as source_code,
       cast(l.source_id as varchar) as channel, l.responsible_user_id as responsible_id,
       cast(l.contacts -> '$[0].id' as bigint) as contact_id, cast(l.price as double) as amount,
       to_timestamp(l.created_at) as created_at, to_timestamp(l.updated_at) as updated_at,
       coalesce(l.status_id = 143 and l.loss_reason_id between 1000 and 1099, false) as crm_junk
from leads l left join c on c.contact_id = cast(l.contacts -> '$[0].id' as bigint)
where not l.is_deleted"""
# The deal part of an amoCRM lead starts at its first status of the deal stages (status ids end in
# 04..09 within each pipeline, see sandbox/generator/render_amocrm.py) or at "won" (142).
_AMO_DEALS = """
with ev as (
    select entity_id, min(created_at) as opened
    from events
    where type = 'lead_status_changed'
      and (cast(value_after -> '$[0].lead_status.id' as bigint) % 100 between 4 and 9
           or cast(value_after -> '$[0].lead_status.id' as bigint) = 142)
    group by 1
)
select 'amocrm' as source_system, ? as account, l.id as deal_id, l.id as lead_id,
       cast(l.contacts -> '$[0].id' as bigint) as contact_id, to_timestamp(ev.opened) as opened_at,
       case when l.status_id in (142, 143) then to_timestamp(l.closed_at) end as closed_at
from leads l join ev on ev.entity_id = l.id
where not l.is_deleted"""


def sandbox_frames(data_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(leads, deals) of every account of a generated sandbox, in the contract's shape."""
    man = load_manifest(data_dir)
    leads, deals = [], []
    for acc in man["accounts"]:
        con = duckdb.connect(str(Path(data_dir) / acc["file"]), read_only=True)
        try:
            con.execute("SET TimeZone='UTC'")
            ql, qd = (_B24_LEADS, _B24_DEALS) if acc["system"] == "bitrix24" else (_AMO_LEADS, _AMO_DEALS)
            leads.append(con.execute(ql, [acc["account"]]).df())
            deals.append(con.execute(qd, [acc["account"]]).df())
        finally:
            con.close()
    return pd.concat(leads, ignore_index=True), pd.concat(deals, ignore_index=True)


def truth_leads(data_dir: str | Path) -> pd.DataFrame:
    """Generator labels (for benchmarks/tests): source_system, account, lead_id, junk_kind,
    duplicate_of_lead_id, is_deleted."""
    return pd.read_parquet(Path(data_dir) / "truth" / "leads.parquet",
                           columns=["source_system", "account", "lead_id", "junk_kind", "duplicate_of_lead_id",
                                    "is_deleted", "crm_junk"])


def write_intermediate(con, leads: pd.DataFrame, deals: pd.DataFrame, schema: str = "intermediate") -> None:
    """Write the frames as `intermediate.int_leads` / `int_deals` with the column names the dbt
    models use (what expectations.reader assumes), for tests and benchmarks."""
    con.execute(f"create schema if not exists {schema}")
    leads = leads.assign(**{c: leads[c].astype(object).where(leads[c].notna(), None)
                            for c in ("phone", "email") if c in leads})  # NaN is not a value
    con.register("_sf_leads", leads)
    con.register("_sf_deals", deals)
    con.execute(f"""create or replace table {schema}.int_leads as select source_system, account, lead_id,
        title as lead_title, name as first_name, comments, phone, email, source_code, channel,
        responsible_id as manager_id, case when responsible_id is not null then source_system || ':' || account
        || ':' || responsible_id end as manager_key, contact_id, amount, crm_junk as is_crm_junk, created_at,
        updated_at as modified_at from _sf_leads""")
    # every phone / e-mail as dbt's int_lead_contact_points (the canonical frames carry one of each)
    con.execute(f"""create or replace table {schema}.int_lead_contact_points as
        select source_system, account, lead_id, kind, value, 'lead' as origin, 1 as value_rank from (
            select source_system, account, lead_id, 'phone' as kind, phone as value from _sf_leads
            union all select source_system, account, lead_id, 'email', email from _sf_leads)
        where nullif(trim(value), '') is not null""")
    con.execute(f"""create or replace table {schema}.int_deals as select source_system, account, deal_id, lead_id,
        contact_id, opened_at as created_at, closed_at from _sf_deals""")
    con.unregister("_sf_leads")
    con.unregister("_sf_deals")
