"""dbt in Dagster: every dbt model, seed and test as assets and asset checks (dagster-dbt).

Lineage is continuous: dbt sources `raw_bitrix24.*` / `raw_amocrm.*` carry the same asset keys as
the extraction assets, and the source `quality.lead_junk_flags` is the junk-detection asset. The
models split in two at that point, because junk detection reads the canonical leads and the marts
read its flags:

    raw_* → staging → intermediate → quality/lead_junk_flags → marts → publish

so `dbt_core` builds seeds, staging and intermediate, and `dbt_marts` builds the marts. `dbt build`
runs each model's tests right after it, and a failing test stops the models below it.
"""

# No `from __future__ import annotations`: Dagster inspects the asset functions' annotations at runtime.

import collections
import contextlib
import json
import os
import re
import shutil
import sys
import threading
from pathlib import Path
from typing import Any, Mapping

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from crmwh.privacy import PROJECT_ROOT
from orchestration.defs.extraction import WAREHOUSE_POOL
from orchestration.defs.resources import CrmwhResource
from warehouse import dbt_unchanged
from warehouse.landing import Warehouse

DBT_DIR = PROJECT_ROOT / "dbt_project"
# Dagster keeps its own target folder, so a developer's `dbt build` never races the pipeline's.
project = DbtProject(project_dir=DBT_DIR, profiles_dir=DBT_DIR, target_path=Path("target") / "dagster")


# The dbt next to this interpreter (the project's venv), whether or not the venv is on PATH.
DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt")) if Path(sys.executable).with_name("dbt").exists() \
    else (shutil.which("dbt") or "dbt")


# The pipeline's build: models, seeds and data tests. dbt's unit tests check the SQL logic on static
# fixtures, so a day's new data cannot change their result; they run where the SQL changes, in
# `make test` (tests/dbt builds with them). DECISIONLOG 2026-11-28.
PIPELINE_BUILD = ["build", "--exclude-resource-type", "unit_test"]


# dagster-dbt gives every dbt invocation its own target folder (target/<step>-<run>-<id>/: manifest,
# run_results, compiled SQL and dbt's debug log, ~6 MB here) and never removes one: the hourly job
# would add ~130 MB a working day. The newest few per step stay, for whoever debugs a run.
KEEP_INVOCATION_DIRS = 10


def prune_invocation_dirs(target_root: Path, step: str, keep: int = KEEP_INVOCATION_DIRS) -> list[Path]:
    """Remove all but the `keep` newest invocation folders of `step`; returns the removed ones."""
    pattern = re.compile(rf"{re.escape(step)}-[0-9a-f]{{7}}-[0-9a-f]{{7}}")
    dirs = [p for p in target_root.iterdir() if p.is_dir() and pattern.fullmatch(p.name)]
    dirs.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for old in dirs[keep:]:
        shutil.rmtree(old, ignore_errors=True)
    return dirs[keep:]


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=project, dbt_executable=DBT_EXECUTABLE)


def _newest_source_mtime() -> float:
    files = [p for d in ("models", "macros", "seeds", "tests") for p in (DBT_DIR / d).rglob("*") if p.is_file()]
    files += [DBT_DIR / "dbt_project.yml", DBT_DIR / "profiles.yml"]
    return max((p.stat().st_mtime for p in files if p.exists()), default=0.0)


def ensure_manifest() -> Path:
    """Parse the project when its manifest is missing (a fresh clone) or older than any model,
    macro, seed or project file; `dbt parse` needs no database."""
    manifest = project.manifest_path
    if not manifest.exists() or manifest.stat().st_mtime < _newest_source_mtime():
        dbt_resource().cli(["parse", "--quiet"], target_path=project.target_path).wait()
    return project.manifest_path


