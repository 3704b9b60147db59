{#- Daily facts (факт по дням) per manager and project, long format: one row per (local date,
    manager, project, metric). The source of plan vs fact, daily activity and daily targets.
    Metrics: leads, leads_processed, calls, meetings, meetings_planned, showings, showings_planned,
    contracts, units, area_m2, revenue, payments_received, payments_count. -#}
with

taken as (

    select source_system, account, lead_id, min(entered_at) as taken_at
    from {{ ref('int_stage_transitions') }}
    where control_point = 'taken'
    group by 1, 2, 3

),

leads as (

    select
        int_leads.source_system, int_leads.account, int_leads.manager_key, int_leads.project_code,
        int_leads.created_at, taken.taken_at
    from {{ ref('int_leads') }} as int_leads
    left join taken
        on int_leads.source_system = taken.source_system
        and int_leads.account = taken.account
        and int_leads.lead_id = taken.lead_id

),

activities as (

    select * from {{ ref('int_activities') }}
    where not is_deleted and activity_kind in ('call', 'meeting', 'showing')

),

deals as (

    select * from {{ ref('int_deals') }}
    where contract_at is not null

),

payments as (

    select * from {{ ref('int_payments') }}

),

events as (

    select source_system, account, manager_key, project_code,
        {{ local_date('created_at') }} as fact_date, 'leads' as metric, 1.0 as fact_value
    from leads

    union all

    select source_system, account, manager_key, project_code,
        {{ local_date('taken_at') }}, 'leads_processed', 1.0
    from leads
    where taken_at is not null

    union all

    select source_system, account, manager_key, cast(null as varchar),
        {{ local_date('held_at') }},
        case activity_kind when 'call' then 'calls' when 'meeting' then 'meetings' else 'showings' end,
        1.0
    from activities
    where held_at is not null

    union all

    select source_system, account, manager_key, cast(null as varchar),
        {{ local_date('planned_at') }},
        case activity_kind when 'meeting' then 'meetings_planned' else 'showings_planned' end,
        1.0
    from activities
    where activity_kind in ('meeting', 'showing')

    union all

    select source_system, account, manager_key, project_code, {{ local_date('contract_at') }}, 'contracts', 1.0
    from deals

    union all

    select source_system, account, manager_key, project_code, {{ local_date('contract_at') }}, 'units', 1.0
    from deals

    union all

    select source_system, account, manager_key, project_code, {{ local_date('contract_at') }}, 'area_m2',
        coalesce(area_m2, 0)
    from deals

    union all

    select source_system, account, manager_key, project_code, {{ local_date('contract_at') }}, 'revenue',
        coalesce(price, 0)
    from deals

    union all

    select source_system, account, manager_key, project_code, {{ local_date('paid_at') }},
        'payments_received', amount
    from payments

    union all

    select source_system, account, manager_key, project_code, {{ local_date('paid_at') }}, 'payments_count', 1.0
    from payments

),

aggregated as (

    select
        source_system, account, manager_key, project_code, fact_date, metric,
        cast(sum(fact_value) as double precision) as fact_value
    from events
    group by 1, 2, 3, 4, 5, 6

)

select
    aggregated.fact_date,
    aggregated.source_system,
    aggregated.account,
    aggregated.manager_key,
    users.department_key,
    users.branch,
    aggregated.project_code,
    aggregated.metric,
    aggregated.fact_value
from aggregated
left join {{ ref('int_users') }} as users
    on aggregated.manager_key = users.user_key
