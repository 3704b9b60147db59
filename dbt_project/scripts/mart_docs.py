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
    "is_classified": "The lead was classified (квалифицирован): a classified stage was entered or the CRM's "
                     "classification field is set (amoCRM records no stage for non-target classification, so "
                     "classified_at can be null while is_classified is true).",
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

GLOSSARY.update({
    # dims
    "mapped_sources": "CRM sources mapped to the channel (source_system:source_code, ...).",
    "parent_department_id": "Parent department (вышестоящий отдел).",
    "branch_department_id": "The department right under the company root that defines the branch.",
    "is_company_root": "The company root of the Bitrix24 department tree (компания).",
    "email": "E-mail.",
    "work_position": "Job title (должность).",
    "is_active": "Active in the CRM (работает).",
    "sort_order": "Display order.",
    "mapped_raw_values": "Raw CRM values mapped to the payment form.",
    "stage_key": "Global stage key `<source_system>:<account>:<entity_type>:<pipeline>:<stage_id>`.",
    "entity_type": "lead (статус лида / amoCRM сделка) or deal (стадия сделки Bitrix24).",
    "pipeline_id": "Pipeline (воронка): Bitrix24 deal category, amoCRM pipeline.",
    "pipeline_name": "Pipeline name (воронка).",
    "stage_id": "CRM stage id (Bitrix24 STATUS_ID with C<n>: prefix, amoCRM status id).",
    "stage_code": "Stage code used by the mapping seed (Bitrix24 STATUS_ID without prefix, amoCRM status name).",
    "stage_name": "Stage name (стадия).",
    "stage_semantics": "P in progress, S success, F failure.",
    "stage_part": "lead or deal part of the funnel (amoCRM's single object is split by it).",
    "control_point": "Lead control point the stage maps to (контрольная точка); null = not a control point or unmapped.",
    "is_mapped": "The stage has a row in the stage_control_points seed.",
    # plans and targets
    "scope_type": "Plan scope (уровень плана): company, branch, department, manager, project.",
    "scope_id": "Scope id: manager/department `<system>:<account>:<id>`, branch name, project code, `company`.",
    "scope_name": "Scope name as in the plans file.",
    "metric": "Plan metric (показатель): units, area_m2, revenue, payments_received, leads, meetings, "
              "showings, calls, contracts.",
    "period_grain": "Period length (период): day, week, month, quarter, year.",
    "period_start": "First day of the period.",
    "period_end": "Last planned day of the period.",
    "plan_value": "Plan (план) for the period: monthly targets spread over working days. Denominator of attainment_ratio.",
    "fact_value": "Fact (факт) up to the report date. Numerator of attainment_ratio.",
    "attainment_ratio": "Plan attainment (выполнение плана) = fact_value / plan_value.",
    "working_days_in_period": "Working days in the planned part of the period (рабочие дни).",
    "elapsed_working_days": "Working days of the period up to the report date (прошло рабочих дней).",
    "remaining_working_days": "Working days of the period after the report date (осталось рабочих дней).",
    "expected_to_date": "Plan due by the report date, pro rata by working days (ожидаемое к дате). "
                        "Denominator of attainment_vs_expected_ratio.",
    "attainment_vs_expected_ratio": "fact_value / expected_to_date (темп к плану).",
    "run_rate_forecast": "Run-rate forecast for the period end (прогноз) = fact / elapsed × total working days; "
                         "the fact once the period is over.",
    "gap_to_plan": "plan_value − fact_value (отставание от плана; negative = ahead).",
    "required_per_remaining_working_day": "What each remaining working day must bring to meet the plan "
                                          "(необходимо в день) = max(plan − fact, 0) / remaining_working_days.",
    "is_period_closed": "The period has no working days left after the report date.",
    "month_start": "First day of the month (месяц).",
    "planned_contracts": "Contracts planned for the month (план по договорам).",
    "trailing_leads": "Leads of the scope in the trailing months (лиды за период расчёта конверсии).",
    "trailing_meetings": "Meetings held in the trailing months.",
    "trailing_showings": "Showings held in the trailing months.",
    "trailing_contracts": "Contracts signed in the trailing months.",
    "lead_to_contract_rate": "Conversion lead → contract (конверсия лид → договор) = contracts / leads "
                             "(numerator and denominator are the row's count columns).",
    "showing_to_contract_rate": "Conversion showing → contract = trailing_contracts / trailing_showings.",
    "needed_leads": "Leads needed for the planned contracts at the trailing conversion (нужно лидов).",
    "needed_meetings": "Meetings needed (нужно встреч).",
    "needed_showings": "Showings needed (нужно показов).",
    "needed_leads_per_working_day": "needed_leads / working_days_in_month (лидов в рабочий день).",
    "needed_meetings_per_working_day": "needed_meetings / working_days_in_month (встреч в рабочий день).",
    "needed_showings_per_working_day": "needed_showings / working_days_in_month (показов в рабочий день).",
    "needed_contracts_per_working_day": "planned_contracts / working_days_in_month (договоров в рабочий день).",
    # data quality
    "run_id": "Data-quality run (проверка): `dbt` for the checks computed on each build, else the junk-detection run id.",
    "checked_at": "When the run checked the leads (report date for `dbt`).",
    "lead_date": "Lead creation date (дата обращения).",
    "rule": "Check (правило): crm_marked_junk, missing_source, missing_responsible, unmapped_channel, "
            "taken_sla_missed, or a junk-detection rule.",
    "leads_checked": "Leads checked (проверено). Denominator of failed_share.",
    "leads_failed": "Leads that failed the rule (не прошли). Numerator of failed_share.",
    "failed_share": "leads_failed / leads_checked (доля брака).",
    # funnel
    "funnel_basis": "cohort (когорта: leads created in the period, points reached ever) or flow (поток: "
                    "points reached during the period). Never mix the two.",
    "leads_recorded": "Leads recorded (зафиксировано): cohort = created in the period; flow = the same.",
    "leads_taken": "Leads taken (взято в работу).",
    "leads_classified": "Leads classified (квалифицировано); cohort counts is_classified, flow counts classified_at.",
    "leads_rejected": "Leads rejected as junk/non-target (выбраковано).",
    "leads_shown": "Leads with a showing held (показ проведён).",
    "leads_booked": "Leads with a booking (бронь).",
    "leads_contract": "Leads with a signed contract (договор).",
    "leads_paid": "Leads with a payment received (оплата).",
    "leads_taken_within_window": "Cohort only: taken within var cohort_window_days days of creation.",
    "leads_classified_within_window": "Cohort only: classified within the window.",
    "leads_rejected_within_window": "Cohort only: rejected within the window.",
    "leads_shown_within_window": "Cohort only: shown within the window.",
    "leads_booked_within_window": "Cohort only: booked within the window.",
    "leads_contract_within_window": "Cohort only: contract within the window.",
    "leads_paid_within_window": "Cohort only: paid within the window.",
    "taken_rate": "leads_taken / leads_recorded (доля взятых в работу).",
    "classified_rate": "leads_classified / leads_taken.",
    "rejected_rate": "leads_rejected / leads_recorded (доля брака).",
    "shown_rate": "leads_shown / leads_classified (конверсия в показ).",
    "booked_rate": "leads_booked / leads_shown (конверсия в бронь).",
    "contract_rate": "leads_contract / leads_booked (конверсия в договор).",
    "paid_rate": "leads_paid / leads_contract (конверсия в оплату).",
    # daily activity
    "activity_date": "Date (дата) in the company time zone.",
    "leads_assigned": "Leads created that day with this manager responsible (назначено лидов).",
    "leads_to_process": "Open backlog at the end of the day (к обработке): assigned, neither taken nor rejected.",
    "leads_processed": "Leads taken that day (обработано).",
    "leads_overdue": "Backlog leads created before that day (просрочено).",
    "calls_held": "Calls made (звонки).",
    "meetings_planned": "Meetings scheduled for the day (встречи запланировано).",
    "meetings_held": "Meetings held (встречи проведено).",
    "showings_planned": "Showings scheduled for the day (показы запланировано).",
    "showings_held": "Showings held (показы проведено).",
    "contracts": "Contracts signed (договоры).",
    "contracts_amount": "Value of the contracts signed (сумма договоров), RUB.",
    "payments_count": "Payments received (оплаты, шт.).",
    "payments_amount": "Payments received (оплаты, сумма), RUB.",
    "target_leads": "The day's target of leads from fct_daily_targets (план лидов на день); 0 on days off.",
    "target_meetings": "The day's target of meetings (план встреч на день).",
    "target_showings": "The day's target of showings (план показов на день).",
    "target_contracts": "The day's target of contracts (план договоров на день).",
    # payment forms
    "deals": "Contracts signed in the month with this form (сделки). Numerator of deals_share.",
    "units": "Apartments sold (квартиры, шт.) = contracts.",
    "area_m2": "Area sold (площадь, м²). Numerator of area_m2_share.",
    "revenue": "Contract value (выручка по договорам), RUB.",
    "payments_received": "Payments received in the month (поступления), RUB.",
    "month_deals": "All contracts of the month. Denominator of deals_share.",
    "month_area_m2": "All area of the month. Denominator of area_m2_share.",
    "month_revenue": "All contract value of the month. Denominator of revenue_share.",
    "month_payments_received": "All payments of the month. Denominator of payments_received_share.",
    "deals_share": "deals / month_deals (доля в сделках).",
    "area_m2_share": "area_m2 / month_area_m2 (доля в м²).",
    "revenue_share": "revenue / month_revenue (доля в выручке).",
    "payments_received_share": "payments_received / month_payments_received (доля в поступлениях).",
    "average_check": "revenue / deals (средний чек), RUB.",
    # channels
    "leads": "Leads created in the month (лиды). Denominator of the channel's rates.",
    "crm_junk_leads": "Leads the CRM marks as junk (брак в CRM).",
    "detected_junk_leads": "Leads the junk detection flagged (обнаруженный мусор).",
    "junk_leads": "CRM-marked or detected junk (мусор). Numerator of junk_share.",
    "classified_leads": "Classified leads (квалифицировано).",
    "shown_leads": "Leads with a showing held (показы).",
    "contract_leads": "Leads that reached a contract (договоры). Numerator of lead_to_contract_rate.",
    "paid_leads": "Leads that paid (оплаты). Numerator of lead_to_paid_rate.",
    "junk_share": "junk_leads / leads (доля мусора).",
    "lead_to_paid_rate": "paid_leads / leads (конверсия в оплату).",
    "contract_cycle_days_total": "Sum of days from creation to contract over contract_leads. Numerator of average_cycle_days.",
    "average_cycle_days": "contract_cycle_days_total / contract_leads (средний цикл сделки, дней).",
    "cost": "Channel cost of the month (расходы), RUB, from the channel_costs seed; null without it.",
    "cost_per_lead": "cost / leads (стоимость лида).",
    "cost_per_sale": "cost / contract_leads (стоимость продажи).",
})

