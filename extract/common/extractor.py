"""What every CRM extractor does around its API calls, whichever the CRM: run the wanted entities
in dependency order, record one `EntityRun` per entity (rows, deletions, quarantine, requests,
rate-limit waits, seconds) in `meta.extract_runs`, read JSON cursors, turn records into landing
rows with bad ones quarantined, and merge them with their cursor in one transaction.

A subclass sets SYSTEM / LABEL / ENTITIES / BY_NAME, implements `_counters()` (its client's
request and rate-limit counters) and one `_run_<kind>(entity, run, full)` per entity kind.
"""

from __future__ import annotations

import json
import time
from typing import Any, Iterable

from extract.common.config import AccountConfig, Settings
from extract.common.errors import AuthError, ConfigError
from extract.common.redact import get_logger, redact
from extract.common.runs import EntityRun, new_batch_id
from warehouse.landing import LandingRow, QuarantineRow, TableSpec, Warehouse, dumps

log = get_logger(__name__)

Counters = tuple[int, int, float, int]  # requests, rate-limit waits, seconds waited, refusals


class AccountExtractor:
    """Extracts one CRM account into the warehouse. `run()` returns one `EntityRun` per entity."""

    SYSTEM = ""
    LABEL = ""  # the CRM's name in messages
    ENTITIES: tuple = ()
    BY_NAME: dict = {}
    # errors that stop the whole run (the other entities would fail the same way)
    FATAL: tuple[type[BaseException], ...] = (AuthError, ConfigError)

    def __init__(self, account: AccountConfig, warehouse: Warehouse, settings: Settings | None, client) -> None:
        if account.system != self.SYSTEM:
            raise ConfigError(f"accounts[{account.name}].system", f"is not {self.SYSTEM}")
        self.account = account
        self.wh = warehouse
        self.settings = settings or Settings()
        self.client = client

    # ------------------------------------------------------------------ public
    def _wanted(self, entities: Iterable[str] | None) -> list:
        """The entities to run, in dependency order (default: all)."""
        wanted = list(entities) if entities else [e.name for e in self.ENTITIES]
        unknown = [n for n in wanted if n not in self.BY_NAME]
        if unknown:
            raise ConfigError("entities", f"unknown {self.LABEL} entities {unknown}; known: {sorted(self.BY_NAME)}")
        return [e for e in self.ENTITIES if e.name in wanted]

    def run(self, entities: Iterable[str] | None = None, *, full: bool = False,
            batch_id: str | None = None, **options: Any) -> list[EntityRun]:
        """Extract `entities` (default: all, in dependency order); `full` ignores cursors."""
        batch_id = batch_id or new_batch_id()
        return [self.run_entity(e, batch_id, full=full, **options) for e in self._wanted(entities)]

    def run_entity(self, entity, batch_id: str, *, full: bool = False, **options: Any) -> EntityRun:
        run = EntityRun(self.SYSTEM, self.account.name, entity.name, batch_id, mode="full" if full else "incremental")
        c0 = self._counters()
        started = time.monotonic()
        try:
            self.wh.ensure_table(entity.spec)
            self._extract(entity, run, full, **options)
            run.status = "success"
        except self.FATAL as exc:
            run.status, run.error = "failed", redact(exc)
            self._finish(run, c0, started)
            raise
        except Exception as exc:  # recorded and reported; the other entities still run
            run.status, run.error = "failed", redact(f"{type(exc).__name__}: {exc}")
            if self._stops_run(exc):
                self._finish(run, c0, started)
                raise
            log.error("%s %s %s failed: %s", self.SYSTEM, self.account.name, entity.name, run.error)
        self._finish(run, c0, started)
        return run

    # ------------------------------------------------------------------ hooks
    def _extract(self, entity, run: EntityRun, full: bool, **options: Any) -> None:
        getattr(self, f"_run_{entity.kind}")(entity, run, full)

    def _stops_run(self, exc: Exception) -> bool:
        """Whether a non-FATAL error still stops the run (e.g. an account the CRM has blocked)."""
        return False

    def _counters(self) -> Counters:
        raise NotImplementedError

    # ------------------------------------------------------------------ bookkeeping
    def _finish(self, run: EntityRun, c0: Counters, started: float) -> None:
        c1 = self._counters()
        run.requests = c1[0] - c0[0]
        run.rate_limit_waits = c1[1] - c0[1]
        run.rate_limit_wait_seconds = round(c1[2] - c0[2], 3)
        run.rate_limit_refusals = c1[3] - c0[3]
        run.seconds = round(time.monotonic() - started, 3)
        self.wh.record_run(run)
        log.info("%s %s %s: %s (%s), %d rows, %d deleted, %d quarantined, %d requests, %.1f s",
                 self.SYSTEM, self.account.name, run.entity, run.status, run.mode, run.rows, run.deleted,
                 run.quarantined, run.requests, run.seconds)

    def _cursor(self, name: str) -> dict[str, Any]:
        raw = self.wh.get_cursor(self.SYSTEM, self.account.name, name)
        try:
            value = json.loads(raw) if raw else {}
            return value if isinstance(value, dict) else {}
        except ValueError:
            log.warning("cursor of %s/%s is not JSON; starting over", self.account.name, name)
            return {}

    def _merge(self, entity, run: EntityRun, rows: list[LandingRow], bad: list[QuarantineRow],
               cursor: dict[str, Any] | None, spec: TableSpec | None = None) -> None:
        """Land rows (and quarantine bad records) with the entity's cursor in one transaction."""
        n = self.wh.merge(spec or entity.spec, self.account.name, run.batch_id, rows,
                          cursor=json.dumps(cursor) if cursor is not None else None, quarantine=bad)
        run.rows += n
        run.quarantined += len(bad)
        if bad:
            log.warning("%s %s %s: %d records quarantined (first: %s)", self.SYSTEM, self.account.name,
                        entity.name, len(bad), bad[0].reason)


def quarantine_row(rec: Any, id_field: str, exc: BaseException) -> QuarantineRow:
    """A record that cannot be landed: the reason, its redacted text and its id when it has one."""
    rid = rec.get(id_field) if isinstance(rec, dict) else None
    try:
        raw = dumps(rec)
    except (TypeError, ValueError):
        raw = repr(rec)
    return QuarantineRow(f"{type(exc).__name__}: {exc}", redact(raw), None if rid is None else str(rid))
