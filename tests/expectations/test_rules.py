"""Each junk rule on crafted leads (Russian phone formats, Cyrillic and Latin names)."""

import pandas as pd
import pytest

from expectations import conform_leads, detect, load_config, row_features
from tests.expectations.conftest import NOW, lead


def run(rows, deals=None, **over):
    cfg = load_config(overrides=over or None)
    f, _ = row_features(conform_leads(pd.DataFrame(rows)), cfg, now=NOW.to_pydatetime())
    res = detect(f, deals, cfg)
    return res["leads"].set_index("lead_id"), res["flags"]


def test_exact_and_other_format_duplicates_point_at_the_first_inquiry():
    s, flags = run([lead(1, "2026-10-01 10:00", phone="+7 (916) 123-45-67"),
                    lead(2, "2026-10-01 10:03", phone="+7 (916) 123-45-67"),
                    lead(3, "2026-10-02 09:00", phone="8 916 123-45-67", name="Ivan Petrov"),
                    lead(4, "2026-10-03 09:00", phone="79161234567")])
    assert pd.isna(s.loc[1, "junk_kind"])
    assert s.loc[2, "junk_kind"] == "exact_duplicate"
    assert s.loc[3, "junk_kind"] == "phone_format_duplicate"
    assert s.loc[4, "junk_kind"] == "phone_format_duplicate"
    assert list(s.loc[[2, 3, 4], "duplicate_of_lead_id"]) == [1, 1, 1]
    reason = flags.set_index("lead_id").loc[3, "reason"]
    assert "лиде 1" in reason and "another format" in reason


def test_duplicate_window_is_configurable():
    rows = [lead(1, "2026-08-01 10:00"), lead(2, "2026-10-01 10:00")]
    assert run(rows)[0].loc[2, "junk_kind"] is None                     # 61 days > 30
    assert run(rows, duplicates={"window_days": 90})[0].loc[2, "junk_kind"] == "exact_duplicate"


def test_other_accounts_are_not_duplicates_by_default():
    s, _ = run([lead(1, "2026-10-01 10:00"), lead(2, "2026-10-01 11:00", account="b24-spb")])
    assert s["junk_kind"].isna().all()


def test_email_duplicate_needs_the_same_name():
    s, _ = run([lead(1, "2026-10-01 10:00", phone=None, email="Anna@Mail.ru", name="Анна Иванова"),
                lead(2, "2026-10-01 12:00", phone=None, email="anna@mail.ru ", name="Анна  Иванова"),
                lead(3, "2026-10-01 13:00", phone=None, email="anna@mail.ru", name="Пётр Иванов")])
    assert s.loc[2, "junk_kind"] == "email_duplicate" and s.loc[2, "duplicate_of_lead_id"] == 1
    assert pd.isna(s.loc[3, "junk_kind"])


def test_repeat_inquiry_while_the_clients_deal_is_open():
    deals = pd.DataFrame([{"source_system": "bitrix24", "account": "b24-test", "deal_id": 77, "lead_id": 1,
                           "contact_id": 500, "opened_at": pd.Timestamp("2026-09-01", tz="UTC"),
                           "closed_at": pd.Timestamp("2026-10-15", tz="UTC")}])
    s, _ = run([lead(1, "2026-08-30 10:00", contact_id=500, phone="+79990001122"),
                lead(2, "2026-10-01 10:00", contact_id=500, phone="+79031112233"),   # deal open
                lead(3, "2026-10-20 10:00", contact_id=500, phone="+79035556677")],  # deal closed
               deals)
    assert s.loc[2, "junk_kind"] == "repeat_open_deal" and s.loc[2, "duplicate_of_lead_id"] == 1
    assert pd.isna(s.loc[1, "junk_kind"]) and pd.isna(s.loc[3, "junk_kind"])


@pytest.mark.parametrize("kw", [{"name": "Тест"}, {"name": "test"}, {"title": "ТЕСТ тест"},
                                {"comments": "тестовая заявка, не обрабатывать"}, {"phone": "79999999999"},
                                {"name": "Test Test", "phone": "+7 (999) 999-99-99"}])
def test_test_leads(kw):
    s, _ = run([lead(1, "2026-10-01 10:00", **kw)])
    assert s.loc[1, "junk_kind"] == "test"


