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

{#- Every metric comes from exactly one source below, so each source aggregates on its own and the
    results only stack: no group by over the union of all events. A deal's four metrics (and a
    payment's two) share one aggregate, which converts each contract (payment) time to the local
    date once instead of once per metric. -#}
lead_facts as (

    select source_system, account, manager_key, project_code, {{ local_date('created_at') }} as fact_date,
        'leads' as metric, cast(count(*) as double precision) as fact_value
    from leads
    group by 1, 2, 3, 4, 5

    union all

    select source_system, account, manager_key, project_code, {{ local_date('taken_at') }},
        'leads_processed', cast(count(*) as double precision)
    from leads
    where taken_at is not null
    group by 1, 2, 3, 4, 5

),

activity_facts as (

    select source_system, account, manager_key, cast(null as varchar) as project_code,
        {{ local_date('held_at') }} as fact_date,
        case activity_kind when 'call' then 'calls' when 'meeting' then 'meetings' else 'showings' end as metric,
        cast(count(*) as double precision) as fact_value
    from activities
    where held_at is not null
    group by 1, 2, 3, 4, 5, 6

    union all

    select source_system, account, manager_key, cast(null as varchar),
        {{ local_date('planned_at') }},
        case activity_kind when 'meeting' then 'meetings_planned' else 'showings_planned' end,
        cast(count(*) as double precision)
    from activities
    where activity_kind in ('meeting', 'showing')
    group by 1, 2, 3, 4, 5, 6

),

deal_days as (

    select source_system, account, manager_key, project_code, {{ local_date('contract_at') }} as fact_date,
        cast(count(*) as double precision) as contracts,
        sum(coalesce(cast(area_m2 as double precision), 0)) as area_m2,
        sum(coalesce(cast(price as double precision), 0)) as revenue
    from deals
    group by 1, 2, 3, 4, 5

),

payment_days as (

    select source_system, account, manager_key, project_code, {{ local_date('paid_at') }} as fact_date,
        sum(cast(amount as double precision)) as payments_received,
        cast(count(*) as double precision) as payments_count
    from payments
    group by 1, 2, 3, 4, 5

),

aggregated as (

    select * from lead_facts
    union all
    select * from activity_facts
    union all
    select source_system, account, manager_key, project_code, fact_date, 'contracts', contracts from deal_days
    union all
    select source_system, account, manager_key, project_code, fact_date, 'units', contracts from deal_days
    union all
    select source_system, account, manager_key, project_code, fact_date, 'area_m2', area_m2 from deal_days
    union all
    select source_system, account, manager_key, project_code, fact_date, 'revenue', revenue from deal_days
    union all
    select source_system, account, manager_key, project_code, fact_date, 'payments_received', payments_received
    from payment_days
    union all
    select source_system, account, manager_key, project_code, fact_date, 'payments_count', payments_count
    from payment_days

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
