"""The plans file: loaded into the warehouse (bad files refused, loaded plans kept), and the
sensor that asks for a refresh exactly when the file's content changes."""

from __future__ import annotations

import shutil

import dagster as dg
import duckdb
import pytest

from orchestration.defs.plans import plans_file_changed, sales_plans
from orchestration.defs.resources import CrmwhResource

PLANS = "period_start,scope_type,scope_id,scope_name,metric,target\n" \
        "2026-11-01,company,company,Компания,units,40\n2026-11-01,branch,Москва,Москва,revenue,250000000\n"


def test_sensor_fires_once_per_content_change(tmp_path, monkeypatch):
    plans = tmp_path / "plans.csv"
    monkeypatch.delenv("CRMWH_PLANS_FILE", raising=False)
    assert isinstance(plans_file_changed(dg.build_sensor_context()), dg.SkipReason)

    plans.write_text(PLANS, encoding="utf-8")
    monkeypatch.setenv("CRMWH_PLANS_FILE", str(plans))
    first = plans_file_changed(dg.build_sensor_context())
    assert isinstance(first, dg.RunRequest)
    same = plans_file_changed(dg.build_sensor_context(cursor=first.run_key))
    assert isinstance(same, dg.SkipReason)  # touched or re-saved without changes: nothing to do
    plans.write_text(PLANS.replace(",40\n", ",45\n"), encoding="utf-8")
    changed = plans_file_changed(dg.build_sensor_context(cursor=first.run_key))
    assert isinstance(changed, dg.RunRequest) and changed.run_key != first.run_key


def test_plans_asset_loads_the_file_and_refuses_a_bad_one(tmp_path, monkeypatch):
    wh = tmp_path / "wh.duckdb"
    resource = CrmwhResource(warehouse_path=str(wh), accounts_file=str(tmp_path / "none.yaml"))
    good = tmp_path / "plans.csv"
    good.write_text(PLANS, encoding="utf-8")
    monkeypatch.setenv("CRMWH_PLANS_FILE", str(good))
    assert dg.materialize([sales_plans], resources={"crmwh": resource}).success
    with duckdb.connect(str(wh), read_only=True) as con:
        assert con.execute("select scope_type, metric, target from plans.sales_plans order by target").fetchall() == [
            ("company", "units", 40.0), ("branch", "revenue", 250000000.0)]

    bad = tmp_path / "bad.csv"
    bad.write_text(PLANS.replace("units", "happiness"), encoding="utf-8")
    monkeypatch.setenv("CRMWH_PLANS_FILE", str(bad))
    result = dg.materialize([sales_plans], resources={"crmwh": resource}, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "bad.csv" in str(failure.event_specific_data) and "happiness" in str(failure.event_specific_data)
    with duckdb.connect(str(wh), read_only=True) as con:  # the plans loaded before are intact
        assert con.execute("select count(*) from plans.sales_plans").fetchone()[0] == 2


def test_generated_xlsx_plans_load(tmp_path, monkeypatch):
    from sandbox.generator import generate

    generate(tmp_path / "crm", seed=1, leads=1000, as_of="2026-11-01")
    monkeypatch.setenv("CRMWH_PLANS_FILE", str(tmp_path / "crm" / "truth" / "plans.xlsx"))
    resource = CrmwhResource(warehouse_path=str(tmp_path / "wh.duckdb"), accounts_file=str(tmp_path / "none.yaml"))
    result = dg.materialize([sales_plans], resources={"crmwh": resource})
    assert result.success
    (mat,) = [e.event_specific_data.materialization for e in result.get_asset_materialization_events()]
    rows = mat.metadata["rows"].value
    import pandas as pd

    assert rows == len(pd.read_csv(tmp_path / "crm" / "truth" / "plans.csv"))
