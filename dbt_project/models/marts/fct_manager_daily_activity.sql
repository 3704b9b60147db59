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

{#- Managers get an integer key (manager_idx, unique because user_key is): the spine's joins and
    its running window work on (integer, date) instead of the 'system:account:id' strings, and the
    manager's descriptive columns join once, at the end. -#}
users as (

    select
        user_key as manager_key, source_system, account, user_id as manager_id,
        user_name as manager_name, department_key, department_name, branch,
        row_number() over (order by user_key) as manager_idx
    from {{ ref('int_users') }}

),

leads as (

    select
        manager_key,
        created_date,
        {{ local_date('least(taken_at, rejected_at)') }} as left_backlog_date
    from {{ ref('fct_lead_control_points') }}
    where manager_key is not null

),

{%- set metrics = ['leads', 'leads_processed', 'calls', 'meetings', 'meetings_planned', 'showings',
                   'showings_planned', 'contracts', 'revenue', 'payments_count', 'payments_received'] %}

{#- Facts of managers known to int_users (the spine holds no other manager). -#}
facts as (

    select
        users.manager_idx, daily_facts.fact_date,
        {%- for m in metrics %}
        sum(case when daily_facts.metric = '{{ m }}' then daily_facts.fact_value else 0 end) as {{ m }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ ref('int_daily_facts') }} as daily_facts
    inner join users
        on daily_facts.manager_key = users.manager_key
    group by 1, 2

),

{#- Dates run from the manager's first fact (any metric, any date) to the report date. -#}
managers as (

    select manager_idx, min(fact_date) as first_date
    from facts
    group by 1

),

spine as (

    select managers.manager_idx, calendar.calendar_date, calendar.month_start, calendar.is_working_day
    from managers
    cross join report
    inner join calendar
        on calendar.calendar_date between managers.first_date and report.report_date

),

{#- One pass over the leads: the backlog's daily change (+1 on the created date, -1 on the date it
    left the backlog) and the leads created that day still open at its end. -#}
lead_days as (

    select
        users.manager_idx, moves.move_date,
        sum(moves.delta) as delta,
        sum(moves.open_created) as open_created_today
    from (
        select
            manager_key, created_date as move_date, 1 as delta,
            case when left_backlog_date is null or left_backlog_date > created_date then 1 else 0 end
                as open_created
        from leads
        union all
        select manager_key, left_backlog_date, -1, 0
        from leads
        where left_backlog_date is not null
    ) as moves
    inner join users
        on moves.manager_key = users.manager_key
    group by 1, 2

),

{#- The running backlog on the narrow (manager, day) spine: a window over the wide joined rows
    costs several times more at 1M leads. -#}
backlog as (

    select
        spine.manager_idx,
        spine.calendar_date,
        spine.month_start,
        spine.is_working_day,
        sum(coalesce(lead_days.delta, 0)) over (
            partition by spine.manager_idx order by spine.calendar_date
            rows between unbounded preceding and current row
        ) as leads_to_process,
        coalesce(lead_days.open_created_today, 0) as open_created_today
    from spine
    left join lead_days
        on spine.manager_idx = lead_days.manager_idx
        and spine.calendar_date = lead_days.move_date

),

targets as (

    select
        users.manager_idx, daily_targets.month_start,
        daily_targets.needed_leads_per_working_day,
        daily_targets.needed_meetings_per_working_day,
        daily_targets.needed_showings_per_working_day,
        daily_targets.needed_contracts_per_working_day
    from {{ ref('fct_daily_targets') }} as daily_targets
    inner join users
        on daily_targets.scope_id = users.manager_key
    where daily_targets.scope_type = 'manager'

),

joined as (

    select
        backlog.calendar_date,
        users.source_system,
        users.account,
        users.manager_id,
        users.manager_key,
        users.manager_name,
        users.department_key,
        users.department_name,
        users.branch,
        backlog.is_working_day,
        backlog.leads_to_process,
        backlog.open_created_today,
        {%- for m in metrics %}
        coalesce(facts.{{ m }}, 0) as {{ m }},
        {%- endfor %}
        targets.needed_leads_per_working_day,
        targets.needed_meetings_per_working_day,
        targets.needed_showings_per_working_day,
        targets.needed_contracts_per_working_day
    from backlog
    inner join users
        on backlog.manager_idx = users.manager_idx
    left join facts
        on backlog.manager_idx = facts.manager_idx
        and backlog.calendar_date = facts.fact_date
    left join targets
        on backlog.manager_idx = targets.manager_idx
        and backlog.month_start = targets.month_start

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
