{#- Sales plan fulfilment (выполнение плана продаж): period (day/week/month/quarter/year) × scope
    (company/branch/department/manager/project) × metric. Monthly plans are spread over the month's
    working days, so a week or a day gets its working-day share and expected-to-date grows by
    working days. Facts count up to the report date. -#}
with

plans as (

    select
        cast(period_start as date) as plan_month,
        scope_type, scope_id, scope_name, metric,
        cast(target as double precision) as target
    from {{ ref('int_sales_plans') }}

),

calendar as (

    select * from {{ ref('dim_date') }}

),

report as (

    select report_date from {{ ref('int_report_date') }}

),

grains as (

    select 'day' as period_grain
    union all select 'week'
    union all select 'month'
    union all select 'quarter'
    union all select 'year'

),

plan_days as (

    select
        plans.scope_type, plans.scope_id, plans.scope_name, plans.metric,
        calendar.calendar_date, calendar.is_working_day,
        calendar.week_start, calendar.month_start, calendar.quarter_start, calendar.year_start,
        case when calendar.is_working_day
            then plans.target / calendar.working_days_in_month else 0 end as plan_value
    from plans
    inner join calendar
        on calendar.month_start = plans.plan_month

),

plan_periods as (

    select
        grains.period_grain,
        case grains.period_grain
            when 'day' then plan_days.calendar_date
            when 'week' then plan_days.week_start
            when 'month' then plan_days.month_start
            when 'quarter' then plan_days.quarter_start
            else plan_days.year_start
        end as period_start,
        plan_days.scope_type, plan_days.scope_id, plan_days.scope_name, plan_days.metric,
        plan_days.calendar_date, plan_days.is_working_day, plan_days.plan_value
    from plan_days
    cross join grains

),

plan_totals as (

    select
        period_grain, period_start, scope_type, scope_id, metric,
        max(scope_name) as scope_name,
        min(calendar_date) as period_first_planned_date,
        max(calendar_date) as period_end,
        sum(plan_value) as plan_value,
        sum(case when is_working_day then 1 else 0 end) as working_days_in_period,
        sum(case when is_working_day and calendar_date <= report.report_date then 1 else 0 end)
            as elapsed_working_days,
        sum(case when calendar_date <= report.report_date then plan_value else 0 end) as expected_to_date
    from plan_periods
    cross join report
    group by 1, 2, 3, 4, 5

),

facts as (

    select facts.*
    from {{ ref('int_daily_facts') }} as facts
    cross join report
    where facts.fact_date <= report.report_date

),

scoped_facts as (

    select 'company' as scope_type, '*' as scope_id, metric, fact_date, fact_value from facts
    union all
    select 'branch', branch, metric, fact_date, fact_value from facts where branch is not null
    union all
    select 'department', department_key, metric, fact_date, fact_value from facts where department_key is not null
    union all
    select 'manager', manager_key, metric, fact_date, fact_value from facts where manager_key is not null
    union all
    select 'project', project_code, metric, fact_date, fact_value from facts where project_code is not null

),

planned_scopes as (

    select distinct scope_type, scope_id, metric from plans

),

fact_days as (

    select
        planned_scopes.scope_type, planned_scopes.scope_id, planned_scopes.metric,
        scoped_facts.fact_date,
        sum(scoped_facts.fact_value) as fact_value
    from planned_scopes
    inner join scoped_facts
        on planned_scopes.scope_type = scoped_facts.scope_type
        and planned_scopes.metric = scoped_facts.metric
        and (case when planned_scopes.scope_type = 'company' then '*' else planned_scopes.scope_id end)
            = scoped_facts.scope_id
    group by 1, 2, 3, 4

),

fact_totals as (

    {#- Facts count on the planned days of the period only (a year planned from November compares
        November on). -#}
    select
        plan_periods.period_grain, plan_periods.period_start, plan_periods.scope_type, plan_periods.scope_id,
        plan_periods.metric,
        sum(fact_days.fact_value) as fact_value
    from plan_periods
    inner join fact_days
        on plan_periods.scope_type = fact_days.scope_type
        and plan_periods.scope_id = fact_days.scope_id
        and plan_periods.metric = fact_days.metric
        and plan_periods.calendar_date = fact_days.fact_date
    group by 1, 2, 3, 4, 5

),

joined as (

    select
        plan_totals.*,
        coalesce(fact_totals.fact_value, 0) as fact_value,
        plan_totals.working_days_in_period - plan_totals.elapsed_working_days as remaining_working_days
    from plan_totals
    left join fact_totals
        on plan_totals.period_grain = fact_totals.period_grain
        and plan_totals.period_start = fact_totals.period_start
        and plan_totals.scope_type = fact_totals.scope_type
        and plan_totals.scope_id = fact_totals.scope_id
        and plan_totals.metric = fact_totals.metric

)

select
    period_grain,
    cast(period_start as date) as period_start,
    cast(period_end as date) as period_end,
    scope_type,
    scope_id,
    scope_name,
    metric,
    cast(plan_value as double precision) as plan_value,
    cast(fact_value as double precision) as fact_value,
    {{ safe_ratio('fact_value', 'plan_value') }} as attainment_ratio,
    cast(working_days_in_period as integer) as working_days_in_period,
    cast(elapsed_working_days as integer) as elapsed_working_days,
    cast(remaining_working_days as integer) as remaining_working_days,
    cast(expected_to_date as double precision) as expected_to_date,
    {{ safe_ratio('fact_value', 'expected_to_date') }} as attainment_vs_expected_ratio,
    case
        when remaining_working_days = 0 then cast(fact_value as double precision)
        when elapsed_working_days = 0 then cast(null as double precision)
        else cast(fact_value as double precision) * working_days_in_period / elapsed_working_days
    end as run_rate_forecast,
    cast(plan_value - fact_value as double precision) as gap_to_plan,
    case
        when remaining_working_days > 0
            then cast(greatest(plan_value - fact_value, 0) as double precision) / remaining_working_days
    end as required_per_remaining_working_day,
    remaining_working_days = 0 as is_period_closed
from joined
