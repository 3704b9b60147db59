"""Runs of the Bitrix24 extractor: per entity, stream pages into the landing tables with cursors.

Cursor (meta.extract_cursors.cursor, JSON) per (account, entity):

- keyset + modified field: `{"since": ISO|null, "scan": null | {"since", "last_id", "started"}}`.
  A scan filters `>=<modified_field>: since − overlap` and walks IDs upward; each committed chunk
  stores `scan.last_id` in the same transaction, so a crashed run resumes where it stopped. When
  the scan ends, `since` becomes the server time at which it *started* (every change after that
  moment is at or after it), falling back to the largest modification time seen.
- append-only (stage history): `{"last_id": N}`.
- `<entity>:reconcile`: `{"at": unix}` — when the last ID-only deletion scan finished.
- children (product rows, payments): `{"parents_since": ISO}` — parents written after that are
  re-read (their children replaced; vanished children tombstoned).
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Iterator

from extract.bitrix24.client import Bitrix24Client
from extract.bitrix24.entities import BY_NAME, ENTITIES, Entity
from extract.bitrix24.paginate import Page, grouped_pages, keyset_pages, offset_pages, per_object, whole
from extract.common.config import AccountConfig, Settings
from extract.common.errors import ApiError, AuthError
from extract.common.extractor import AccountExtractor, quarantine_row
from extract.common.records import parse_int, parse_time
from extract.common.redact import get_logger, redact
from extract.common.runs import EntityRun, new_batch_id, prefetch
from extract.common.tokens import TokenStore
from warehouse.landing import LandingRow, QuarantineRow, TableSpec, Warehouse, dumps

log = get_logger(__name__)
SYSTEM = "bitrix24"
# Pages parsed ahead of the landing thread: one batch. keyset_pages already has the next batch in
# flight while this one is consumed; a deeper queue only holds more parsed records (~6 KB of Python
# objects per lead) when landing is the slower side.
PREFETCH_PAGES = 50


def _server_start(t: dict[str, Any] | None) -> str | None:
    """The server's clock at the start of a call, from a `time` block (ISO with the portal offset)."""
    if not t:
        return None
    if isinstance(t.get("date_start"), str):
        try:
            parse_time(t["date_start"])
            return t["date_start"]
        except ValueError:
            pass
    if isinstance(t.get("start"), (int, float)):
        return datetime.fromtimestamp(float(t["start"]), tz=timezone.utc).isoformat(timespec="seconds")
    return None


def _minus(iso: str, seconds: int) -> str:
    dt = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return (dt - timedelta(seconds=seconds)).isoformat(timespec="seconds")


