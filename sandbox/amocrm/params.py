"""Query-string parsing for the amoCRM v4 emulator: PHP brackets, `with`, paging, order, filters.

amoCRM is a PHP service, so its query strings use PHP's bracket syntax
(`filter[statuses][0][pipeline_id]=1`, `filter[id][]=5`). `parse_nested` rebuilds the nested value
PHP would see; `compile_filters` turns the `filter` tree into SQL for the entity's table. Filters
the real API does not support for an entity are ignored, as the real API ignores them (crm-api.md
"Filters"); only malformed values that the real API rejects (limit over the maximum, more than ten
`filter[entity_id]` on events) produce a 400 validation error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

_BRACKETS = re.compile(r"\[([^\[\]]*)\]")


class ValidationFailed(Exception):
    """A request the real API answers with HTTP 400 `validation-errors`."""

    def __init__(self, path: str, code: str, detail: str) -> None:
        super().__init__(detail)
        self.path, self.code, self.detail = path, code, detail


def parse_nested(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """PHP-style nesting: `a[b][0]=1&a[c][]=2` → {"a": {"b": ["1"], "c": ["2"]}}."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        head, _, rest = key.partition("[")
        parts = [head] + (_BRACKETS.findall("[" + rest) if rest else [])
        node: Any = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if part == "":  # `[]` appends, as PHP does
                part = str(sum(1 for k in node if k.isdigit())) if isinstance(node, dict) else "0"
            if last:
                node[part] = value
            else:
                nxt = node.get(part)
                if not isinstance(nxt, dict):
                    nxt = {}
                    node[part] = nxt
                node = nxt
    return _listify(root)


def _listify(node: Any) -> Any:
    """Dicts keyed 0..n become lists (PHP arrays), recursively."""
    if not isinstance(node, dict):
        return node
    out = {k: _listify(v) for k, v in node.items()}
    if out and all(k.isdigit() for k in out):
        return [out[k] for k in sorted(out, key=int)]
    return out


def as_list(value: Any) -> list[Any]:
    """A filter value that may be a scalar, a comma list, a PHP array or a 0-keyed map."""
    if value is None:
        return []
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        out: list[Any] = []
        for v in value:
            out.extend(as_list(v) if not isinstance(v, dict) else [v])
        return out
    return [v for v in (s.strip() for s in str(value).split(",")) if v != ""]


def to_int(value: Any, path: str) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        raise ValidationFailed(path, "InvalidType", "This value should be of type int.") from None


def parse_with(params: dict[str, Any]) -> set[str]:
    return set(as_list(params.get("with")))


def parse_paging(params: dict[str, Any], default_limit: int, max_limit: int) -> tuple[int, int]:
    page = to_int(params.get("page", 1) or 1, "page")
    limit = to_int(params.get("limit", default_limit) or default_limit, "limit")
    if page < 1:
        raise ValidationFailed("page", "GreaterThanOrEqual", "This value should be greater than or equal to 1.")
    if limit < 1:
        raise ValidationFailed("limit", "GreaterThanOrEqual", "This value should be greater than or equal to 1.")
    if limit > max_limit:
        raise ValidationFailed("limit", "LessThanOrEqual",
                               f"This value should be less than or equal to {max_limit}.")
    return page, limit


def parse_order(params: dict[str, Any], allowed: set[str]) -> list[tuple[str, str]]:
    """`order[updated_at]=desc` → [("updated_at", "DESC")]; unknown fields are ignored."""
    order = params.get("order")
    out: list[tuple[str, str]] = []
    if isinstance(order, dict):
        for fld, direction in order.items():
            d = str(direction).strip().lower()
            if fld in allowed and d in ("asc", "desc"):
                out.append((fld, d.upper()))
    return out


# --------------------------------------------------------------------------- filters → SQL
@dataclass
class Where:
    clauses: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, clause: str, *params: Any) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    def sql(self) -> str:
        return " AND ".join(f"({c})" for c in self.clauses) if self.clauses else "TRUE"


FilterFn = Callable[[Any, Where, str], None]


def ids(column: str) -> FilterFn:
    def apply(value: Any, where: Where, path: str) -> None:
        values = [to_int(v, path) for v in as_list(value)]
        if values:
            where.add(f"{column} IN ({','.join('?' * len(values))})", *values)
    return apply


def strings(column: str) -> FilterFn:
    def apply(value: Any, where: Where, path: str) -> None:
        values = [str(v) for v in as_list(value)]
        if values:
            where.add(f"{column} IN ({','.join('?' * len(values))})", *values)
    return apply


def text_equals(column: str) -> FilterFn:
    def apply(value: Any, where: Where, path: str) -> None:
        values = [str(v) for v in (value if isinstance(value, list) else [value]) if not isinstance(v, dict)]
        if values:
            where.add(f"{column} IN ({','.join('?' * len(values))})", *values)
    return apply


def time_range(column: str, single: str = "eq") -> FilterFn:
    """`[from]`/`[to]` are inclusive bounds. A single value means equality on leads (the real API
    then finds next to nothing: amocrm-api-php#358) or "since" on events (events-and-notes.md)."""
    def apply(value: Any, where: Where, path: str) -> None:
        if isinstance(value, dict):
            if value.get("from") not in (None, ""):
                where.add(f"{column} >= ?", to_int(value["from"], f"{path}.from"))
            if value.get("to") not in (None, ""):
                where.add(f"{column} <= ?", to_int(value["to"], f"{path}.to"))
        elif value not in (None, "") and not isinstance(value, list):
            where.add(f"{column} {'=' if single == 'eq' else '>='} ?", to_int(value, path))
    return apply


def boolean(column: str) -> FilterFn:
    def apply(value: Any, where: Where, path: str) -> None:
        if isinstance(value, (dict, list)) or value in (None, ""):
            return
        v = str(value).strip().lower()
        if v in ("1", "true", "y"):
            where.add(f"{column} = TRUE")
        elif v in ("0", "false", "n"):
            where.add(f"coalesce({column}, FALSE) = FALSE")
    return apply


def statuses(value: Any, where: Where, path: str) -> None:
    """`filter[statuses][i][pipeline_id|status_id]`: OR of (pipeline, status) pairs."""
    pairs: list[str] = []
    params: list[int] = []
    for i, item in enumerate(value if isinstance(value, list) else [value]):
        if not isinstance(item, dict):
            continue
        conds = []
        if item.get("pipeline_id") not in (None, ""):
            conds.append("pipeline_id = ?")
            params.append(to_int(item["pipeline_id"], f"{path}.{i}.pipeline_id"))
        if item.get("status_id") not in (None, ""):
            conds.append("status_id = ?")
            params.append(to_int(item["status_id"], f"{path}.{i}.status_id"))
        if conds:
            pairs.append(" AND ".join(conds))
    if pairs:
        where.add(" OR ".join(f"({p})" for p in pairs), *params)


def compile_filters(filters: Any, spec: dict[str, FilterFn], where: Where) -> None:
    if not isinstance(filters, dict):
        return
    for key, value in filters.items():
        fn = spec.get(key)
        if fn is not None:
            fn(value, where, f"filter.{key}")
