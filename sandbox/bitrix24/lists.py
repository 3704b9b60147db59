"""`filter` / `order` / `select` of the Bitrix24 list methods, compiled to DuckDB SQL, and value
rendering in the API's styles.

Filter keys carry an operator prefix ([B24DOCS] `crm/leads/crm-lead-list.md`):
`>= > <= < @ !@ % =% %= !% !=% !%= = != !` (no prefix = equality). Negations also match NULL,
as Bitrix's CSQLWhere does (`col IS NULL OR col <> x`). `%` is a case-insensitive substring
search; `=%`/`%=` take the `%` wildcards from the value. An array value with `=`/no prefix means
IN, with `!` NOT IN. Filters on unknown fields are ignored (⚠ the real API silently ignores most
unknown CRM filter keys). crm.item.list's `logic: OR` groups are supported.

The database does all filtering, ordering and paging; only the page (≤ 50 rows) reaches Python.
"""

from __future__ import annotations

import bisect
import threading

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Callable

PAGE_SIZE = 50

# Longest prefixes first, so that "!=%" is not read as "!=" + "%NAME".
FILTER_OPS = ("!=%", "!%=", ">=", "<=", "!@", "!%", "!=", "=%", "%=", ">", "<", "@", "%", "=", "!")


class ApiError(Exception):
    """An error the API answers as {"error", "error_description"} with an HTTP status."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.status, self.error, self.description = status, error, description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def type_family(duck_type: str) -> str:
    t = duck_type.upper()
    if t in ("BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER"):
        return "int"
    if t.startswith("DECIMAL") or t in ("DOUBLE", "FLOAT", "REAL"):
        return "num"
    if t == "BOOLEAN":
        return "bool"
    if t.startswith("TIMESTAMP") or t == "DATE":
        return "ts"
    if t == "JSON" or t.endswith("[]"):
        return "json"
    return "str"


def qi(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass
class Table:
    """A state table and its columns (discovered with DESCRIBE, so generator-added UF_ columns count)."""

    name: str
    columns: dict[str, str]  # column name -> DuckDB type
    id_column: str = "ID"
    _upper: dict[str, str] = field(default_factory=dict, repr=False)

    _families: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._upper = {c.upper(): c for c in self.columns}
        # Rendering asks a column's family once per cell: look it up, don't re-derive it.
        self._families = {c: type_family(t) for c, t in self.columns.items()}

    def resolve(self, name: str) -> str | None:
        return self._upper.get(str(name).upper())

    def family(self, column: str) -> str:
        return self._families[column]

    @property
    def uf_columns(self) -> list[str]:
        return [c for c in self.columns if c.upper().startswith("UF_") and c.upper() != "UF_DEPARTMENT"]


# --------------------------------------------------------------------------- values

def parse_datetime(value: Any, default_offset: timezone) -> float | None:
    """A filter value as a unix timestamp. Accepts ISO 8601 with or without offset, a date,
    "DD.MM.YYYY[ HH:MM[:SS]]" (portal-locale form) and unix seconds; naive values are portal time."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    s = str(value).strip()
    if re.fullmatch(r"\d{9,11}(\.\d+)?", s):
        return float(s)
    m = re.fullmatch(r"(\d{2})\.(\d{2})\.(\d{4})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?", s)
    if m:
        d, mo, y, hh, mi, ss = m.groups()
        dt = datetime(int(y), int(mo), int(d), int(hh or 0), int(mi or 0), int(ss or 0))
    else:
        s2 = s.replace("Z", "+00:00").replace(" ", "T", 1) if "T" not in s else s.replace("Z", "+00:00")
        # "+0300" -> "+03:00" (fromisoformat in 3.11 accepts both, but be explicit)
        s2 = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", s2)
        try:
            dt = datetime.fromisoformat(s2)
        except ValueError:
            try:
                dt = datetime.combine(date.fromisoformat(s[:10]), datetime.min.time())
            except ValueError:
                raise ValueError(f"not a date: {value!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=default_offset)
    return dt.timestamp()


def coerce(family: str, value: Any, tz: timezone) -> Any:
    """A filter value converted for comparison with a column of `family`; raises ValueError."""
    if isinstance(value, (dict, list)):
        raise ValueError("composite value")
    if family == "int":
        if isinstance(value, bool):
            return int(value)
        return int(float(str(value).strip()))
    if family == "num":
        return float(str(value).strip())
    if family == "bool":
        if isinstance(value, bool):
            return value
        s = str(value).strip().upper()
        if s in ("Y", "1", "TRUE"):
            return True
        if s in ("N", "0", "FALSE"):
            return False
        raise ValueError(f"not a flag: {value!r}")
    if family == "ts":
        return parse_datetime(value, tz)
    return str(value)


def _like_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass
class Compiled:
    sql: str
    params: list[Any]
    # The largest id excluded by a top-level `>ID`/`>=ID` condition (AND logic): lets run_page
    # bound a keyset page's scan to an id window instead of the rest of the table.
    keyset_after: int | None = None


class FilterCompiler:
    """Compile a Bitrix filter object for one table. `resolve` maps an API field name to a column
    (old-style UPPER names, crm.item camelCase names, or anything a method wants)."""

    def __init__(self, table: Table, tz: timezone, resolve: Callable[[str], str | None] | None = None) -> None:
        self.table, self.tz = table, tz
        self.resolve = resolve or table.resolve

    def compile(self, filt: Any) -> Compiled:
        params: list[Any] = []
        sql = self._group(filt, params)
        return Compiled(sql or "TRUE", params, self._keyset_after(filt))

    def _keyset_after(self, filt: Any) -> int | None:
        if not isinstance(filt, dict) or str(filt.get("LOGIC", filt.get("logic", "AND"))).upper() == "OR":
            return None
        after = None
        for key, value in filt.items():
            op, name = split_filter_key(str(key))
            if op not in (">", ">=") or self.resolve(name) != self.table.id_column:
                continue
            try:
                v = int(value[0] if isinstance(value, list) else value)
            except (TypeError, ValueError, IndexError):
                continue
            v = v if op == ">" else v - 1
            after = v if after is None else max(after, v)
        return after

    def _group(self, filt: Any, params: list[Any]) -> str:
        if isinstance(filt, list):
            items = [(str(i), v) for i, v in enumerate(filt)]
        elif isinstance(filt, dict):
            items = list(filt.items())
        else:
            return ""
        logic = "AND"
        parts: list[str] = []
        for key, value in items:
            if str(key).upper() == "LOGIC":
                logic = "OR" if str(value).upper() == "OR" else "AND"
                continue
            op, name = split_filter_key(str(key))
            column = self.resolve(name) if name else None
            if column is None:
                if isinstance(value, (dict, list)) and (str(key).isdigit() or not name or name.isdigit()):
                    sub = self._group(value, params)
                    if sub:
                        parts.append(f"({sub})")
                continue  # unknown field: ignored, as the real CRM filter does
            parts.append(self._condition(column, op, value, params))
        return f" {logic} ".join(parts)

    def _condition(self, column: str, op: str, value: Any, params: list[Any]) -> str:
        fam = self.table.family(column)
        col = qi(column)
        if fam == "ts":
            col_expr = f"epoch_ms({col})"
        else:
            col_expr = col
        neg = op in ("!", "!=", "!@", "!%", "!=%", "!%=")

        def lit(v: Any) -> Any:
            c = coerce(fam, v, self.tz)
            return int(c * 1000) if fam == "ts" and c is not None else c

        if fam == "json":
            return self._json_condition(col, op, value, params, neg)

        if op in ("%", "!%", "=%", "%=", "!=%", "!%="):
            v = value[0] if isinstance(value, list) and value else value
            pattern = f"%{_like_escape(str(v))}%" if op in ("%", "!%") else str(v)
            params.append(pattern)
            cond = f"CAST({col} AS VARCHAR) ILIKE ? ESCAPE '\\'"
            return f"({col} IS NULL OR NOT ({cond}))" if neg else cond

        values: list[Any] | None = None
        if op in ("@", "!@"):
            values = value if isinstance(value, list) else (
                list(value.values()) if isinstance(value, dict) else [x for x in str(value).split(",") if x != ""])
        elif isinstance(value, (list, dict)) and op in ("", "=", "!", "!="):
            values = value if isinstance(value, list) else list(value.values())
        if values is not None:
            try:
                lits = [lit(v) for v in values]
            except (ValueError, TypeError):
                lits = []
            if not lits:
                return "TRUE" if neg else "FALSE"
            params.extend(lits)
            marks = ",".join("?" * len(lits))
            return f"({col_expr} IS NULL OR {col_expr} NOT IN ({marks}))" if neg else f"{col_expr} IN ({marks})"

        if isinstance(value, (list, dict)):  # comparison against an array: Bitrix takes the first
            vals = value if isinstance(value, list) else list(value.values())
            value = vals[0] if vals else ""
        if value is None or value == "" or (isinstance(value, str) and value.lower() == "null"):
            empty = f"{col} IS NULL" + (f" OR {col} = ''" if fam == "str" else "")
            if op in ("", "="):
                return f"({empty})"
            if op in ("!", "!="):
                return f"NOT ({empty})"
            return "FALSE"
        try:
            v = lit(value)
        except (ValueError, TypeError):
            # A value that cannot be compared with the column matches nothing (MySQL would cast it
            # to 0; nothing useful either way).
            return "TRUE" if neg else "FALSE"
        params.append(v)
        if op in ("", "="):
            return f"{col_expr} = ?"
        if op in ("!", "!="):
            return f"({col_expr} IS NULL OR {col_expr} <> ?)"
        return f"{col_expr} {op} ?"

    def _json_condition(self, col: str, op: str, value: Any, params: list[Any], neg: bool) -> str:
        # Multifields (PHONE/EMAIL) and JSON UF values: match against the VALUE entries (or raw text).
        vals = value if isinstance(value, list) else [value]
        if op in ("%", "!%", "=%", "%=", "!=%", "!%="):
            pattern = f"%{_like_escape(str(vals[0]))}%" if op in ("%", "!%") else str(vals[0])
            params.append(pattern)
            cond = f"CAST({col} AS VARCHAR) ILIKE ? ESCAPE '\\'"
        else:
            strs = [str(v) for v in vals if v not in (None, "")]
            if not strs:
                return f"{col} IS NOT NULL" if neg else f"{col} IS NULL"
            # Lambdas cannot take bound parameters in every DuckDB version: inline quoted literals.
            lits = ",".join("'" + s.replace("'", "''") + "'" for s in strs)
            cond = (f"(len(list_filter(CAST(json_extract_string({col}, '$[*].VALUE') AS VARCHAR[]), "
                    f"x -> x IN ({lits}))) > 0)")
        return f"({col} IS NULL OR NOT {cond})" if neg else f"COALESCE({cond}, FALSE)"


def split_filter_key(key: str) -> tuple[str, str]:
    for op in FILTER_OPS:
        if key.startswith(op):
            return op, key[len(op):]
    return "", key


def compile_order(order: Any, resolve: Callable[[str], str | None], id_column: str | None,
                  default: list[tuple[str, str]] | None = None) -> str:
    """ORDER BY clause; unknown fields are ignored; ID is appended as a tie-breaker so that offset
    pages are deterministic (⚠ MySQL gives no such guarantee; clients must not rely on it)."""
    pairs: list[tuple[str, str]] = []
    if isinstance(order, dict):
        items = list(order.items())
    elif isinstance(order, list):
        items = []
        for o in order:
            if isinstance(o, dict):
                items.extend(o.items())
            else:
                items.append((o, "ASC"))
    else:
        items = []
    for name, direction in items:
        col = resolve(str(name))
        if col is None:
            continue
        d = "DESC" if str(direction).strip().upper() == "DESC" else "ASC"
        pairs.append((col, d))
    if not pairs and default:
        pairs = list(default)
    if id_column and id_column not in [c for c, _ in pairs]:
        pairs.append((id_column, "ASC"))
    if not pairs:
        return ""
    # NULLs sort first ascending, as in MySQL. The id column is never NULL: leaving the NULLS clause
    # off it lets DuckDB's top-N use the plain ordering, several times faster on keyset pages.
    return "ORDER BY " + ", ".join(
        f"{qi(c)} {d}" if c == id_column else f"{qi(c)} {d} NULLS FIRST" if d == "ASC" else f"{qi(c)} {d} NULLS LAST"
        for c, d in pairs)


# --------------------------------------------------------------------------- rendering

def iso(ms: int | None, tz: timezone) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=tz).isoformat(timespec="seconds")


