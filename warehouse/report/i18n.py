"""Report wording in Russian (default) and English."""

from __future__ import annotations

TEXT = {
    "ru": {
        "title": "Отчёт руководителя отдела продаж",
        "report_date": "Данные на", "built_at": "Сформирован", "published_at": "Опубликовано",
        "no_data": "Нет данных", "no_data_mart": "Нет данных: витрина {mart} отсутствует или пуста.",
        "no_data_rows": "Нет данных за период.", "toc": "Содержание",
        "sec_plan": "План-факт и темп", "sec_funnel": "Воронка и конверсия",
        "sec_activity": "Ежедневная активность менеджеров", "sec_payment": "Формы оплаты",
        "sec_channels": "Каналы продаж", "sec_junk": "Мусор и качество данных",
        "plan_intro": "{period}: прошло {elapsed} из {total} рабочих дней. Темп = факт / ожидаемое к дате.",
        "plan_company": "Выполнение плана компании, % от плана",
        "plan_managers": "Менеджеры: {metric}, % от плана",
        "fact_pct": "Факт", "expected_pct": "Ожидаемое к дате", "forecast_pct": "Прогноз на конец периода",
        "plan_line": "План (100 %)",
        "col_metric": "Показатель", "col_plan": "План", "col_fact": "Факт", "col_expected": "Ожидаемое к дате",
        "col_attainment": "Выполнение", "col_pace": "Темп", "col_forecast": "Прогноз",
        "col_required": "Нужно в рабочий день",
        "funnel_intro": "Когорта лидов, созданных {start} – {end}: сколько дошли до каждой контрольной точки.",
        "funnel_overall": "Воронка (когорта)", "conv_branch": "Конверсия по филиалам",
        "conv_department": "Конверсия по отделам", "conv_manager": "Конверсия по менеджерам",
        "lead_to_shown": "Лид → показ", "lead_to_contract": "Лид → договор",
        "activity_intro": "Последние {days} дней до {end}; план — из воронки (fct_daily_targets).",
        "activity_managers": "Менеджеры за {days} дней: факт и план",
        "activity_trend": "Компания по дням", "processed": "Обработано лидов", "target_leads": "План лидов",
        "meetings_held": "Встречи проведены", "showings_held": "Показы проведены",
        "target_showings": "План показов", "calls": "Звонки", "backlog": "К обработке",
        "overdue": "Просрочено",
        "payment_mix": "Доля форм оплаты в сделках по месяцам", "payment_revenue": "Выручка по формам оплаты",
        "channels_volume": "Лиды по каналам: чистые и мусор", "channels_conversion": "Доля мусора и конверсия",
        "clean_leads": "Чистые лиды", "junk_leads": "Мусор", "junk_share": "Доля мусора",
        "junk_rules": "Не прошли проверки (последний запуск каждой проверки)",
        "junk_trend": "Мусор по дням: отмечен в CRM и обнаружен конвейером",
        "crm_junk": "Брак в CRM", "detected_junk": "Обнаружен конвейером", "leads_failed": "Лидов",
        "gates": "Проверки перед публикацией (последний запуск)", "gate_passed": "пройдена",
        "gate_failed": "НЕ пройдена", "col_check": "Проверка", "col_severity": "Важность",
        "col_observed": "Значение", "col_threshold": "Порог",
        "channels_intro": "Лиды, созданные {start} – {end}.",
        "payment_intro": "Договоры {start} – {end}.",
        "footer": "Файл самодостаточен: скрипты и стили встроены, работает офлайн.",
        "lang_other": "English version: build_report(..., lang=\"en\")",
    },
    "en": {
        "title": "Head of sales report",
        "report_date": "Data as of", "built_at": "Built", "published_at": "Published",
        "no_data": "No data", "no_data_mart": "No data: mart {mart} is missing or empty.",
        "no_data_rows": "No data for the period.", "toc": "Contents",
        "sec_plan": "Plan vs fact and pacing", "sec_funnel": "Funnel and conversion",
        "sec_activity": "Manager daily activity", "sec_payment": "Payment forms",
        "sec_channels": "Sales channels", "sec_junk": "Junk and data quality",
        "plan_intro": "{period}: {elapsed} of {total} working days elapsed. Pace = fact / expected to date.",
        "plan_company": "Company plan attainment, % of plan",
        "plan_managers": "Managers: {metric}, % of plan",
        "fact_pct": "Fact", "expected_pct": "Expected to date", "forecast_pct": "Run-rate forecast",
        "plan_line": "Plan (100 %)",
        "col_metric": "Metric", "col_plan": "Plan", "col_fact": "Fact", "col_expected": "Expected to date",
        "col_attainment": "Attainment", "col_pace": "Pace", "col_forecast": "Forecast",
        "col_required": "Required per working day",
        "funnel_intro": "Cohort of leads created {start} – {end}: how many reached each control point.",
        "funnel_overall": "Funnel (cohort)", "conv_branch": "Conversion by branch",
        "conv_department": "Conversion by department", "conv_manager": "Conversion by manager",
        "lead_to_shown": "Lead → showing", "lead_to_contract": "Lead → contract",
        "activity_intro": "The last {days} days to {end}; targets derived from the funnel (fct_daily_targets).",
        "activity_managers": "Managers over {days} days: fact and target",
        "activity_trend": "Company per day", "processed": "Leads processed", "target_leads": "Target leads",
        "meetings_held": "Meetings held", "showings_held": "Showings held", "target_showings": "Target showings",
        "calls": "Calls", "backlog": "To process", "overdue": "Overdue",
        "payment_mix": "Payment-form share of deals per month", "payment_revenue": "Revenue by payment form",
        "channels_volume": "Leads per channel: clean and junk", "channels_conversion": "Junk share and conversion",
        "clean_leads": "Clean leads", "junk_leads": "Junk", "junk_share": "Junk share",
        "junk_rules": "Failed checks (latest run of each check)",
        "junk_trend": "Junk per day: CRM-marked and pipeline-detected",
        "crm_junk": "CRM-marked", "detected_junk": "Detected by the pipeline", "leads_failed": "Leads",
        "gates": "Publish gates (latest run)", "gate_passed": "passed", "gate_failed": "FAILED",
        "col_check": "Check", "col_severity": "Severity", "col_observed": "Observed", "col_threshold": "Threshold",
        "channels_intro": "Leads created {start} – {end}.",
        "payment_intro": "Contracts {start} – {end}.",
        "footer": "Self-contained file: scripts and styles inline, works offline.",
        "lang_other": "Русская версия: build_report(..., lang=\"ru\")",
    },
}

