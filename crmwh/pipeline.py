"""Run the Dagster jobs from the command line and summarise what they did.

`crmwh run` and `crmwh demo` call `run_pipeline`; runs go to the Dagster instance in
$DAGSTER_HOME, so they also appear in `crmwh ui` (dagster dev) afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import crmwh  # noqa: F401  (usage statistics off, DAGSTER_HOME)


@dataclass
class RunSummary:
    success: bool
    run_id: str
    job: str
    rows: dict[str, int] = field(default_factory=dict)  # asset -> rows landed (extraction)
    requests: dict[str, int] = field(default_factory=dict)
    materialized: list[str] = field(default_factory=list)
    checks_passed: list[str] = field(default_factory=list)
    checks_failed: list[tuple[str, str, str]] = field(default_factory=list)  # (asset, check, severity)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (step, message)
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)


def _meta_value(v: Any) -> Any:
    return getattr(v, "value", v)


def summarize(result) -> RunSummary:
    s = RunSummary(success=result.success, run_id=result.run_id, job=result.job_def.name)
    for event in result.all_events:
        kind = event.event_type_value
        data = event.event_specific_data
        if kind == "ASSET_MATERIALIZATION":
            mat = data.materialization
            key = mat.asset_key.to_user_string()
            s.materialized.append(key)
            meta = {k: _meta_value(v) for k, v in mat.metadata.items()}
            s.metadata[key] = meta
            if key.startswith("raw_") and "rows" in meta:
                s.rows[key] = int(meta["rows"])
                s.requests[key] = int(meta.get("requests", 0))
        elif kind == "ASSET_CHECK_EVALUATION":
            name = f"{data.asset_key.to_user_string()}:{data.check_name}"
            if data.passed:
                s.checks_passed.append(name)
            else:
                sev = getattr(data.severity, "value", str(data.severity))
                s.checks_failed.append((data.asset_key.to_user_string(), data.check_name, sev))
        elif kind == "STEP_FAILURE":
            err = getattr(data, "error", None)
            msg = err.message.strip() if err is not None else str(data)
            s.failures.append((event.step_key or "", msg.splitlines()[0] if msg else ""))
    return s


def run_with_progress(console, **kwargs) -> RunSummary:
    """`run_pipeline` with a progress bar of the job's steps (extraction groups, dbt, junk
    detection, publish), read from the Dagster instance while the run executes."""
    import threading
    import uuid

    import dagster as dg
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    invocation = uuid.uuid4().hex
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["summary"] = run_pipeline(extra_tags={"crmwh/invocation": invocation}, **kwargs)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    instance = dg.DagsterInstance.get()
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} steps"),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task("starting the run", total=None)
        while worker.is_alive():
            worker.join(1.0)
            try:
                runs = instance.get_runs(filters=dg.RunsFilter(tags={"crmwh/invocation": invocation}), limit=1)
                if not runs:
                    continue
                records = instance.all_logs(runs[0].run_id)
                plan = [r for r in records if r.dagster_event and r.dagster_event.event_type_value == "STEP_START"]
                done = [r for r in records if r.dagster_event
                        and r.dagster_event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED")]
                total = len(runs[0].step_keys_to_execute or []) or None
                current = plan[-1].step_key if len(plan) > len(done) else "…"
                progress.update(task, total=total, completed=len(done), description=f"step: {current}")
            except Exception:  # the bar is a courtesy: never let it disturb the run
                continue
    if "error" in box:
        raise box["error"]
    return box["summary"]


def run_pipeline(full: bool = False, accounts: list[str] | None = None, job_name: str | None = None,
                 quiet: bool = True, extra_tags: dict[str, str] | None = None) -> RunSummary:
    """Execute `incremental_run` (or `full_reconciliation`) in this process and summarise it."""
    import dagster as dg

    from orchestration.definitions import defs

    name = job_name or ("full_reconciliation" if full else "incremental_run")
    job = defs.resolve_job_def(name)
    run_config: dict[str, Any] = {}
    if quiet:
        run_config["loggers"] = {"console": {"config": {"log_level": "WARNING"}}}
    tags = {"crmwh/source": "cli", **(extra_tags or {})}
    # Run config replaces a job's default config as a whole, so the full job's settings are
    # restated here whenever any run config is given.
    extraction: dict[str, Any] = {"full": True, "reconcile": True} if full else {}
    if accounts:
        extraction["accounts"] = accounts
        tags["crmwh/account"] = ",".join(accounts)
    if extraction:
        from orchestration.defs.pipeline import extraction_ops

        run_config["ops"] = {op: {"config": extraction} for op in extraction_ops(defs)}
    result = job.execute_in_process(run_config=run_config or None, instance=dg.DagsterInstance.get(),
                                    tags=tags, raise_on_error=False)
    return summarize(result)