def select_expr(table: Table, column: str) -> str:
    if table.family(column) == "ts":
        return f"epoch_ms({qi(column)})"
    return qi(column)


def old_style_expr(table: Table, column: str, tz: timezone) -> str:
    """SQL that renders a column exactly as `render_old` does, so a list page of 50 wide rows is
    rendered by DuckDB in one pass instead of value by value in Python (the serving-rate
    benchmark's hot path). JSON columns still need parsing in Python (`render_old_sql_row`)."""
    c, fam = qi(column), table.family(column)
    if fam == "ts":
        off = int(tz.utcoffset(None).total_seconds())
        sign, hh, mm = ("+" if off >= 0 else "-"), abs(off) // 3600, abs(off) % 3600 // 60
        return (f"strftime(make_timestamp(epoch_us({c}) + {off * 1_000_000}), '%Y-%m-%dT%H:%M:%S')"
                f" || '{sign}{hh:02d}:{mm:02d}'")
    if fam == "bool":
        return f"CASE WHEN {c} IS NULL THEN NULL WHEN {c} THEN 'Y' ELSE 'N' END"
    if fam == "num":
        return f"printf('%.2f', {c}::DECIMAL(38,2))"
    if fam in ("int", "str"):
        return f"CAST({c} AS VARCHAR)"
    return c  # json


