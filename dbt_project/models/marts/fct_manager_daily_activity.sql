{#- Daily activity per manager (ежедневная активность менеджера): date × manager — leads
    assigned, open backlog (к обработке), processed, overdue; meetings and showings planned and held;
    calls; contracts; payments; and the day's funnel-derived targets (fct_daily_targets). Dates
    run from the manager's first lead to the report date. -#}
with

report as (

    select report_date from {{ ref('int_report_date') }}

),

calendar as (

    select calendar_date, month_start, is_working_day from {{ ref('dim_date') }}

),

leads as (

    select
        manager_key,
        created_date,
        {{ local_date('least(taken_at, rejected_at)') }} as left_backlog_date
    from {{ ref('fct_lead_control_points') }}
    where manager_key is not null

),

managers as (

    select
        users.user_key as manager_key, users.source_system, users.account, users.user_id as manager_id,
        users.user_name as manager_name, users.department_key, users.department_name, users.branch,
        min(facts.fact_date) as first_date
    from {{ ref('int_users') }} as users
    inner join {{ ref('int_daily_facts') }} as facts
        on users.user_key = facts.manager_key
    group by 1, 2, 3, 4, 5, 6, 7, 8

),

spine as (

    select managers.*, calendar.calendar_date, calendar.month_start, calendar.is_working_day
    from managers
    cross join report
    inner join calendar
        on calendar.calendar_date between managers.first_date and report.report_date

),

backlog_moves as (

    select manager_key, created_date as move_date, 1 as delta from leads
    union all
    select manager_key, left_backlog_date, -1 from leads where left_backlog_date is not null

),

backlog_daily as (

    select manager_key, move_date, sum(delta) as delta
    from backlog_moves
    group by 1, 2

),

{#- The running backlog on the narrow (manager, day) spine: a window over the wide joined rows
    costs several times more at 1M leads. -#}
backlog_running as (

    select
        spine.manager_key,
        spine.calendar_date,
        sum(coalesce(backlog_daily.delta, 0)) over (
            partition by spine.manager_key order by spine.calendar_date
            rows between unbounded preceding and current row
        ) as leads_to_process
    from spine
    left join backlog_daily
        on spine.manager_key = backlog_daily.manager_key
        and spine.calendar_date = backlog_daily.move_date

),

open_created_today as (

    select manager_key, created_date, count(*) as leads
    from leads
    where left_backlog_date is null or left_backlog_date > created_date
    group by 1, 2

),

facts as (

    select
        manager_key, fact_date,
        {%- set metrics = ['leads', 'leads_processed', 'calls', 'meetings', 'meetings_planned', 'showings',
                           'showings_planned', 'contracts', 'revenue', 'payments_count', 'payments_received'] %}
        {%- for m in metrics %}
        sum(case when metric = '{{ m }}' then fact_value else 0 end) as {{ m }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ ref('int_daily_facts') }}
    where manager_key is not null
    group by 1, 2

),

targets as (

    select * from {{ ref('fct_daily_targets') }}
    where scope_type = 'manager'

),

joined as (

    select
        spine.*,
        backlog_running.leads_to_process,
        coalesce(open_created_today.leads, 0) as open_created_today,
        {%- for m in metrics %}
        coalesce(facts.{{ m }}, 0) as {{ m }},
        {%- endfor %}
        targets.needed_leads_per_working_day,
        targets.needed_meetings_per_working_day,
        targets.needed_showings_per_working_day,
        targets.needed_contracts_per_working_day
    from spine
    left join backlog_running
        on spine.manager_key = backlog_running.manager_key
        and spine.calendar_date = backlog_running.calendar_date
    left join open_created_today
        on spine.manager_key = open_created_today.manager_key
        and spine.calendar_date = open_created_today.created_date
    left join facts
        on spine.manager_key = facts.manager_key
        and spine.calendar_date = facts.fact_date
    left join targets
        on spine.manager_key = targets.scope_id
        and spine.month_start = targets.month_start

)

select
    calendar_date as activity_date,
    source_system,
    account,
    manager_id,
    manager_key,
    manager_name,
    department_key,
    department_name,
    branch,
    is_working_day,
    cast(leads as bigint) as leads_assigned,
    cast(leads_to_process as bigint) as leads_to_process,
    cast(leads_processed as bigint) as leads_processed,
    cast(leads_to_process - open_created_today as bigint) as leads_overdue,
    cast(calls as bigint) as calls_held,
    cast(meetings_planned as bigint) as meetings_planned,
    cast(meetings as bigint) as meetings_held,
    cast(showings_planned as bigint) as showings_planned,
    cast(showings as bigint) as showings_held,
    cast(contracts as bigint) as contracts,
    cast(revenue as double precision) as contracts_amount,
    cast(payments_count as bigint) as payments_count,
    cast(payments_received as double precision) as payments_amount,
    case when is_working_day then needed_leads_per_working_day else 0 end as target_leads,
    case when is_working_day then needed_meetings_per_working_day else 0 end as target_meetings,
    case when is_working_day then needed_showings_per_working_day else 0 end as target_showings,
    case when is_working_day then needed_contracts_per_working_day else 0 end as target_contracts
from joined
