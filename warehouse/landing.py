"""DuckDB landing zone: raw tables, merge on key, cursors, run log, quarantine, writer lock.

Tables (created on demand):

- `raw_<system>.<entity>`: typed key columns + `_account`, `_modified_at` (source modification
  time, when the entity has one), `_is_deleted`, `_deleted_at`, `_extracted_at` (UTC: when this
  version of the row was written — a tombstone is a new version, so it moves `_extracted_at` too and
  the incremental dbt models, which pick up rows by `_extracted_at`, see the deletion),
  `_batch_id`, `payload` JSON (the record as the API returned it). Unique on (_account, keys) by
  construction — `merge` deletes the keys it writes, then inserts them — rather than by a PRIMARY
  KEY: its ART index lives in memory and grows with the table, and `INSERT ... ON CONFLICT` through
  it was ~25 % slower (tables created before keep their key; the merge works on both).
- `meta.extract_cursors (system, account, entity, cursor, updated_at)`: the extractor's opaque
  cursor text (JSON). Written **in the same transaction** as the rows it covers (`merge(...,
  cursor=...)`), so a cursor is never ahead of committed data and a crashed run resumes exactly.
- `meta.extract_runs`: one row per (batch, account, entity) run, from `EntityRun`.
- `quality.quarantine_records`: records that could not be parsed, with the reason.

Only one writer at a time: DuckDB refuses a second writing process anyway, but with an obscure
error; `Warehouse` takes an exclusive `fcntl.flock` on `<path>.lock` first and fails fast with
`WarehouseLocked` naming the pid that holds it.

Usage::

    with Warehouse("warehouse/crm.duckdb") as wh:
        spec = TableSpec("bitrix24", "leads", (("id", "BIGINT"),))
        wh.ensure_table(spec)
        wh.merge(spec, "b24-msk", batch_id, [LandingRow((1,), '{"ID":"1"}', modified_at)],
                 cursor='{"since": "..."}')
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

import duckdb
import pyarrow as pa

try:  # a dependency of dagster-dbt; see dumps()
    import orjson
except ImportError:  # pragma: no cover
    orjson = None

DEFAULT_PATH = Path("warehouse/crm.duckdb")
RAW_TEXT_LIMIT = 4000
# Rows per DuckDB row group for the tables this writer appends to (see Warehouse._connect).
ROW_GROUP_SIZE = 16_384

_ARROW_TYPES = {"BIGINT": pa.int64(), "INTEGER": pa.int32(), "VARCHAR": pa.string()}

META_DDL = [
    "CREATE SCHEMA IF NOT EXISTS meta",
    "CREATE SCHEMA IF NOT EXISTS quality",
    """CREATE TABLE IF NOT EXISTS meta.extract_cursors (
        system VARCHAR NOT NULL, account VARCHAR NOT NULL, entity VARCHAR NOT NULL,
        cursor VARCHAR, updated_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (system, account, entity))""",
    # Which columns key each landing table. The tables carry no PRIMARY KEY (an ART index on a
    # million-row table costs more memory than the merge saves), so readers that need the key —
    # data-quality checks for null and duplicate keys — look it up here.
    """CREATE TABLE IF NOT EXISTS meta.landing_tables (
        table_schema VARCHAR NOT NULL, table_name VARCHAR NOT NULL, key_columns VARCHAR[] NOT NULL,
        PRIMARY KEY (table_schema, table_name))""",
    """CREATE TABLE IF NOT EXISTS meta.extract_runs (
        batch_id VARCHAR NOT NULL, system VARCHAR NOT NULL, account VARCHAR NOT NULL,
        entity VARCHAR NOT NULL, mode VARCHAR, status VARCHAR, rows BIGINT, deleted BIGINT,
        quarantined BIGINT, requests BIGINT, rate_limit_waits BIGINT,
        rate_limit_wait_seconds DOUBLE, rate_limit_refusals BIGINT, seconds DOUBLE,
        started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, error VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS quality.quarantine_records (
        system VARCHAR NOT NULL, account VARCHAR NOT NULL, entity VARCHAR NOT NULL,
        record_key VARCHAR, reason VARCHAR NOT NULL, raw_text VARCHAR, batch_id VARCHAR,
        quarantined_at TIMESTAMPTZ NOT NULL)""",
]


class WarehouseLocked(RuntimeError):
    """Another process is writing to the warehouse."""


@dataclass(frozen=True)
class TableSpec:
    """A landing table: `raw_<system>.<entity>` keyed by (_account, *keys)."""

    system: str
    entity: str
    keys: tuple[tuple[str, str], ...] = (("id", "BIGINT"),)  # (column, DuckDB type)
    extras: tuple[tuple[str, str], ...] = ()  # typed non-key columns (e.g. the owner of a child row)

    @property
    def schema(self) -> str:
        return f"raw_{self.system}"

    @property
    def table(self) -> str:
        return f'{self.schema}."{self.entity}"'

    @property
    def key_names(self) -> list[str]:
        return [k for k, _ in self.keys]


@dataclass(slots=True)
class LandingRow:
    key: tuple  # values for TableSpec.keys, in order
    payload: str  # the record's JSON text
    modified_at: datetime | None = None
    is_deleted: bool = False
    extra: tuple = ()  # values for TableSpec.extras, in order


@dataclass(slots=True)
class QuarantineRow:
    reason: str
    raw_text: str
    record_key: str | None = None


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


class Warehouse:
    """One writer's connection to the warehouse (see the module docstring)."""

    def __init__(self, path: str | Path = DEFAULT_PATH, memory_limit: str = "64MB",
                 row_group_size: int = ROW_GROUP_SIZE) -> None:
        self.path = str(path)
        self._lock_fh = None
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._take_lock()
        try:
            self.con = self._connect(row_group_size)
        except (duckdb.IOException, duckdb.BinderException) as exc:
            self._release_lock()
            raise WarehouseLocked(f"cannot open {self.path} for writing: {exc}") from None
        # 64 MB caps the buffer pool's cache of freshly written table blocks (~80 MB at 128 MB, for
        # nothing: a writer rarely re-reads them); merges and tombstone scans need far less, and
        # DuckDB spills to <file>.tmp past it.
        self.con.execute(f"SET memory_limit='{memory_limit}'")
        self.con.execute("SET preserve_insertion_order=false")
        self.con.execute("SET allocator_flush_threshold='16MB'")  # hand freed memory back sooner
        for ddl in META_DDL:
            self.con.execute(ddl)
        self._tables: set[TableSpec] = set()

    def _connect(self, row_group_size: int) -> duckdb.DuckDBPyConnection:
        """The file is ATTACHed (as the name `duckdb.connect` would give it, then USEd) rather
        than opened directly, for one option: ROW_GROUP_SIZE. Appended rows sit in memory,
        uncompressed, per row group (and in the optimistic write buffer) until the group is full
        and written out — memory that `duckdb_memory()` does not report. With the default
        122,880-row groups and ~1 KB JSON payloads that is 250-350 MB of native RSS whatever the
        memory_limit; with 16,384-row groups it is ~30 MB (docs/benchmarks.md, Extraction)."""
        if self.path == ":memory:":
            return duckdb.connect(self.path)
        con = duckdb.connect(":memory:")
        try:
            alias = _q(Path(self.path).stem or "warehouse")
            con.execute(f"ATTACH '{self.path.replace(chr(39), chr(39) * 2)}' AS {alias} "
                        f"(ROW_GROUP_SIZE {int(row_group_size)})")
            con.execute(f"USE {alias}")
        except BaseException:
            con.close()
            raise
        return con

    # ------------------------------------------------------------------ lock
    def _take_lock(self) -> None:
        lock_path = self.path + ".lock"
        fh = open(lock_path, "a+")  # noqa: SIM115 - held for the connection's life
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            fh.close()
            raise WarehouseLocked(
                f"warehouse {self.path} is locked by another writer (pid {holder}, lock file "
                f"{lock_path}); wait for that run to finish, or stop it") from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._lock_fh = fh

    def _release_lock(self) -> None:
        if self._lock_fh is not None:
            try:
                self._lock_fh.seek(0)
                self._lock_fh.truncate()
                fcntl.flock(self._lock_fh.fileno(), fcntl.LOCK_UN)
            finally:
                self._lock_fh.close()
                self._lock_fh = None

    def close(self) -> None:
        try:
            self.con.close()
        finally:
            self._release_lock()

    def __enter__(self) -> "Warehouse":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ tables
    def ensure_table(self, spec: TableSpec) -> None:
        if spec in self._tables:
            return
        keys = ", ".join(f"{_q(k)} {t} NOT NULL" for k, t in spec.keys)
        extras = "".join(f", {_q(k)} {t}" for k, t in spec.extras)
        self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {spec.schema}")
        self.con.execute(f"""CREATE TABLE IF NOT EXISTS {spec.table} (
            _account VARCHAR NOT NULL, {keys}{extras}, _modified_at TIMESTAMPTZ,
            _is_deleted BOOLEAN NOT NULL DEFAULT false, _deleted_at TIMESTAMPTZ,
            _extracted_at TIMESTAMPTZ NOT NULL, _batch_id VARCHAR NOT NULL, payload JSON)""")
        self.con.execute("INSERT OR REPLACE INTO meta.landing_tables VALUES (?, ?, ?)",
                         [spec.schema, spec.entity, ["_account", *spec.key_names]])
        self._tables.add(spec)

    # ------------------------------------------------------------------ writes
    def merge(self, spec: TableSpec, account: str, batch_id: str, rows: Sequence[LandingRow], *,
              cursor: str | None = None, quarantine: Sequence[QuarantineRow] = (),
              extracted_at: datetime | None = None) -> int:
        """Upsert `rows` (later duplicates of a key win), store `quarantine`, and — if given —
        set the cursor of (system, account, entity), all in ONE transaction. Returns rows merged."""
        self.ensure_table(spec)
        now = extracted_at or datetime.now(timezone.utc)
        unique: dict[tuple, LandingRow] = {}
        for r in rows:
            unique[r.key] = r
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            if unique:
                self._upsert(spec, account, batch_id, list(unique.values()), now)
            if quarantine:
                self._quarantine(spec, account, batch_id, quarantine, now)
            if cursor is not None:
                self._set_cursor(spec.system, account, spec.entity, cursor, now)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return len(unique)

    def _upsert(self, spec: TableSpec, account: str, batch_id: str, rows: list[LandingRow],
                now: datetime) -> None:
        cols: dict[str, pa.Array] = {}
        for i, (name, typ) in enumerate(spec.keys):
            cols[f"k{i}"] = pa.array([r.key[i] for r in rows], type=_ARROW_TYPES.get(typ, pa.string()))
        for i, (name, typ) in enumerate(spec.extras):
            cols[f"x{i}"] = pa.array([r.extra[i] if r.extra else None for r in rows],
                                     type=_ARROW_TYPES.get(typ, pa.string()))
        cols["modified_at"] = pa.array([r.modified_at for r in rows], type=pa.timestamp("us", tz="UTC"))
        cols["is_deleted"] = pa.array([r.is_deleted for r in rows], type=pa.bool_())
        cols["payload"] = pa.array([r.payload for r in rows], type=pa.string())
        staging = pa.table(cols)
        names = [_q(k) for k in spec.key_names]
        key_sel = ", ".join([f"k{i}" for i in range(len(spec.keys))] + [f"x{i}" for i in range(len(spec.extras))])
        extra_names = "".join(f", {_q(k)}" for k, _ in spec.extras)
        match = " AND ".join(f"t.{n} = s.k{i}" for i, n in enumerate(names))
        self.con.register("_landing_stage", staging)
        try:
            # Merge = delete the keys being written, then insert them (same transaction). The hash
            # join pushes the stage's min/max key into the table scan, so a keyset load touches only
            # the newest row groups; an incremental chunk scans the key columns once.
            self.con.execute(f"DELETE FROM {spec.table} t USING _landing_stage s WHERE t._account = ? AND {match}",
                             [account])
            self.con.execute(f"""
                INSERT INTO {spec.table} (_account, {", ".join(names)}{extra_names}, _modified_at, _is_deleted,
                    _deleted_at, _extracted_at, _batch_id, payload)
                SELECT ?, {key_sel}, modified_at, is_deleted, CASE WHEN is_deleted THEN ?::TIMESTAMPTZ END,
                    ?::TIMESTAMPTZ, ?, payload::JSON FROM _landing_stage""",
                [account, now, now, batch_id])
        finally:
            self.con.unregister("_landing_stage")

    def _quarantine(self, spec: TableSpec, account: str, batch_id: str, rows: Sequence[QuarantineRow],
                    now: datetime) -> None:
        self.con.executemany(
            "INSERT INTO quality.quarantine_records VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(spec.system, account, spec.entity, q.record_key, q.reason[:500], q.raw_text[:RAW_TEXT_LIMIT],
              batch_id, now) for q in rows])

    def _set_cursor(self, system: str, account: str, entity: str, cursor: str, now: datetime) -> None:
        self.con.execute(
            """INSERT INTO meta.extract_cursors VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (system, account, entity) DO UPDATE SET cursor = EXCLUDED.cursor,
               updated_at = EXCLUDED.updated_at""", [system, account, entity, cursor, now])

    def set_cursor(self, system: str, account: str, entity: str, cursor: str) -> None:
        """Set a cursor on its own (for state that covers no rows, e.g. an empty scan's end)."""
        self._set_cursor(system, account, entity, cursor, datetime.now(timezone.utc))

    def get_cursor(self, system: str, account: str, entity: str) -> str | None:
        # Literals, not parameters: a process's first parameter binding makes DuckDB import pandas
        # (~0.4 s), and this query is what an extraction waits on before its first request; the
        # import then happens at the first merge, while that request is in flight.
        row = self.con.execute(
            f"SELECT cursor FROM meta.extract_cursors WHERE system = {_lit(system)} AND account = {_lit(account)} "
            f"AND entity = {_lit(entity)}").fetchone()
        return row[0] if row else None

    def tombstone_absent(self, spec: TableSpec, account: str, batch_id: str,
                         present_chunks: Iterable[Sequence[int]], *, cursor: str | None = None,
                         cursor_entity: str | None = None,
                         children: Sequence[tuple[TableSpec, str, str]] = ()) -> int:
        """Deletion reconciliation for a single-integer-key table: stream every key that still
        exists at the source; live rows of `account` whose key is absent (and not above the
        largest key seen, so rows created meanwhile are safe) become tombstones. One transaction
        (with the optional cursor). Returns the number of rows tombstoned.

        `children`: (child table, owner column, extra SQL condition or "") — live child rows of
        `account` whose owner is a tombstone of this table become tombstones in the same
        transaction (the source deletes a deal's product rows with the deal; they are never
        re-read once the parent is gone). Tables not created yet are skipped."""
        self.ensure_table(spec)
        if len(spec.keys) != 1:
            raise ValueError("tombstone_absent needs a single key column")
        key = _q(spec.key_names[0])
        con = self.con
        con.execute("CREATE OR REPLACE TEMP TABLE _present (k BIGINT)")
        max_key: int | None = None
        for chunk in present_chunks:
            if not chunk:
                continue
            con.register("_present_chunk", pa.table({"k": pa.array(list(chunk), type=pa.int64())}))
            try:
                con.execute("INSERT INTO _present SELECT k FROM _present_chunk")
            finally:
                con.unregister("_present_chunk")
            m = max(chunk)
            max_key = m if max_key is None else max(max_key, m)
        now = datetime.now(timezone.utc)
        con.execute("BEGIN TRANSACTION")
        try:
            n = con.execute(f"""
                UPDATE {spec.table} SET _is_deleted = true, _deleted_at = ?, _extracted_at = ?, _batch_id = ?
                WHERE _account = ? AND NOT _is_deleted AND {key} <= ?
                  AND {key} NOT IN (SELECT k FROM _present)""",
                [now, now, batch_id, account, max_key if max_key is not None else -1]).fetchone()[0]
            if max_key is None:  # the source has no rows at all: everything we hold is gone
                n += con.execute(f"""UPDATE {spec.table} SET _is_deleted = true, _deleted_at = ?,
                    _extracted_at = ?, _batch_id = ? WHERE _account = ? AND NOT _is_deleted""",
                                 [now, now, batch_id, account]).fetchone()[0]
            for child, owner_col, extra_sql in children:
                self.tombstone_orphans(child, account, batch_id, owner_col, spec, extra_sql, now)
            if cursor is not None:
                self._set_cursor(spec.system, account, cursor_entity or spec.entity, cursor, now)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            con.execute("DROP TABLE IF EXISTS _present")
        return int(n)

    def tombstone_orphans(self, child: TableSpec, account: str, batch_id: str, owner_col: str,
                          parent: TableSpec, extra_sql: str = "", now: datetime | None = None) -> int:
        """Tombstone live rows of `child` whose owner (`owner_col`) is a tombstone in `parent`
        (single integer key). No-op while either table does not exist yet."""
        existing = {r[0] for r in self.con.execute(
            "SELECT schema_name || '.' || table_name FROM duckdb_tables() WHERE schema_name = ? "
            "AND table_name IN (?, ?)", [child.schema, child.entity, parent.entity]).fetchall()}
        if {f"{child.schema}.{child.entity}", f"{parent.schema}.{parent.entity}"} - existing:
            return 0
        cond = f" AND ({extra_sql})" if extra_sql else ""
        now = now or datetime.now(timezone.utc)
        return int(self.con.execute(
            f"""UPDATE {child.table} SET _is_deleted = true, _deleted_at = ?, _extracted_at = ?, _batch_id = ?
                WHERE _account = ? AND NOT _is_deleted{cond} AND {_q(owner_col)} IN (
                    SELECT {_q(parent.key_names[0])} FROM {parent.table} WHERE _account = ? AND _is_deleted)""",
            [now, now, batch_id, account, account]).fetchone()[0])

    def tombstone_stale(self, spec: TableSpec, account: str, batch_id: str, where_sql: str = "",
                        params: Sequence[Any] = ()) -> int:
        """Tombstone live rows of `account` that this batch did not write (optionally only those
        matching `where_sql`): after a snapshot of a dictionary, or of the children of re-read
        parents (e.g. product rows of the deals read in this batch)."""
        self.ensure_table(spec)
        cond = f" AND ({where_sql})" if where_sql else ""
        now = datetime.now(timezone.utc)
        return int(self.con.execute(
            f"""UPDATE {spec.table} SET _is_deleted = true, _deleted_at = ?, _extracted_at = ?, _batch_id = ?
                WHERE _account = ? AND NOT _is_deleted AND _batch_id <> ?{cond}""",
            [now, now, batch_id, account, batch_id, *params]).fetchone()[0])

    def quarantine(self, system: str, account: str, entity: str, batch_id: str,
                   rows: Sequence[QuarantineRow]) -> None:
        self._quarantine(TableSpec(system, entity), account, batch_id, rows, datetime.now(timezone.utc))

    def record_run(self, run: Any) -> None:
        """Append an `extract.common.runs.EntityRun` to meta.extract_runs."""
        self.con.execute(
            "INSERT INTO meta.extract_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [run.batch_id, run.system, run.account, run.entity, run.mode, run.status, run.rows, run.deleted,
             run.quarantined, run.requests, run.rate_limit_waits, run.rate_limit_wait_seconds,
             run.rate_limit_refusals, run.seconds, run.started_at, datetime.now(timezone.utc), run.error[:2000]])


def dumps(record: Any) -> str:
    """The JSON text stored in `payload` (compact, non-ASCII kept as is). orjson when available
    (5-10x faster: less time holding the GIL while the next page downloads); it writes NaN and
    infinities as null, which is what JSON has for them. The stdlib for what orjson refuses
    (integers beyond 64 bits). A string that is not valid Unicode (a lone surrogate: `\\ud800` is
    valid JSON) raises ValueError here, so the extractor quarantines that one record instead of the
    whole chunk failing when the batch is encoded for the merge."""
    if orjson is not None:
        try:
            return orjson.dumps(record, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:
            pass
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"a string is not valid Unicode (lone surrogate {text[exc.start:exc.end]!r} "
                         f"at character {exc.start})") from None
    return text
