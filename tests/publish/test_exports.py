"""export_marts: Parquet of every mart (same rows, dbt descriptions as field metadata) and XLSX with
readable headers a head of sales can filter and group by in Excel."""

from __future__ import annotations

import re

import duckdb
import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook

from warehouse.exports import export_marts

CYRILLIC = re.compile(r"[а-яА-ЯёЁ]")


@pytest.fixture(scope="module")
def exported(bi_file, tmp_path_factory):
    return export_marts(bi_file, tmp_path_factory.mktemp("exports"))


def test_parquet_every_mart_same_rows_and_described(bi_file, exported):
    con = duckdb.connect(str(bi_file), read_only=True)
    try:
        marts = {r[0] for r in con.execute("select table_name from information_schema.tables "
                                           "where table_schema = 'marts'").fetchall()}
        assert set(exported.parquet) == marts
        for t, path in exported.parquet.items():
            n = con.execute(f"select count(*) from marts.{t}").fetchone()[0]
            assert pq.ParquetFile(path).metadata.num_rows == n == exported.rows[t]
            diff = con.execute(f"select count(*) from (select * from marts.{t} except all "
                               f"select * from read_parquet('{path}'))").fetchone()[0]
            assert diff == 0, t
    finally:
        con.close()
    field = pq.read_schema(exported.parquet["fct_sales_channels"]).field("junk_share")
    assert b"junk_leads / leads" in field.metadata[b"description"]
    assert field.metadata[b"label_ru"].decode() == "Доля мусора"


def test_xlsx_headers_are_readable_and_values_exact(bi_file, exported):
    wb = load_workbook(exported.xlsx["fct_funnel"])
    ws = wb.worksheets[0]
    assert ws.title == "Воронка продаж" and wb.sheetnames[1] == "Описание"
    header = [c.value for c in ws[1]]
    assert header[:3] == ["Период", "Начало периода", "Основа воронки (когорта/поток)"]
    assert {"Филиал", "Отдел", "Канал продаж", "Лиды зафиксировано", "Конверсия лид → договор"} <= set(header)
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref.startswith("A1:")
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    con = duckdb.connect(str(bi_file), read_only=True)
    try:
        want = con.execute("select count(*), sum(leads_recorded), sum(leads_contract) from marts.fct_funnel").fetchone()
    finally:
        con.close()
    i_rec, i_con = header.index("Лиды зафиксировано"), header.index("Договоры")
    assert (len(rows), sum(r[i_rec] for r in rows), sum(r[i_con] for r in rows)) == want
    rate = ws.cell(row=2, column=header.index("Конверсия лид → договор") + 1)
    assert rate.number_format == "0.0%"
    date_cell = ws.cell(row=2, column=2)
    assert date_cell.is_date
    doc = wb["Описание"]
    described = {r[1]: r[2] for r in doc.iter_rows(min_row=4, values_only=True)}
    assert "leads_contract / leads_recorded" in described["lead_to_contract_rate"]


def test_every_xlsx_header_is_a_word_not_a_column_name(exported):
    assert set(exported.xlsx) == set(exported.parquet)
    for t, path in exported.xlsx.items():
        ws = load_workbook(path, read_only=True).worksheets[0]
        header = next(ws.iter_rows(max_row=1, values_only=True))
        for h in header:
            assert h and (CYRILLIC.search(h) or h in ("CRM", "E-mail") or h.startswith("utm_")), (t, h)


def test_english_headers(bi_file, tmp_path):
    res = export_marts(bi_file, tmp_path, parquet=False, lang="en", tables=["fct_plan_vs_fact"])
    wb = load_workbook(res.xlsx["fct_plan_vs_fact"], read_only=True)
    assert wb.sheetnames == ["Plan vs fact", "Columns"]
    header = next(wb.worksheets[0].iter_rows(max_row=1, values_only=True))
    assert {"Plan", "Fact", "Attainment", "Expected to date", "Run-rate forecast"} <= set(header)
    assert not res.parquet


def test_publish_bi_writes_everything_bi_reads(fixture_wh, tmp_path):
    from warehouse.bi_outputs import publish_bi

    out = publish_bi(fixture_wh, tmp_path, xlsx=False)
    assert out.publish.path == tmp_path / "bi.duckdb" and out.publish.missing_marts == []
    assert sorted(p.name for p in out.reports.values()) == ["report_en.html", "report_ru.html"]
    assert all(p.stat().st_size > 3_000_000 for p in out.reports.values())
    assert set(out.exports.parquet) == set(out.publish.tables) and not out.exports.xlsx
    assert out.postgres is None
