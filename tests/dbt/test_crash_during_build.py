"""SIGKILL during the dbt build: the next build recovers the warehouse and its marts equal those of
a build that was never interrupted (issue 7: crashes during extraction, loading AND the dbt build).

DuckDB recovers a killed writer from its write-ahead log and drops its uncommitted transaction;
each table and view model replaces its relation inside one transaction
(macros/duckdb_materializations.sql), and the incremental models (stage transitions, activities)
merge on their keys, so a build that died anywhere is redone cleanly by the next one."""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import time

import duckdb

from tests.dbt.conftest import DBT, copy_project, dbt_env, run_dbt
from tests.dbt.test_incremental import assert_marts_equal

KILLS = 4


def test_sigkill_during_dbt_build_then_rebuild_equals_uninterrupted(built, sandbox_raw, tmp_path):
    _, _, raw, _ = sandbox_raw
    wh = tmp_path / "wh.duckdb"
    shutil.copy(raw, wh)
    project = copy_project(tmp_path / "dbt_project")
    shutil.copy(built.project / "seeds" / "sales_plans.csv", project / "seeds" / "sales_plans.csv")
    env = dbt_env(wh)
    run_dbt(project, ["parse"], env)  # parsing is not what we kill
    rng = random.Random(20261127)
    landed = 0
    log = []
    for attempt in range(KILLS * 3):
        if landed >= KILLS:
            break
        p = subprocess.Popen([DBT, "build", "--project-dir", str(project), "--profiles-dir", str(project)],
                             env=env, cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        delay = rng.uniform(2.0, 12.0)
        time.sleep(delay)
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            landed += 1
        p.wait(timeout=300)
        log.append((round(delay, 1), p.returncode))
        with duckdb.connect(str(wh)) as con:  # the file opens after every kill (WAL replayed)
            con.execute("select 1").fetchall()
    assert landed >= KILLS, log
    run_dbt(project, ["build"], env)  # the next scheduled build

    try:
        assert_marts_equal(wh, built)
    except AssertionError as exc:
        raise AssertionError(f"{exc} after kills {log}") from None
