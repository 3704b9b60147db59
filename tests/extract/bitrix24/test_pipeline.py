"""Pipelined keyset paging and the index-free landing merge (the performance work of the
Bitrix24 extractor): the raw-tail read, the speculative batch, merges on old and new tables."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone

from extract.bitrix24.client import ClientCounters
from extract.bitrix24.paginate import PAGE, _tail_last_id, keyset_pages
from extract.common.ratelimit import OperatingBudget
from warehouse.landing import LandingRow, TableSpec, Warehouse


def lead(i: int) -> dict:
    # Multi-field entries carry their own (larger) ids, after the record's own ID.
    return {"ID": str(i), "TITLE": f"lead {i}", "PHONE": [{"ID": str(10_000 + i), "VALUE": "+7"}]}


def batch_body(pages: dict[str, list], wrapper: str | None = None) -> bytes:
    result = {k: ({wrapper: v} if wrapper else v) for k, v in pages.items()}
    inner = {"result": result, "result_error": [], "result_total": {k: 0 for k in pages},
             "result_next": [], "result_time": {k: {"start": 1, "operating": 0.1} for k in pages}}
    return json.dumps({"result": inner, "time": {"start": 1}}, ensure_ascii=False).encode()


def test_tail_last_id_reads_the_last_full_page_only():
    last = f"c{49}"
    full = {"c48": [lead(i) for i in range(1, 51)], last: [lead(i) for i in range(51, 51 + PAGE)]}
    assert _tail_last_id(batch_body(full), last, None, "ID") == 100  # not a PHONE id, not result_time
    short = {"c48": full["c48"], last: [lead(i) for i in range(51, 60)]}
    assert _tail_last_id(batch_body(short), last, None, "ID") is None  # the chain ends: no guess
    assert _tail_last_id(batch_body({"c0": full["c48"]}), last, None, "ID") is None
    items = {last: [{"id": i, "title": "ü"} for i in range(7, 7 + PAGE)]}
    assert _tail_last_id(batch_body(items, "items"), last, "items", "id") == 6 + PAGE


class FakeClient:
    """Answers keyset batches over ids 1..n from memory (resolving the `$result` chain), calling
    `peek` with the raw bytes first, as the real client does."""

    def __init__(self, n: int, break_at: int | None = None) -> None:
        self.n, self.break_at = n, break_at
        self.counters = ClientCounters()
        self.budget = OperatingBudget()
        self.starts: list[int] = []
        self.lock = threading.Lock()

    def batch(self, commands, halt=True, budget_methods=None, peek=None):
        start = int(commands["c0"].split("filter[%3EID]=")[1].split("&")[0])
        with self.lock:
            self.starts.append(start)
        pages, after = {}, start
        for i in range(len(commands)):
            ids = list(range(after + 1, min(self.n, after + PAGE) + 1))
            if self.break_at is not None and start == 0 and i == self.break_at:
                ids = [x - 5 for x in ids]  # a full page that does not continue the keyset
            pages[f"c{i}"] = [lead(x) for x in ids]
            if len(ids) < PAGE:
                break
            after = ids[-1]
        body = batch_body(pages)
        if peek:
            peek(body)
        return json.loads(body)["result"]


def test_keyset_pages_pipelined_reads_everything_once():
    client = FakeClient(2 * 2500 + 120)
    ids = [int(r["ID"]) for p in keyset_pages(client, "crm.lead.list", {}) for r in p.rows]
    assert ids == list(range(1, 2 * 2500 + 121))
    assert client.starts == [0, 2500, 5000]  # no extra request at the end
    # The first follow-up is always sent early; later ones when the consumer is already waiting
    # for them (timing: this fake answers instantly).
    assert client.counters.pipelined >= 1 and client.counters.speculation_dropped == 0


def test_keyset_pages_drops_a_wrong_guess():
    client = FakeClient(3000, break_at=49)  # c49 of the first batch does not continue the keyset
    ids = [int(r["ID"]) for p in keyset_pages(client, "crm.lead.list", {}) for r in p.rows]
    assert ids == list(range(1, 3001))
    # The raw tail suggested 2495 and that batch was sent; the parsed answer rejected c49, so the
    # chain went on from 2450 and the guess was dropped.
    assert sorted(client.starts) == [0, 2450, 2495]
    assert client.counters.pipelined == 0 and client.counters.speculation_dropped == 1


def test_merge_without_and_with_a_legacy_primary_key(tmp_path):
    spec = TableSpec("bitrix24", "leads")
    now = datetime.now(timezone.utc)

    def rows(ids, title):
        return [LandingRow((i,), json.dumps({"ID": i, "T": title}), now) for i in ids]

    with Warehouse(tmp_path / "w.duckdb") as wh:
        wh.con.execute("CREATE SCHEMA raw_bitrix24")
        wh.con.execute("""CREATE TABLE raw_bitrix24.old_leads (_account VARCHAR NOT NULL, id BIGINT NOT NULL,
            _modified_at TIMESTAMPTZ, _is_deleted BOOLEAN NOT NULL DEFAULT false, _deleted_at TIMESTAMPTZ,
            _extracted_at TIMESTAMPTZ NOT NULL, _batch_id VARCHAR NOT NULL, payload JSON,
            PRIMARY KEY (_account, id))""")  # as the first landing version created tables
        for s in (spec, TableSpec("bitrix24", "old_leads")):
            wh.merge(s, "a", "b1", rows(range(10), "x"))
            wh.merge(s, "a", "b2", rows(range(5, 15), "y") + rows([14], "z"), cursor="c'1")
            got = wh.con.execute(f"SELECT id, payload->>'T' FROM {s.table} ORDER BY id").fetchall()
            assert got == [(i, "x" if i < 5 else "z" if i == 14 else "y") for i in range(15)]
            assert wh.get_cursor("bitrix24", "a", s.entity) == "c'1"
    with Warehouse(tmp_path / "w.duckdb") as wh:  # reopened (attached) with its data
        assert wh.con.execute("SELECT count(*) FROM raw_bitrix24.leads").fetchone()[0] == 15
