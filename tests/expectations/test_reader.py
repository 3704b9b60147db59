"""expectations.reader: every phone / e-mail of a lead from int_lead_contact_points, in rank order."""

from __future__ import annotations

import duckdb
import pandas as pd

from expectations import reader


def _warehouse(con):
    con.execute("create schema intermediate")
    con.execute("""create table intermediate.int_leads as select * from (values
        ('bitrix24', 'b24', 1, 'Заявка', 'Иван', cast('2026-11-01 10:00' as timestamp)),
        ('bitrix24', 'b24', 2, 'Заявка', 'Анна', cast('2026-11-01 11:00' as timestamp)),
        ('amocrm', 'amo', 1, 'Заявка', 'Олег', cast('2026-11-01 12:00' as timestamp)))
        t(source_system, account, lead_id, lead_title, first_name, created_at)""")
    # six phones of one lead, stored out of order: the reader must return them by value_rank
    con.execute("""create table intermediate.int_lead_contact_points as select * from (values
        ('bitrix24', 'b24', 1, 'phone', '+7 999 000-00-05', 'contact', 5),
        ('bitrix24', 'b24', 1, 'phone', '+7 999 000-00-01', 'lead', 1),
        ('bitrix24', 'b24', 1, 'phone', '+7 999 000-00-06', 'contact', 6),
        ('bitrix24', 'b24', 1, 'phone', '+7 999 000-00-03', 'lead', 3),
        ('bitrix24', 'b24', 1, 'phone', '+7 999 000-00-02', 'lead', 2),
        ('bitrix24', 'b24', 1, 'phone', '+7 999 000-00-04', 'contact', 4),
        ('bitrix24', 'b24', 1, 'email', 'ivan@mail.ru', 'lead', 1),
        ('amocrm', 'amo', 1, 'phone', '89990000007', 'contact', 1))
        t(source_system, account, lead_id, kind, value, origin, value_rank)""")


def test_phones_and_emails_come_in_rank_order_and_lead_without_points_has_none():
    con = duckdb.connect()
    _warehouse(con)
    df = reader.arrow_frame(con, reader.leads_sql(con)).set_index(["source_system", "account", "lead_id"])
    assert list(df.loc[("bitrix24", "b24", 1), "phones"]) == [f"+7 999 000-00-0{i}" for i in range(1, 7)]
    assert list(df.loc[("bitrix24", "b24", 1), "emails"]) == ["ivan@mail.ru"]
    assert list(df.loc[("amocrm", "amo", 1), "phones"]) == ["89990000007"]
    assert pd.isna(df.loc[("amocrm", "amo", 1), "emails"])
    assert pd.isna(df.loc[("bitrix24", "b24", 2), "phones"])


def test_fingerprint_changes_with_any_phone_and_equals_with_lists_from_a_temp_table():
    con = duckdb.connect()
    _warehouse(con)
    fp = dict(con.execute(f"select lead_id || account, _fp from ({reader.leads_sql(con)})").fetchall())
    con.execute(f"create temp table pts as {reader.points_lists_sql()}")
    fp_tmp = dict(con.execute(f"select lead_id || account, _fp from ({reader.leads_sql(con, lists_from='pts')})")
                  .fetchall())
    assert fp == fp_tmp  # the runner reads with lists_from: fingerprints must not depend on it
    con.execute("update intermediate.int_lead_contact_points set value = '+7 999 000-00-99' where value_rank = 6")
    fp2 = dict(con.execute(f"select lead_id || account, _fp from ({reader.leads_sql(con)})").fetchall())
    assert fp2["1b24"] != fp["1b24"] and fp2["1amo"] == fp["1amo"] and fp2["2b24"] == fp["2b24"]
