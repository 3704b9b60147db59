"""Configuration files the dbt project reads as seeds, generated or converted in Python.

- `write_calendar()`: the Russian working-day calendar (`dbt_project/seeds/ru_working_calendar.csv`)
  from the maintained `holidays` package: public holidays, the government's transferred days off
  (bridge days, which `holidays` lists as holidays) and the Saturdays made working days by the
  same decrees (`weekend_workdays`). Nothing is typed in by hand; the committed CSV is regenerated
  with `python -m warehouse.dbt_config calendar` and a test checks it is current.
- `load_plans()`: the sales plans file the head of sales keeps (CSV or XLSX with columns
  period_start, scope_type, scope_id, scope_name, metric, target) → `seeds/sales_plans.csv`.
- `load_channel_costs()`: optional channel costs (month, channel, cost) → `seeds/channel_costs.csv`.

Run before `dbt seed`/`dbt build` whenever the plans change:
`python -m warehouse.dbt_config plans path/to/plans.xlsx`.
"""

from __future__ import annotations

import argparse
import csv
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

DBT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"
SEEDS = DBT_DIR / "seeds"
CALENDAR_YEARS = range(2020, 2031)
PLAN_COLUMNS = ["period_start", "scope_type", "scope_id", "scope_name", "metric", "target"]
SCOPE_TYPES = {"company", "branch", "department", "manager", "project"}
METRICS = {"units", "area_m2", "revenue", "payments_received", "leads", "meetings", "showings", "calls",
           "contracts"}


def calendar_rows(years=CALENDAR_YEARS) -> list[dict]:
    import holidays

    ru = holidays.country_holidays("RU", years=list(years), language="ru")
    workdays = set(getattr(ru, "weekend_workdays", set()))
    rows = []
    d, end = date(min(years), 1, 1), date(max(years), 12, 31)
    while d <= end:
        name = ru.get(d)
        is_weekend = d.isoweekday() >= 6
        working = ru.is_working_day(d) if hasattr(ru, "is_working_day") else (
            (not is_weekend and name is None) or d in workdays)
        rows.append({"calendar_date": d.isoformat(), "is_working_day": "true" if working else "false",
                     "is_weekend": "true" if is_weekend else "false",
                     "is_holiday": "true" if name is not None else "false",
                     "is_transferred_workday": "true" if d in workdays else "false",
                     "holiday_name": name or ""})
        d += timedelta(days=1)
    return rows


def write_calendar(path: Path = SEEDS / "ru_working_calendar.csv", years=CALENDAR_YEARS) -> Path:
    rows = calendar_rows(years)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return path


def read_plans(src: str | Path) -> pd.DataFrame:
    """Read and validate a plans file (CSV or XLSX, first sheet)."""
    src = Path(src)
    df = pd.read_excel(src, dtype=str) if src.suffix.lower() in (".xlsx", ".xlsm", ".xls") else pd.read_csv(
        src, dtype=str)
    df.columns = [str(c).strip().lower() for c in df.columns]
    missing = [c for c in PLAN_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{src}: plans file lacks columns {missing}")
    df = df[PLAN_COLUMNS].dropna(how="all")
    df["period_start"] = pd.to_datetime(df["period_start"]).dt.strftime("%Y-%m-%d")
    df["scope_type"] = df["scope_type"].str.strip().str.lower()
    df["metric"] = df["metric"].str.strip().str.lower()
    bad = sorted(set(df["scope_type"]) - SCOPE_TYPES) + sorted(set(df["metric"]) - METRICS)
    if bad:
        raise ValueError(f"{src}: unknown scope types or metrics {bad}")
    df["target"] = pd.to_numeric(df["target"].str.replace(",", ".").str.replace(" ", ""), errors="raise")
    return df


def load_plans(src: str | Path, out: Path = SEEDS / "sales_plans.csv") -> Path:
    read_plans(src).to_csv(out, index=False, lineterminator="\n")
    return out


def load_channel_costs(src: str | Path, out: Path = SEEDS / "channel_costs.csv") -> Path:
    src = Path(src)
    df = pd.read_excel(src) if src.suffix.lower().startswith(".xls") else pd.read_csv(src)
    df.columns = [str(c).strip().lower() for c in df.columns]
    df = df[["month", "channel", "cost"]]
    df["month"] = pd.to_datetime(df["month"]).dt.strftime("%Y-%m-01")
    df.to_csv(out, index=False, lineterminator="\n")
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m warehouse.dbt_config")
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("calendar", help="regenerate seeds/ru_working_calendar.csv")
    c.add_argument("--out", type=Path, default=SEEDS / "ru_working_calendar.csv")
    pl = sub.add_parser("plans", help="convert a plans CSV/XLSX into seeds/sales_plans.csv")
    pl.add_argument("src")
    pl.add_argument("--out", type=Path, default=SEEDS / "sales_plans.csv")
    cc = sub.add_parser("costs", help="convert a channel-costs CSV/XLSX into seeds/channel_costs.csv")
    cc.add_argument("src")
    cc.add_argument("--out", type=Path, default=SEEDS / "channel_costs.csv")
    a = p.parse_args(argv)
    if a.cmd == "calendar":
        print(write_calendar(a.out))
    elif a.cmd == "plans":
        print(load_plans(a.src, a.out))
    else:
        print(load_channel_costs(a.src, a.out))


if __name__ == "__main__":
    main()