def render_old(family: str, value: Any, tz: timezone) -> Any:
    """Old-style crm.*.list values: everything a string, flags Y/N, ISO time with the portal offset."""
    if value is None:
        return None
    if family == "ts":
        return iso(value, tz)
    if family == "bool":
        return "Y" if value else "N"
    if family == "num":
        # DECIMAL columns arrive as Decimal (exact); DOUBLE ones as float.
        return f"{value:.2f}" if isinstance(value, Decimal) else f"{Decimal(str(value)):.2f}"
    if family == "json":
        return json.loads(value) if isinstance(value, str) else value
    return str(value)


def render_typed(family: str, value: Any, tz: timezone) -> Any:
    """crm.item.list / stagehistory values: numbers as numbers, flags Y/N, ISO time."""
    if value is None:
        return None
    if family == "ts":
        return iso(value, tz)
    if family == "bool":
        return "Y" if value else "N"
    if family == "num":
        f = float(value)
        return int(f) if f.is_integer() else f
    if family == "json":
        return json.loads(value) if isinstance(value, str) else value
    if family == "int":
        return int(value)
    return value


@dataclass
class Page:
    rows: list[dict[str, Any]]
    total: int | None  # None when not counted (start=-1)
    next: int | None
    offset: int
    counted: bool


def _keyset_rowids(cur: Any, table: Table, base: str, order_sql: str, params: list[Any], after: int,
                   page_size: int) -> list[tuple[int, Any]]:
    """The rowids of a keyset page (`>ID` filter, ID ascending, start=-1), found in a growing id
    window above `after`: each query scans only the row groups of the window, not the rest of the
    table, so a page costs the same at any table size — as the docs' 0.097 s per keyset page on
    2.39M rows says it should. The first `page_size` ids above `after` lie in the smallest window
    that holds that many matching rows, so the answer equals the unbounded query's."""
    idc = qi(table.id_column)
    width = page_size * 4
    top = None
    while True:
        rows = cur.execute(f"SELECT rowid, {idc} {base} AND {idc} <= ? {order_sql} LIMIT {page_size}",
                           [*params, after + width]).fetchall()
        if len(rows) >= page_size:
            return rows
        if top is None:
            top = cur.execute(f"SELECT max({idc}) FROM {qi(table.name)}").fetchone()[0]
        if top is None or after + width >= top:
            return rows
        width *= 8


