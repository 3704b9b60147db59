"""End to end on the real dbt output (the dbt tests' generated sandbox, extracted and built with
`dbt build`): publish, export, PostgreSQL, and the report rendered in Chromium."""

from __future__ import annotations

import duckdb
from openpyxl import load_workbook

from tests.publish.report_checks import assert_all_charts_rendered
from tests.publish.test_report import ALL_CHARTS
from tests.support.system import render_page
from warehouse.exports import export_marts
from warehouse.postgres import publish_postgres, reader_can_see
from warehouse.publish import EXPECTED_MARTS, publish_duckdb
from warehouse.report import build_report


def test_real_marts_publish_export_and_report(built, pg_server, chromium_exe, screenshots, tmp_path):
    manifest = built.project / "target" / "manifest.json"
    res = publish_duckdb(built.warehouse, tmp_path / "bi.duckdb", manifest=manifest)
    assert res.missing_marts == [], res.missing_marts
    src = duckdb.connect(str(built.warehouse), read_only=True)
    try:
        for mart in EXPECTED_MARTS:
            assert res.tables[mart] == src.execute(f"select count(*) from marts.{mart}").fetchone()[0]
    finally:
        src.close()
    assert res.tables["fct_lead_control_points"] > 1000

    exp = export_marts(res.path, tmp_path / "exports", tables=["fct_sales_channels", "fct_payment_forms",
                                                               "fct_funnel"], manifest=manifest)
    header = next(load_workbook(exp.xlsx["fct_sales_channels"], read_only=True).worksheets[0].iter_rows(
        max_row=1, values_only=True))
    assert {"Месяц", "Канал продаж", "Лиды", "Доля мусора", "Конверсия лид → договор"} <= set(header)

    owner = pg_server.connect()
    owner.cursor().execute("create database crm_real")
    owner.close()
    pg = publish_postgres(res.path, pg_server.dsn("crm_real"), reader_role="bi_real", reader_password="pw-real")
    assert pg.tables == res.tables
    visible = reader_can_see(pg_server.dsn("crm_real", user="bi_real", password="pw-real"))
    assert {t for _, t in visible} == set(res.tables) and {s for s, _ in visible} == {"marts"}

    for lang in ("ru", "en"):
        page = build_report(res.path, tmp_path / f"report_{lang}.html", lang=lang)
        dom = render_page(page, screenshots / f"report_real_dbt_{lang}.png", height=7000)
        assert_all_charts_rendered(dom, ALL_CHARTS)
