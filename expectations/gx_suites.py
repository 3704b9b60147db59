"""Great Expectations 1.x layer: suites as code, a file context, validation definitions and
checkpoints that build Data Docs.

GE's SQL path fails on DuckDB (IndexError in `resolve_metric_bundle` through duckdb-engine), so
everything here validates pandas DataFrames read from DuckDB: a compact frame of the leads
checked in the run (a handful of typed columns, no free text; above `ge.lead_batch_max_rows`
re-checked leads, a seeded uniform sample of them) and a one-row-per-table summary of the landing
tables computed in SQL. Both stay cheap at a million leads.

Data Docs: GE's page templates load Bootstrap, jQuery, Font Awesome and bootstrap-table from
public CDNs (the package ships no copies), so the pages are fully styled only with internet
access; offline they open unstyled but complete. The run also writes its own self-contained
summary (see expectations.report).
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
import crmwh  # noqa: E402,F401  (sets GX_ANALYTICS_ENABLED=false for the whole project)

import great_expectations as gx  # noqa: E402
import great_expectations.expectations as gxe  # noqa: E402
import pandas as pd  # noqa: E402

DATASOURCE = "quality_frames"
LEAD_SUITE = "lead_batch"
LANDING_SUITE = "landing_tables"
SITE = "local_site"


def lead_batch_suite(cfg: dict, now: pd.Timestamp) -> gx.ExpectationSuite:
    """Expectations on each batch of checked leads (columns of `lead_batch_frame`)."""
    g = cfg["gating"]
    imp = cfg["impossible"]
    lo = pd.Timestamp(imp["min_created_at"], tz="UTC")
    hi = now + pd.Timedelta(hours=float(imp["future_tolerance_hours"]))
    warn = g.get("warn_rule_share", {})
    return gx.ExpectationSuite(name=LEAD_SUITE, expectations=[
        gxe.ExpectColumnValuesToNotBeNull(column="lead_id"),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["source_system", "account", "lead_id"]),
        gxe.ExpectColumnValuesToNotBeNull(column="created_at"),
        gxe.ExpectColumnValuesToBeBetween(column="created_at", min_value=lo, max_value=hi),
        gxe.ExpectColumnValuesToBeInSet(column="phone_status", value_set=["valid", "invalid", "missing"]),
        gxe.ExpectColumnValuesToMatchRegex(column="phone_e164", regex=r"^\+[1-9]\d{6,14}$", mostly=1.0),
        gxe.ExpectColumnMeanToBeBetween(column="is_junk", min_value=0, max_value=float(g["max_junk_share"])),
        gxe.ExpectColumnMeanToBeBetween(column="is_invalid_phone", min_value=0,
                                        max_value=float(warn.get("invalid_phone", 1))),
        gxe.ExpectColumnMeanToBeBetween(column="is_missing_source", min_value=0,
                                        max_value=float(warn.get("missing_source", 1))),
        gxe.ExpectColumnMeanToBeBetween(column="is_missing_responsible", min_value=0,
                                        max_value=float(warn.get("missing_responsible", 1))),
        gxe.ExpectColumnValuesToBeInSet(column="junk_kind", value_set=_kinds()),
    ])


def _kinds() -> list[str]:
    from expectations.rules import RULES

    return list(RULES)


def landing_suite(cfg: dict) -> gx.ExpectationSuite:
    """Expectations on the landing tables' summary (columns of `landing_frame`)."""
    g = cfg["gating"]
    return gx.ExpectationSuite(name=LANDING_SUITE, expectations=[
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        gxe.ExpectColumnValuesToBeBetween(column="row_count", min_value=1),
        gxe.ExpectColumnValuesToBeBetween(column="null_keys", min_value=0, max_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="duplicate_keys", min_value=0, max_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="null_payloads", min_value=0, max_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="hours_since_extract", min_value=0,
                                          max_value=float(g["max_hours_since_extract"])),
    ])


def get_context(gx_dir: str | Path):
    """A file-backed GE context under gx_dir (created on first use)."""
    Path(gx_dir).mkdir(parents=True, exist_ok=True)
    ctx = gx.get_context(mode="file", project_root_dir=str(gx_dir))
    try:  # no "Calculating Metrics" bars in the pipeline's output
        from great_expectations.data_context.types.base import ProgressBarsConfig

        ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    except Exception:  # pragma: no cover - a GE without the setting: bars are cosmetic
        pass
    return ctx


def _checkpoint(ctx, asset_name: str, suite: gx.ExpectationSuite):
    ds = ctx.data_sources.add_or_update_pandas(name=DATASOURCE)
    try:
        asset = ds.get_asset(asset_name)
    except LookupError:
        asset = ds.add_dataframe_asset(name=asset_name)
    try:
        bd = asset.get_batch_definition("whole")
    except (KeyError, LookupError):
        bd = asset.add_batch_definition_whole_dataframe("whole")
    suite = ctx.suites.add_or_update(suite)
    vd = ctx.validation_definitions.add_or_update(gx.ValidationDefinition(name=asset_name, data=bd, suite=suite))
    return ctx.checkpoints.add_or_update(gx.Checkpoint(
        name=asset_name, validation_definitions=[vd],
        actions=[gx.checkpoint.UpdateDataDocsAction(name="update_data_docs")],
        result_format={"result_format": "SUMMARY", "partial_unexpected_count": 5}))


def run_validations(gx_dir: str | Path, frames: dict[str, pd.DataFrame], cfg: dict, now: pd.Timestamp,
                    run_name: str) -> dict:
    """Validate each frame ({"lead_batch": df, "landing_tables": df}; missing/empty ones are
    skipped) through its checkpoint. Returns {"success", "suites": {name: {...}}, "docs_path"}."""
    ctx = get_context(gx_dir)
    suites = {LEAD_SUITE: lambda: lead_batch_suite(cfg, now), LANDING_SUITE: lambda: landing_suite(cfg)}
    out = {"success": True, "suites": {}, "docs_path": None}
    for name, df in frames.items():
        if df is None or not len(df):
            continue
        cp = _checkpoint(ctx, name, suites[name]())
        res = cp.run(batch_parameters={"dataframe": df},
                     run_id=gx.core.run_identifier.RunIdentifier(run_name=run_name,
                                                                 run_time=now.to_pydatetime()))
        vr = list(res.run_results.values())[0]
        failed = [{"expectation": r.expectation_config.type,
                   "column": r.expectation_config.kwargs.get("column"),
                   "observed": (r.result or {}).get("observed_value", (r.result or {}).get("unexpected_count"))}
                  for r in vr.results if not r.success]
        out["suites"][name] = {"success": bool(res.success), "evaluated": len(vr.results), "failed": failed}
        out["success"] &= bool(res.success)
    index = Path(gx_dir) / "gx" / "uncommitted" / "data_docs" / SITE / "index.html"
    if not index.exists():
        found = list(Path(gx_dir).rglob("data_docs/*/index.html"))
        index = found[0] if found else None
    out["docs_path"] = str(index) if index else None
    return out