class ReadAhead:
    """Keyset pages served from one wide read of the next `span` records.

    An extractor pages a big list 50 rows at a time, 50 pages per batch call, each page starting
    after the previous page's last id. Reading wide rows costs DuckDB about the same for 50 rows as
    for a few thousand (it decodes whole vectors of every string column), so the first page of a
    run of keyset pages reads `span` records once and the next pages are cut from that read. The
    answer is exactly what the unbounded query would return: the cache is keyed by everything but
    the keyset id, covers a contiguous id range, and is dropped whenever the emulator writes
    (`version`, bumped under its write lock)."""

    def __init__(self, span: int = 2500, entries: int = 8) -> None:
        self.span, self.entries = span, entries
        self.version = 0
        self._lock = threading.Lock()
        self._cache: dict[tuple, tuple[int, int, int | None, list[Any], list[tuple]]] = {}

    def bump(self) -> None:
        with self._lock:
            self.version += 1
            self._cache.clear()

    def page(self, cur: Any, table: Table, cols_sql: str, rest: Compiled, order_sql: str, after: int,
             page_size: int) -> list[tuple]:
        key = (table.name, cols_sql, rest.sql, repr(rest.params), order_sql)
        with self._lock:
            hit = self._cache.get(key)
            version = self.version
        if hit and hit[0] == version and hit[1] <= after:
            _, start, upto, ids, rows = hit
            i = bisect.bisect_right(ids, after)
            if len(ids) - i >= page_size or upto is None:  # enough rows, or the read reached the end
                return rows[i:i + page_size]
        idc = qi(table.id_column)
        base = f"FROM {qi(table.name)} WHERE ({rest.sql}) AND {idc} > ?"
        found = _keyset_rowids(cur, table, base, order_sql, [*rest.params, after], after, self.span)
        rows: list[tuple] = []
        if found:
            ids_sorted = [r[1] for r in found]
            fetched = cur.execute(f"SELECT rowid, {cols_sql} FROM {qi(table.name)} WHERE {idc} BETWEEN ? AND ? "
                                  f"AND rowid IN ({', '.join(str(int(r[0])) for r in found)})",
                                  [min(ids_sorted), max(ids_sorted)]).fetchall()
            by_rowid = {r[0]: r[1:] for r in fetched}
            rows = [by_rowid[r[0]] for r in found]
        ids = [r[1] for r in found]
        upto = ids[-1] if len(found) >= self.span else None  # None: nothing beyond this read
        with self._lock:
            if self.version == version:
                if len(self._cache) >= self.entries:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[key] = (version, after, upto, ids, rows)
        return rows[:page_size]


