"""The sales plans file in Dagster: an asset that loads it, and a sensor that notices it changed.

The head of sales keeps the plans in a CSV or XLSX file (CRMWH_PLANS_FILE). `plans/sales_plans`
loads it into the warehouse (dbt source `plans.sales_plans`, so lineage continues into
int_sales_plans → fct_plan_vs_fact / fct_daily_targets → publish). The sensor compares the file's
content hash with the last one it acted on and, when it differs, runs `plans_refresh`: the plans
and everything downstream of them — nothing else is extracted or rebuilt.
"""

# No `from __future__ import annotations`: Dagster inspects the asset function's annotations.

import os
from pathlib import Path

import dagster as dg

from orchestration.defs.extraction import WAREHOUSE_POOL
from orchestration.defs.resources import CrmwhResource

PLANS = dg.AssetKey(["plans", "sales_plans"])
PLANS_ENV = "CRMWH_PLANS_FILE"


@dg.asset(key=PLANS, group_name="config", pool=WAREHOUSE_POOL, kinds={"python", "duckdb"})
def sales_plans(context: dg.AssetExecutionContext, crmwh: CrmwhResource) -> dg.MaterializeResult:
    """Sales plans (план продаж) from the head of sales' file (CRMWH_PLANS_FILE, CSV or XLSX)."""
    from warehouse.landing import Warehouse
    from warehouse.plans import file_fingerprint, load_plans_into

    src = os.environ.get(PLANS_ENV)
    if not src:
        context.log.info(f"{PLANS_ENV} is not set: the plans come from the sales_plans seed")
        return dg.MaterializeResult(metadata={"source": "seed (CRMWH_PLANS_FILE not set)"})
    path = Path(src)
    if not path.is_file():
        raise dg.Failure(description=f"{PLANS_ENV} names {path}, which is not a file", allow_retries=False)
    try:
        with Warehouse(crmwh.settings().warehouse_path) as wh:
            rows = load_plans_into(wh.con, path)
    except ValueError as exc:  # a bad file: named, with what is wrong; the loaded plans stay
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    return dg.MaterializeResult(metadata={"source": str(path), "rows": rows, "sha256": file_fingerprint(path)})


plans_refresh = dg.define_asset_job(
    "plans_refresh", selection=dg.AssetSelection.assets(PLANS).downstream(), executor_def=dg.in_process_executor,
    description="Reload the sales plans and rebuild what depends on them.")


@dg.sensor(job=plans_refresh, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED)
def plans_file_changed(context: dg.SensorEvaluationContext):
    """Runs plans_refresh when the content of CRMWH_PLANS_FILE changes."""
    from warehouse.plans import file_fingerprint

    src = os.environ.get(PLANS_ENV)
    if not src:
        return dg.SkipReason(f"{PLANS_ENV} is not set")
    if not Path(src).is_file():
        return dg.SkipReason(f"{PLANS_ENV} names {src}, which is not a file")
    fingerprint = file_fingerprint(src)
    if fingerprint == context.cursor:
        return dg.SkipReason("the plans file has not changed")
    context.update_cursor(fingerprint)
    return dg.RunRequest(run_key=fingerprint, tags={"crmwh/trigger": "plans_file_changed"})


def build_defs() -> dg.Definitions:
    return dg.Definitions(assets=[sales_plans], jobs=[plans_refresh], sensors=[plans_file_changed])
