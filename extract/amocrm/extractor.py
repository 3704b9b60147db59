"""Runs of the amoCRM extractor: per entity, stream pages into `raw_amocrm.*` with cursors.

Cursor (meta.extract_cursors.cursor, JSON) per (account, entity):

- incremental: `{"since": unix|null, "scan": null | {"mode": "filter"|"desc", "since": W,
  "started": unix, "ranges": [[lo, hi|null], ...]}}`. A scan reads rows with `field >= W`
  (W = since − overlap). Each committed chunk stores the scan's remaining ranges in the same
  transaction, so a crashed run resumes exactly there (a `desc` fallback scan restarts from its
  first page: page numbers over a moving list cannot be resumed; re-reading is merge-safe). At the
  end `since` becomes the earlier of the scan's start (server clock, from the `Date` header) and
  the newest row seen — a change during the scan is at or after the start.
- catalog_elements: `{"at": unix}` of the last complete snapshot.

Deletions: amoCRM keeps deleted leads in a trash and reports deletions as events
(`lead_deleted`, `contact_deleted`, `company_deleted`, `task_deleted`). After the events are
landed, every row whose latest delete event is newer than its last seen version (and that was
not restored since) becomes a tombstone (`_is_deleted`, `_deleted_at` = the event time); its
payload stays. The SQL reads the landed events, so it is idempotent and catches up after a crash.
A full run also lands the leads trash (`with=only_deleted`) as tombstones.
"""

from __future__ import annotations

import json
import time
from typing import Any, Iterable

from extract.amocrm.client import AmoCRMClient
from extract.amocrm.entities import BY_NAME, DELETE_EVENTS, ENTITIES, RESTORE_EVENTS, SYSTEM, Entity
from extract.amocrm.paginate import FilterIgnored, ScanState, desc_scan, embedded, pages, sliced_scan
from extract.common.config import AccountConfig, Settings
from extract.common.errors import ApiError, AuthError, ConfigError, RateLimited
from extract.common.extractor import AccountExtractor, quarantine_row
from extract.common.records import parse_int, parse_time
from extract.common.redact import get_logger
from extract.common.runs import EntityRun, new_batch_id
from extract.common.tokens import TokenStore
from warehouse.landing import LandingRow, QuarantineRow, Warehouse, dumps

log = get_logger(__name__)


