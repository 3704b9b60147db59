"""The amoCRM paginator: `page` + `_links.next` (HAL lists; 204 = nothing), in three uses.

- `pages()`: follow `_links.next.href` from page 1 — dictionaries and small lists.
- `sliced_scan()`: incremental lists on a time field (`updated_at`, events `created_at`) when the
  account's API filters work. Each step asks for page 1 of `filter[f][from]=W(&[to]=hi)` ordered
  by `f` ascending and moves W to the largest `f` on the page (rows at W are read again: merge
  on key absorbs them); a page whose rows all share one second is finished by paging `from=to=W`.
  Every request is a fresh query, so rows changed during the scan move *ahead* of it (read later
  or next run) and deleted rows vanish without shifting the others — the page-number skips of
  OFFSET paging over a moving list cannot happen. After the first page the range up to the
  newest row is cut into slices walked by `concurrency` threads (the per-account sliding window
  keeps the total under the limit) so that a slow server does not stretch the run past the
  rate-limit floor. The scan's remaining ranges are kept in `ScanState`, which the caller stores
  with each committed chunk: a crashed run resumes exactly there.
  A row outside the requested range proves the filter was ignored (a paid add-on on some
  accounts): `FilterIgnored` is raised and the caller falls back to `desc_scan`.
- `desc_scan()`: the fallback without API filtering — `order[f]=desc`, pages 1, 2, … (prefetched
  `concurrency` at a time once the first page shows there is more) down to the watermark.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterator

from extract.amocrm.client import AmoCRMClient
from extract.common.errors import ApiError
from extract.common.redact import get_logger

log = get_logger(__name__)
Params = list[tuple[str, Any]]


class FilterIgnored(Exception):
    """The API answered rows outside the filter: API filtering is not available on this account."""


def embedded(data: dict | None, key: str | None = None) -> list[Any]:
    """The rows of a HAL list answer (`_embedded.<key>`, or its only list)."""
    if not data:
        return []
    emb = data.get("_embedded")
    if not isinstance(emb, dict):
        raise ApiError("amoCRM list answer without _embedded")
    if key is not None:
        rows = emb.get(key)
    else:
        lists = [v for v in emb.values() if isinstance(v, list)]
        rows = lists[0] if len(lists) == 1 else None
    if rows is None:
        return []
    if not isinstance(rows, list):
        raise ApiError(f"amoCRM _embedded.{key} is not a list")
    return rows


def _next(data: dict | None) -> str | None:
    links = (data or {}).get("_links") or {}
    nxt = links.get("next") if isinstance(links, dict) else None
    href = nxt.get("href") if isinstance(nxt, dict) else None
    return href or None


def pages(client: AmoCRMClient, path: str, params: Params | None = None, key: str | None = None,
          max_pages: int = 100_000) -> Iterator[list[Any]]:
    """Page 1, then `_links.next` until it is absent (or a 204 / empty page)."""
    data = client.get(path, list(params or []))
    for _ in range(max_pages):
        rows = embedded(data, key)
        if not rows:
            return
        yield rows
        href = _next(data)
        if not href:
            return
        data = client.get(href)
    raise ApiError(f"{path}: more than {max_pages} pages")


def _ts(row: Any, fld: str) -> int | None:
    v = row.get(fld) if isinstance(row, dict) else None
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return int(v)
    if isinstance(v, str) and v.strip().lstrip("-").isdigit():
        return int(v)
    return None


@dataclass
class ScanState:
    """Remaining ranges of a sliced scan: {slice id: [lo, hi|None]} (inclusive bounds)."""
    ranges: dict[int, list[int | None]] = field(default_factory=dict)

    def as_list(self) -> list[list[int | None]]:
        return [list(v) for _, v in sorted(self.ranges.items())]


@dataclass
class ScanPage:
    rows: list[Any]
    slice_id: int
    next_lo: int | None  # resume position of the slice after this page (None: slice finished)


def _range_params(base: Params, fld: str, lo: int, hi: int | None, limit: int, desc: bool = False) -> Params:
    p = list(base) + [(f"filter[{fld}][from]", lo)]
    if hi is not None:
        p.append((f"filter[{fld}][to]", hi))
    return p + [(f"order[{fld}]", "desc" if desc else "asc"), ("limit", limit)]


def _check_range(rows: list[Any], fld: str, lo: int, hi: int | None) -> None:
    for r in rows:
        t = _ts(r, fld)
        if t is not None and (t < lo or (hi is not None and t > hi)):
            raise FilterIgnored(f"filter[{fld}] returned {fld}={t} outside [{lo}, {hi}]")


def walk(client: AmoCRMClient, path: str, base: Params, fld: str, lo: int, hi: int | None, limit: int,
         key: str | None, slice_id: int = 0, stop: threading.Event | None = None) -> Iterator[ScanPage]:
    """Walk one range [lo, hi] upwards by re-querying page 1 from the last watermark."""
    w = lo
    while not (stop and stop.is_set()):
        data = client.get(path, _range_params(base, fld, w, hi, limit))
        rows = embedded(data, key)
        _check_range(rows, fld, w, hi)
        if len(rows) < limit or not _next(data):
            yield ScanPage(rows, slice_id, None)
            return
        top = max((t for t in (_ts(r, fld) for r in rows) if t is not None), default=w)
        if top > w:
            yield ScanPage(rows, slice_id, top)
            w = top
            continue
        # A full page inside one second: read that second by pages, then go on after it.
        yield ScanPage(rows, slice_id, w)
        for more in pages(client, path, _range_params(base, fld, w, w, limit)):
            _check_range(more, fld, w, w)
            yield ScanPage(more, slice_id, w)
        if hi is not None and w + 1 > hi:
            yield ScanPage([], slice_id, None)
            return
        w += 1
        yield ScanPage([], slice_id, w)


def sliced_scan(client: AmoCRMClient, path: str, base: Params, fld: str, state: ScanState, limit: int,
                key: str | None = None, concurrency: int = 4, slices_per_worker: int = 2) -> Iterator[ScanPage]:
    """Scan `state.ranges` (a fresh scan: {0: [W, None]}). `state` is updated as pages are yielded,
    so a snapshot taken when a chunk is committed describes exactly what is left."""
    if not state.ranges:
        return
    if len(state.ranges) == 1:
        (sid, (lo, hi)), = state.ranges.items()
        first = walk(client, path, base, fld, int(lo), hi, limit, key, sid)
        page = next(first)
        if page.next_lo is None:
            del state.ranges[sid]
            yield page
            return
        state.ranges[sid] = [page.next_lo, hi]
        yield page
        if concurrency <= 1:
            for page in first:
                _apply(state, page)
                yield page
            return
        first.close()
        # Cut what is left at the newest row into slices.
        lo2 = int(state.ranges[sid][0])
        newest = embedded(client.get(path, _range_params(base, fld, lo2, hi, 1, desc=True)), key)
        _check_range(newest, fld, lo2, hi)
        top = _ts(newest[0], fld) if newest else None
        n = max(1, concurrency * slices_per_worker)
        if top is None or top - lo2 < n * 2:
            cuts = [lo2]
        else:
            step = (top - lo2) / n
            cuts = [lo2 + int(step * i) for i in range(n)]
        del state.ranges[sid]
        for i, c in enumerate(cuts):
            end = cuts[i + 1] - 1 if i + 1 < len(cuts) else hi
            state.ranges[sid + 1 + i] = [c, end]
    yield from _parallel(client, path, base, fld, state, limit, key, concurrency)


def _apply(state: ScanState, page: ScanPage) -> None:
    if page.next_lo is None:
        state.ranges.pop(page.slice_id, None)
    elif page.slice_id in state.ranges:
        state.ranges[page.slice_id][0] = page.next_lo


def _parallel(client: AmoCRMClient, path: str, base: Params, fld: str, state: ScanState, limit: int,
              key: str | None, concurrency: int) -> Iterator[ScanPage]:
    todo: queue.Queue = queue.Queue()
    for sid, (lo, hi) in sorted(state.ranges.items()):
        todo.put((sid, int(lo), hi))
    out: queue.Queue = queue.Queue(maxsize=2 * max(1, concurrency))
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def worker() -> None:
        try:
            while not stop.is_set():
                try:
                    sid, lo, hi = todo.get_nowait()
                except queue.Empty:
                    break
                for page in walk(client, path, base, fld, lo, hi, limit, key, sid, stop):
                    if not put(("page", page)):
                        return
        except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer
            put(("error", exc))
        finally:
            put(("end", None))

    workers = [threading.Thread(target=worker, name=f"amocrm-scan-{i}", daemon=True)
               for i in range(max(1, min(concurrency, todo.qsize())))]
    for t in workers:
        t.start()
    running = len(workers)
    try:
        while running:
            kind, value = out.get()
            if kind == "end":
                running -= 1
            elif kind == "error":
                raise value
            else:
                _apply(state, value)
                yield value
    finally:
        stop.set()
        for t in workers:
            t.join(timeout=60)


def desc_scan(client: AmoCRMClient, path: str, base: Params, fld: str, since: int | None, limit: int,
              key: str | None = None, concurrency: int = 4) -> Iterator[list[Any]]:
    """Without API filtering: `order[f]=desc` pages until a row older than `since` (None: all)."""
    params = list(base) + [(f"order[{fld}]", "desc"), ("limit", limit)]

    def fetch(page_no: int) -> dict | None:
        return client.get(path, params + [("page", page_no)])

    def handle(data: dict | None, prev_low: list[int | None]) -> tuple[list[Any], bool]:
        rows = embedded(data, key)
        ts = [_ts(r, fld) for r in rows]
        known = [t for t in ts if t is not None]
        if any(a < b for a, b in zip(known, known[1:])) or (
                prev_low[0] is not None and known and known[0] > prev_low[0]):
            raise ApiError(f"{path}: order[{fld}]=desc was not honoured; cannot read incrementally")
        if known:
            prev_low[0] = known[-1]
        keep = rows if since is None else [r for r, t in zip(rows, ts) if t is None or t >= since]
        done = len(rows) < limit or not _next(data) or (since is not None and bool(known) and known[-1] < since)
        return keep, done

    low: list[int | None] = [None]
    rows, done = handle(fetch(1), low)
    if rows:
        yield rows
    if done:
        return
    page_no = 2
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="amocrm-desc") as pool:
        inflight = [pool.submit(fetch, p) for p in range(page_no, page_no + max(1, concurrency))]
        page_no += len(inflight)
        try:
            while inflight:
                data = inflight.pop(0).result()
                rows, done = handle(data, low)
                if rows:
                    yield rows
                if done:
                    return
                inflight.append(pool.submit(fetch, page_no))
                page_no += 1
        finally:
            for f in inflight:
                f.cancel()