MART_DOCS.update({
    "fct_funnel": ("Funnel (воронка продаж): period × branch × department × manager × channel × "
                   "source_system; counts at each control point and conversions, on a labelled `cohort` "
                   "or `flow` basis (funnel_basis) — never mixed.", {}),
    "fct_plan_vs_fact": ("Sales plan fulfilment (выполнение плана): period (day/week/month/quarter/year) × "
                         "scope (company/branch/department/manager/project) × metric, with expected-to-date "
                         "by working days, run-rate forecast and the required pace.", {}),
    "fct_manager_daily_activity": ("Manager daily activity (ежедневная активность менеджера): date × "
                                   "manager — leads, backlog, activities, contracts, payments and the day's "
                                   "funnel-derived targets.", {}),
    "fct_daily_targets": ("Funnel-derived daily plan (план на день из воронки): month × scope — leads, "
                          "meetings and showings needed for the contracts plan at trailing conversion.", {}),
    "fct_payment_forms": ("Payment-form mix (структура форм оплаты): month × project × branch × payment "
                          "form — contracts, units, m², revenue, shares, payments received, average check.", {}),
    "fct_sales_channels": ("Sales channels (каналы продаж): month (lead-creation cohort) × channel × "
                           "source_system — volume, junk, conversion, revenue, cycle, cost.", {}),
    "fct_data_quality": ("Data quality (качество данных): run × date × channel × manager × rule — leads "
                         "checked and failed, with the share.", {}),
    "dim_managers": ("Managers (менеджеры) with department and branch.", {}),
    "dim_departments": ("Departments (отделы) with their branch (филиал).", {}),
    "dim_channels": ("Sales channels (каналы продаж) and the CRM sources mapped to each.", {}),
    "dim_projects": ("Residential complexes (ЖК).", {}),
    "dim_stages": ("Lead statuses and deal stages (стадии) with their control point.", {}),
    "dim_payment_forms": ("Payment forms (формы оплаты) and the raw values mapped to each.", {}),
})
MART_DOCS["fct_sales_channels"][1]["lead_to_contract_rate"] = "contract_leads / leads (конверсия лид → договор)."
MART_DOCS["fct_funnel"][1]["lead_to_contract_rate"] = "leads_contract / leads_recorded (конверсия лид → договор)."
MART_DOCS["fct_payment_forms"][1]["branch"] = "Branch of the deal's manager (филиал); `unknown` when none."
MART_DOCS["fct_payment_forms"][1]["project_code"] = "Residential complex (ЖК) code; `unknown` when none."
MART_TESTS.update({
    "dim_managers": {"manager_key": ["unique", "not_null"]},
    "dim_departments": {"department_key": ["unique", "not_null"]},
    "dim_channels": {"channel": ["unique", "not_null"]},
    "dim_projects": {"project_code": ["unique", "not_null"]},
    "dim_stages": {"stage_key": ["unique", "not_null"]},
    "dim_payment_forms": {"payment_form": ["unique", "not_null"]},
    "fct_funnel": {"funnel_basis": [{"accepted_values": {"arguments": {"values": ["cohort", "flow"]}}}]},
    "fct_plan_vs_fact": {"period_grain": [{"accepted_values": {"arguments": {"values": ["day", "week", "month", "quarter", "year"]}}}]},
    "fct_manager_daily_activity": {"manager_key": ["not_null"]},
})