class AmoCRMExtractor(AccountExtractor):
    """Extracts one amoCRM account into the warehouse. `run()` returns one `EntityRun` per entity."""

    SYSTEM, LABEL, ENTITIES, BY_NAME = SYSTEM, "amoCRM", ENTITIES, BY_NAME
    # 429 after the retries, or the account blocked for exceeding the limits: the other entities
    # would only hit the same wall (and a blocked account stays blocked while requests continue)
    FATAL = (AuthError, ConfigError, RateLimited)

    def __init__(self, account: AccountConfig, warehouse: Warehouse, settings: Settings | None = None,
                 client: AmoCRMClient | None = None, token_store: TokenStore | None = None) -> None:
        super().__init__(account, warehouse, settings, None)
        self.client = client or AmoCRMClient(account, self.settings, token_store)
        opts = account.options
        self.concurrency = int(opts.get("concurrency", 4))
        self.filters = str(opts.get("api_filters", "auto")).lower()  # auto | on | off
        if self.filters not in ("auto", "on", "off"):
            raise ConfigError(f"accounts[{account.name}].options.api_filters", "must be auto, on or off")
        self.filters_ignored = self.filters == "off"
        self.lead_with = str(opts.get("lead_with", dict(BY_NAME["leads"].params)["with"]))
        self.trash = list(opts.get("trash_entities", ["leads"]))
        self.catalog_types = opts.get("catalog_types")  # None = every catalog
        self.catalog_hours = float(opts.get("catalog_snapshot_hours", self.settings.reconcile_hours))
        self._cache: dict[str, Any] = {}

    def _stops_run(self, exc: Exception) -> bool:
        return isinstance(exc, ApiError) and exc.code == "blocked"

    # ------------------------------------------------------------------ bookkeeping
    def _counters(self) -> tuple[int, int, float, int]:
        c, lim = self.client.counters, self.client.limiter.stats
        return (c.requests, lim.waits, lim.wait_seconds, c.refusals)

    def _to_rows(self, entity: Entity, records: Iterable[Any], deleted: bool = False,
                 keyer=None) -> tuple[list[LandingRow], list[QuarantineRow]]:
        """API records → landing rows; what cannot be parsed goes to quarantine with the reason.
        `keyer(record, id) -> (key tuple, extras tuple)` for tables with composite keys/extras."""
        rows: list[LandingRow] = []
        bad: list[QuarantineRow] = []
        string_key = entity.keys[-1][1] == "VARCHAR"
        for rec in records:
            try:
                if not isinstance(rec, dict):
                    raise ValueError(f"record is a {type(rec).__name__}, not an object")
                rid = rec.get(entity.id_field)
                if string_key:
                    if not isinstance(rid, (str, int)) or isinstance(rid, bool) or str(rid).strip() == "":
                        raise ValueError(f"not an id: {rid!r}")
                    key_last: Any = str(rid)
                else:
                    key_last = parse_int(rid)
                modified = parse_time(rec.get(entity.time_field)) if entity.time_field else None
                key, extra = keyer(rec, key_last) if keyer else ((key_last,), ())
                rows.append(LandingRow(key, dumps(rec), modified, deleted or rec.get("is_deleted") is True, extra))
            except (ValueError, TypeError, OverflowError, OSError) as exc:
                bad.append(quarantine_row(rec, entity.id_field, exc))
        return rows, bad

    def _snapshot_done(self, entity: Entity, run: EntityRun, where: str = "", params: tuple = ()) -> None:
        run.mode = "snapshot"
        run.deleted += self.wh.tombstone_stale(entity.spec, self.account.name, run.batch_id, where, params)

    def _server_now(self) -> int:
        return int(self.client.server_clock or time.time())

    # ------------------------------------------------------------------ dictionaries
    def _get_cached(self, name: str, path: str, params: list[tuple[str, Any]]) -> dict | None:
        if name not in self._cache:
            self._cache[name] = self.client.get(path, params)
        return self._cache[name]

    def _run_account(self, entity: Entity, run: EntityRun, full: bool) -> None:
        acc = BY_NAME["account"]
        data = self._get_cached("account", acc.path, list(acc.params))
        if not isinstance(data, dict):
            raise ApiError("GET /api/v4/account answered nothing")
        if entity.name == "account":
            record = {k: v for k, v in data.items() if k != "_embedded"}
            rows, bad = self._to_rows(entity, [record])
        else:
            emb = data.get("_embedded") or {}
            rows, bad = self._to_rows(entity, emb.get("users_groups" if entity.name == "user_groups" else "task_types")
                                      or [])
        self._merge(entity, run, rows, bad, None)
        self._snapshot_done(entity, run)

    def _run_snapshot(self, entity: Entity, run: EntityRun, full: bool) -> None:
        params = list(entity.params) + ([("limit", entity.limit)] if entity.name == "users" else [])
        for rows_in in pages(self.client, entity.path, params, entity.key):
            rows, bad = self._to_rows(entity, rows_in)
            self._merge(entity, run, rows, bad, None)
        self._snapshot_done(entity, run)

    def _run_pipelines(self, entity: Entity, run: EntityRun, full: bool) -> None:
        pip = BY_NAME["pipelines"]
        data = self._get_cached("pipelines", pip.path, [])
        pipelines = embedded(data, "pipelines")
        if entity.name == "pipelines":
            rows, bad = self._to_rows(entity, pipelines)
        else:
            statuses = [s for p in pipelines if isinstance(p, dict)
                        for s in ((p.get("_embedded") or {}).get("statuses") or [])]
            rows, bad = self._to_rows(entity, statuses,
                                      keyer=lambda rec, k: ((parse_int(rec.get("pipeline_id")), k), ()))
        self._merge(entity, run, rows, bad, None)
        self._snapshot_done(entity, run)

    def _catalogs(self) -> list[dict[str, Any]]:
        if "catalogs" not in self._cache:
            self._cache["catalogs"] = [c for rows in pages(self.client, "/catalogs", [], "catalogs") for c in rows
                                       if isinstance(c, dict)]
        cats = self._cache["catalogs"]
        if self.catalog_types:
            cats = [c for c in cats if c.get("type") in self.catalog_types]
        return cats

    def _run_custom_fields(self, entity: Entity, run: EntityRun, full: bool) -> None:
        targets = [(t, f"/{t}/custom_fields") for t in ("leads", "contacts", "companies")]
        targets += [(f"catalogs:{c['id']}", f"/catalogs/{c['id']}/custom_fields") for c in self._catalogs()]
        for etype, path in targets:
            for rows_in in pages(self.client, path, [("limit", 250)], entity.key):
                rows, bad = self._to_rows(entity, rows_in, keyer=lambda rec, k, t=etype: ((t, k), ()))
                self._merge(entity, run, rows, bad, None)
        self._snapshot_done(entity, run)

    def _run_elements(self, entity: Entity, run: EntityRun, full: bool) -> None:
        state = self._cursor(entity.name)
        at = state.get("at")
        if not full and at is not None and self.catalog_hours > 0 and time.time() - float(at) < self.catalog_hours * 3600:
            run.mode = "skipped (snapshot not due)"
            return
        cats = self._catalogs()
        for cat in cats:
            cid = int(cat["id"])
            for rows_in in pages(self.client, f"/catalogs/{cid}/elements", [("limit", 250)], entity.key):
                rows, bad = self._to_rows(entity, rows_in, keyer=lambda rec, k, c=cid: ((k,), (c,)))
                self._merge(entity, run, rows, bad, None)
        ids = [int(c["id"]) for c in cats]
        if ids:
            self._snapshot_done(entity, run, '"catalog_id" IN (SELECT unnest(?::BIGINT[]))', (ids,))
        self.wh.set_cursor(SYSTEM, self.account.name, entity.name, json.dumps({"at": time.time()}))

    # ------------------------------------------------------------------ incremental lists
    def _base_params(self, entity: Entity) -> list[tuple[str, Any]]:
        if entity.name == "leads":
            return [("with", self.lead_with)] if self.lead_with else []
        return list(entity.params)

    def _run_incremental(self, entity: Entity, run: EntityRun, full: bool) -> None:
        if entity.name == "events":
            self._apply_tombstones(run)  # catch up after a crash between events and tombstones
        state = {} if full else self._cursor(entity.name)
        prev_since = state.get("since")
        scan = state.get("scan") if isinstance(state.get("scan"), dict) else None
        overlap = int(self.settings.overlap_seconds)
        first_load = full or (prev_since is None and (scan is None or scan.get("since") is None))
        if scan:
            run.mode = "resume"
            since = scan.get("since")
            started = int(scan.get("started") or self._server_now())
        else:
            since = None if prev_since is None else int(prev_since) - overlap
            started = self._server_now() - 1
            if since is None:
                run.mode = "full"
        box: dict[str, Any] = {"max": None}
        chunk = max(1, self.settings.chunk_rows)
        buf: list[LandingRow] = []
        bad: list[QuarantineRow] = []

        def add(records: list[Any]) -> None:
            r, b = self._to_rows(entity, records, keyer=self._keyer(entity))
            for row in r:
                if row.modified_at is not None:
                    t = int(row.modified_at.timestamp())
                    box["max"] = t if box["max"] is None else max(box["max"], t)
            buf.extend(r)
            bad.extend(b)

        def flush(cursor: dict[str, Any]) -> None:
            self._merge(entity, run, buf, bad, cursor)
            buf.clear()
            bad.clear()
            if entity.name == "events":
                run.deleted += self._apply_tombstones(run)

        done = False
        if not self.filters_ignored and not (scan and scan.get("mode") == "desc"):
            ranges = scan.get("ranges") if scan else None
            st = ScanState({i: list(r) for i, r in enumerate(ranges)} if ranges is not None
                           else {0: [since if since is not None else 0, None]})
            try:
                for page in sliced_scan(self.client, entity.path, self._base_params(entity), entity.time_field,
                                        st, entity.limit, entity.key, self.concurrency):
                    add(page.rows)
                    if len(buf) + len(bad) >= chunk:
                        flush({"since": prev_since, "scan": {"mode": "filter", "since": since, "started": started,
                                                             "ranges": st.as_list()}})
                done = True
            except FilterIgnored as exc:
                if self.filters == "on":
                    raise ApiError(f"{entity.path}: API filtering is not available on this account ({exc}); "
                                   f"set options.api_filters to auto or off") from None
                log.warning("amocrm %s: API filters are ignored by this account (%s); falling back to "
                            "order[%s]=desc scans", self.account.name, exc, entity.time_field)
                self.filters_ignored = True
        if not done:
            run.mode += "+desc"
            for rows_in in desc_scan(self.client, entity.path, self._base_params(entity), entity.time_field,
                                     since, entity.limit, entity.key, self.concurrency):
                add(rows_in)
                if len(buf) + len(bad) >= chunk:
                    flush({"since": prev_since, "scan": {"mode": "desc", "since": since, "started": started}})
        if first_load and entity.name in self.trash:
            run.deleted += self._trash(entity, run)
        newest = box["max"]
        # Never past the scan's start (changes during the scan are at or after it), never past
        # the newest row seen (the data's clock may lag), never backwards.
        new_since = prev_since if newest is None else min(started, newest)
        if prev_since is not None and new_since is not None:
            new_since = max(int(new_since), int(prev_since))
        flush({"since": new_since, "scan": None})

    def _keyer(self, entity: Entity):
        if entity.name != "events":
            return None

        def fn(rec: dict[str, Any], k: Any) -> tuple[tuple, tuple]:
            eid = rec.get("entity_id")
            try:
                eid = parse_int(eid) if eid is not None else None
            except ValueError:
                eid = None
            return (k,), (str(rec.get("type") or ""), str(rec.get("entity_type") or ""), eid)
        return fn

    def _trash(self, entity: Entity, run: EntityRun) -> int:
        """Full runs: land the trash (`with=only_deleted`) as tombstones, payload included."""
        params = [("with", ",".join(filter(None, [self.lead_with if entity.name == "leads" else "",
                                                   "only_deleted"]))), ("limit", entity.limit)]
        n = 0
        for rows_in in pages(self.client, entity.path, params, entity.key):
            rows, bad = self._to_rows(entity, rows_in, deleted=True)
            self._merge(entity, run, rows, bad, None)
            n += len(rows)
        return n

    def _apply_tombstones(self, run: EntityRun) -> int:
        """Tombstone rows whose latest delete event is newer than their last seen version."""
        ev = BY_NAME["events"].spec
        self.wh.ensure_table(ev)
        total = 0
        con = self.wh.con
        for etype, table in DELETE_EVENTS.items():
            spec = BY_NAME[table].spec
            self.wh.ensure_table(spec)
            # Two steps: DuckDB's UPDATE ... FROM with a correlated NOT EXISTS matched nothing.
            con.execute(f"""CREATE OR REPLACE TEMP TABLE _amo_tomb AS
                SELECT t.id, d.at FROM {spec.table} AS t,
                     (SELECT entity_id, max(_modified_at) AS at FROM {ev.table}
                      WHERE _account = ? AND "type" = ? GROUP BY entity_id) AS d
                WHERE t._account = ? AND t.id = d.entity_id AND NOT t._is_deleted
                  AND (t._modified_at IS NULL OR t._modified_at <= d.at)
                  AND NOT EXISTS (SELECT 1 FROM {ev.table} AS r WHERE r._account = ? AND r."type" = ?
                                  AND r.entity_id = d.entity_id AND r._modified_at > d.at)""",
                        [self.account.name, etype, self.account.name, self.account.name, RESTORE_EVENTS[table]])
            try:
                total += int(con.execute(f"""UPDATE {spec.table} SET _is_deleted = true, _deleted_at = _amo_tomb.at,
                    _batch_id = ? FROM _amo_tomb WHERE {spec.table}._account = ? AND {spec.table}.id = _amo_tomb.id""",
                    [run.batch_id, self.account.name]).fetchone()[0])
            finally:
                con.execute("DROP TABLE IF EXISTS _amo_tomb")
        return total


def extract_account(account: AccountConfig, warehouse: Warehouse, full: bool = False,
                    settings: Settings | None = None, entities: Iterable[str] | None = None,
                    batch_id: str | None = None, token_store: TokenStore | None = None) -> list[EntityRun]:
    """Extract one amoCRM account; returns one `EntityRun` per entity."""
    ex = AmoCRMExtractor(account, warehouse, settings, token_store=token_store)
    try:
        return ex.run(entities, full=full, batch_id=batch_id)
    finally:
        ex.client.close()


def extract_accounts(accounts: list[AccountConfig], warehouse: Warehouse, settings: Settings | None = None,
                     entities: Iterable[str] | None = None, full: bool = False,
                     batch_id: str | None = None) -> list[EntityRun]:
    """Extract every amoCRM account in `accounts` (others are skipped) into one warehouse."""
    settings = settings or Settings()
    batch_id = batch_id or new_batch_id()
    runs: list[EntityRun] = []
    for account in accounts:
        if account.system == SYSTEM:
            runs += extract_account(account, warehouse, full, settings, entities, batch_id)
    return runs