@pytest.mark.parametrize("name", ["Тестов Иван", "Анастасия Протестова", "Contest Winner"])
def test_names_containing_test_letters_are_not_test_leads(name):
    s, _ = run([lead(1, "2026-10-01 10:00", name=name)])
    assert pd.isna(s.loc[1, "junk_kind"])


@pytest.mark.parametrize("kw", [{"comments": "Раскрутим ваш сайт http://seo-top.ru"}, {"name": "Casino Bonus"},
                                {"name": "Кредит без отказа"}, {"comments": "пишите t.me/leadbase"},
                                {"title": "Заработок онлайн"}])
def test_spam(kw):
    s, _ = run([lead(1, "2026-10-01 10:00", **kw)])
    assert s.loc[1, "junk_kind"] == "spam"


def test_an_email_in_a_comment_is_not_a_link():
    s, _ = run([lead(1, "2026-10-01 10:00", comments="пишите на ivan.petrov@mail.ru, Форма на сайте")])
    assert pd.isna(s.loc[1, "junk_kind"])


@pytest.mark.parametrize("phone,kind", [("12345", "invalid_phone"), ("нет", "invalid_phone"),
                                        ("+7 (916) 12", "invalid_phone"), ("8 (916) 123-45-67", None),
                                        (None, None)])
def test_invalid_phones(phone, kind):
    s, flags = run([lead(1, "2026-10-01 10:00", phone=phone)])
    assert s.loc[1, "junk_kind"] == kind if kind else pd.isna(s.loc[1, "junk_kind"])
    if kind:
        assert phone in flags.loc[0, "reason"]


def test_missing_source_and_responsible():
    s, _ = run([lead(1, "2026-10-01 10:00", source_code=None, channel="unknown", phone="+79161110000"),
                lead(2, "2026-10-01 11:00", responsible_id=None, phone="+79161110001"),
                lead(3, "2026-10-01 12:00", source_code="  ", channel=None, phone="+79161110002")])
    assert list(s["junk_kind"]) == ["missing_source", "missing_responsible", "missing_source"]


def test_impossible_dates_and_amounts_are_warnings():
    s, flags = run([lead(1, "1990-01-01 10:00", phone="+79161110000"),
                    lead(2, "2027-05-01 10:00", phone="+79161110001"),
                    lead(3, "2026-10-01 10:00", amount=-5.0, phone="+79161110002"),
                    lead(4, "2026-10-01 10:00", amount=5e12, phone="+79161110003")])
    assert list(s["junk_kind"]) == ["impossible_date", "impossible_date", "impossible_amount", "impossible_amount"]
    assert set(flags["severity"]) == {"warn"}
    assert not s["is_junk"].any()


def test_bot_burst_at_night_but_not_daytime_traffic():
    night = [lead(100 + i, f"2026-10-05 01:{i:02d}", name=n, phone=f"+7916555{i:04d}", channel="website",
                  comments="Best bonus http://casino-win.example.com" if i % 2 else None)
             for i, n in enumerate(["qwhzkra", "pluvexo", "zrtamqe", "bnoxwai", "ktrvyal", "mmsdrte", "yxqwert"])]
    normal = [lead(200 + d, f"2026-09-{d + 1:02d} 01:30", phone=f"+7916777{d:04d}", name="Мария Соколова")
              for d in range(20)]
    day_spam = [lead(300, "2026-10-05 13:00", name="Casino Bonus", phone="+79168880000")]
    s, flags = run(night + normal + day_spam)
    assert (s.loc[[r["lead_id"] for r in night], "junk_kind"] == "bot_burst").all()
    assert s.loc[[r["lead_id"] for r in normal], "junk_kind"].isna().all()
    assert s.loc[300, "junk_kind"] == "spam"
    assert "machine-like" in flags[flags["rule"] == "bot_burst"]["reason"].iloc[0]


def test_several_rules_fire_and_precedence_picks_the_main_kind():
    s, flags = run([lead(1, "2026-10-01 10:00", name="Тест", source_code=None, channel=None, responsible_id=None)])
    assert s.loc[1, "junk_kind"] == "test"
    assert set(flags["rule"]) == {"test", "missing_source", "missing_responsible"}
    assert s.loc[1, "n_rules"] == 3
