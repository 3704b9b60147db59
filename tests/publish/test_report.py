"""The head-of-sales report: one self-contained HTML file; every chart renders with data in headless
Chromium (screenshots saved); missing marts say "no data" instead of drawing blank charts."""

from __future__ import annotations

from datetime import date

import pytest

from tests.publish.fixture_warehouse import AS_OF, build_fixture_warehouse
from tests.publish.report_checks import assert_all_charts_rendered, external_references, parse_dom
from tests.support.system import render_page
from warehouse.publish import publish_duckdb
from warehouse.report import build_report, report_sections

ALL_CHARTS = {"plan_company", "plan_managers", "funnel_overall", "conversion_branch", "conversion_department",
              "conversion_manager", "activity_managers", "activity_trend", "payment_mix", "payment_revenue",
              "channels_volume", "channels_conversion", "junk_rules", "junk_trend"}


def test_sections_have_data_and_numbers_match_the_marts(bi_file):
    sections, as_of = report_sections(bi_file)
    assert as_of == AS_OF                              # the newest activity date, not the wall clock
    assert [s.section_id for s in sections] == ["plan", "funnel", "activity", "payment", "channels", "junk"]
    charts = {c.chart_id: c for s in sections for c in s.charts}
    assert set(charts) == ALL_CHARTS and all(c.figure is not None for c in charts.values())
    assert all(s.no_data is None for s in sections)
    # the funnel chart shows the cohort of the last three months, exactly as summed from fct_funnel
    import duckdb

    con = duckdb.connect(str(bi_file), read_only=True)
    want = con.execute("select sum(leads_recorded), sum(leads_contract) from marts.fct_funnel where "
                       "funnel_basis = 'cohort' and period_grain = 'month' and period_start between ? and ?",
                       [date(2026, 8, 1), date(2026, 10, 1)]).fetchone()
    plan = con.execute("select fact_value / plan_value from marts.fct_plan_vs_fact where scope_type = 'company' and "
                       "period_grain = 'month' and period_start = '2026-10-01' and metric = 'revenue'").fetchone()[0]
    con.close()
    funnel = charts["funnel_overall"].figure.data[0]
    assert (funnel.x[0], funnel.x[list(funnel.y).index("Договор")]) == want
    fact_trace = charts["plan_company"].figure.data[0]
    assert fact_trace.name == "Факт"
    assert fact_trace.x[list(fact_trace.y).index("Выручка")] == pytest.approx(plan)


def test_self_contained_russian_and_english(bi_file, tmp_path):
    ru = build_report(bi_file, tmp_path / "report_ru.html")
    en = build_report(bi_file, tmp_path / "report_en.html", lang="en")
    page_ru, page_en = ru.read_text(encoding="utf-8"), en.read_text(encoding="utf-8")
    for page in (page_ru, page_en):
        assert external_references(page) == []
        assert "<link" not in page and "cdn." not in page.split("<script>", 1)[0]
        assert len(page) > 3_000_000 and "Plotly.newPlot" in page   # plotly.js itself is inline
    assert '<html lang="ru">' in page_ru and "План-факт и темп" in page_ru and "Воронка и конверсия" in page_ru
    assert '<html lang="en">' in page_en and "Plan vs fact and pacing" in page_en and "План-факт" not in page_en
    with pytest.raises(ValueError):
        build_report(bi_file, tmp_path / "x.html", lang="de")


def test_every_chart_renders_with_data_in_chromium(bi_file, chromium_exe, screenshots, tmp_path):
    page = build_report(bi_file, tmp_path / "report_ru.html")
    shot = screenshots / "report_fixture_ru.png"
    dom = render_page(page, shot, height=7000)
    parsed = assert_all_charts_rendered(dom, ALL_CHARTS)
    assert parsed.no_data == []
    assert shot.stat().st_size > 100_000                # a drawn page, not a blank one


def test_missing_marts_say_no_data_never_a_blank_chart(chromium_exe, screenshots, tmp_path):
    wh = build_fixture_warehouse(tmp_path / "partial.duckdb", marts=["fct_funnel", "fct_sales_channels"],
                                 quality=False)
    bi = publish_duckdb(wh, tmp_path / "bi.duckdb").path
    sections, _ = report_sections(bi)
    by_id = {s.section_id: s for s in sections}
    assert "fct_plan_vs_fact" in by_id["plan"].no_data and "fct_payment_forms" in by_id["payment"].no_data
    assert "fct_manager_daily_activity" in by_id["activity"].no_data
    page = build_report(bi, tmp_path / "partial.html")
    dom = render_page(page, screenshots / "report_partial_ru.png", height=3500)
    present = {"funnel_overall", "conversion_branch", "conversion_department", "conversion_manager",
               "channels_volume", "channels_conversion"}
    parsed = assert_all_charts_rendered(dom, present)
    assert {"plan", "activity", "payment"} <= set(parsed.no_data)
    assert "Нет данных" in dom