class Bitrix24Extractor(AccountExtractor):
    """Extracts one portal into the warehouse. `run()` returns one `EntityRun` per entity."""

    SYSTEM, LABEL, ENTITIES, BY_NAME = SYSTEM, "Bitrix24", ENTITIES, BY_NAME

    def __init__(self, account: AccountConfig, warehouse: Warehouse, settings: Settings | None = None,
                 client: Bitrix24Client | None = None, token_store: TokenStore | None = None) -> None:
        super().__init__(account, warehouse, settings, None)
        self.client = client or Bitrix24Client(account, self.settings, token_store)
        self.payments_mode = str(account.options.get("payments", "auto"))

    # ------------------------------------------------------------------ public
    def run(self, entities: Iterable[str] | None = None, *, full: bool = False,
            reconcile: bool | None = None, batch_id: str | None = None) -> list[EntityRun]:
        """Extract `entities` (default: all, in dependency order). `full` ignores incremental
        cursors; `reconcile` forces (True) or skips (False) the deletion scan, default: when
        `Settings.reconcile_hours` have passed since the last one."""
        return super().run(entities, full=full, batch_id=batch_id, reconcile=reconcile)

    def _extract(self, entity: Entity, run: EntityRun, full: bool, reconcile: bool | None = None) -> None:
        getattr(self, f"_run_{entity.kind}")(entity, run, full)
        if entity.reconcile and self._reconcile_due(entity, reconcile):
            self._reconcile(entity, run)

    # ------------------------------------------------------------------ bookkeeping
    def _counters(self) -> tuple[int, int, float, int]:
        c, lim = self.client.counters, self.client.limiter.stats
        return (c.requests, lim.waits + c.budget_waits, lim.wait_seconds + c.budget_wait_seconds, c.refusals)

    def _to_rows(self, entity: Entity, records: Iterable[Any], extra: tuple = ()
                 ) -> tuple[list[LandingRow], list[QuarantineRow]]:
        rows: list[LandingRow] = []
        bad: list[QuarantineRow] = []
        tfield = entity.modified_field or entity.time_field
        for rec in records:
            try:
                if not isinstance(rec, dict):
                    raise ValueError(f"record is a {type(rec).__name__}, not an object")
                key = (parse_int(rec.get(entity.id_field)),)
                modified = parse_time(rec.get(tfield)) if tfield else None
                rows.append(LandingRow(key, dumps(rec), modified, False, extra))
            except (ValueError, TypeError, OverflowError) as exc:
                bad.append(quarantine_row(rec, entity.id_field, exc))
        return rows, bad

    # ------------------------------------------------------------------ keyset lists
    def _keyset_params(self, entity: Entity, since: str | None) -> dict[str, Any]:
        params = json.loads(json.dumps(entity.params))
        if since and entity.modified_field:
            params.setdefault("filter", {})[f">={entity.modified_field}"] = _minus(since, self.settings.overlap_seconds)
        return params

    def _run_keyset(self, entity: Entity, run: EntityRun, full: bool) -> None:
        state = {} if full else self._cursor(entity.name)
        chunk = max(1, self.settings.chunk_rows)
        if entity.append_only:
            after = int(state.get("last_id", 0))
            if after == 0:
                run.mode = "full"
            self._stream(entity, run, self._keyset_params(entity, None), after,
                         lambda last, _s: {"last_id": last}, chunk)
            return
        scan = state.get("scan")
        if scan:  # a crashed run left a scan half done: finish it
            run.mode = "resume"
            since_filter, after, started = scan.get("since"), int(scan.get("last_id", 0)), scan.get("started")
        else:
            since_filter, after, started = state.get("since"), 0, None
            if since_filter is None:
                run.mode = "full"
        prev_since = state.get("since") if not full else None
        box = {"started": started, "max_seen": None}

        def cursor_for(last: int, page_time: dict[str, Any] | None) -> dict[str, Any]:
            return {"since": prev_since, "scan": {"since": since_filter, "last_id": last, "started": box["started"]}}

        def on_page(page: Page, rows: list[LandingRow]) -> None:
            if box["started"] is None:
                box["started"] = _server_start(page.server_time)
            for r in rows:
                if r.modified_at and (box["max_seen"] is None or r.modified_at > box["max_seen"]):
                    box["max_seen"] = r.modified_at

        self._stream(entity, run, self._keyset_params(entity, since_filter), after, cursor_for, chunk, on_page)
        # Next `since`: the earlier of the scan's start (server clock: anything changed during the
        # scan is at or after it) and the newest modification seen (safe where the data's clock
        # lags the server's). Nothing seen: keep the old one — never move past unseen time.
        max_seen = box["max_seen"].isoformat(timespec="seconds") if box["max_seen"] else None
        if max_seen is None:
            new_since = prev_since
        elif box["started"] and parse_time(box["started"]) < box["max_seen"]:
            new_since = box["started"]
        else:
            new_since = max_seen
        self.wh.set_cursor(SYSTEM, self.account.name, entity.name, json.dumps({"since": new_since, "scan": None}))

    def _stream(self, entity: Entity, run: EntityRun, params: dict[str, Any], after: int,
                cursor_for, chunk: int, on_page=None) -> None:
        pages = prefetch(keyset_pages(self.client, entity.method, params, id_field=entity.id_field,
                                      wrapper=entity.wrapper, after_id=after), depth=PREFETCH_PAGES)
        rows: list[LandingRow] = []
        bad: list[QuarantineRow] = []
        last = after
        last_time = None
        for page in pages:
            r, b = self._to_rows(entity, page.rows)
            if on_page:
                on_page(page, r)
            rows += r
            bad += b
            last, last_time = page.last_id, page.server_time
            if len(rows) + len(bad) >= chunk:
                self._merge(entity, run, rows, bad, cursor_for(last, last_time))
                rows, bad = [], []
        if rows or bad or last != after:
            self._merge(entity, run, rows, bad, cursor_for(last, last_time))

    # ------------------------------------------------------------------ deletions
    def _reconcile_due(self, entity: Entity, force: bool | None) -> bool:
        if force is not None:
            return force
        hours = self.settings.reconcile_hours
        at = self._cursor(f"{entity.name}:reconcile").get("at")
        return hours <= 0 or at is None or time.time() - float(at) >= hours * 3600

    def _reconcile(self, entity: Entity, run: EntityRun) -> None:
        params = {k: v for k, v in entity.params.items() if k != "select"}
        params["select"] = [entity.id_field]
        chunk = max(1, self.settings.chunk_rows)

        def id_chunks() -> Iterator[list[int]]:
            buf: list[int] = []
            for page in prefetch(keyset_pages(self.client, entity.method, params, id_field=entity.id_field,
                                              wrapper=entity.wrapper), depth=PREFETCH_PAGES):
                for rec in page.rows:
                    try:
                        buf.append(parse_int(rec.get(entity.id_field)))
                    except (ValueError, AttributeError):
                        continue
                if len(buf) >= chunk:
                    yield buf
                    buf = []
            if buf:
                yield buf

        n = self.wh.tombstone_absent(entity.spec, self.account.name, run.batch_id, id_chunks(),
                                     cursor=json.dumps({"at": time.time()}),
                                     cursor_entity=f"{entity.name}:reconcile",
                                     children=_CHILDREN.get(entity.name, ()))
        run.deleted += n
        if run.mode != "full":
            run.mode += "+reconcile"

    # ------------------------------------------------------------------ small lists
    def _snapshot_done(self, entity: Entity, run: EntityRun) -> None:
        run.mode = "snapshot"
        run.deleted += self.wh.tombstone_stale(entity.spec, self.account.name, run.batch_id)

    def _run_offset(self, entity: Entity, run: EntityRun, full: bool) -> None:
        for variant in entity.variants or (None,):
            method = entity.method.format(v=variant) if variant else entity.method
            try:
                for page in offset_pages(self.client, method, entity.params, wrapper=entity.wrapper):
                    rows, bad = self._to_rows(entity, page.rows)
                    self._merge(entity, run, rows, bad, None)
            except ApiError as exc:
                if not self._missing_variant(exc, method):
                    raise
        self._snapshot_done(entity, run)

    def _missing_variant(self, exc: ApiError, method: str) -> bool:
        """One of several sibling methods (e.g. crm.company.userfield.list) is not served by this
        portal (older on-premise versions): skip it with a warning, keep the others."""
        if exc.code == "ERROR_METHOD_NOT_FOUND":
            log.warning("bitrix24 %s: %s is not available on this portal; skipped", self.account.name, method)
            return True
        return False

    def _run_categories(self, entity: Entity, run: EntityRun, full: bool) -> None:
        for type_id in entity.variants:
            cats = whole(self.client, entity.method, {"entityTypeId": type_id}, wrapper="categories") or []
            rows: list[LandingRow] = []
            bad: list[QuarantineRow] = []
            for rec in cats:
                try:
                    rows.append(LandingRow((int(type_id), parse_int(rec.get("id"))), dumps(rec)))
                except (ValueError, AttributeError) as exc:
                    bad.append(QuarantineRow(str(exc), redact(dumps(rec))))
            self._merge(entity, run, rows, bad, None)
        self._snapshot_done(entity, run)

    def _run_fields(self, entity: Entity, run: EntityRun, full: bool) -> None:
        for variant in entity.variants:
            try:
                result = whole(self.client, entity.method.format(v=variant))
            except ApiError as exc:
                if self._missing_variant(exc, entity.method.format(v=variant)):
                    continue
                raise
            if not isinstance(result, dict):
                raise ApiError(f"{entity.method.format(v=variant)}: expected a map of fields")
            rows = [LandingRow((variant, str(name)), dumps(desc)) for name, desc in result.items()]
            self._merge(entity, run, rows, [], None)
        self._snapshot_done(entity, run)

    # ------------------------------------------------------------------ children
    def _parents(self, table: str, since: str | None) -> list[int]:
        spec = BY_NAME[table].spec
        self.wh.ensure_table(spec)
        sql = f"SELECT id FROM {spec.table} WHERE _account = ? AND NOT _is_deleted"
        params: list[Any] = [self.account.name]
        if since:
            sql += " AND _extracted_at >= ?::TIMESTAMPTZ"
            params.append(since)
        return [r[0] for r in self.wh.con.execute(sql + " ORDER BY id", params).fetchall()]

    def _run_children(self, entity: Entity, run: EntityRun, full: bool, parents: list[tuple[int, list[int]]],
                      method: str, params_for, owner_extra) -> None:
        """Read children of each parent (50 parents per batch) and replace them in the landing."""
        chunk = max(1, self.settings.chunk_rows)
        rows: list[LandingRow] = []
        bad: list[QuarantineRow] = []
        for type_id, ids in parents:
            done: list[int] = []
            for oid, result, err in per_object(self.client, method, ids, lambda o: params_for(type_id, o)):
                if err:
                    # The parent vanished between the list and this call: its children go with it.
                    log.info("%s for %s %s: %s", method, type_id, oid, err.get("error"))
                    done.append(oid)
                    continue
                records = result if isinstance(result, list) else (result or {}).get("rows") if isinstance(result, dict) else []
                if isinstance(result, dict) and "payments" in result:
                    records = result["payments"]
                r, b = self._to_rows(entity, records or [], owner_extra(type_id, oid))
                rows += r
                bad += b
                done.append(oid)
                if len(rows) >= chunk:
                    self._merge(entity, run, rows, bad, None)
                    rows, bad = [], []
            if rows or bad:
                self._merge(entity, run, rows, bad, None)
                rows, bad = [], []
            run.deleted += self._tombstone_children(entity, run, type_id, done)

    def _tombstone_children(self, entity: Entity, run: EntityRun, type_id: int, owners: list[int]) -> int:
        if not owners:
            return 0
        owner_col = entity.extras[-1][0]
        where = f'"{owner_col}" IN (SELECT unnest(?::BIGINT[]))'
        params: list[Any] = [owners]
        if len(entity.extras) > 1:
            where += f' AND "{entity.extras[0][0]}" = ?'
            params.append(type_id)
        return self.wh.tombstone_stale(entity.spec, self.account.name, run.batch_id, where, params)

    def _tombstone_orphans(self, entity: Entity, run: EntityRun) -> int:
        """Children whose parent is a tombstone: normally tombstoned with the parent by
        reconciliation (`_CHILDREN`); this catches those of parents deleted before the child
        table existed. Children are only re-read for live parents."""
        return sum(self.wh.tombstone_orphans(child, self.account.name, run.batch_id, owner, BY_NAME[parent].spec,
                                             cond)
                   for parent, kids in _CHILDREN.items()
                   for child, owner, cond in kids if child.entity == entity.name)

    def _children_since(self, entity: Entity, full: bool) -> tuple[str | None, str]:
        state = {} if full else self._cursor(entity.name)
        since = state.get("parents_since")
        now = datetime.now(timezone.utc).isoformat()
        return since, now

    def _run_productrows(self, entity: Entity, run: EntityRun, full: bool) -> None:
        """Product rows (apartments) of the deals written since the last run:
        `crm.item.productrow.list` with `=ownerId: [50 deal ids]` per command ("=" takes arrays),
        50 commands per batch — about one request per 2,500 deals instead of one per 50."""
        since, now = self._children_since(entity, full)
        run.mode = "incremental" if since else "full"
        deals = self._parents("deals", since)
        groups = (deals[i:i + 50] for i in range(0, len(deals), 50))
        rows: list[LandingRow] = []
        bad: list[QuarantineRow] = []
        pages = grouped_pages(self.client, entity.method, groups,
                              lambda g: {"filter": {"=ownerType": "D", "=ownerId": g}},
                              id_field="id", wrapper="productRows")
        for page in pages:
            for rec in page.rows:
                owner = rec.get("ownerId") if isinstance(rec, dict) else None
                try:
                    extra = (parse_int(owner),)
                except ValueError:
                    extra = (None,)
                r, b = self._to_rows(entity, [rec], extra)
                rows += r
                bad += b
            if len(rows) >= self.settings.chunk_rows:
                self._merge(entity, run, rows, bad, None)
                rows, bad = [], []
        self._merge(entity, run, rows, bad, None)
        run.deleted += self._tombstone_children(entity, run, 2, deals)
        run.deleted += self._tombstone_orphans(entity, run)
        self.wh.set_cursor(SYSTEM, self.account.name, entity.name, json.dumps({"parents_since": now}))

    def _run_payments(self, entity: Entity, run: EntityRun, full: bool) -> None:
        mode = self.payments_mode
        if mode in ("auto", "sale"):
            try:
                self._payments_sale(entity, run)
                return
            except (ApiError, AuthError) as exc:
                if mode == "sale" or isinstance(exc, AuthError) and "insufficient_scope" not in str(exc) \
                        and "ACCESS_DENIED" not in str(exc):
                    raise
                log.info("sale.payment.list unavailable (%s); reading payments per deal and invoice",
                         getattr(exc, "code", "") or "access denied")
                self.payments_mode = "per_object"
        since, now = self._children_since(entity, full)
        run.mode = "incremental" if since else "full"
        parents = [(2, self._parents("deals", since)), (31, self._parents("invoices", since))]
        self._run_children(entity, run, full, parents, entity.method,
                           lambda t, oid: {"entityTypeId": t, "entityId": oid}, lambda t, oid: (t, oid))
        run.deleted += self._tombstone_orphans(entity, run)
        self.wh.set_cursor(SYSTEM, self.account.name, entity.name, json.dumps({"parents_since": now}))

    def _payments_sale(self, entity: Entity, run: EntityRun) -> None:
        """Portal-wide `sale.payment.list` (admin only): a keyset snapshot of every payment."""
        run.mode = "snapshot"
        sale = Entity("payments", "keyset", "sale.payment.list", {"select": ["*"]}, id_field="id",
                      wrapper="payments", extras=entity.extras)
        rows: list[LandingRow] = []
        bad: list[QuarantineRow] = []
        for page in prefetch(keyset_pages(self.client, sale.method, sale.params, id_field="id",
                                          wrapper="payments"), depth=PREFETCH_PAGES):
            for rec in page.rows:
                extra = (rec.get("entityTypeId"), rec.get("entityId")) if isinstance(rec, dict) else ()
                try:
                    extra = tuple(None if v in (None, "") else int(v) for v in extra)
                except (TypeError, ValueError):
                    extra = (None, None)
                r, b = self._to_rows(sale, [rec], extra)
                rows += r
                bad += b
            if len(rows) >= self.settings.chunk_rows:
                self._merge(entity, run, rows, bad, None)
                rows, bad = [], []
        self._merge(entity, run, rows, bad, None)
        run.deleted += self.wh.tombstone_stale(entity.spec, self.account.name, run.batch_id)


