"""The working-day calendar seed is generated from the `holidays` package and is current."""

from __future__ import annotations

import csv

from warehouse.dbt_config import SEEDS, calendar_rows


def test_calendar_seed_is_current():
    with open(SEEDS / "ru_working_calendar.csv", encoding="utf-8") as fh:
        committed = list(csv.DictReader(fh))
    assert committed == calendar_rows(), "run `python -m warehouse.dbt_config calendar`"


def test_calendar_knows_transfers_and_holidays():
    rows = {r["calendar_date"]: r for r in calendar_rows(range(2025, 2027))}
    assert rows["2025-11-01"]["is_working_day"] == "true"  # Saturday made a working day
    assert rows["2025-11-03"]["is_working_day"] == "false"  # bridge day off
    assert rows["2025-11-04"]["is_working_day"] == "false"  # Unity Day
    assert rows["2026-01-08"]["is_working_day"] == "false"
    assert rows["2026-01-12"]["is_working_day"] == "true"
    assert sum(r["is_working_day"] == "true" for d, r in rows.items() if d.startswith("2025")) == 247
