"""The same dbt project on PostgreSQL gives the same marts as on DuckDB, row by row."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pandas as pd
import pytest

from tests.dbt.conftest import copy_project, dbt_env, run_dbt
from tests.dbt.pg_harness import copy_raw
from tests.support.system import PostgresServer, find_pg_bindir, require

MARTS = ["dim_date", "dim_managers", "dim_departments", "dim_channels", "dim_projects", "dim_stages",
         "dim_payment_forms", "fct_lead_control_points", "fct_funnel", "fct_plan_vs_fact",
         "fct_manager_daily_activity", "fct_daily_targets", "fct_payment_forms", "fct_sales_channels",
         "fct_data_quality"]


@pytest.fixture(scope="module")
def postgres():
    bindir = find_pg_bindir()
    require("PostgreSQL server binaries", bindir and (os.geteuid() != 0 or shutil.which("runuser")))
    server = PostgresServer(bindir, shared_buffers="128MB", work_mem="64MB").start()
    yield server
    server.stop()


def _normalise(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for c in df.columns:
        if pd.api.types.is_datetime64_any_dtype(df[c]):
            df[c] = pd.to_datetime(df[c]).dt.tz_localize(None) if getattr(df[c].dt, "tz", None) else df[c]
        elif df[c].dtype == object:
            sample = df[c].dropna()
            if len(sample) and not isinstance(sample.iloc[0], str):
                try:
                    df[c] = pd.to_datetime(df[c]) if hasattr(sample.iloc[0], "year") else df[c].astype(float)
                except (TypeError, ValueError):
                    df[c] = df[c].astype(str)
    keys = [c for c in df.columns if not pd.api.types.is_float_dtype(df[c])]
    return df.sort_values(keys, kind="stable", na_position="first").reset_index(drop=True)


def test_postgres_marts_equal_duckdb(built, postgres, tmp_path):
    import psycopg2  # noqa: F401

    admin = postgres.connect()
    admin.cursor().execute("create database crm")
    admin.close()
    con = postgres.connect("crm")
    assert copy_raw(built.warehouse, con) > 10
    project = copy_project(tmp_path / "dbt_project")
    shutil.copy(built.project / "seeds" / "sales_plans.csv", project / "seeds" / "sales_plans.csv")
    run_dbt(project, ["build"], dbt_env(built.warehouse, **postgres.env("crm")))
    for mart in MARTS:
        duck = _normalise(built.query(f"select * from marts.{mart}"))
        cur = con.cursor()
        cur.execute(f"select * from marts.{mart}")
        pg = _normalise(pd.DataFrame(cur.fetchall(), columns=[d[0] for d in cur.description]))
        assert list(duck.columns) == list(pg.columns), mart
        assert len(duck) == len(pg), (mart, len(duck), len(pg))
        for c in duck.columns:
            a, b = duck[c], pg[c]
            if pd.api.types.is_float_dtype(a) or pd.api.types.is_float_dtype(b):
                a, b = a.astype(float), b.astype(float)
                ok = np.isclose(a, b, rtol=1e-9, atol=1e-9) | (a.isna() & b.isna())
            else:
                ok = (a.astype(object).where(a.notna(), None) == b.astype(object).where(b.notna(), None)) | (
                    a.isna() & b.isna())
            assert ok.all(), f"{mart}.{c}: {(~ok).sum()} rows differ, e.g. {a[~ok].head(3).tolist()} vs {b[~ok].head(3).tolist()}"

    # The incremental models' SQL on PostgreSQL (watermark, delete+insert, pre-hook deletes): a
    # tenth of the leads, deals, stage changes, activities and contacts re-landed unchanged must leave each
    # model with exactly the rows of the full build.
    incremental = ["stg_bitrix24__leads", "stg_bitrix24__deals", "stg_amocrm__leads", "stg_amocrm__lead_custom_field_values",
                   "stg_amocrm__lead_contact_links", "int_activities", "int_stage_transitions", "int_lead_contact_points",
                   "int_leads"]
    cur = con.cursor()
    for table in ("raw_bitrix24.leads", "raw_bitrix24.deals", "raw_bitrix24.lead_stage_history", "raw_bitrix24.activities",
                  "raw_amocrm.leads", "raw_amocrm.events", "raw_bitrix24.contacts", "raw_amocrm.contacts"):
        cur.execute(f"update {table} set _extracted_at = now() where right(cast(id as text), 1) = '0'")
    con.commit()
    proc = run_dbt(project, ["run", "--select", *incremental], dbt_env(built.warehouse, **postgres.env("crm")))
    compiled = project / "target" / "compiled" / "crm_sales_warehouse" / "models"
    for path in ("staging/bitrix24/stg_bitrix24__leads.sql", "intermediate/int_stage_transitions.sql",
                 "intermediate/int_leads.sql"):
        assert "extracted_at > cast(" in (compiled / path).read_text(), (path, proc.stdout[-2000:])  # the watermark
    assert "relanded_deals" in (compiled / "intermediate/int_activities.sql").read_text()  # deal re-links reach activities
    for model in incremental:
        schema = "staging" if model.startswith("stg_") else "intermediate"
        cur.execute(f"select count(*) from {schema}.{model}")
        assert cur.fetchone()[0] == built.query(f"select count(*) as n from {schema}.{model}")["n"][0], model
    con.close()
