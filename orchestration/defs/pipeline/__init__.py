"""Jobs and schedules over the whole asset graph.

- `incremental_run`: every asset; extraction reads only what changed since its cursors (hourly in
  working hours, Moscow time, Monday to Friday);
- `full_reconciliation`: every asset, extraction re-reads everything and runs the deletion scan
  (nightly).
Both run their steps one at a time in one process: every step writes the same DuckDB file, which
takes one writer at a time, so parallel steps would only queue on the warehouse lock.
"""

from __future__ import annotations

import dagster as dg

TIMEZONE = "Europe/Moscow"
ALL = dg.AssetSelection.all()


def extraction_ops(defs: dg.Definitions) -> list[str]:
    return sorted(a.node_def.name for a in defs.assets or []
                  if isinstance(a, dg.AssetsDefinition) and a.node_def.name.startswith("extract_"))


def build_defs(upstream: dg.Definitions) -> dg.Definitions:
    """`upstream`: the definitions whose extraction ops the full reconciliation configures."""
    full_config = {"ops": {op: {"config": {"full": True, "reconcile": True}} for op in extraction_ops(upstream)}}
    incremental = dg.define_asset_job("incremental_run", selection=ALL, executor_def=dg.in_process_executor,
                                      tags={"crmwh/mode": "incremental"},
                                      description="Extract what changed, rebuild the marts, check quality, publish.")
    full = dg.define_asset_job("full_reconciliation", selection=ALL, executor_def=dg.in_process_executor,
                               config=full_config, tags={"crmwh/mode": "full"},
                               description="Re-read every record, find deletions, rebuild everything.")
    schedules = [
        dg.ScheduleDefinition(name="hourly_incremental", job=incremental, cron_schedule="0 9-19 * * 1-5",
                              execution_timezone=TIMEZONE, default_status=dg.DefaultScheduleStatus.STOPPED,
                              description="Every hour of the working day, Moscow time."),
        dg.ScheduleDefinition(name="nightly_reconciliation", job=full, cron_schedule="30 2 * * *",
                              execution_timezone=TIMEZONE, default_status=dg.DefaultScheduleStatus.STOPPED,
                              description="Every night at 02:30 Moscow time."),
    ]
    return dg.Definitions(jobs=[incremental, full], schedules=schedules)
