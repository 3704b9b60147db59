"""Ground-truth aggregates computed in pandas with the marts' documented definitions."""

from __future__ import annotations

import pandas as pd

TZ = "Europe/Moscow"


def local_date(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s).dt.tz_convert(TZ).dt.tz_localize(None).dt.normalize()


def month(s: pd.Series) -> pd.Series:
    return local_date(s).dt.to_period("M").dt.to_timestamp()


def live_leads(built) -> pd.DataFrame:
    t = built.truth("leads")
    t = t[~t["is_deleted"]].copy()
    t["channel_crm"] = t["channel"].where(t["source_code"].notna(), "unknown")
    return t


def manager_key(df: pd.DataFrame, col: str = "manager_id") -> pd.Series:
    return df["source_system"] + ":" + df["account"] + ":" + df[col].astype("Int64").astype(str)
