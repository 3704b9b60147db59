"""Extraction assets: one multi-asset per CRM entity group, one asset key per landing table.

`build_extraction_defs` is used by each source folder (defs/bitrix24, defs/amocrm) with its own
entity groups and extractor, so both CRMs appear in Dagster the same way:

- asset keys `raw_<system>/<entity>` — dbt sources of the same names map onto them, so lineage
  runs from the API through the marts;
- every configured account of the system is extracted in one materialization (accounts can be
  narrowed with run config), each row tagged with its account in the warehouse;
- metadata per materialization: rows, deleted, quarantined, requests, rate-limit waits, seconds,
  per account;
- the extractors' log lines (progress per chunk) are forwarded to the Dagster run log.

DuckDB has one writer at a time, so every asset that writes the warehouse runs in the
`warehouse_writer` pool (limit 1, see dagster.yaml written by crmwh.privacy) and the extractor
itself takes the warehouse lock.
"""

# No `from __future__ import annotations`: Dagster reads the config and context annotations at runtime.

import logging
from collections import defaultdict
from contextlib import contextmanager
from typing import Callable, Iterator, Optional

import dagster as dg

from extract.common.errors import AuthError, ConfigError
from extract.common.runs import EntityRun
from orchestration.defs.resources import CrmwhResource
from warehouse.landing import Warehouse

WAREHOUSE_POOL = "warehouse_writer"


class ExtractionConfig(dg.Config):
    full: bool = False  # ignore incremental cursors and re-read everything
    accounts: list[str] = []  # empty: every configured account of this CRM
    reconcile: Optional[bool] = None  # force (True) or skip (False) the deletion scan


class _ToDagsterLog(logging.Handler):
    def __init__(self, context: dg.AssetExecutionContext) -> None:
        super().__init__(logging.INFO)
        self.context = context

    def emit(self, record: logging.LogRecord) -> None:
        msg = self.format(record)  # already redacted by the extractors' loggers
        (self.context.log.warning if record.levelno >= logging.WARNING else self.context.log.info)(msg)


@contextmanager
def forward_logs(context: dg.AssetExecutionContext) -> Iterator[None]:
    handler = _ToDagsterLog(context)
    logger = logging.getLogger("extract")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(min(old_level or logging.INFO, logging.INFO))
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def summarize(runs: list[EntityRun]) -> dict[str, dict]:
    """Per entity: totals over accounts plus a per-account breakdown, as Dagster metadata."""
    by_entity: dict[str, dict] = defaultdict(lambda: {"rows": 0, "deleted": 0, "quarantined": 0, "requests": 0,
                                                      "rate_limit_waits": 0, "rate_limit_refusals": 0,
                                                      "seconds": 0.0, "accounts": {}})
    for r in runs:
        m = by_entity[r.entity]
        for k in ("rows", "deleted", "quarantined", "requests", "rate_limit_waits", "rate_limit_refusals"):
            m[k] += getattr(r, k)
        m["seconds"] = round(m["seconds"] + r.seconds, 3)
        m["accounts"][r.account] = {"rows": r.rows, "requests": r.requests, "mode": r.mode, "status": r.status,
                                    "seconds": r.seconds}
    return by_entity


Extract = Callable[..., list[EntityRun]]


def build_extraction_defs(system: str, groups: dict[str, list[str]], extract: Extract,
                          descriptions: dict[str, str]) -> dg.Definitions:
    """`extract(accounts, warehouse, settings, entities=..., full=..., reconcile=..., batch_id=None)`."""
    assets = []
    for group, entities in groups.items():
        specs = [dg.AssetSpec([f"raw_{system}", e], description=descriptions.get(e, f"{system} {e} landing table"),
                              group_name=f"raw_{system}", kinds={system, "duckdb"}, skippable=True)
                 for e in entities]

        def _make(group: str = group, entities: list[str] = entities, specs: list[dg.AssetSpec] = specs):
            @dg.multi_asset(name=f"extract_{system}_{group}", specs=specs, can_subset=True, pool=WAREHOUSE_POOL,
                            description=f"Extract the {group} entities from every {system} account.",
                            retry_policy=dg.RetryPolicy(max_retries=2, delay=30,
                                                        backoff=dg.Backoff.EXPONENTIAL))
            def _asset(context: dg.AssetExecutionContext, config: ExtractionConfig, crmwh: CrmwhResource):
                selected = [k.path[-1] for k in context.selected_asset_keys]
                accounts = crmwh.accounts(system, config.accounts or None)
                if not accounts:
                    context.log.warning(f"no {system} accounts configured; nothing to extract")
                settings = crmwh.settings()
                try:
                    with forward_logs(context), Warehouse(settings.warehouse_path) as wh:
                        runs = extract(accounts, wh, settings, entities=selected, full=config.full,
                                       reconcile=config.reconcile)
                except (AuthError, ConfigError) as exc:
                    # A wrong credential or setting does not heal by retrying: fail at once, naming
                    # the setting (the message never carries its value).
                    raise dg.Failure(description=str(exc), allow_retries=False) from None
                failed = [r for r in runs if r.status != "success"]
                summary = summarize(runs)
                for entity in selected:
                    m = summary.get(entity, {})
                    yield dg.MaterializeResult(asset_key=[f"raw_{system}", entity], metadata={
                        "rows": m.get("rows", 0), "deleted": m.get("deleted", 0),
                        "quarantined": m.get("quarantined", 0), "requests": m.get("requests", 0),
                        "rate_limit_waits": m.get("rate_limit_waits", 0),
                        "rate_limit_refusals": m.get("rate_limit_refusals", 0),
                        "seconds": m.get("seconds", 0.0),
                        "accounts": dg.MetadataValue.json(m.get("accounts", {})),
                    })
                if failed:
                    raise dg.Failure(
                        description=f"{len(failed)} {system} entity extraction(s) failed",
                        metadata={"failed": dg.MetadataValue.json(
                            [{"account": r.account, "entity": r.entity, "error": r.error} for r in failed])})
            return _asset

        assets.append(_make())
    return dg.Definitions(assets=assets)