METRICS = {
    "units": ("Квартиры, шт.", "Units"), "area_m2": ("Площадь, м²", "Area, m²"), "revenue": ("Выручка", "Revenue"),
    "payments_received": ("Поступления", "Payments received"), "leads": ("Лиды", "Leads"),
    "meetings": ("Встречи", "Meetings"), "showings": ("Показы", "Showings"), "calls": ("Звонки", "Calls"),
    "contracts": ("Договоры", "Contracts"),
}

POINTS = {
    "recorded": ("Зафиксирован", "Recorded"), "taken": ("Взят в работу", "Taken"),
    "classified": ("Квалифицирован", "Classified"), "shown": ("Показ", "Shown"), "booked": ("Бронь", "Booked"),
    "contract": ("Договор", "Contract"), "paid": ("Оплата", "Paid"),
}

PAYMENT_FORMS = {
    "mortgage": ("Ипотека", "Mortgage"), "installment": ("Рассрочка", "Installment"),
    "full_payment": ("100% оплата", "Full payment"), "maternity_capital": ("Материнский капитал",
                                                                           "Maternity capital"),
    "trade_in": ("Trade-in", "Trade-in"), "unknown": ("Не указана", "Unknown"), "unmapped": ("Не сопоставлена",
                                                                                              "Unmapped"),
}

CHANNELS_EN = {"avito": "Avito", "cian": "CIAN", "domclick": "Domclick", "paid_search": "Paid search",
               "website": "Website", "call": "Calls", "walk_in": "Walk-in", "agent": "Agents",
               "referral": "Referrals", "unknown": "Unknown", "unmapped": "Unmapped"}

RULES = {
    "crm_marked_junk": ("Брак в CRM", "CRM-marked junk"), "missing_source": ("Нет источника", "Missing source"),
    "missing_responsible": ("Нет ответственного", "Missing responsible"),
    "unmapped_channel": ("Канал не сопоставлен", "Unmapped channel"),
    "taken_sla_missed": ("Взят в работу не в срок", "Taken SLA missed"),
    "exact_duplicate": ("Точный дубль", "Exact duplicate"), "phone_duplicate": ("Дубль по телефону",
                                                                                "Phone duplicate"),
    "repeat_inquiry": ("Повторное обращение", "Repeat inquiry"), "test_lead": ("Тестовый лид", "Test lead"),
    "spam": ("Спам", "Spam"), "invalid_phone": ("Неверный телефон", "Invalid phone"),
}

MONTHS_RU = ["январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август", "сентябрь", "октябрь",
             "ноябрь", "декабрь"]
MONTHS_EN = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December"]


def pick(table: dict, key: str, lang: str) -> str:
    v = table.get(key)
    return v[0 if lang == "ru" else 1] if v else key
