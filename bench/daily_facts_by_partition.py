"""Would `int_daily_facts` pay as an incremental model? Measures, on a warehouse left by
`bench_dbt.py --keep` (its 1M-lead run, after the incremental daily build), two ways of updating the
model after one day of changes, each on a copy of the model's table in the same file:

- rebuild: `create or replace table` from the model's compiled SQL (what dbt does today);
- diff by partition, the only incremental form that needs no before-image of the changed leads
  and activities (which the incremental intermediate models overwrite): compute the whole aggregate
  into a temporary table, compare a hash of each (source_system, account, fact_date) partition with
  the stored one, delete the partitions that differ and insert their new rows.

The day's change is simulated in the stored copy: the rows of every partition a re-landed lead
(created date) or activity (planned and held dates; UTC days) of the bench's re-landed day
(`_batch_id = bench_dbt.RELANDED_BATCH`) touches are deleted first, so the diff must find exactly those
partitions (checked), and the table after it must equal the rebuild (checked).

    .venv/bin/python bench/bench_dbt.py --sizes 1000000 --keep --out /tmp/bk
    .venv/bin/python bench/daily_facts_by_partition.py /tmp/bk/run_1000000

The warehouse is copied first; the kept run is not changed.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_dbt import RELANDED_BATCH, connect, profile_settings  # noqa: E402

COLUMNS = "fact_date, source_system, account, manager_key, department_key, branch, project_code, metric, fact_value"
PARTITION = ("source_system", "account", "fact_date")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir", type=Path, help="a directory left by bench_dbt.py --keep (after its incremental build)")
    a = ap.parse_args()
    compiled = sorted((a.run_dir / "dbt_project" / "target" / "compiled").glob("*/models/intermediate/int_daily_facts.sql"))
    if not compiled or not (a.run_dir / "wh.duckdb").exists():
        sys.exit(f"{a.run_dir}: no wh.duckdb and compiled int_daily_facts.sql here — "
                 "run bench/bench_dbt.py with --keep first")
    sql = compiled[0].read_text()
    with tempfile.TemporaryDirectory() as tmp:
        wh = Path(tmp) / "wh.duckdb"  # same stem: the compiled SQL names its catalog after the file
        shutil.copy(a.run_dir / "wh.duckdb", wh)
        con = connect(wh, profile_settings(a.run_dir / "dbt_project"))  # as the dbt build ran

        def timed(query: str) -> tuple[float, list]:
            t = time.perf_counter()
            rows = con.execute(query).fetchall()
            return time.perf_counter() - t, rows

        on = " and ".join(f"o.{c} = c.{c}" for c in PARTITION)
        total_rows, total_parts = con.execute(
            f"select count(*), count(distinct ({', '.join(PARTITION)})) from intermediate.int_daily_facts").fetchone()
        con.execute(f"""create table touched as
            with relanded_leads as (
                select 'bitrix24' as source_system, _account as account, id from raw_bitrix24.leads
                where _batch_id = '{RELANDED_BATCH}'
                union all
                select 'amocrm', _account, id from raw_amocrm.leads where _batch_id = '{RELANDED_BATCH}'
            ),
            relanded_activities as (
                select 'bitrix24' as source_system, _account as account, id from raw_bitrix24.activities
                where _batch_id = '{RELANDED_BATCH}'
                union all
                select 'amocrm', _account, id from raw_amocrm.tasks where _batch_id = '{RELANDED_BATCH}'
            )
            select l.source_system, l.account, cast(l.created_at as date) as fact_date
            from intermediate.int_leads as l
            semi join relanded_leads as r on l.source_system = r.source_system and l.account = r.account and l.lead_id = r.id
            union
            select source_system, account, cast(unnest([planned_at, held_at]) as date)
            from intermediate.int_activities as a
            semi join relanded_activities as r
                on a.source_system = r.source_system and a.account = r.account and a.activity_id = r.id""")
        con.execute("delete from touched where fact_date is null")
        con.execute("create table stored as select * from intermediate.int_daily_facts")
        con.execute(f"delete from stored o using touched c where {on}")
        changed = con.execute(f"select count(*) from touched c where exists "
                              f"(select 1 from intermediate.int_daily_facts o where {on})").fetchone()[0]
        con.execute("checkpoint")

        rebuild_s, _ = timed(f"create or replace table rebuilt as {sql}")
        rebuild_s += timed("checkpoint")[0]

        def fingerprints(rel: str) -> str:
            return f"select {', '.join(PARTITION)}, sum(hash({COLUMNS})) as fp from {rel} group by all"

        keys = ", ".join(f"coalesce(n.{c}, o.{c}) as {c}" for c in PARTITION)
        join = " and ".join(f"n.{c} = o.{c}" for c in PARTITION)
        t0 = time.perf_counter()
        con.execute("begin")
        aggregate_s, _ = timed(f"create temp table fresh as {sql}")
        diff_s, _ = timed(f"""create temp table differing as select {keys}
            from ({fingerprints('fresh')}) as n full join ({fingerprints('stored')}) as o on {join}
            where n.fp is distinct from o.fp""")
        found = con.execute("select count(*) from differing").fetchone()[0]
        write_s, _ = timed(f"delete from stored o using differing c where {on}")
        inserted = timed(f"insert into stored select n.* from fresh n semi join differing c on "
                         + " and ".join(f"n.{c} = c.{c}" for c in PARTITION))
        write_s += inserted[0]
        con.execute("commit")
        write_s += timed("checkpoint")[0]
        incremental_s = time.perf_counter() - t0
        leftover = con.execute("select count(*) from (select * from stored except all select * from rebuilt "
                               "union all (select * from rebuilt except all select * from stored))").fetchone()[0]
        con.close()
    assert found == changed, f"the diff found {found} partitions, {changed} were changed"
    assert leftover == 0, f"{leftover} rows differ between the diffed table and the rebuild"
    print(f"int_daily_facts: {total_rows:,} rows in {total_parts:,} (source_system, account, date) partitions; "
          f"the day's re-landed leads and activities touch {changed:,} of them ({changed / total_parts:.1%}), "
          f"{inserted[1][0][0]:,} rows")
    print(f"  rebuild (create or replace + checkpoint)      {rebuild_s:5.2f} s")
    print(f"  diff by partition, all steps                  {incremental_s:5.2f} s")
    print(f"    the aggregate into a temporary table        {aggregate_s:5.2f} s")
    print(f"    partition hashes compared                   {diff_s:5.2f} s")
    print(f"    delete + insert the differing + checkpoint  {write_s:5.2f} s")


if __name__ == "__main__":
    main()
