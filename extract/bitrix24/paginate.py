"""One small paginator per Bitrix24 API style.

- `keyset_pages`: list methods that sort and filter by ID (`crm.*.list`, `crm.item.list`,
  `crm.stagehistory.list`, `crm.activity.list`, `sale.payment.list`): `start=-1` (no COUNT),
  `order {ID: ASC}`, `filter {">ID": last}`; 50 pages chained per `batch` through
  `$result[cN][49][ID]` (halt=1). Stops at the first short page; whatever a batch returns after a
  short page (an unresolvable reference) is ignored, and every page must continue the keyset
  (first id > previous last id) or the chain restarts from the last good id.
- `offset_pages`: small dictionaries with `start`/`next` (`user.get`, `department.get`,
  `*.userfield.list`).
- `whole`: methods that answer everything at once (`crm.status.list`, `crm.category.list`,
  `*.fields`).
- `per_object`: methods keyed by one object (`crm.deal.productrows.get`,
  `crm.item.payment.list`), 50 objects per `batch` (halt=0: one missing object fails alone).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from extract.bitrix24.client import BATCH_MAX, Bitrix24Client, _as_dict, command, operating_reset_at
from extract.common.errors import ApiError, RateLimited
from extract.common.redact import get_logger

log = get_logger(__name__)
PAGE = 50


@dataclass
class Page:
    rows: list[Any]
    last_id: int  # keyset position after this page
    server_time: dict[str, Any] | None = None  # the answer's `time` block (first page of a batch)


def _rows_of(result: Any, wrapper: str | None) -> list[Any]:
    if wrapper:
        result = result.get(wrapper) if isinstance(result, dict) else None
    if isinstance(result, dict):  # a PHP array with non-sequential keys
        result = list(result.values())
    return result if isinstance(result, list) else []


def _id_of(row: Any, id_field: str) -> int | None:
    try:
        return int(row[id_field])
    except (KeyError, TypeError, ValueError):
        return None


def keyset_pages(client: Bitrix24Client, method: str, params: dict[str, Any], *, id_field: str = "ID",
                 wrapper: str | None = None, after_id: int = 0, batch_size: int = BATCH_MAX,
                 order_key: str = "order", filter_key: str = "filter") -> Iterator[Page]:
    """Yield pages of `method` in ascending `id_field` order, starting after `after_id`."""
    base = {k: v for k, v in params.items() if k not in (order_key, "start")}
    user_filter = dict(base.pop(filter_key, {}) or {})
    ref_path = f"[{wrapper}]" if wrapper else ""
    last = after_id
    refusals = 0
    while True:
        cmds: dict[str, str] = {}
        for i in range(batch_size):
            ref: Any = last if i == 0 else f"$result[c{i - 1}]{ref_path}[{PAGE - 1}][{id_field}]"
            p = {**base, order_key: {id_field: "ASC"}, filter_key: {**user_filter, f">{id_field}": ref},
                 "start": -1}
            cmds[f"c{i}"] = command(method, p)
        inner = client.batch(cmds, halt=True, budget_methods=[method])
        results = _as_dict(inner.get("result"))
        errors = _as_dict(inner.get("result_error"))
        times = _as_dict(inner.get("result_time"))
        finished = False
        for i in range(batch_size):
            name = f"c{i}"
            if name in errors and errors[name]:
                err = errors[name] if isinstance(errors[name], dict) else {"error": str(errors[name])}
                code = str(err.get("error", ""))
                if code in ("OPERATION_TIME_LIMIT", "QUERY_LIMIT_EXCEEDED"):
                    refusals += 1
                    if refusals > 20:
                        raise RateLimited(f"{method}: {code} inside batch, 20 times in a row", code, method=method)
                    client.counters.refusals += 1
                    if code == "OPERATION_TIME_LIMIT":
                        client.budget.block_until(method, operating_reset_at(err) or time.time() + 60)
                    else:
                        client.limiter.saturate()
                        time.sleep(min(30, 2 ** refusals))
                    break  # keep what we have; the next batch resumes from `last` after the wait
                raise ApiError(f"Bitrix24 {method}: {code}: {err.get('error_description', '')}", code)
            if name not in results:
                if i == 0:
                    log.warning("%s: batch answered no result for its first page; treating as empty", method)
                    finished = True
                break  # a later page missing: restart the chain from `last`
            refusals = 0
            rows = _rows_of(results[name], wrapper)
            ids = [_id_of(r, id_field) for r in rows]
            good = [x for x in ids if x is not None]
            if good and min(good) <= last:
                # Not a continuation of the keyset (e.g. a reference resolved to nothing): drop
                # this and everything after it; the next batch restarts from `last` directly.
                log.warning("%s: page %s does not continue after id %s; re-reading from there", method, name, last)
                break
            if good:
                last = max(good)
            yield Page(rows, last, times.get(name) if isinstance(times.get(name), dict) else None)
            if len(rows) < PAGE:
                finished = True
                break
        if finished:
            return


def offset_pages(client: Bitrix24Client, method: str, params: dict[str, Any] | None = None, *,
                 wrapper: str | None = None, max_pages: int = 10_000) -> Iterator[Page]:
    """`start`/`next` paging for small lists (counts are cheap there)."""
    start = 0
    for _ in range(max_pages):
        env = client.call(method, {**(params or {}), "start": start})
        rows = _rows_of(env.get("result"), wrapper)
        yield Page(rows, 0, env.get("time") if isinstance(env.get("time"), dict) else None)
        nxt = env.get("next")
        if nxt in (None, "", 0) or not rows:
            return
        start = int(nxt)
    raise ApiError(f"{method}: more than {max_pages} pages")


def whole(client: Bitrix24Client, method: str, params: dict[str, Any] | None = None,
          wrapper: str | None = None) -> Any:
    env = client.call(method, params or {})
    result = env.get("result")
    return result.get(wrapper) if wrapper and isinstance(result, dict) else result


def per_object(client: Bitrix24Client, method: str, object_ids: Iterable[int],
               params_for: Callable[[int], dict[str, Any]], *,
               batch_size: int = BATCH_MAX) -> Iterator[tuple[int, Any, dict[str, Any] | None]]:
    """Yield (object id, result, error) for each object; 50 objects per batch, halt=0."""
    chunk: list[int] = []

    def run(ids: list[int]) -> Iterator[tuple[int, Any, dict[str, Any] | None]]:
        cmds = {f"o{oid}": command(method, params_for(oid)) for oid in ids}
        inner = client.batch(cmds, halt=False, budget_methods=[method])
        results = _as_dict(inner.get("result"))
        errors = _as_dict(inner.get("result_error"))
        retry: list[int] = []
        for oid in ids:
            err = errors.get(f"o{oid}")
            if err:
                err = err if isinstance(err, dict) else {"error": str(err)}
                if err.get("error") in ("OPERATION_TIME_LIMIT", "QUERY_LIMIT_EXCEEDED"):
                    retry.append(oid)
                    continue
                yield oid, None, err
            else:
                yield oid, results.get(f"o{oid}"), None
        if retry:
            if len(retry) == len(ids):
                raise RateLimited(f"{method}: every command refused", "OPERATION_TIME_LIMIT", method=method)
            yield from run(retry)

    for oid in object_ids:
        chunk.append(int(oid))
        if len(chunk) == batch_size:
            yield from run(chunk)
            chunk = []
    if chunk:
        yield from run(chunk)


def grouped_pages(client: Bitrix24Client, method: str, groups: Iterable[list[int]],
                  params_for: Callable[[list[int]], dict[str, Any]], *, id_field: str = "id",
                  wrapper: str | None = None, batch_size: int = BATCH_MAX) -> Iterator[Page]:
    """A keyset list per group of parent ids (e.g. `=ownerId: [50 deal ids]`), one command per
    group, 50 groups per batch; a group whose page came back full continues (`>id`) in a later
    batch. Pages are yielded as they arrive; order across groups is not meaningful."""
    pending: list[tuple[list[int], int]] = []  # (group, after id)
    source = iter(groups)
    exhausted = False
    while True:
        while not exhausted and len(pending) < batch_size:
            g = next(source, None)
            if g is None:
                exhausted = True
            elif g:
                pending.append((list(g), 0))
        if not pending:
            return
        work, pending = pending[:batch_size], pending[batch_size:]
        cmds = {}
        for i, (g, after) in enumerate(work):
            p = params_for(g)
            p = {**p, "order": {id_field: "ASC"}, "filter": {**p.get("filter", {}), f">{id_field}": after},
                 "start": -1}
            cmds[f"g{i}"] = command(method, p)
        inner = client.batch(cmds, halt=False, budget_methods=[method])
        results = _as_dict(inner.get("result"))
        errors = _as_dict(inner.get("result_error"))
        again: list[tuple[list[int], int]] = []
        for i, (g, after) in enumerate(work):
            err = errors.get(f"g{i}")
            if err:
                err = err if isinstance(err, dict) else {"error": str(err)}
                if err.get("error") in ("OPERATION_TIME_LIMIT", "QUERY_LIMIT_EXCEEDED"):
                    client.counters.refusals += 1
                    client.budget.block_until(method, operating_reset_at(err) or time.time() + 60)
                    again.append((g, after))
                    continue
                raise ApiError(f"Bitrix24 {method}: {err.get('error')}: {err.get('error_description', '')}",
                               str(err.get("error", "")))
            rows = _rows_of(results.get(f"g{i}"), wrapper)
            good = [x for x in (_id_of(r, id_field) for r in rows) if x is not None]
            last = max(good) if good else after
            yield Page(rows, last)
            if len(rows) >= PAGE:
                again.append((g, last))
        pending = again + pending
