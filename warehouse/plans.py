"""Load the sales plans file the head of sales keeps (CSV or XLSX) into the warehouse.

The file is validated by warehouse.dbt_config.read_plans (columns, scope types, metrics, numbers)
and replaces `plans.sales_plans` in one transaction; dbt's int_sales_plans reads it (falling back to
the `sales_plans` seed when it is absent). A bad file raises with the file and the problem named,
and the plans already loaded stay as they were.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb


def file_fingerprint(path: str | Path) -> str:
    """Content hash of the plans file: what the sensor compares to decide a reload."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_plans_into(warehouse: duckdb.DuckDBPyConnection, src: str | Path) -> int:
    from warehouse.dbt_config import read_plans

    plans = read_plans(src)  # raises ValueError naming the file and the problem
    plans["period_start"] = plans["period_start"].astype("datetime64[ns]").dt.date
    con = warehouse
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS plans")
        con.execute("CREATE OR REPLACE TABLE plans.sales_plans (period_start DATE, scope_type VARCHAR, "
                    "scope_id VARCHAR, scope_name VARCHAR, metric VARCHAR, target DOUBLE)")
        con.register("plans_df", plans)
        con.execute("INSERT INTO plans.sales_plans SELECT period_start, scope_type, scope_id, scope_name, metric, "
                    "target FROM plans_df")
        con.unregister("plans_df")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return len(plans)
