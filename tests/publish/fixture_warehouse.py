"""A small warehouse shaped like the dbt output, for fast publishing/export/report tests.

Every mart gets exactly the columns documented in `dbt_project/models/marts/_marts__models.yml`
(with their data types), filled with coherent, realistic values: a real-estate developer with two
branches, four departments, eight managers, seven channels, three projects and six months of data,
the current month (October 2026) half-way through. Ratios are computed from their numerator and
denominator, as the marts do. Also written: a raw landing table, a staging view and the `quality`
schema (data-quality runs and gates), so that tests can prove what is and is not published.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

import yaml

from warehouse.labels import MARTS_YML

AS_OF = date(2026, 10, 20)
MONTHS = [date(2026, m, 1) for m in range(5, 11)]
BRANCHES = {"Москва": ["Отдел продаж №1", "Отдел продаж №2"], "Казань": ["Отдел продаж Казань",
                                                                       "Отдел по работе с агентами"]}
MANAGERS = [("Нина Афанасьева", 0), ("Андрей Фролов", 0), ("Кирилл Горшков", 1), ("Ольга Смирнова", 1),
            ("Фёдор Елисеев", 2), ("Айгуль Хасанова", 2), ("Рустам Галиев", 3), ("Мария Ковалёва", 3)]
CHANNELS = {"avito": (0.25, 0.35, 0.020), "cian": (0.18, 0.25, 0.030), "domclick": (0.12, 0.20, 0.035),
            "paid_search": (0.15, 0.45, 0.015), "website": (0.14, 0.30, 0.025), "walk_in": (0.06, 0.05, 0.09),
            "agent": (0.10, 0.15, 0.06)}
FORMS = {"mortgage": 0.55, "installment": 0.2, "full_payment": 0.12, "maternity_capital": 0.08, "trade_in": 0.05}
PROJECTS = {"rechnoy_kvartal": ("ЖК «Речной квартал»", "Москва", 310_000),
            "severny_park": ("ЖК «Северный парк»", "Москва", 270_000),
            "volzhskie_zori": ("ЖК «Волжские зори»", "Казань", 160_000)}
PG = {"varchar": "varchar", "bigint": "bigint", "integer": "integer", "double precision": "double",
      "date": "date", "timestamp": "timestamp", "boolean": "boolean"}


def mart_columns() -> dict[str, list[tuple[str, str]]]:
    models = yaml.safe_load(MARTS_YML.read_text(encoding="utf-8"))["models"]
    return {m["name"]: [(c["name"], c.get("data_type", "varchar")) for c in m["columns"]] for m in models}


def _depts():
    out, i = [], 0
    for branch, names in BRANCHES.items():
        for n in names:
            i += 1
            out.append({"department_id": i + 2, "department_key": f"bitrix24:b24-msk:{i + 2}", "department_name": n,
                        "branch": branch})
    return out


def _managers():
    d = _depts()
    return [{"manager_id": 20 + i, "manager_key": f"bitrix24:b24-msk:{20 + i}", "manager_name": name,
             **d[di], "source_system": "bitrix24", "account": "b24-msk"} for i, (name, di) in enumerate(MANAGERS)]


def _ratio(num, den):
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def _working_days(start: date, end: date) -> list[date]:
    out, d = [], start
    while d <= end:
        if d.isoweekday() < 6 and not (d.month == 11 and d.day == 4):
            out.append(d)
        d += timedelta(days=1)
    return out


def _month_end(m: date) -> date:
    return (m.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


@lru_cache(maxsize=2)
def build_frames(seed: int = 7) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    mgr = _managers()
    skill = rng.uniform(0.6, 1.4, len(mgr))
    f: dict[str, pd.DataFrame] = {}

    # -- lead control points (one row per lead)
    leads = []
    lead_id = 1000
    start = MONTHS[0]
    for day_i in range((AS_OF - start).days + 1):
        d = start + timedelta(days=day_i)
        for ch, (vol, junk, conv) in CHANNELS.items():
            for _ in range(rng.poisson(vol * (6 if d.isoweekday() < 6 else 3))):
                lead_id += 1
                mi = int(rng.integers(len(mgr)))
                m = mgr[mi]
                created = pd.Timestamp(d) + pd.Timedelta(minutes=int(rng.integers(7 * 60, 21 * 60)))
                crm_junk = rng.random() < junk * 0.7
                detected = (not crm_junk) and rng.random() < junk * 0.3
                taken = created + pd.Timedelta(minutes=float(rng.exponential(25)))
                classified = (not crm_junk) and rng.random() < 0.9
                shown = classified and rng.random() < 0.35 * skill[mi]
                booked = shown and rng.random() < 0.5
                contract = booked and rng.random() < min(conv * 12 * skill[mi], 0.95)
                paid = contract and rng.random() < 0.8
                ts = {"recorded_at": created, "taken_at": taken,
                      "classified_at": taken + pd.Timedelta(hours=3) if classified else pd.NaT,
                      "rejected_at": taken + pd.Timedelta(hours=2) if crm_junk else pd.NaT,
                      "shown_at": created + pd.Timedelta(days=6) if shown else pd.NaT,
                      "booked_at": created + pd.Timedelta(days=9) if booked else pd.NaT,
                      "contract_at": created + pd.Timedelta(days=21) if contract else pd.NaT,
                      "paid_at": created + pd.Timedelta(days=30) if paid else pd.NaT}
                ts = {k: (v if pd.isna(v) or v.date() <= AS_OF else pd.NaT) for k, v in ts.items()}
                point = [k[:-3] for k, v in ts.items() if not pd.isna(v) and k != "rejected_at"][-1]
                leads.append({"source_system": "bitrix24", "account": "b24-msk", "lead_id": lead_id,
                              "lead_key": f"bitrix24:b24-msk:{lead_id}", "deal_id": lead_id + 50000 if shown else None,
                              **{k: m[k] for k in ("manager_id", "manager_key", "department_id", "department_key",
                                                   "department_name", "branch")},
                              "channel": ch, "source_code": ch.upper(),
                              "project_code": list(PROJECTS)[int(rng.integers(3))],
                              "classification": ("Целевой" if rng.random() < 0.8 else "Нецелевой") if classified
                              else None,
                              "current_control_point": "rejected" if crm_junk else point,
                              "crm_junk_reason": "Дубль" if crm_junk else None,
                              "detected_junk_rules": "phone_duplicate" if detected else None,
                              "detected_junk_severity": "error" if detected else None,
                              "created_date": d, **ts,
                              "minutes_to_taken": (taken - created).total_seconds() / 60,
                              "is_taken_within_sla": (taken - created).total_seconds() <= 900,
                              "is_classified": classified, "is_target": classified, "is_crm_junk": crm_junk,
                              "is_detected_junk": detected, "is_junk": crm_junk or detected})
    lcp = pd.DataFrame(leads)
    lcp["days_to_contract"] = (lcp["contract_at"] - lcp["recorded_at"]).dt.total_seconds() / 86400
    lcp["days_to_shown"] = (lcp["shown_at"] - lcp["recorded_at"]).dt.total_seconds() / 86400
    f["fct_lead_control_points"] = lcp

    # -- funnel: month and week, cohort and flow
    points = ["recorded", "taken", "classified", "rejected", "shown", "booked", "contract", "paid"]
    dims = ["source_system", "account", "branch", "department_key", "department_name", "manager_key", "channel"]
    parts = []
    for grain, freq in (("month", "MS"), ("week", "W-MON")):
        for basis in ("cohort", "flow"):
            if basis == "cohort":
                x = lcp.assign(period_start=lcp["recorded_at"].dt.to_period("M" if grain == "month" else "W")
                               .dt.start_time.dt.date)
                agg = x.groupby(dims + ["period_start"]).agg(
                    **{f"leads_{p}": (f"{p}_at", "count") for p in points}).reset_index()
                agg["leads_classified"] = x.groupby(dims + ["period_start"])["is_classified"].sum().values
            else:
                rows = []
                for p in points:
                    s = lcp.dropna(subset=[f"{p}_at"])
                    s = s.assign(period_start=s[f"{p}_at"].dt.to_period("M" if grain == "month" else "W")
                                 .dt.start_time.dt.date)
                    rows.append(s.groupby(dims + ["period_start"]).size().rename(f"leads_{p}"))
                agg = pd.concat(rows, axis=1).fillna(0).astype(int).reset_index()
            agg["period_grain"], agg["funnel_basis"] = grain, basis
            parts.append(agg)
    fun = pd.concat(parts, ignore_index=True)
    for a, b, r in (("taken", "recorded", "taken_rate"), ("classified", "taken", "classified_rate"),
                    ("rejected", "recorded", "rejected_rate"), ("shown", "classified", "shown_rate"),
                    ("booked", "shown", "booked_rate"), ("contract", "booked", "contract_rate"),
                    ("paid", "contract", "paid_rate"), ("contract", "recorded", "lead_to_contract_rate")):
        fun[r] = _ratio(fun[f"leads_{a}"], fun[f"leads_{b}"])
    f["fct_funnel"] = fun

    # -- manager daily activity
    rows = []
    for day_i in range((AS_OF - start).days + 1):
        d = start + timedelta(days=day_i)
        wd = d.isoweekday() < 6
        for i, m in enumerate(mgr):
            k = skill[i] * (1 if wd else 0.2)
            contracts = int(rng.poisson(0.08 * k))
            pays = int(rng.poisson(0.1 * k))
            rows.append({"activity_date": d, **{c: m[c] for c in ("source_system", "account", "manager_id",
                                                                  "manager_key", "manager_name", "department_key",
                                                                  "department_name", "branch")},
                         "is_working_day": wd, "leads_assigned": int(rng.poisson(3 * k)),
                         "leads_to_process": int(rng.poisson(4)), "leads_processed": int(rng.poisson(2.6 * k)),
                         "leads_overdue": int(rng.poisson(1.2 / skill[i])), "calls_held": int(rng.poisson(14 * k)),
                         "meetings_planned": int(rng.poisson(1.2 * k)), "meetings_held": int(rng.poisson(0.9 * k)),
                         "showings_planned": int(rng.poisson(0.8 * k)), "showings_held": int(rng.poisson(0.6 * k)),
                         "contracts": contracts, "contracts_amount": contracts * float(rng.normal(11e6, 2e6)),
                         "payments_count": pays, "payments_amount": pays * float(rng.normal(6e6, 1.5e6)),
                         "target_leads": 3.0 if wd else 0.0, "target_meetings": 1.0 if wd else 0.0,
                         "target_showings": 0.8 if wd else 0.0, "target_contracts": 0.1 if wd else 0.0})
    mda = pd.DataFrame(rows)
    f["fct_manager_daily_activity"] = mda

    # -- plan vs fact: month grain, company/branch/manager scopes
    metric_fact = {"units": "contracts", "revenue": "contracts_amount", "payments_received": "payments_amount",
                   "leads": "leads_assigned", "meetings": "meetings_held", "showings": "showings_held",
                   "contracts": "contracts"}
    mda["month_start"] = mda["activity_date"].map(lambda d: d.replace(day=1))
    scopes = [("company", "company", "Компания «Новострой»", mda)]
    scopes += [("branch", b, b, mda[mda["branch"] == b]) for b in BRANCHES]
    scopes += [("manager", m["manager_key"], m["manager_name"], mda[mda["manager_key"] == m["manager_key"]])
               for m in mgr]
    rows = []
    for month in MONTHS:
        end = _month_end(month)
        wds = _working_days(month, end)
        elapsed = len([d for d in wds if d <= AS_OF])
        for stype, sid, sname, frame in scopes:
            fm = frame[frame["month_start"] == month]
            for metric, col in metric_fact.items():
                fact = float(fm[col].sum())
                plan = round(max(fact, 1.0) * float(rng.uniform(0.9, 1.4)) * (len(wds) / max(elapsed, 1)), 0)
                expected = plan * elapsed / len(wds)
                rows.append({"period_grain": "month", "period_start": month, "period_end": end,
                             "scope_type": stype, "scope_id": sid, "scope_name": sname, "metric": metric,
                             "plan_value": plan, "fact_value": fact, "working_days_in_period": len(wds),
                             "elapsed_working_days": elapsed, "remaining_working_days": len(wds) - elapsed,
                             "expected_to_date": expected,
                             "run_rate_forecast": fact / elapsed * len(wds) if elapsed else None,
                             "gap_to_plan": plan - fact, "is_period_closed": elapsed == len(wds)})
    pvf = pd.DataFrame(rows)
    pvf["attainment_ratio"] = _ratio(pvf["fact_value"], pvf["plan_value"])
    pvf["attainment_vs_expected_ratio"] = _ratio(pvf["fact_value"], pvf["expected_to_date"])
    pvf["required_per_remaining_working_day"] = _ratio(np.maximum(pvf["plan_value"] - pvf["fact_value"], 0),
                                                       pvf["remaining_working_days"])
    f["fct_plan_vs_fact"] = pvf

    # -- daily targets
    rows = []
    for month in MONTHS:
        wds = len(_working_days(month, _month_end(month)))
        for m in mgr:
            planned = float(rng.integers(2, 6))
            tl, tc, ts_ = float(rng.integers(150, 260)), float(rng.integers(3, 9)), float(rng.integers(25, 50))
            rows.append({"month_start": month, "scope_type": "manager", "scope_id": m["manager_key"],
                         "scope_name": m["manager_name"], "working_days_in_month": wds,
                         "planned_contracts": planned, "trailing_leads": tl, "trailing_meetings": ts_ * 1.3,
                         "trailing_showings": ts_, "trailing_contracts": tc})
    dt = pd.DataFrame(rows)
    dt["lead_to_contract_rate"] = _ratio(dt["trailing_contracts"], dt["trailing_leads"])
    dt["showing_to_contract_rate"] = _ratio(dt["trailing_contracts"], dt["trailing_showings"])
    dt["needed_leads"] = dt["planned_contracts"] / dt["lead_to_contract_rate"]
    dt["needed_showings"] = dt["planned_contracts"] / dt["showing_to_contract_rate"]
    dt["needed_meetings"] = dt["needed_showings"] * 1.3
    for what in ("leads", "meetings", "showings"):
        dt[f"needed_{what}_per_working_day"] = dt[f"needed_{what}"] / dt["working_days_in_month"]
    dt["needed_contracts_per_working_day"] = dt["planned_contracts"] / dt["working_days_in_month"]
    f["fct_daily_targets"] = dt

    # -- payment forms
    rows = []
    for month in MONTHS:
        for code, (_, branch, ppm) in PROJECTS.items():
            for form, share in FORMS.items():
                deals = int(rng.poisson(14 * share))
                area = float(sum(rng.uniform(28, 95) for _ in range(deals)))
                rows.append({"month_start": month, "project_code": code, "branch": branch, "payment_form": form,
                             "deals": deals, "units": deals, "area_m2": round(area, 1),
                             "revenue": round(area * ppm, -3), "payments_count": int(rng.poisson(10 * share)),
                             "payments_received": round(float(rng.uniform(0.3, 0.7)) * area * ppm, -3)})
    pf = pd.DataFrame(rows)
    for col, tot in (("deals", "month_deals"), ("area_m2", "month_area_m2"), ("revenue", "month_revenue"),
                     ("payments_received", "month_payments_received")):
        pf[tot] = pf.groupby("month_start")[col].transform("sum")
        pf[f"{col}_share"] = _ratio(pf[col], pf[tot])
    pf["average_check"] = _ratio(pf["revenue"], pf["deals"])
    f["fct_payment_forms"] = pf

    # -- sales channels (lead-creation cohort)
    x = lcp.assign(month_start=lcp["recorded_at"].dt.to_period("M").dt.start_time.dt.date)
    sc = x.groupby(["month_start", "channel", "source_system"]).agg(
        leads=("lead_id", "count"), crm_junk_leads=("is_crm_junk", "sum"), detected_junk_leads=("is_detected_junk",
                                                                                                 "sum"),
        junk_leads=("is_junk", "sum"), classified_leads=("is_classified", "sum"), shown_leads=("shown_at", "count"),
        contract_leads=("contract_at", "count"), paid_leads=("paid_at", "count"),
        contract_cycle_days_total=("days_to_contract", "sum")).reset_index()
    sc["revenue"] = sc["contract_leads"] * 11.5e6
    sc["junk_share"] = _ratio(sc["junk_leads"], sc["leads"])
    sc["lead_to_contract_rate"] = _ratio(sc["contract_leads"], sc["leads"])
    sc["lead_to_paid_rate"] = _ratio(sc["paid_leads"], sc["leads"])
    sc["average_cycle_days"] = _ratio(sc["contract_cycle_days_total"], sc["contract_leads"])
    sc["cost"] = np.where(sc["channel"].isin(["avito", "cian", "paid_search"]), sc["leads"] * 1800.0, np.nan)
    sc["cost_per_lead"] = _ratio(sc["cost"], sc["leads"])
    sc["cost_per_sale"] = _ratio(sc["cost"], sc["contract_leads"])
    f["fct_sales_channels"] = sc

    # -- data quality: the dbt checks and one junk-detection run
    rules = {"crm_marked_junk": lcp["is_crm_junk"], "missing_source": pd.Series(rng.random(len(lcp)) < 0.02),
             "taken_sla_missed": ~lcp["is_taken_within_sla"], "phone_duplicate": lcp["is_detected_junk"]}
    rows = []
    for rule, flag in rules.items():
        run = "dq-20261020" if rule == "phone_duplicate" else "dbt"
        g = lcp.assign(flag=flag.values).groupby(["created_date", "channel", "manager_key"])
        for (d, ch, mk), grp in g:
            rows.append({"run_id": run, "checked_at": pd.Timestamp(AS_OF), "lead_date": d, "channel": ch,
                         "manager_key": mk, "rule": rule, "leads_checked": len(grp),
                         "leads_failed": int(grp["flag"].sum())})
    dq = pd.DataFrame(rows)
    dq["failed_share"] = _ratio(dq["leads_failed"], dq["leads_checked"])
    f["fct_data_quality"] = dq

    # -- dimensions
    f["dim_managers"] = pd.DataFrame([{**m, "email": f"user{m['manager_id']}@b24-msk.example",
                                       "work_position": "Менеджер по продажам", "is_active": True} for m in mgr])
    f["dim_departments"] = pd.DataFrame([{**d, "source_system": "bitrix24", "account": "b24-msk",
                                          "is_company_root": False} for d in _depts()])
    f["dim_channels"] = pd.DataFrame([{"channel": c, "channel_name": n} for c, n in zip(
        CHANNELS, ["Авито", "ЦИАН", "Домклик", "Контекстная реклама", "Сайт", "Визит в офис", "Агенты"])])
    f["dim_projects"] = pd.DataFrame([{"project_code": c, "project_name": n, "branch": b}
                                      for c, (n, b, _) in PROJECTS.items()])
    f["dim_payment_forms"] = pd.DataFrame([{"payment_form": p, "payment_form_name": n, "sort_order": i + 1}
                                           for i, (p, n) in enumerate(zip(FORMS, [
                                               "Ипотека", "Рассрочка", "100% оплата", "Материнский капитал",
                                               "Trade-in"]))])
    days = pd.date_range("2026-01-01", "2026-12-31").date
    f["dim_date"] = pd.DataFrame({"calendar_date": days, "is_working_day": [d.isoweekday() < 6 for d in days]})
    f["dim_stages"] = pd.DataFrame([{"stage_key": "bitrix24:b24-msk:lead::NEW", "stage_name": "Новый",
                                     "control_point": "recorded"}])
    return f


def build_fixture_warehouse(path: str | Path, *, marts: list[str] | None = None, quality: bool = True,
                            seed: int = 7) -> Path:
    """Write the fixture warehouse to `path` (replacing it); `marts` limits which marts exist."""
    path = Path(path)
    path.unlink(missing_ok=True)
    frames = build_frames(seed)
    cols = mart_columns()
    con = duckdb.connect(str(path))
    try:
        con.execute("create schema marts")
        for name, spec in cols.items():
            if marts is not None and name not in marts and not name.startswith("dim_"):
                continue
            df = frames.get(name, pd.DataFrame())
            out = pd.DataFrame({c: (df[c] if c in df else pd.Series([None] * len(df), dtype=object))
                                for c, _ in spec})
            con.register("_df", out)
            sel = ", ".join(f'cast("{c}" as {PG.get(t, "varchar")}) as "{c}"' for c, t in spec)
            con.execute(f'create table marts."{name}" as select {sel} from _df')
            con.unregister("_df")
        con.execute("create schema raw_bitrix24")
        con.execute("create table raw_bitrix24.crm_lead (id bigint, payload json, _extracted_at timestamptz)")
        con.execute("insert into raw_bitrix24.crm_lead values (1, '{\"TITLE\": \"секрет\"}', now())")
        con.execute("create schema staging")
        con.execute("create view staging.stg_bitrix24__leads as select id as lead_id from raw_bitrix24.crm_lead")
        con.execute("create schema intermediate")
        con.execute("create table intermediate.int_leads as select 1 as lead_id")
        if quality:
            con.execute("create schema quality")
            con.execute("""create table quality.dq_runs (run_id varchar primary key, started_at timestamptz,
                finished_at timestamptz, mode varchar, leads_total bigint, leads_checked bigint, leads_flagged bigint,
                junk_share double, flagged_by_rule json, ge_success boolean, publish_allowed boolean,
                data_docs_path varchar)""")
            con.execute("""insert into quality.dq_runs values
                ('dq-20261019', '2026-10-19 03:00:00+00', '2026-10-19 03:01:00+00', 'full', 5000, 5000, 400, 0.08,
                 '{}', true, true, '/tmp/gx/index.html'),
                ('dq-20261020', '2026-10-20 03:00:00+00', '2026-10-20 03:01:00+00', 'incremental', 5100, 120, 410,
                 0.0804, '{}', true, true, '/tmp/gx/index.html')""")
            con.execute("""create table quality.check_results (run_id varchar, name varchar, severity varchar,
                passed boolean, observed double, threshold double, description varchar)""")
            con.execute("""insert into quality.check_results values
                ('dq-20261020', 'junk_share', 'critical', true, 0.0804, 0.35, 'Detected junk among leads'),
                ('dq-20261020', 'data_freshness', 'critical', true, 2.5, 26, 'Hours since the newest extraction'),
                ('dq-20261020', 'missing_responsible', 'warning', false, 12, 0, 'Leads without a responsible'),
                ('dq-20261019', 'junk_share', 'critical', true, 0.08, 0.35, 'Detected junk among leads')""")
            con.execute("create table quality.lead_junk_flags (lead_id bigint, rule varchar)")
    finally:
        con.close()
    return path


def next_run(src: str | Path, dst: str | Path, drop_every: int = 3) -> Path:
    """A copy of `src` as if the next pipeline run changed the marts: every `drop_every`-th lead is gone."""
    dst = Path(dst)
    dst.write_bytes(Path(src).read_bytes())
    con = duckdb.connect(str(dst))
    try:
        con.execute(f"delete from marts.fct_lead_control_points where lead_id % {drop_every} = 0")
        con.execute(f"delete from marts.fct_funnel where leads_recorded % {drop_every} = 1")
    finally:
        con.close()
    return dst
