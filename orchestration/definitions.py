"""Everything Dagster shows, assembled from one folder per area (orchestration/defs/).

This module only assembles: each area builds its own definitions.
"""

from __future__ import annotations

import crmwh  # noqa: F401  (usage statistics off, DAGSTER_HOME with telemetry off)

import dagster as dg

from orchestration.defs import amocrm, bitrix24, dbt, pipeline, plans, publish, quality
from orchestration.defs.resources import CrmwhResource


def build_definitions() -> dg.Definitions:
    assets = dg.Definitions.merge(
        bitrix24.build_defs(),
        amocrm.build_defs(),
        plans.build_defs(),
        dbt.build_defs(),
        quality.build_defs(),
        publish.build_defs(),
        dg.Definitions(resources={"crmwh": CrmwhResource()}),
    )
    return dg.Definitions.merge(assets, pipeline.build_defs(assets))


defs = build_definitions()
