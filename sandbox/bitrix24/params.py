"""Request parameters as Bitrix24 (PHP) sees them.

Bitrix24 is PHP: a query string or form body goes through `parse_str`, so `filter[>ID]=5`,
`select[]=ID`, `fields[PHONE][0][VALUE]=..` become nested arrays; a JSON body is decoded into the
same shape. The REST layer merges query-string and body parameters. We reproduce that so a client
may use any encoding the docs allow ([B24DOCS] `general-principles.md`, `data-encoding.md`).

Nested values are plain dicts with string keys; a dict whose keys are exactly "0".."n-1" in order
(a PHP list) is turned into a Python list, as `json_encode` would do.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable
from urllib.parse import parse_qsl

from sandbox.common.http import Request

_BRACKETS = re.compile(r"\[([^\[\]]*)\]")


def split_php_key(key: str) -> list[str]:
    """`filter[>ID][0]` -> ["filter", ">ID", "0"]; `select[]` -> ["select", ""]."""
    i = key.find("[")
    if i <= 0:
        return [key]
    base, rest = key[:i], key[i:]
    parts = [base]
    pos = 0
    for m in _BRACKETS.finditer(rest):
        if m.start() != pos:  # PHP stops at the first malformed segment and ignores the rest
            break
        parts.append(m.group(1))
        pos = m.end()
    if pos == 0:
        return [key]
    return parts


def _next_index(d: dict[str, Any]) -> str:
    ints = [int(k) for k in d if k.lstrip("-").isdigit()]
    return str(max(ints) + 1 if ints else 0)


def _assign(root: dict[str, Any], parts: list[str], value: Any) -> None:
    node = root
    for j, part in enumerate(parts):
        last = j == len(parts) - 1
        if part == "":
            part = _next_index(node)
        if last:
            node[part] = value
        else:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child


def listify(value: Any) -> Any:
    """Turn PHP-list-shaped dicts into lists, recursively (what json_encode does)."""
    if isinstance(value, dict):
        out = {k: listify(v) for k, v in value.items()}
        keys = list(out)
        if keys and keys == [str(i) for i in range(len(keys))]:
            return [out[k] for k in keys]
        return out
    if isinstance(value, list):
        return [listify(v) for v in value]
    return value


def parse_php_pairs(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for key, value in pairs:
        _assign(root, split_php_key(key), value)
    return listify(root)


def parse_php_query(query: str) -> dict[str, Any]:
    return parse_php_pairs(parse_qsl(query, keep_blank_values=True))


class BadRequestBody(ValueError):
    pass


def request_params(req: Request) -> dict[str, Any]:
    """Query-string parameters overlaid with body parameters (JSON or form)."""
    params = parse_php_pairs(req.query_pairs)
    if req.body:
        ctype = req.content_type
        text = req.body.decode("utf-8", errors="replace")
        body: Any
        if ctype == "application/json" or (not ctype and text.lstrip().startswith("{")):
            try:
                body = json.loads(text) if text.strip() else {}
            except ValueError as exc:
                raise BadRequestBody(str(exc)) from exc
        elif ctype.startswith("multipart/"):
            body = _parse_multipart(req)
        else:
            body = parse_php_query(text)
        if isinstance(body, dict):
            params.update(body)
    return params


def _parse_multipart(req: Request) -> dict[str, Any]:
    from email.parser import BytesParser
    from email.policy import HTTP

    raw = b"Content-Type: " + req.headers.get("content-type", "").encode() + b"\r\n\r\n" + req.body
    msg = BytesParser(policy=HTTP).parsebytes(raw)
    pairs = []
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            pairs.append((str(name), part.get_content() if part.get_content_type().startswith("text/")
                          else part.get_payload(decode=True).decode("utf-8", "replace")))
    return parse_php_pairs(pairs)


def get_ci(params: dict[str, Any] | None, name: str, default: Any = None) -> Any:
    """Case-insensitive parameter lookup: the old REST methods upper-case their keys."""
    if not isinstance(params, dict):
        return default
    if name in params:
        return params[name]
    low = name.lower()
    for k, v in params.items():
        if k.lower() == low:
            return v
    return default


def as_list(value: Any) -> list[Any]:
    """A PHP array given as list, dict (kept in order) or scalar, as a list."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return list(value.values())
    return [value]


def as_int(value: Any, default: int | None = None) -> int | None:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return int(value)
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return default


def is_yes(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().upper() in {"Y", "1", "TRUE", "YES"}
