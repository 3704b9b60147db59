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
import os
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
    os.environ["CRMWH_WAREHOUSE_PATH"] = str(Path(crmwh.settings().warehouse_path).resolve())
    # Runs from the crmwh CLI show a progress bar and a summary; dbt's own log stays in
    # dbt_project/logs/dbt.log. In the Dagster UI, dbt's output remains in the step's stdout.
    with _quiet_stdout(context.run.tags.get("crmwh/source") == "cli"):
        yield from dbt.cli(PIPELINE_BUILD, context=context).stream()


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
