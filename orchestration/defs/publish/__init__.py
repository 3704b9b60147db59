"""Publishing what BI reads — only when the data is fit to read.

`publish_bi` copies the marts into warehouse/bi.duckdb (swapped in atomically, so a BI tool holding
the previous file keeps reading it), builds the head-of-sales HTML report (Russian and English),
the Parquet exports (XLSX too with CRMWH_EXPORT_XLSX=1; `crmwh export` any time), and — when
`CRMWH_PG_PUBLISH_DSN` is set — the PostgreSQL schema `marts` with its read-only role.

The gate is checked HERE, not only by Dagster: the junk-detection checks are blocking, but
Dagster's blocking does not stop every kind of downstream asset (a run that selects only this
asset, for one), so this asset re-reads the latest data-quality run from the warehouse and refuses
to publish when a critical check failed or no quality run covers the current marts. The previous
published files stay in place and readable.
"""

# No `from __future__ import annotations`: Dagster inspects the asset function's annotations.

import os
from pathlib import Path

import dagster as dg
import duckdb

from orchestration.defs.extraction import WAREHOUSE_POOL
from orchestration.defs.quality import FLAGS
from orchestration.defs.resources import CrmwhResource

MARTS = ["fct_lead_control_points", "fct_funnel", "fct_plan_vs_fact", "fct_manager_daily_activity",
         "fct_daily_targets", "fct_payment_forms", "fct_sales_channels", "fct_data_quality"]
PUBLISHED = dg.AssetKey(["publish", "bi"])


class PublishBlocked(Exception):
    pass


def gate(warehouse: Path) -> dict:
    """The latest data-quality run and its failed critical checks; raises PublishBlocked."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        has = {r[0] for r in con.execute("select table_name from information_schema.tables "
                                          "where table_schema = 'quality'").fetchall()}
        if not {"dq_runs", "check_results"} <= has:
            raise PublishBlocked("no data-quality run has checked this warehouse yet (quality.dq_runs is missing)")
        latest = con.execute("select run_id, finished_at from quality.dq_runs "
                             "order by started_at desc limit 1").fetchone()
        if latest is None:
            raise PublishBlocked("no data-quality run has checked this warehouse yet")
        failed = con.execute("select name, observed, threshold, description from quality.check_results "
                             "where run_id = ? and severity = 'critical' and not passed order by name",
                             [latest[0]]).fetchall()
    if failed:
        detail = "; ".join(f"{n} (observed {o}, threshold {t})" for n, o, t, _ in failed)
        raise PublishBlocked(f"critical data-quality checks failed in run {latest[0]}: {detail}")
    return {"quality_run": latest[0], "checked_at": str(latest[1])}


@dg.asset(key=PUBLISHED, deps=[FLAGS, *[dg.AssetKey(["marts", m]) for m in MARTS]], group_name="publish",
          pool=WAREHOUSE_POOL, kinds={"duckdb", "html"})
def publish_bi(context: dg.AssetExecutionContext, crmwh: CrmwhResource) -> dg.MaterializeResult:
    """Publish the marts to BI (bi.duckdb, PostgreSQL), build the HTML report and the exports."""
    from warehouse.bi_outputs import publish_bi as publish

    warehouse = Path(crmwh.settings().warehouse_path).resolve()
    try:
        quality = gate(warehouse)
    except PublishBlocked as exc:
        raise dg.Failure(description=f"Publishing blocked, the previous published marts stay in place: {exc}",
                         allow_retries=False) from None
    # XLSX of every mart is slow (openpyxl writes ~60k cells/s; fct_plan_vs_fact alone has
    # hundreds of thousands of rows): each run writes Parquet, and Excel files when asked for
    # (CRMWH_EXPORT_XLSX=1) or on demand with `crmwh export`.
    xlsx = os.environ.get("CRMWH_EXPORT_XLSX", "").lower() in ("1", "true", "yes")
    out = publish(warehouse, warehouse.parent, xlsx=xlsx, postgres_dsn=os.environ.get("CRMWH_PG_PUBLISH_DSN") or None)
    meta = {**quality, "bi_duckdb": dg.MetadataValue.path(str(out.publish.path)),
            "tables": dg.MetadataValue.json(out.publish.tables), "rows": out.publish.total_rows,
            "postgres": out.postgres is not None}
    for lang, path in out.reports.items():
        meta[f"report_{lang}"] = dg.MetadataValue.path(str(path))
    if out.exports is not None:
        meta["exports"] = dg.MetadataValue.path(str(warehouse.parent / "reports"))
    context.log.info(f"published {len(out.publish.tables)} tables to {out.publish.path}")
    return dg.MaterializeResult(metadata=meta)


def build_defs() -> dg.Definitions:
    return dg.Definitions(assets=[publish_bi])
