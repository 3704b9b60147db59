"""The input contract of the junk engine: one canonical, CRM-agnostic row per lead.

Required columns:
    source_system  str        bitrix24 | amocrm
    account        str        portal / subdomain
    lead_id        int64      the CRM's native lead id (amoCRM: the lead/сделка id)
    created_at     timestamp  UTC (tz-aware or naive UTC)

Optional columns (missing ones are treated as null):
    title, name, comments    str       free text typed by the client, a form or a manager
    phone | phones           str | list[str]   raw phone values as the CRM shows them (any format)
    email | emails           str | list[str]
    source_code              str       CRM source id (Bitrix24 SOURCE_ID, amoCRM source id)
    channel                  str       mapped channel ('unknown'/'unmapped' when not mapped)
    responsible_id           int64     responsible manager (null = nobody)
    contact_id               int64     the client contact the CRM linked the lead to
    amount                   float     the lead's money field (RUB)
    updated_at               timestamp last modification (UTC)

Deals (optional second frame, for "repeat inquiry from a client with an open deal"):
    source_system, account, deal_id, lead_id (the lead it came from), contact_id,
    opened_at (UTC; when the deal part started), closed_at (UTC; won or lost, null = open)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

REQUIRED = ["source_system", "account", "lead_id", "created_at"]
TEXT = ["title", "name", "comments", "source_code", "channel"]
OPTIONAL = TEXT + ["phone", "phones", "email", "emails", "responsible_id", "contact_id", "amount", "updated_at"]
DEAL_COLUMNS = ["source_system", "account", "deal_id", "lead_id", "contact_id", "opened_at", "closed_at"]
KEY = ["source_system", "account", "lead_id"]


def _utc(s: pd.Series) -> pd.Series:
    s = pd.to_datetime(s, utc=True)
    return s


def conform_leads(df: pd.DataFrame) -> pd.DataFrame:
    """Check the required columns, add missing optional ones as nulls, normalise types."""
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise ValueError(f"leads frame lacks required columns {missing}; see expectations.contract")
    out = df.reset_index(drop=True).copy()
    for c in TEXT:
        if c not in out.columns:
            out[c] = None
    if "phone" not in out.columns and "phones" not in out.columns:
        out["phone"] = None
    if "email" not in out.columns and "emails" not in out.columns:
        out["email"] = None
    for c in ("responsible_id", "contact_id"):
        out[c] = pd.array(out[c], dtype="Int64") if c in out.columns else pd.array([pd.NA] * len(out), dtype="Int64")
    out["amount"] = pd.to_numeric(out["amount"], errors="coerce") if "amount" in out.columns else np.nan
    out["lead_id"] = out["lead_id"].astype(np.int64)
    out["created_at"] = _utc(out["created_at"])
    out["updated_at"] = _utc(out["updated_at"]) if "updated_at" in out.columns else pd.NaT
    out["updated_at"] = pd.to_datetime(out["updated_at"], utc=True)
    return out


def conform_deals(df: pd.DataFrame | None) -> pd.DataFrame:
    if df is None or not len(df):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in DEAL_COLUMNS})
    out = df.reset_index(drop=True).copy()
    for c in DEAL_COLUMNS:
        if c not in out.columns:
            out[c] = None
    for c in ("deal_id", "lead_id", "contact_id"):
        out[c] = pd.array(out[c], dtype="Int64")
    out["opened_at"] = _utc(out["opened_at"])
    out["closed_at"] = _utc(out["closed_at"])
    return out[DEAL_COLUMNS]