class Translator(DagsterDbtTranslator):
    """Models are keyed by layer (`marts/fct_funnel`); sources keep `<source>/<table>` keys."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] in ("model", "seed", "snapshot"):
            layer = "config" if dbt_resource_props["resource_type"] == "seed" else dbt_resource_props["fqn"][1]
            return dg.AssetKey([layer, dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "config"
        return dbt_resource_props["fqn"][1] if len(dbt_resource_props["fqn"]) > 2 else None


TRANSLATOR = Translator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


class _ThreadMutedStdout:
    """sys.stdout that keeps one thread's writes (the last lines, for errors) and passes every
    other thread's through: dagster-dbt echoes each dbt event to stdout, which in `crmwh run`
    would scroll through the progress bar drawn by the main thread."""

    def __init__(self, inner, thread: threading.Thread) -> None:
        self.inner, self.thread, self.tail = inner, thread, collections.deque(maxlen=40)

    def write(self, text: str) -> int:
        if threading.current_thread() is self.thread:
            self.tail.extend(line for line in text.splitlines() if line.strip())
            return len(text)
        return self.inner.write(text)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


@contextlib.contextmanager
def _quiet_stdout(enabled: bool):
    if not enabled:
        yield
        return
    muted = _ThreadMutedStdout(sys.stdout, threading.current_thread())
    sys.stdout = muted
    try:
        yield
    except BaseException:
        muted.inner.write("\n".join(["dbt output (last lines):", *muted.tail]) + "\n")
        raise
    finally:
        if sys.stdout is muted:
            sys.stdout = muted.inner


def _build(context: dg.AssetExecutionContext, dbt: DbtCliResource, crmwh: CrmwhResource):
    # dbt reads the warehouse path from the same setting as the extractors (profiles.yml).
    warehouse = Path(crmwh.settings().warehouse_path).resolve()
    os.environ["CRMWH_WAREHOUSE_PATH"] = str(warehouse)
    # Views and seeds unchanged since they were built are left alone, and incremental models built
    # by another definition of the project are fully refreshed — the incremental staging tables (the
    # parsed landing, kept by `--full-refresh`) only when the staging layer itself changed
    # (warehouse/dbt_unchanged.py): those this step selected (`dbt_core` has them, `dbt_marts`
    # none), on the DuckDB target only; the full reconciliation rebuilds them all from scratch,
    # parsing the landing again (and records what it built).
    manifest = json.loads(project.manifest_path.read_text())
    in_step = {node["name"]: node for node in manifest["nodes"].values() if dbt_unchanged.is_tracked(node)
               and TRANSLATOR.get_asset_key(node) in context.selected_asset_keys}
    track = bool(in_step) and os.environ.get("CRMWH_DBT_TARGET", "duckdb") == "duckdb"
    if context.run.tags.get("crmwh/mode") == "full":
        plan = dbt_unchanged.Plan.recomputing(
            [node for node in in_step.values() if dbt_unchanged.is_incremental(node)],
            reason="the full reconciliation rebuilds every view and seed, and every incremental model in full "
                   "(the landing parsed again)")
    elif not track:
        plan = dbt_unchanged.Plan(reason="no views, seeds or incremental models tracked in this step")
    else:
        plan = dbt_unchanged.plan(DBT_DIR, manifest, warehouse, dict(os.environ))
        plan.skip = [name for name in plan.skip if name in in_step]
        plan.refresh = [name for name in plan.refresh if name in in_step]
        plan.reparse = [name for name in plan.reparse if name in in_step]
    context.log.info(f"dbt: {plan.reason}")
    # Their outputs come first: a multi-asset yields its outputs in topological order.
    yield from _unchanged_outputs(context, manifest, plan)
    invocation = dbt.cli([*PIPELINE_BUILD, *plan.build_args], context=context)
    try:
        # Runs from the crmwh CLI show a progress bar and a summary; dbt's own log stays in
        # dbt_project/logs/dbt.log. In the Dagster UI, dbt's output remains in the step's stdout.
        with _quiet_stdout(context.run.tags.get("crmwh/source") == "cli"):
            yield from invocation.stream()
    finally:
        if track:
            _record_unchanged(context, manifest, invocation, warehouse)
        try:
            prune_invocation_dirs(Path(invocation.target_path).parent, context.op_execution_context.op.name)
        except OSError as exc:
            context.log.warning(f"dbt: could not prune old target folders ({exc})")


def _unchanged_outputs(context: dg.AssetExecutionContext, manifest: dict, plan: dbt_unchanged.Plan):
    """An output for each view and seed left alone: it is current (a view always reads the latest
    rows; the seed's CSV did not change), and without an output Dagster would skip every step
    below it — the marts read the seeds. (`plan.skip` holds only nodes this step selected.)"""
    skipped = set(plan.skip)
    for node in manifest["nodes"].values():
        if node["name"] in skipped and dbt_unchanged.is_candidate(node):
            key = TRANSLATOR.get_asset_key(node)
            yield dg.Output(None, output_name=context.assets_def.get_output_name_for_asset_key(key),
                            metadata={"dbt": "unchanged since it was built: left alone"})


def _record_unchanged(context, manifest: dict, invocation, warehouse: Path) -> None:
    """Record which views, seeds and incremental models this build created; a failure here only
    costs the next build a rebuild of them, so it is logged, never raised over the build's own
    outcome."""
    try:
        run_results = json.loads((invocation.target_path / "run_results.json").read_text())
        with Warehouse(warehouse) as wh:
            dbt_unchanged.record(DBT_DIR, manifest, run_results, wh.con, dict(os.environ))
    except Exception as exc:  # noqa: BLE001
        context.log.warning(f"dbt: could not record the views and seeds built ({type(exc).__name__}: {exc}); "
                            "the next build rebuilds them")


def build_defs() -> dg.Definitions:
    manifest = ensure_manifest()

    @dbt_assets(manifest=manifest, project=project, dagster_dbt_translator=TRANSLATOR, name="dbt_core",
                select="resource_type:seed path:models/staging path:models/intermediate", pool=WAREHOUSE_POOL)
    def dbt_core(context: dg.AssetExecutionContext, dbt: DbtCliResource, crmwh: CrmwhResource):
        """Seeds, staging views and the canonical CRM-agnostic model."""
        yield from _build(context, dbt, crmwh)

    @dbt_assets(manifest=manifest, project=project, dagster_dbt_translator=TRANSLATOR, name="dbt_marts",
                select="path:models/marts", pool=WAREHOUSE_POOL)
    def dbt_marts(context: dg.AssetExecutionContext, dbt: DbtCliResource, crmwh: CrmwhResource):
        """The marts BI reads, with their contracts and tests."""
        yield from _build(context, dbt, crmwh)

    return dg.Definitions(assets=[dbt_core, dbt_marts],
                          resources={"dbt": dbt_resource()})
