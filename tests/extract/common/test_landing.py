"""warehouse.landing: idempotent merge, cursor in the same transaction, tombstones, writer lock."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import datetime, timezone

import pytest

from warehouse.landing import LandingRow, QuarantineRow, TableSpec, Warehouse, WarehouseLocked

SPEC = TableSpec("bitrix24", "leads")


def rows(ids, title="t"):
    return [LandingRow((i,), json.dumps({"ID": str(i), "TITLE": title}), datetime.now(timezone.utc)) for i in ids]


def test_merge_is_idempotent_and_updates(tmp_path):
    with Warehouse(tmp_path / "w.duckdb") as wh:
        wh.merge(SPEC, "a", "b1", rows(range(100)))
        wh.merge(SPEC, "a", "b2", rows(range(50, 150), "new"))
        wh.merge(SPEC, "b", "b2", rows(range(10)))  # another account, same ids
        n, new = wh.con.execute("""SELECT count(*), count(*) FILTER (WHERE payload->>'TITLE' = 'new')
                                   FROM raw_bitrix24.leads WHERE _account = 'a'""").fetchone()
        assert (n, new) == (150, 100)
        assert wh.con.execute("SELECT count(*) FROM raw_bitrix24.leads WHERE _account='b'").fetchone()[0] == 10


def test_cursor_commits_with_rows_or_not_at_all(tmp_path):
    with Warehouse(tmp_path / "w.duckdb") as wh:
        wh.merge(SPEC, "a", "b1", rows([1]), cursor="c1")
        bad = [LandingRow((2,), "{not json", None)]  # payload::JSON fails inside the transaction
        with pytest.raises(Exception):
            wh.merge(SPEC, "a", "b2", bad, cursor="c2")
        assert wh.get_cursor("bitrix24", "a", "leads") == "c1"
        assert wh.con.execute("SELECT count(*) FROM raw_bitrix24.leads").fetchone()[0] == 1


def test_quarantine_and_tombstones(tmp_path):
    with Warehouse(tmp_path / "w.duckdb") as wh:
        wh.merge(SPEC, "a", "b1", rows(range(1, 11)), quarantine=[QuarantineRow("bad date", "{...}", "99")])
        assert wh.con.execute("SELECT record_key, reason FROM quality.quarantine_records").fetchall() == [
            ("99", "bad date")]
        # ids 3 and 10 vanished at the source; 11 is newer than the scan and must stay untouched
        wh.merge(SPEC, "a", "b1", rows([11]))
        n = wh.tombstone_absent(SPEC, "a", "b2", [[1, 2], [4, 5, 6, 7, 8, 9]])
        assert n == 1  # 3 only: 10 and 11 are above the largest id seen (9)
        n = wh.tombstone_absent(SPEC, "a", "b3", [[1, 2, 4, 5, 6, 7, 8, 9, 11]])
        assert n == 1  # now 10
        deleted = wh.con.execute("SELECT id FROM raw_bitrix24.leads WHERE _is_deleted ORDER BY id").fetchall()
        assert deleted == [(3,), (10,)]
        # a tombstone is a new version of the row: it moves _extracted_at, which is what the
        # incremental dbt models pick changes up by (tests/dbt/test_incremental.py)
        newest = wh.con.execute("SELECT id FROM raw_bitrix24.leads ORDER BY _extracted_at DESC LIMIT 1").fetchone()
        assert newest == (10,)
        assert wh.con.execute("SELECT count(*) FROM raw_bitrix24.leads WHERE _is_deleted AND "
                              "_deleted_at <> _extracted_at").fetchone() == (0,)


def test_second_writer_is_refused_with_the_holders_pid(tmp_path):
    path = tmp_path / "w.duckdb"
    code = textwrap.dedent(f"""
        import sys, time
        from warehouse.landing import Warehouse
        wh = Warehouse({str(path)!r})
        print("locked", flush=True)
        time.sleep(30)
    """)
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(WarehouseLocked, match=f"pid {holder.pid}"):
            Warehouse(path)
    finally:
        holder.kill()
        holder.wait()
    Warehouse(path).close()  # free again once the holder is gone
