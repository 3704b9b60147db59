"""Descriptions of every mart column (with the Russian business term), read by document_marts.py."""

GLOSSARY = {
    # keys and dimensions
    "source_system": "CRM the row comes from (источник данных): bitrix24 | amocrm.",
    "account": "CRM account (портал Bitrix24 / субдомен amoCRM).",
    "lead_id": "Native id of the lead (лид, обращение) in its CRM; unique with source_system and account.",
    "lead_key": "Global lead key `<source_system>:<account>:<lead_id>`.",
    "deal_id": "Native id of the deal (сделка) made from the lead; for amoCRM the same object as the lead.",
    "manager_id": "Native id of the responsible manager (ответственный менеджер).",
    "manager_key": "Global manager key `<source_system>:<account>:<user id>` (as in the plans file).",
    "manager_name": "Manager's name (менеджер).",
    "department_id": "Native id of the manager's department (отдел).",
    "department_key": "Global department key `<source_system>:<account>:<department id>` (as in the plans file).",
    "department_name": "Department (отдел) name.",
    "branch": "Branch (филиал) — from the department tree and the department_branches seed.",
    "channel": "Sales channel (канал продаж) from the source_channels seed; `unknown` when the CRM has no "
               "source, `unmapped` when the source is not in the seed.",
    "channel_name": "Sales channel name in Russian (канал продаж).",
    "channel_group": "Channel group: classifieds, paid, own, partners.",
    "source_code": "Raw CRM source (источник): Bitrix24 SOURCE_ID, amoCRM source id.",
    "utm_source": "UTM source (метка utm_source).",
    "utm_medium": "UTM medium (метка utm_medium).",
    "utm_campaign": "UTM campaign (метка utm_campaign).",
    "project_code": "Residential complex (ЖК) code from the projects seed.",
    "project_name": "Residential complex (ЖК) name.",
    "classification": "CRM classification of the lead (квалификация): Целевой / Нецелевой.",
    "payment_form": "Canonical payment form (форма оплаты): mortgage, installment, full_payment, "
                    "maternity_capital, trade_in; `unknown` when empty, `unmapped` when not in the seed.",
    "payment_form_name": "Payment form in Russian (форма оплаты).",
    # control points
    "current_control_point": "Furthest control point reached (текущая контрольная точка).",
    "crm_junk_reason": "Rejection reason the CRM holds (причина брака / причина отказа).",
    "detected_junk_rules": "Rules of the latest data-quality run that flagged the lead (обнаруженный мусор), "
                           "comma-separated; null when clean or not checked.",
    "detected_junk_severity": "Highest severity among detected_junk_rules.",
    "created_date": "Lead creation date in the company time zone (дата обращения).",
    "recorded_at": "Control point «recorded» (зафиксирован в CRM): creation time, UTC.",
    "taken_at": "Control point «taken» (взят в работу): first entry into a stage mapped to taken, UTC.",
    "classified_at": "Control point «classified» (квалифицирован), UTC.",
    "rejected_at": "Control point «rejected» (выбракован): the lead part closed as junk/non-target, UTC.",
    "shown_at": "Control point «shown» (показ проведён), UTC.",
    "booked_at": "Control point «booked» (бронь), UTC.",
    "contract_at": "Control point «contract» (договор/ДДУ подписан), UTC.",
    "paid_at": "Control point «paid» (оплата): first payment received (or the won stage), UTC.",
    "deal_lost_at": "When the deal part was lost (сделка проиграна), UTC.",
    "minutes_to_taken": "Minutes from creation to taken (время реакции).",
    "hours_to_classified": "Hours from creation to classified.",
    "days_to_shown": "Days from creation to the showing (показ).",
    "days_shown_to_contract": "Days from the showing to the contract.",
    "days_to_contract": "Days from creation to the contract (цикл сделки).",
    "days_contract_to_paid": "Days from the contract to the first payment.",
    "taken_sla_deadline_local": "Local time by which the lead had to be taken (SLA: var sla_taken_minutes "
                                "working minutes from creation, the clock starting at the next working hour).",
    "is_taken_within_sla": "Taken within the SLA (взят в работу в срок).",
    "is_target": "The CRM classified the lead as target (целевой).",
    "is_crm_junk": "Junk the CRM marks (брак, отмеченный в CRM): the lead part was rejected.",
    "is_detected_junk": "Junk the pipeline detected (обнаруженный мусор), from quality.lead_junk_flags.",
    "is_junk": "CRM-marked or detected junk (мусор).",
    # dates
    "calendar_date": "Calendar date (дата).",
    "year_number": "Year (год).",
    "quarter_number": "Quarter 1–4 (квартал).",
    "month_number": "Month 1–12 (месяц).",
    "iso_weekday": "ISO weekday, 1 = Monday (день недели).",
    "week_start": "Monday of the ISO week (неделя).",
    "month_start": "First day of the month (месяц).",
    "quarter_start": "First day of the quarter (квартал).",
    "year_start": "First day of the year (год).",
    "is_working_day": "Working day of the Russian production calendar (рабочий день).",
    "is_weekend": "Saturday or Sunday (выходной по календарю недели).",
    "is_holiday": "Public holiday or a transferred day off (праздничный / перенесённый выходной).",
    "is_transferred_workday": "A weekend day made a working day by decree (перенесённый рабочий день).",
    "holiday_name": "Holiday name in Russian (праздник).",
    "working_day_of_month": "Number of working days of the month up to and including this date.",
    "working_days_in_month": "Working days in the month (рабочих дней в месяце).",
    "next_working_date_on_or_after": "This date if it is a working day, else the next working day.",
    "next_working_date_after": "The next working day after this date.",
}

MART_DOCS = {
    "dim_date": ("Date dimension with the Russian working-day calendar (производственный календарь), "
                 "generated from the `holidays` package.", {}),
    "fct_lead_control_points": (
        "One row per lead (лид): the time each control point (контрольная точка) was reached (null if "
        "never), durations, the taken SLA, CRM-marked and pipeline-detected junk, channel, manager, "
        "department, branch. Deleted leads are excluded.", {}),
}


MART_TESTS = {
    "fct_lead_control_points": {
        "lead_key": ["unique", "not_null"],
        "channel": ["not_null"],
    },
    "dim_date": {"calendar_date": ["unique", "not_null"]},
}
