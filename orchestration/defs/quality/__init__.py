"""Junk detection and data-quality gates in Dagster (issue 5).

`junk_detection` reads the canonical leads built by dbt (intermediate models), runs the junk rules
and the Great Expectations suites (expectations.run_quality) and writes the `quality` schema —
the asset keys below are the dbt sources the marts read, so lineage runs
intermediate → quality → marts.

Each gate of expectations.gating is an asset check on `quality/lead_junk_flags`: critical gates
(junk share, freshness, unmapped sources and stages, broken keys, the landing-table suite) are
ERROR-severity, blocking checks; the rest are summed up in one WARN check. Publishing re-reads
the gates itself (orchestration.defs.publish), because Dagster's blocking checks do not stop every
kind of downstream asset.
"""

# No `from __future__ import annotations`: Dagster inspects the asset function's annotations.

import os
from pathlib import Path

import dagster as dg

from expectations import run_quality
from orchestration.defs.extraction import WAREHOUSE_POOL
from orchestration.defs.resources import CrmwhResource

FLAGS = dg.AssetKey(["quality", "lead_junk_flags"])
CHECKS = dg.AssetKey(["quality", "lead_checks"])
CRITICAL_GATES = {
    "junk_share": "Share of detected junk among recent leads is under the threshold.",
    "data_freshness": "The newest extraction is recent enough.",
    "unmapped_sources": "Every lead's source maps to a sales channel.",
    "unmapped_stages": "Every CRM stage maps to a control point.",
    "broken_keys": "No duplicate or dangling keys in leads, deals and landing tables.",
    "ge_landing_tables": "Great Expectations suite on the landing tables passes.",
}
WARNINGS_CHECK = "quality_warnings"


def _check_specs() -> list[dg.AssetCheckSpec]:
    specs = [dg.AssetCheckSpec(name, asset=FLAGS, description=desc, blocking=True)
             for name, desc in CRITICAL_GATES.items()]
    specs.append(dg.AssetCheckSpec(WARNINGS_CHECK, asset=FLAGS,
                                   description="Warnings: per-rule junk shares and the lead-batch GE suite."))
    return specs


@dg.multi_asset(
    name="junk_detection",
    specs=[
        dg.AssetSpec(FLAGS, deps=[dg.AssetKey(["intermediate", "int_leads"]), dg.AssetKey(["intermediate", "int_deals"])],
                     group_name="quality", kinds={"python", "duckdb"},
                     description="Junk flags per lead and rule (мусорные лиды): duplicates, test, spam, "
                                 "invalid phones, missing source or manager, bots; plus the quarantine worklist."),
        dg.AssetSpec(CHECKS, deps=[dg.AssetKey(["intermediate", "int_leads"])], group_name="quality",
                     kinds={"python", "duckdb"}, description="Leads checked per data-quality run."),
    ],
    check_specs=_check_specs(),
    pool=WAREHOUSE_POOL,
)
def junk_detection(context: dg.AssetExecutionContext, crmwh: CrmwhResource):
    """Junk rules + Great Expectations over the canonical leads; writes the quality schema."""
    settings = crmwh.settings()
    gx_dir = Path(settings.warehouse_path).resolve().parent / "gx"
    # Thresholds: expectations/junk_rules.yaml, overridden by the file in CRMWH_QUALITY_CONFIG if set.
    result = run_quality(settings.warehouse_path, gx_dir=gx_dir, config=os.environ.get("CRMWH_QUALITY_CONFIG") or None)
    by_rule = result.flags.groupby("rule").size().to_dict() if len(result.flags) else {}
    meta = {"run_id": result.run_id, "leads_total": result.leads_total, "leads_checked": result.leads_checked,
            "flags": len(result.flags), "flags_by_rule": dg.MetadataValue.json({k: int(v) for k, v in by_rule.items()}),
            "quarantine_worklist": len(result.worklist), "publish_allowed": result.publish_allowed}
    if result.data_docs_path:
        meta["data_docs"] = dg.MetadataValue.path(str(result.data_docs_path))
    yield dg.MaterializeResult(asset_key=FLAGS, metadata=meta)
    yield dg.MaterializeResult(asset_key=CHECKS, metadata={"leads_checked": result.leads_checked})

    by_name = {c.name: c for c in result.checks}
    for name in CRITICAL_GATES:
        c = by_name.get(name)
        if c is None:  # not evaluated in this run (e.g. no GE run): say so rather than pass silently
            yield dg.AssetCheckResult(check_name=name, asset_key=FLAGS, passed=True,
                                      severity=dg.AssetCheckSeverity.WARN, metadata={"evaluated": False})
            continue
        yield dg.AssetCheckResult(
            check_name=name, asset_key=FLAGS, passed=bool(c.passed), severity=dg.AssetCheckSeverity.ERROR,
            description=c.description,
            metadata={"observed": c.observed if c.observed is not None else "n/a",
                      "threshold": c.threshold if c.threshold is not None else "n/a"})
    warnings = [c for c in result.checks if c.name not in CRITICAL_GATES]
    failed = [c.to_dict() for c in warnings if not c.passed]
    yield dg.AssetCheckResult(check_name=WARNINGS_CHECK, asset_key=FLAGS, passed=not failed,
                              severity=dg.AssetCheckSeverity.WARN,
                              metadata={"failed": dg.MetadataValue.json(failed), "evaluated": len(warnings)})


def build_defs() -> dg.Definitions:
    return dg.Definitions(assets=[junk_detection])
