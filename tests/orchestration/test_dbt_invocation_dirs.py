"""Old per-invocation dbt target folders are pruned, per Dagster step, newest kept."""

from __future__ import annotations

import os

from orchestration.defs.dbt import prune_invocation_dirs


def test_keeps_the_newest_folders_of_the_step_and_nothing_else_is_touched(tmp_path):
    core = []
    for i in range(14):
        d = tmp_path / f"dbt_core-{i:07x}-abc{i:04x}"
        d.mkdir()
        (d / "run_results.json").write_text("{}")
        os.utime(d, (1_000_000 + i, 1_000_000 + i))
        core.append(d)
    marts = tmp_path / "dbt_marts-0000001-0000001"
    others = [marts, tmp_path / "dagster", tmp_path / "compiled", tmp_path / "dbt_core-notahex-folder"]
    for d in others:
        d.mkdir()
    os.utime(marts, (1, 1))  # older than every dbt_core folder, but another step's

    removed = prune_invocation_dirs(tmp_path, "dbt_core", keep=10)

    assert sorted(removed) == sorted(core[:4])
    assert [d.exists() for d in core] == [False] * 4 + [True] * 10
    assert all(d.exists() for d in others)
    assert prune_invocation_dirs(tmp_path, "dbt_core", keep=10) == []