def run_page(cur: Any, table: Table, columns: list[str], where: Compiled, order_sql: str,
             start: int | None, page_size: int = PAGE_SIZE, paged: bool = True,
             extra_where: str = "", extra_params: list[Any] | None = None,
             sql_render_tz: timezone | None = None, readahead: "ReadAhead | None" = None,
             keyset_rest: Compiled | None = None) -> Page:
    """One page of a list method. `start=-1` is the fast path: no COUNT, no `next`.
    With `sql_render_tz`, values come back already rendered old-style (see old_style_expr).
    With `readahead` and `keyset_rest` (the filter without its `>ID` part), keyset pages are cut
    from one wide read (ReadAhead)."""
    conds = [where.sql] + ([extra_where] if extra_where else [])
    where_sql = " AND ".join(f"({c})" for c in conds)
    params = list(where.params) + list(extra_params or [])
    if sql_render_tz is not None:
        cols_sql = ", ".join(old_style_expr(table, c, sql_render_tz) for c in columns)
    else:
        cols_sql = ", ".join(select_expr(table, c) for c in columns)
    base = f"FROM {qi(table.name)} WHERE {where_sql}"
    counted = start != -1
    offset = max(0, start or 0) if counted else 0
    limit_sql = f"LIMIT {page_size} OFFSET {offset}" if paged else ""
    keyset = (paged and not counted and where.keyset_after is not None
              and order_sql.startswith(f"ORDER BY {qi(table.id_column)} ASC"))
    if keyset and readahead is not None and keyset_rest is not None and not extra_where:
        rows = readahead.page(cur, table, cols_sql, keyset_rest, order_sql, where.keyset_after, page_size)
        return Page([dict(zip(columns, r)) for r in rows], None, None, 0, False)
    if keyset:
        rowids = _keyset_rowids(cur, table, base, order_sql, params, where.keyset_after, page_size)
    elif paged:
        # Two steps: find the page's row ids on the filter and sort columns only, then read the
        # wide rows by rowid. A top-N over every column of a big table is several times slower.
        rowids = cur.execute(f"SELECT rowid, {qi(table.id_column)} {base} {order_sql} {limit_sql}", params).fetchall()
    if paged:
        rows = []
        if rowids:
            # The id range lets DuckDB skip every row group outside the page (zone maps); a bare
            # `rowid IN (...)` reads the whole table.
            ids = [r[1] for r in rowids if r[1] is not None]
            id_range = f"{qi(table.id_column)} BETWEEN ? AND ? AND " if len(ids) == len(rowids) else ""
            fetched = cur.execute(f"SELECT rowid, {cols_sql} FROM {qi(table.name)} WHERE {id_range}rowid IN "
                                  f"({', '.join(str(int(r[0])) for r in rowids)})",
                                  [min(ids), max(ids)] if id_range else []).fetchall()
            by_rowid = {r[0]: r[1:] for r in fetched}
            rows = [by_rowid[r[0]] for r in rowids]
    else:
        rows = cur.execute(f"SELECT {cols_sql} {base} {order_sql}", params).fetchall()
    total = None
    nxt = None
    if counted:
        total = cur.execute(f"SELECT count(*) {base}", params).fetchone()[0]
        if paged and offset + page_size < total:
            nxt = offset + page_size
    return Page([dict(zip(columns, r)) for r in rows], total, nxt, offset, counted)
