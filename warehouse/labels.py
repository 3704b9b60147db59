"""Readable names for mart columns and tables, in Russian (default) and English.

Used for the XLSX headers (a head of sales groups by "Менеджер", not by `manager_key`), the Parquet
and PostgreSQL column comments' short titles, and the HTML report. The long explanations live in
dbt (`dbt_project/models/marts/_marts__models.yml`, compiled into `target/manifest.json`); a column
missing here falls back to the first Russian term in parentheses of its dbt description, then to
its name.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import yaml

DBT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"
MARTS_YML = DBT_DIR / "models" / "marts" / "_marts__models.yml"
LANGS = ("ru", "en")

# column -> (ru, en)
COLUMNS: dict[str, tuple[str, str]] = {
    # dates and periods
    "calendar_date": ("Дата", "Date"), "year_number": ("Год", "Year"), "quarter_number": ("Квартал", "Quarter"),
    "month_number": ("Месяц (номер)", "Month number"), "iso_weekday": ("День недели", "Weekday"),
    "week_start": ("Неделя", "Week"), "month_start": ("Месяц", "Month"), "quarter_start": ("Квартал (начало)",
                                                                                          "Quarter start"),
    "year_start": ("Год (начало)", "Year start"), "is_working_day": ("Рабочий день", "Working day"),
    "is_weekend": ("Выходной (сб/вс)", "Weekend"), "is_holiday": ("Праздник / перенесённый выходной", "Holiday"),
    "is_transferred_workday": ("Перенесённый рабочий день", "Transferred working day"),
    "holiday_name": ("Праздник", "Holiday name"), "working_day_of_month": ("Рабочий день месяца №",
                                                                           "Working day of month"),
    "working_days_in_month": ("Рабочих дней в месяце", "Working days in month"),
    "next_working_date_on_or_after": ("Ближайший рабочий день (включая)", "Next working day (incl.)"),
    "next_working_date_after": ("Следующий рабочий день", "Next working day"),
    "period_grain": ("Период", "Period"), "period_start": ("Начало периода", "Period start"),
    "period_end": ("Конец периода", "Period end"), "activity_date": ("Дата", "Date"),
    "created_date": ("Дата обращения", "Lead date"), "lead_date": ("Дата обращения", "Lead date"),
    # keys and organisation
    "source_system": ("CRM", "CRM"), "account": ("Портал / аккаунт CRM", "CRM account"),
    "lead_id": ("ID лида", "Lead ID"), "lead_key": ("Ключ лида", "Lead key"), "deal_id": ("ID сделки", "Deal ID"),
    "manager_id": ("ID менеджера", "Manager ID"), "manager_key": ("Ключ менеджера", "Manager key"),
    "manager_name": ("Менеджер", "Manager"), "department_id": ("ID отдела", "Department ID"),
    "department_key": ("Ключ отдела", "Department key"), "department_name": ("Отдел", "Department"),
    "parent_department_id": ("Вышестоящий отдел (ID)", "Parent department ID"),
    "branch_department_id": ("Отдел филиала (ID)", "Branch department ID"), "branch": ("Филиал", "Branch"),
    "is_company_root": ("Корень компании", "Company root"), "email": ("E-mail", "E-mail"),
    "work_position": ("Должность", "Position"), "is_active": ("Работает", "Active"),
    # channels, projects, stages, payment forms
    "channel": ("Канал продаж", "Sales channel"), "channel_name": ("Канал продаж (название)", "Channel name"),
    "channel_group": ("Группа каналов", "Channel group"), "mapped_sources": ("Источники CRM", "CRM sources"),
    "source_code": ("Источник в CRM", "CRM source"), "utm_source": ("utm_source", "utm_source"),
    "utm_medium": ("utm_medium", "utm_medium"), "utm_campaign": ("utm_campaign", "utm_campaign"),
    "project_code": ("ЖК (код)", "Project code"), "project_name": ("ЖК", "Project"),
    "stage_key": ("Ключ стадии", "Stage key"), "entity_type": ("Тип объекта", "Entity type"),
    "pipeline_id": ("Воронка (ID)", "Pipeline ID"), "pipeline_name": ("Воронка", "Pipeline"),
    "stage_id": ("Стадия (ID)", "Stage ID"), "stage_code": ("Код стадии", "Stage code"),
    "stage_name": ("Стадия", "Stage"), "sort_order": ("Порядок", "Sort order"),
    "stage_semantics": ("Семантика стадии", "Stage semantics"), "stage_part": ("Часть воронки", "Funnel part"),
    "control_point": ("Контрольная точка", "Control point"), "is_mapped": ("Сопоставлена", "Mapped"),
    "payment_form": ("Форма оплаты (код)", "Payment form code"),
    "payment_form_name": ("Форма оплаты", "Payment form"), "mapped_raw_values": ("Значения в CRM", "CRM values"),
    # lead control points
    "classification": ("Квалификация", "Classification"),
    "current_control_point": ("Текущая контрольная точка", "Current control point"),
    "crm_junk_reason": ("Причина брака в CRM", "CRM rejection reason"),
    "detected_junk_rules": ("Обнаруженный мусор: правила", "Detected junk rules"),
    "detected_junk_severity": ("Обнаруженный мусор: важность", "Detected junk severity"),
    "recorded_at": ("Зафиксирован в CRM", "Recorded at"), "taken_at": ("Взят в работу", "Taken at"),
    "classified_at": ("Квалифицирован", "Classified at"), "rejected_at": ("Выбракован", "Rejected at"),
    "shown_at": ("Показ проведён", "Shown at"), "booked_at": ("Бронь", "Booked at"),
    "contract_at": ("Договор подписан", "Contract at"), "paid_at": ("Оплата", "Paid at"),
    "deal_lost_at": ("Сделка проиграна", "Deal lost at"),
    "minutes_to_taken": ("Время реакции, мин", "Minutes to taken"),
    "hours_to_classified": ("До квалификации, ч", "Hours to classified"),
    "days_to_shown": ("До показа, дн", "Days to showing"),
    "days_shown_to_contract": ("От показа до договора, дн", "Days showing to contract"),
    "days_to_contract": ("Цикл сделки, дн", "Days to contract"),
    "days_contract_to_paid": ("От договора до оплаты, дн", "Days contract to payment"),
    "taken_sla_deadline_local": ("Срок взятия в работу (SLA)", "Taken SLA deadline"),
    "is_taken_within_sla": ("Взят в работу в срок", "Taken within SLA"),
    "is_classified": ("Квалифицирован (да/нет)", "Classified"), "is_target": ("Целевой", "Target"),
    "is_crm_junk": ("Брак в CRM", "CRM junk"), "is_detected_junk": ("Обнаруженный мусор", "Detected junk"),
    "is_junk": ("Мусор", "Junk"),
    # funnel
    "funnel_basis": ("Основа воронки (когорта/поток)", "Funnel basis"),
    "leads_recorded": ("Лиды зафиксировано", "Leads recorded"), "leads_taken": ("Взято в работу", "Leads taken"),
    "leads_classified": ("Квалифицировано", "Leads classified"), "leads_rejected": ("Выбраковано",
                                                                                    "Leads rejected"),
    "leads_shown": ("Показы", "Leads shown"), "leads_booked": ("Брони", "Leads booked"),
    "leads_contract": ("Договоры", "Leads with contract"), "leads_paid": ("Оплаты", "Leads paid"),
    "leads_taken_within_window": ("Взято в работу в окне", "Taken within window"),
    "leads_classified_within_window": ("Квалифицировано в окне", "Classified within window"),
    "leads_rejected_within_window": ("Выбраковано в окне", "Rejected within window"),
    "leads_shown_within_window": ("Показы в окне", "Shown within window"),
    "leads_booked_within_window": ("Брони в окне", "Booked within window"),
    "leads_contract_within_window": ("Договоры в окне", "Contracts within window"),
    "leads_paid_within_window": ("Оплаты в окне", "Paid within window"),
    "taken_rate": ("Доля взятых в работу", "Taken rate"), "classified_rate": ("Доля квалифицированных",
                                                                              "Classified rate"),
    "rejected_rate": ("Доля брака", "Rejected rate"), "shown_rate": ("Конверсия в показ", "Showing rate"),
    "booked_rate": ("Конверсия в бронь", "Booking rate"), "contract_rate": ("Конверсия в договор",
                                                                           "Contract rate"),
    "paid_rate": ("Конверсия в оплату", "Payment rate"),
    "lead_to_contract_rate": ("Конверсия лид → договор", "Lead → contract rate"),
    # plan vs fact
    "scope_type": ("Уровень плана", "Scope"), "scope_id": ("Объект плана (ID)", "Scope ID"),
    "scope_name": ("Объект плана", "Scope name"), "metric": ("Показатель", "Metric"),
    "plan_value": ("План", "Plan"), "fact_value": ("Факт", "Fact"),
    "attainment_ratio": ("Выполнение плана", "Attainment"),
    "working_days_in_period": ("Рабочих дней в периоде", "Working days in period"),
    "elapsed_working_days": ("Прошло рабочих дней", "Elapsed working days"),
    "remaining_working_days": ("Осталось рабочих дней", "Remaining working days"),
    "expected_to_date": ("Ожидаемое к дате", "Expected to date"),
    "attainment_vs_expected_ratio": ("Темп к плану", "Pace vs expected"),
    "run_rate_forecast": ("Прогноз на конец периода", "Run-rate forecast"),
    "gap_to_plan": ("Отставание от плана", "Gap to plan"),
    "required_per_remaining_working_day": ("Необходимо в рабочий день", "Required per working day"),
    "is_period_closed": ("Период закрыт", "Period closed"),
    # manager daily activity
    "leads_assigned": ("Назначено лидов", "Leads assigned"), "leads_to_process": ("К обработке",
                                                                                "Leads to process"),
    "leads_processed": ("Обработано", "Leads processed"), "leads_overdue": ("Просрочено", "Leads overdue"),
    "calls_held": ("Звонки", "Calls"), "meetings_planned": ("Встречи: план", "Meetings planned"),
    "meetings_held": ("Встречи: проведено", "Meetings held"), "showings_planned": ("Показы: план",
                                                                                  "Showings planned"),
    "showings_held": ("Показы: проведено", "Showings held"), "contracts": ("Договоры", "Contracts"),
    "contracts_amount": ("Сумма договоров, ₽", "Contracts amount, RUB"),
    "payments_count": ("Оплаты, шт.", "Payments"), "payments_amount": ("Оплаты, ₽", "Payments, RUB"),
    "target_leads": ("План лидов на день", "Target leads"), "target_meetings": ("План встреч на день",
                                                                                "Target meetings"),
    "target_showings": ("План показов на день", "Target showings"),
    "target_contracts": ("План договоров на день", "Target contracts"),
    # daily targets
    "planned_contracts": ("План по договорам", "Planned contracts"),
    "trailing_leads": ("Лиды за период расчёта", "Trailing leads"),
    "trailing_meetings": ("Встречи за период расчёта", "Trailing meetings"),
    "trailing_showings": ("Показы за период расчёта", "Trailing showings"),
    "trailing_contracts": ("Договоры за период расчёта", "Trailing contracts"),
    "showing_to_contract_rate": ("Конверсия показ → договор", "Showing → contract rate"),
    "needed_leads": ("Нужно лидов", "Needed leads"), "needed_meetings": ("Нужно встреч", "Needed meetings"),
    "needed_showings": ("Нужно показов", "Needed showings"),
    "needed_leads_per_working_day": ("Лидов в рабочий день", "Leads per working day"),
    "needed_meetings_per_working_day": ("Встреч в рабочий день", "Meetings per working day"),
    "needed_showings_per_working_day": ("Показов в рабочий день", "Showings per working day"),
    "needed_contracts_per_working_day": ("Договоров в рабочий день", "Contracts per working day"),
    # payment forms
    "deals": ("Сделки", "Deals"), "units": ("Квартиры, шт.", "Units"), "area_m2": ("Площадь, м²", "Area, m²"),
    "revenue": ("Выручка, ₽", "Revenue, RUB"), "payments_received": ("Поступления, ₽", "Payments received, RUB"),
    "month_deals": ("Сделки за месяц (всего)", "Month deals"),
    "month_area_m2": ("Площадь за месяц (всего), м²", "Month area, m²"),
    "month_revenue": ("Выручка за месяц (всего), ₽", "Month revenue, RUB"),
    "month_payments_received": ("Поступления за месяц (всего), ₽", "Month payments, RUB"),
    "deals_share": ("Доля в сделках", "Deals share"), "area_m2_share": ("Доля в м²", "Area share"),
    "revenue_share": ("Доля в выручке", "Revenue share"),
    "payments_received_share": ("Доля в поступлениях", "Payments share"),
    "average_check": ("Средний чек, ₽", "Average check, RUB"),
    # sales channels
    "leads": ("Лиды", "Leads"), "crm_junk_leads": ("Брак в CRM", "CRM junk leads"),
    "detected_junk_leads": ("Обнаруженный мусор", "Detected junk leads"), "junk_leads": ("Мусор", "Junk leads"),
    "classified_leads": ("Квалифицировано", "Classified leads"), "shown_leads": ("Показы", "Shown leads"),
    "contract_leads": ("Договоры", "Contract leads"), "paid_leads": ("Оплаты", "Paid leads"),
    "junk_share": ("Доля мусора", "Junk share"), "lead_to_paid_rate": ("Конверсия лид → оплата",
                                                                       "Lead → payment rate"),
    "contract_cycle_days_total": ("Сумма дней цикла", "Cycle days total"),
    "average_cycle_days": ("Средний цикл сделки, дн", "Average cycle, days"),
    "cost": ("Расходы, ₽", "Cost, RUB"), "cost_per_lead": ("Стоимость лида, ₽", "Cost per lead, RUB"),
    "cost_per_sale": ("Стоимость продажи, ₽", "Cost per sale, RUB"),
    # data quality
    "run_id": ("Проверка (ID)", "Run ID"), "checked_at": ("Время проверки", "Checked at"),
    "rule": ("Правило", "Rule"), "leads_checked": ("Проверено лидов", "Leads checked"),
    "leads_failed": ("Не прошли проверку", "Leads failed"), "failed_share": ("Доля брака", "Failed share"),
    # data-quality summary published next to the marts (warehouse.publish)
    "started_at": ("Начало проверки", "Started at"), "finished_at": ("Конец проверки", "Finished at"),
    "check_name": ("Проверка", "Check"), "severity": ("Важность", "Severity"), "passed": ("Пройдена", "Passed"),
    "observed": ("Наблюдаемое значение", "Observed"), "threshold": ("Порог", "Threshold"),
    "description": ("Описание", "Description"), "publish_allowed": ("Публикация разрешена", "Publish allowed"),
    "table_name": ("Таблица", "Table"), "row_count": ("Строк", "Rows"),
    "published_at": ("Опубликовано", "Published at"), "source_warehouse": ("Хранилище-источник", "Source warehouse"),
    "mode": ("Режим проверки", "Mode"), "leads_total": ("Всего лидов", "Leads total"),
    "leads_flagged": ("Отмечено мусором", "Leads flagged"), "ge_success": ("Great Expectations: успех",
                                                                          "Great Expectations success"),
}

TABLES: dict[str, tuple[str, str]] = {
    "fct_lead_control_points": ("Контрольные точки лидов", "Lead control points"),
    "fct_funnel": ("Воронка продаж", "Sales funnel"),
    "fct_plan_vs_fact": ("План-факт", "Plan vs fact"),
    "fct_manager_daily_activity": ("Активность менеджеров по дням", "Manager daily activity"),
    "fct_daily_targets": ("План на день из воронки", "Daily targets"),
    "fct_payment_forms": ("Формы оплаты", "Payment forms"),
    "fct_sales_channels": ("Каналы продаж", "Sales channels"),
    "fct_data_quality": ("Качество данных", "Data quality"),
    "dim_date": ("Календарь", "Calendar"), "dim_managers": ("Менеджеры", "Managers"),
    "dim_departments": ("Отделы", "Departments"), "dim_channels": ("Каналы", "Channels"),
    "dim_projects": ("ЖК", "Projects"), "dim_stages": ("Стадии", "Stages"),
    "dim_payment_forms": ("Справочник форм оплаты", "Payment form list"),
    "dq_check_results": ("Проверки публикации", "Publish checks"),
    "dq_runs": ("Запуски проверок качества", "Data-quality runs"),
    "publish_info": ("Публикация", "Publication"),
}


@lru_cache(maxsize=4)
def dbt_descriptions(manifest: str | None = None) -> dict[str, dict[str, str]]:
    """{table: {column: description}} from dbt's manifest.json if given and present, else the marts YAML."""
    out: dict[str, dict[str, str]] = {}
    if manifest and Path(manifest).exists():
        nodes = json.loads(Path(manifest).read_text(encoding="utf-8")).get("nodes", {})
        for node in nodes.values():
            if node.get("resource_type") == "model" and node.get("schema", "").endswith("marts"):
                cols = {c: v.get("description", "") for c, v in node.get("columns", {}).items()}
                cols[""] = node.get("description", "")
                out[node["name"]] = cols
        if out:
            return out
    if MARTS_YML.exists():
        for m in yaml.safe_load(MARTS_YML.read_text(encoding="utf-8")).get("models", []):
            cols = {c["name"]: c.get("description", "") for c in m.get("columns", [])}
            cols[""] = m.get("description", "")
            out[m["name"]] = cols
    return out


def _russian_term(description: str) -> str | None:
    for term in re.findall(r"\(([^()]*[а-яА-ЯёЁ][^()]*)\)", description or ""):
        term = term.split(":")[0].split(";")[0].strip()
        if term:
            return term[:1].upper() + term[1:]
    return None


def column_label(column: str, lang: str = "ru", table: str | None = None, manifest: str | None = None) -> str:
    """Short readable header for a column: the mapping, else the dbt description's Russian term, else the name."""
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, not {lang!r}")
    if column in COLUMNS:
        return COLUMNS[column][LANGS.index(lang)]
    if lang == "ru":
        descs = dbt_descriptions(manifest)
        for t in ([table] if table else []) + sorted(descs):
            term = _russian_term(descs.get(t, {}).get(column, ""))
            if term:
                return term
    return column.replace("_", " ").capitalize()


def column_description(table: str, column: str, manifest: str | None = None) -> str:
    return dbt_descriptions(manifest).get(table, {}).get(column, "")


def table_label(table: str, lang: str = "ru") -> str:
    if table in TABLES:
        return TABLES[table][LANGS.index(lang)]
    return table


def table_description(table: str, manifest: str | None = None) -> str:
    return dbt_descriptions(manifest).get(table, {}).get("", "")