# Parent → (child table, owner column, condition): the source deletes these children with their
# parent, so reconciliation tombstones them in the parent's transaction (Warehouse.tombstone_absent).
_CHILDREN: dict[str, tuple[tuple[TableSpec, str, str], ...]] = {
    "deals": ((BY_NAME["deal_productrows"].spec, "owner_id", ""),
              (BY_NAME["payments"].spec, "entity_id", "entity_type_id = 2")),
    "invoices": ((BY_NAME["payments"].spec, "entity_id", "entity_type_id = 31"),),
}


def extract_accounts(accounts: list[AccountConfig], warehouse: Warehouse, settings: Settings | None = None,
                     entities: Iterable[str] | None = None, full: bool = False,
                     reconcile: bool | None = None, batch_id: str | None = None) -> list[EntityRun]:
    """Extract every Bitrix24 account in `accounts` (others are skipped) into one warehouse."""
    settings = settings or Settings()
    batch_id = batch_id or new_batch_id()
    runs: list[EntityRun] = []
    for account in accounts:
        if account.system != SYSTEM:
            continue
        ex = Bitrix24Extractor(account, warehouse, settings)
        try:
            runs += ex.run(entities, full=full, reconcile=reconcile, batch_id=batch_id)
        finally:
            ex.client.close()
    return runs
