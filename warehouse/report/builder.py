"""The head-of-sales HTML report: one self-contained file built from the published marts.

`build_report(bi_path, out_html, lang="ru")` reads the published DuckDB file read-only, draws each
section with Plotly and writes one HTML file with plotly.js, the figures and the styles inlined
(nothing from a CDN: it opens offline, behind a corporate proxy, and can be mailed). A section
whose mart is missing or empty says so in words; a chart is drawn only when it has data, never
blank. In the browser each chart `div.chart` gets `data-rendered="ok"` and `data-points=<n>` once
Plotly has drawn its marks (the test in tests/publish reads them from headless Chromium).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pandas as pd
import plotly.graph_objects as go

from warehouse.report import i18n
from warehouse.report.template import render

PALETTE = ["#1f5fa8", "#e07b00", "#2e9e5b", "#c23b3b", "#7b4fb0", "#00838f", "#8d6e63", "#d81b60", "#607d8b"]
FUNNEL_POINTS = ["recorded", "taken", "classified", "shown", "booked", "contract", "paid"]


@dataclass
class Chart:
    chart_id: str
    title: str
    figure: go.Figure | None = None
    no_data: str | None = None


@dataclass
class Section:
    section_id: str
    title: str
    intro: str = ""
    charts: list[Chart] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)   # pre-rendered, escaped HTML
    no_data: str | None = None


class _Data:
    def __init__(self, con: duckdb.DuckDBPyConnection, schema: str):
        self.con, self.schema = con, schema
        self.tables = {r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = ?", [schema]).fetchall()}

    def has(self, table: str) -> bool:
        return table in self.tables and self.con.execute(
            f'select count(*) > 0 from "{self.schema}"."{table}"').fetchone()[0]

    def columns(self, table: str) -> set[str]:
        return {r[0] for r in self.con.execute("select column_name from information_schema.columns where "
                                               "table_schema = ? and table_name = ?", [self.schema, table]).fetchall()}

    def df(self, sql: str, params=None) -> pd.DataFrame:
        return self.con.execute(sql.replace("{s}", f'"{self.schema}"'), params or []).df()


def _report_date(d: _Data) -> date:
    for table, col in (("fct_manager_daily_activity", "activity_date"), ("fct_lead_control_points", "created_date"),
                       ("fct_sales_channels", "month_start")):
        if d.has(table) and col in d.columns(table):
            v = d.con.execute(f'select max("{col}") from "{d.schema}"."{table}"').fetchone()[0]
            if v is not None:
                return v if isinstance(v, date) and not isinstance(v, datetime) else pd.Timestamp(v).date()
    return datetime.now(timezone.utc).date()


def _month_label(m: date, lang: str) -> str:
    names = i18n.MONTHS_RU if lang == "ru" else i18n.MONTHS_EN
    return f"{names[m.month - 1]} {m.year}"


def _fmt_num(v, lang: str, pct: bool = False, digits: int = 0) -> str:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return "—"
    if pct:
        s = f"{v * 100:,.1f} %"
    else:
        s = f"{v:,.{digits}f}"
    return s.replace(",", "\u202f").replace(".", ",") if lang == "ru" else s


def _layout(fig: go.Figure, lang: str, height: int = 380, **kw) -> go.Figure:
    fig.update_layout(template="plotly_white", height=height, margin=dict(l=60, r=20, t=30, b=60),
                      colorway=PALETTE, separators=", " if lang == "ru" else ".,", font=dict(family="Arial, sans-serif",
                                                                                          size=12),
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0), **kw)
    return fig


def _nonempty(*series) -> bool:
    return any(pd.Series(s).fillna(0).astype(float).abs().sum() > 0 for s in series)


# ---------------------------------------------------------------------------------------------- sections
def _plan_section(d: _Data, t: dict, lang: str, as_of: date) -> Section:
    sec = Section("plan", t["sec_plan"])
    if not d.has("fct_plan_vs_fact"):
        sec.no_data = t["no_data_mart"].format(mart="fct_plan_vs_fact")
        return sec
    month = d.df("select max(period_start) as m from {s}.fct_plan_vs_fact where period_grain = 'month' "
                 "and period_start <= ?", [as_of])["m"].iloc[0]
    if pd.isna(month):
        sec.no_data = t["no_data_rows"]
        return sec
    month = pd.Timestamp(month).date()
    comp = d.df("""select metric, sum(plan_value) plan, sum(fact_value) fact, sum(expected_to_date) expected,
                          sum(run_rate_forecast) forecast, sum(required_per_remaining_working_day) required,
                          max(working_days_in_period) wd, max(elapsed_working_days) elapsed
                   from {s}.fct_plan_vs_fact where period_grain = 'month' and period_start = ? and scope_type = ?
                   group by metric""", [month, "company"])
    if comp.empty:  # no company-level plan: sum the branches
        comp = d.df("""select metric, sum(plan_value) plan, sum(fact_value) fact, sum(expected_to_date) expected,
                              sum(run_rate_forecast) forecast, sum(required_per_remaining_working_day) required,
                              max(working_days_in_period) wd, max(elapsed_working_days) elapsed
                       from {s}.fct_plan_vs_fact where period_grain = 'month' and period_start = ?
                         and scope_type = (select min(scope_type) from {s}.fct_plan_vs_fact
                                           where period_grain = 'month' and period_start = ?)
                       group by metric""", [month, month])
    comp = comp[comp["plan"].fillna(0) > 0]
    order = [m for m in i18n.METRICS if m in set(comp["metric"])] + sorted(set(comp["metric"]) - set(i18n.METRICS))
    comp = comp.set_index("metric").loc[order].reset_index()
    if comp.empty:
        sec.no_data = t["no_data_rows"]
        return sec
    sec.intro = t["plan_intro"].format(period=_month_label(month, lang), elapsed=int(comp["elapsed"].max()),
                                       total=int(comp["wd"].max()))
    names = [i18n.pick(i18n.METRICS, m, lang) for m in comp["metric"]]
    fig = go.Figure()
    for col, label, color in (("fact", t["fact_pct"], PALETTE[0]), ("expected", t["expected_pct"], "#9fb7d6"),
                              ("forecast", t["forecast_pct"], PALETTE[1])):
        vals = (comp[col] / comp["plan"]).astype(float)
        fig.add_bar(y=names, x=vals, name=label, orientation="h", marker_color=color,
                    text=[_fmt_num(v, lang, pct=True) for v in vals], textposition="auto")
    fig.add_vline(x=1.0, line_dash="dash", line_color="#c23b3b", annotation_text=t["plan_line"])
    _layout(fig, lang, height=90 + 70 * len(names), barmode="group", xaxis_tickformat=".0%",
            yaxis_autorange="reversed")
    sec.charts.append(Chart("plan_company", t["plan_company"], fig))
    rows = [[i18n.pick(i18n.METRICS, r.metric, lang), _fmt_num(r.plan, lang), _fmt_num(r.fact, lang),
             _fmt_num(r.expected, lang), _fmt_num(r.fact / r.plan if r.plan else None, lang, pct=True),
             _fmt_num(r.fact / r.expected if r.expected else None, lang, pct=True), _fmt_num(r.forecast, lang),
             _fmt_num(r.required, lang, digits=1)] for r in comp.itertuples()]
    sec.tables.append(_table([t["col_metric"], t["col_plan"], t["col_fact"], t["col_expected"], t["col_attainment"],
                              t["col_pace"], t["col_forecast"], t["col_required"]], rows))
    # managers: the first money/units metric that has manager plans
    mgr = d.df("""select metric, scope_name, sum(plan_value) plan, sum(fact_value) fact,
                         sum(expected_to_date) expected
                  from {s}.fct_plan_vs_fact where period_grain = 'month' and period_start = ?
                    and scope_type = 'manager' and plan_value > 0 group by all""", [month])
    metric = next((m for m in ("revenue", "units", "contracts", "payments_received", "leads")
                   if m in set(mgr["metric"])), None)
    title = t["plan_managers"].format(metric=i18n.pick(i18n.METRICS, metric or "", lang))
    if metric is None:
        sec.charts.append(Chart("plan_managers", title, no_data=t["no_data_rows"]))
    else:
        m = mgr[mgr["metric"] == metric].assign(att=lambda x: x["fact"] / x["plan"],
                                                exp=lambda x: x["expected"] / x["plan"]).sort_values("att")
        fig = go.Figure()
        fig.add_bar(y=m["scope_name"], x=m["att"], orientation="h", name=t["fact_pct"], marker_color=[
            PALETTE[2] if a >= e else PALETTE[3] for a, e in zip(m["att"], m["exp"])])
        fig.add_scatter(y=m["scope_name"], x=m["exp"], mode="markers", name=t["expected_pct"],
                        marker=dict(symbol="line-ns-open", size=18, color="#333", line_width=3))
        _layout(fig, lang, height=80 + 24 * len(m), xaxis_tickformat=".0%")
        sec.charts.append(Chart("plan_managers", title, fig))
    return sec


def _funnel_section(d: _Data, t: dict, lang: str, as_of: date) -> Section:
    sec = Section("funnel", t["sec_funnel"])
    if not d.has("fct_funnel"):
        sec.no_data = t["no_data_mart"].format(mart="fct_funnel")
        return sec
    cols = d.columns("fct_funnel")
    end = as_of.replace(day=1)
    start = (pd.Timestamp(end) - pd.DateOffset(months=2)).date()
    base = """from {s}.fct_funnel where funnel_basis = 'cohort' and period_grain = 'month'
              and period_start between ? and ?"""
    points = [p for p in FUNNEL_POINTS if f"leads_{p}" in cols]
    tot = d.df("select " + ", ".join(f"sum(leads_{p}) as {p}" for p in points) + " " + base, [start, end])
    sec.intro = t["funnel_intro"].format(start=_month_label(start, lang), end=_month_label(end, lang))
    if tot.empty or not _nonempty(tot.iloc[0]):
        sec.no_data = t["no_data_rows"]
        return sec
    vals = [float(tot[p].iloc[0] or 0) for p in points]
    fig = go.Figure(go.Funnel(y=[i18n.pick(i18n.POINTS, p, lang) for p in points], x=vals,
                              textinfo="value+percent initial", marker_color=PALETTE[0]))
    _layout(fig, lang, height=360, showlegend=False)
    sec.charts.append(Chart("funnel_overall", t["funnel_overall"], fig))
    for dim, key, label in (("branch", "branch", "conv_branch"), ("department", "department_name", "conv_department"),
                            ("manager", "manager_key", "conv_manager")):
        if key not in cols:
            sec.charts.append(Chart(f"conversion_{dim}", t[label], no_data=t["no_data_rows"]))
            continue
        name_sql = f"coalesce({key}, '—')"
        if dim == "manager" and d.has("dim_managers"):
            name_sql = ("coalesce((select any_value(m.manager_name) from {s}.dim_managers m where m.manager_key = f."
                        "manager_key), f.manager_key, '—')")
        g = d.df(f"""select {name_sql} as name, sum(leads_recorded) recorded, sum(leads_shown) shown,
                            sum(leads_contract) contract
                     from {{s}}.fct_funnel f where funnel_basis = 'cohort' and period_grain = 'month'
                       and period_start between ? and ? group by 1 having sum(leads_recorded) > 0""", [start, end])
        if g.empty:
            sec.charts.append(Chart(f"conversion_{dim}", t[label], no_data=t["no_data_rows"]))
            continue
        g["to_shown"], g["to_contract"] = g["shown"] / g["recorded"], g["contract"] / g["recorded"]
        g = g.sort_values("to_contract", ascending=False).head(40)
        fig = go.Figure()
        fig.add_bar(x=g["name"], y=g["to_shown"], name=t["lead_to_shown"], marker_color="#9fb7d6",
                    customdata=g[["shown", "recorded"]], hovertemplate="%{y:.1%} (%{customdata[0]} / %{customdata[1]})")
        fig.add_bar(x=g["name"], y=g["to_contract"], name=t["lead_to_contract"], marker_color=PALETTE[0],
                    customdata=g[["contract", "recorded"]],
                    hovertemplate="%{y:.1%} (%{customdata[0]} / %{customdata[1]})")
        _layout(fig, lang, height=380 if dim != "manager" else 440, barmode="group", yaxis_tickformat=".0%")
        sec.charts.append(Chart(f"conversion_{dim}", t[label], fig))
    return sec


def _activity_section(d: _Data, t: dict, lang: str, as_of: date, days: int = 7) -> Section:
    sec = Section("activity", t["sec_activity"])
    if not d.has("fct_manager_daily_activity"):
        sec.no_data = t["no_data_mart"].format(mart="fct_manager_daily_activity")
        return sec
    start = as_of - timedelta(days=days - 1)
    sec.intro = t["activity_intro"].format(days=days, end=as_of.strftime("%d.%m.%Y"))
    m = d.df("""select coalesce(manager_name, manager_key) as name, sum(leads_processed) processed,
                       sum(target_leads) target_leads, sum(meetings_held) meetings, sum(showings_held) showings,
                       sum(target_showings) target_showings, sum(calls_held) calls,
                       sum(leads_to_process) filter (where activity_date = ?) backlog,
                       sum(leads_overdue) filter (where activity_date = ?) overdue,
                       sum(contracts) contracts, sum(payments_amount) payments
                from {s}.fct_manager_daily_activity where activity_date between ? and ?
                group by 1 order by processed desc""", [as_of, as_of, start, as_of])
    if m.empty or not _nonempty(m["processed"], m["meetings"], m["showings"], m["calls"], m["backlog"]):
        sec.charts.append(Chart("activity_managers", t["activity_managers"].format(days=days),
                                no_data=t["no_data_rows"]))
    else:
        fig = go.Figure()
        fig.add_bar(x=m["name"], y=m["processed"], name=t["processed"], marker_color=PALETTE[0])
        fig.add_bar(x=m["name"], y=m["meetings"], name=t["meetings_held"], marker_color=PALETTE[2])
        fig.add_bar(x=m["name"], y=m["showings"], name=t["showings_held"], marker_color=PALETTE[1])
        if _nonempty(m["target_leads"]):
            fig.add_scatter(x=m["name"], y=m["target_leads"], mode="markers", name=t["target_leads"],
                            marker=dict(symbol="line-ew-open", size=22, color="#333", line_width=3))
        _layout(fig, lang, height=420, barmode="group")
        sec.charts.append(Chart("activity_managers", t["activity_managers"].format(days=days), fig))
        rows = [[r.name, _fmt_num(r.processed, lang), _fmt_num(r.target_leads, lang, digits=1),
                 _fmt_num(r.calls, lang), _fmt_num(r.meetings, lang), _fmt_num(r.showings, lang),
                 _fmt_num(r.backlog, lang), _fmt_num(r.overdue, lang)] for r in m.itertuples()]
        sec.tables.append(_table(["", t["processed"], t["target_leads"], t["calls"], t["meetings_held"],
                                  t["showings_held"], t["backlog"], t["overdue"]], rows))
    trend_start = as_of - timedelta(days=29)
    tr = d.df("""select activity_date, sum(leads_processed) processed, sum(meetings_held) meetings,
                        sum(showings_held) showings, sum(leads_to_process) backlog
                 from {s}.fct_manager_daily_activity where activity_date between ? and ?
                 group by 1 order by 1""", [trend_start, as_of])
    if tr.empty or not _nonempty(tr["processed"], tr["meetings"], tr["showings"], tr["backlog"]):
        sec.charts.append(Chart("activity_trend", t["activity_trend"], no_data=t["no_data_rows"]))
    else:
        fig = go.Figure()
        for col, label, color in (("processed", t["processed"], PALETTE[0]), ("meetings", t["meetings_held"],
                                                                              PALETTE[2]),
                                  ("showings", t["showings_held"], PALETTE[1]), ("backlog", t["backlog"], "#999")):
            fig.add_scatter(x=tr["activity_date"], y=tr[col], mode="lines+markers", name=label,
                            line=dict(color=color, dash="dot" if col == "backlog" else "solid"))
        _layout(fig, lang, height=340)
        sec.charts.append(Chart("activity_trend", t["activity_trend"], fig))
    return sec


def _payment_section(d: _Data, t: dict, lang: str, as_of: date) -> Section:
    sec = Section("payment", t["sec_payment"])
    if not d.has("fct_payment_forms"):
        sec.no_data = t["no_data_mart"].format(mart="fct_payment_forms")
        return sec
    end = as_of.replace(day=1)
    start = (pd.Timestamp(end) - pd.DateOffset(months=5)).date()
    sec.intro = t["payment_intro"].format(start=_month_label(start, lang), end=_month_label(end, lang))
    p = d.df("""select month_start, payment_form, sum(deals) deals, sum(revenue) revenue
                from {s}.fct_payment_forms where month_start between ? and ? group by 1, 2 order by 1""",
             [start, end])
    if p.empty or not _nonempty(p["deals"]):
        sec.no_data = t["no_data_rows"]
        return sec
    names = {}
    if lang == "ru" and d.has("dim_payment_forms"):
        names = dict(d.df("select payment_form, payment_form_name from {s}.dim_payment_forms").values)
    p["month"] = pd.to_datetime(p["month_start"]).dt.strftime("%Y-%m")
    p["share"] = p["deals"] / p.groupby("month")["deals"].transform("sum")
    forms = [f for f in i18n.PAYMENT_FORMS if f in set(p["payment_form"])] + sorted(
        set(p["payment_form"]) - set(i18n.PAYMENT_FORMS))
    fig, fig2 = go.Figure(), go.Figure()
    for i, f in enumerate(forms):
        x = p[p["payment_form"] == f]
        label = names.get(f) or i18n.pick(i18n.PAYMENT_FORMS, f, lang)
        fig.add_bar(x=x["month"], y=x["share"], name=label, marker_color=PALETTE[i % len(PALETTE)],
                    customdata=x["deals"], hovertemplate="%{y:.1%} (%{customdata})")
        if x["revenue"].fillna(0).sum() > 0:
            fig2.add_bar(x=[label], y=[x["revenue"].sum()], name=label, marker_color=PALETTE[i % len(PALETTE)])
    _layout(fig, lang, barmode="stack", yaxis_tickformat=".0%")
    sec.charts.append(Chart("payment_mix", t["payment_mix"], fig))
    if fig2.data:
        _layout(fig2, lang, height=320, showlegend=False)
        sec.charts.append(Chart("payment_revenue", t["payment_revenue"], fig2))
    else:
        sec.charts.append(Chart("payment_revenue", t["payment_revenue"], no_data=t["no_data_rows"]))
    return sec


def _channel_section(d: _Data, t: dict, lang: str, as_of: date) -> Section:
    sec = Section("channels", t["sec_channels"])
    if not d.has("fct_sales_channels"):
        sec.no_data = t["no_data_mart"].format(mart="fct_sales_channels")
        return sec
    end = as_of.replace(day=1)
    start = (pd.Timestamp(end) - pd.DateOffset(months=2)).date()
    sec.intro = t["channels_intro"].format(start=_month_label(start, lang), end=_month_label(end, lang))
    c = d.df("""select channel, sum(leads) leads, sum(junk_leads) junk, sum(contract_leads) contracts,
                       sum(revenue) revenue
                from {s}.fct_sales_channels where month_start between ? and ? group by 1 having sum(leads) > 0
                order by leads desc""", [start, end])
    if c.empty:
        sec.no_data = t["no_data_rows"]
        return sec
    names = {}
    if lang == "ru" and d.has("dim_channels"):
        names = dict(d.df("select channel, channel_name from {s}.dim_channels").values)
    else:
        names = i18n.CHANNELS_EN
    c["name"] = [names.get(ch) or ch for ch in c["channel"]]
    fig = go.Figure()
    fig.add_bar(x=c["name"], y=c["leads"] - c["junk"], name=t["clean_leads"], marker_color=PALETTE[0])
    fig.add_bar(x=c["name"], y=c["junk"], name=t["junk_leads"], marker_color=PALETTE[3])
    _layout(fig, lang, barmode="stack")
    sec.charts.append(Chart("channels_volume", t["channels_volume"], fig))
    fig = go.Figure()
    fig.add_bar(x=c["name"], y=c["junk"] / c["leads"], name=t["junk_share"], marker_color=PALETTE[3],
                customdata=c[["junk", "leads"]], hovertemplate="%{y:.1%} (%{customdata[0]} / %{customdata[1]})")
    fig.add_bar(x=c["name"], y=c["contracts"] / c["leads"], name=t["lead_to_contract"], marker_color=PALETTE[2],
                customdata=c[["contracts", "leads"]], hovertemplate="%{y:.1%} (%{customdata[0]} / %{customdata[1]})")
    _layout(fig, lang, barmode="group", yaxis_tickformat=".0%")
    sec.charts.append(Chart("channels_conversion", t["channels_conversion"], fig))
    return sec


def _junk_section(d: _Data, t: dict, lang: str, as_of: date) -> Section:
    sec = Section("junk", t["sec_junk"])
    have_any = False
    if d.has("fct_data_quality"):
        q = d.df("""with latest as (select rule, max(checked_at) as last_at from {s}.fct_data_quality group by rule)
                    select q.rule, sum(q.leads_failed) failed, sum(q.leads_checked) checked
                    from {s}.fct_data_quality q join latest l on q.rule = l.rule and q.checked_at = l.last_at
                    group by 1 order by failed desc""")
        q = q[q["failed"].fillna(0) > 0]
        if not q.empty:
            have_any = True
            fig = go.Figure()
            fig.add_bar(y=[i18n.pick(i18n.RULES, r, lang) for r in q["rule"]], x=q["failed"], orientation="h",
                        marker_color=PALETTE[3], name=t["leads_failed"], customdata=q["failed"] / q["checked"],
                        hovertemplate="%{x} (%{customdata:.1%})")
            _layout(fig, lang, height=100 + 34 * len(q), yaxis_autorange="reversed", showlegend=False)
            sec.charts.append(Chart("junk_rules", t["junk_rules"], fig))
        else:
            sec.charts.append(Chart("junk_rules", t["junk_rules"], no_data=t["no_data_rows"]))
    else:
        sec.charts.append(Chart("junk_rules", t["junk_rules"], no_data=t["no_data_mart"].format(
            mart="fct_data_quality")))
    if d.has("fct_lead_control_points") and {"is_crm_junk", "is_detected_junk"} <= d.columns(
            "fct_lead_control_points"):
        start = as_of - timedelta(days=59)
        j = d.df("""select created_date, count(*) leads, count(*) filter (where is_crm_junk) crm,
                           count(*) filter (where is_detected_junk) detected
                    from {s}.fct_lead_control_points where created_date between ? and ? group by 1 order by 1""",
                 [start, as_of])
        if not j.empty and _nonempty(j["crm"], j["detected"]):
            have_any = True
            fig = go.Figure()
            fig.add_bar(x=j["created_date"], y=j["crm"], name=t["crm_junk"], marker_color=PALETTE[1])
            fig.add_bar(x=j["created_date"], y=j["detected"], name=t["detected_junk"], marker_color=PALETTE[3])
            fig.add_scatter(x=j["created_date"], y=(j["crm"] + j["detected"]) / j["leads"], name=t["junk_share"],
                            yaxis="y2", mode="lines", line=dict(color="#333"))
            _layout(fig, lang, barmode="stack", yaxis2=dict(overlaying="y", side="right", tickformat=".0%",
                                                            rangemode="tozero", showgrid=False))
            sec.charts.append(Chart("junk_trend", t["junk_trend"], fig))
        else:
            sec.charts.append(Chart("junk_trend", t["junk_trend"], no_data=t["no_data_rows"]))
    else:
        sec.charts.append(Chart("junk_trend", t["junk_trend"], no_data=t["no_data_mart"].format(
            mart="fct_lead_control_points")))
    if d.has("dq_check_results"):
        g = d.df("""select check_name, severity, passed, observed, threshold from {s}.dq_check_results
                    where run_id = (select run_id from {s}.dq_check_results order by started_at desc limit 1)
                    order by passed, severity, check_name""")
        rows = [[r.check_name, r.severity, t["gate_passed"] if r.passed else t["gate_failed"],
                 _fmt_num(r.observed, lang, digits=3), _fmt_num(r.threshold, lang, digits=3)] for r in g.itertuples()]
        sec.tables.append(f"<h3>{html.escape(t['gates'])}</h3>" + _table(
            [t["col_check"], t["col_severity"], "", t["col_observed"], t["col_threshold"]], rows))
    if not have_any and not sec.tables:
        sec.no_data = t["no_data_mart"].format(mart="fct_data_quality / fct_lead_control_points")
        sec.charts = []
    return sec


def _table(header: list[str], rows: list[list]) -> str:
    h = "".join(f"<th>{html.escape(str(c))}</th>" for c in header)
    b = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="data"><thead><tr>{h}</tr></thead><tbody>{b}</tbody></table>'


# ---------------------------------------------------------------------------------------------- public API
def report_sections(bi_path: str | Path, lang: str = "ru", *, as_of: date | None = None,
                    schema: str = "marts") -> tuple[list[Section], date]:
    """The report's sections and charts, without HTML (for tests and other front-ends)."""
    if lang not in i18n.TEXT:
        raise ValueError(f"lang must be one of {sorted(i18n.TEXT)}, not {lang!r}")
    t = i18n.TEXT[lang]
    con = duckdb.connect(str(bi_path), read_only=True)
    try:
        con.execute("set enable_progress_bar = false")
        d = _Data(con, schema)
        as_of = as_of or _report_date(d)
        sections = [f(d, t, lang, as_of) for f in (_plan_section, _funnel_section, _activity_section,
                                                   _payment_section, _channel_section, _junk_section)]
    finally:
        con.close()
    return sections, as_of


def build_report(bi_path: str | Path, out_html: str | Path, lang: str = "ru", *, as_of: date | None = None,
                 schema: str = "marts") -> Path:
    """Write the self-contained head-of-sales report for the published marts in `bi_path`; returns its path."""
    import plotly.io as pio
    from plotly.offline import get_plotlyjs

    sections, as_of = report_sections(bi_path, lang, as_of=as_of, schema=schema)
    figures = {c.chart_id: json.loads(pio.to_json(c.figure, validate=False, engine="json"))
               for s in sections for c in s.charts if c.figure is not None}
    published = None
    try:
        con = duckdb.connect(str(bi_path), read_only=True)
        try:
            published = con.execute(f'select max(published_at) from "{schema}".publish_info').fetchone()[0]
        finally:
            con.close()
    except duckdb.Error:
        pass
    page = render(lang=lang, t=i18n.TEXT[lang], sections=sections, as_of=as_of,
                  built_at=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                  published_at=published.strftime("%Y-%m-%d %H:%M UTC") if published else None,
                  figures_json=json.dumps(figures, ensure_ascii=False, separators=(",", ":")),
                  plotly_js=get_plotlyjs())
    out = Path(out_html)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)
    return out
