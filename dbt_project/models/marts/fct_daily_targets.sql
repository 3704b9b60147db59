{#- The funnel-derived daily plan (план на день из воронки): month × scope (manager, department,
    branch, company). From the month's contracts plan and the scope's conversion over the trailing
    var trailing_conversion_months months: how many leads, meetings and showings it takes, in total
    and per working day. needed_X = planned contracts × trailing X / trailing contracts. -#}
with

plans as (

    select cast(period_start as date) as month_start, scope_type, scope_id, scope_name,
        cast(target as double precision) as planned_contracts
    from {{ ref('int_sales_plans') }}
    where metric = 'contracts' and scope_type in ('company', 'branch', 'department', 'manager')

),

months as (

    select month_start, max(working_days_in_month) as working_days_in_month
    from {{ ref('dim_date') }}
    group by 1

),

facts as (

    select
        {{ period_start('month', 'fact_date') }} as month_start,
        branch, department_key, manager_key, metric, fact_value
    from {{ ref('int_daily_facts') }}
    where metric in ('leads', 'meetings', 'showings', 'contracts')

),

scoped as (

    select 'company' as scope_type, '*' as scope_id, month_start, metric, fact_value from facts
    union all
    select 'branch', branch, month_start, metric, fact_value from facts where branch is not null
    union all
    select 'department', department_key, month_start, metric, fact_value from facts where department_key is not null
    union all
    select 'manager', manager_key, month_start, metric, fact_value from facts where manager_key is not null

),

trailing_facts as (

    select
        plans.month_start, plans.scope_type, plans.scope_id,
        sum(case when scoped.metric = 'leads' then scoped.fact_value else 0 end) as trailing_leads,
        sum(case when scoped.metric = 'meetings' then scoped.fact_value else 0 end) as trailing_meetings,
        sum(case when scoped.metric = 'showings' then scoped.fact_value else 0 end) as trailing_showings,
        sum(case when scoped.metric = 'contracts' then scoped.fact_value else 0 end) as trailing_contracts
    from plans
    inner join scoped
        on plans.scope_type = scoped.scope_type
        and (case when plans.scope_type = 'company' then '*' else plans.scope_id end) = scoped.scope_id
        and scoped.month_start < plans.month_start
        and scoped.month_start >= cast(plans.month_start - interval '{{ var("trailing_conversion_months") }} months' as date)
    group by 1, 2, 3

),

joined as (

    select
        plans.*,
        months.working_days_in_month,
        coalesce(trailing_facts.trailing_leads, 0) as trailing_leads,
        coalesce(trailing_facts.trailing_meetings, 0) as trailing_meetings,
        coalesce(trailing_facts.trailing_showings, 0) as trailing_showings,
        coalesce(trailing_facts.trailing_contracts, 0) as trailing_contracts
    from plans
    inner join months
        on plans.month_start = months.month_start
    left join trailing_facts
        on plans.month_start = trailing_facts.month_start
        and plans.scope_type = trailing_facts.scope_type
        and plans.scope_id = trailing_facts.scope_id

),

needed as (

    select
        joined.*,
        planned_contracts * {{ safe_ratio('trailing_leads', 'trailing_contracts') }} as needed_leads,
        planned_contracts * {{ safe_ratio('trailing_meetings', 'trailing_contracts') }} as needed_meetings,
        planned_contracts * {{ safe_ratio('trailing_showings', 'trailing_contracts') }} as needed_showings
    from joined

)

select
    cast(month_start as date) as month_start,
    scope_type,
    scope_id,
    scope_name,
    cast(working_days_in_month as integer) as working_days_in_month,
    cast(planned_contracts as double precision) as planned_contracts,
    cast(trailing_leads as double precision) as trailing_leads,
    cast(trailing_meetings as double precision) as trailing_meetings,
    cast(trailing_showings as double precision) as trailing_showings,
    cast(trailing_contracts as double precision) as trailing_contracts,
    {{ safe_ratio('trailing_contracts', 'trailing_leads') }} as lead_to_contract_rate,
    {{ safe_ratio('trailing_contracts', 'trailing_showings') }} as showing_to_contract_rate,
    cast(needed_leads as double precision) as needed_leads,
    cast(needed_meetings as double precision) as needed_meetings,
    cast(needed_showings as double precision) as needed_showings,
    {{ safe_ratio('needed_leads', 'working_days_in_month') }} as needed_leads_per_working_day,
    {{ safe_ratio('needed_meetings', 'working_days_in_month') }} as needed_meetings_per_working_day,
    {{ safe_ratio('needed_showings', 'working_days_in_month') }} as needed_showings_per_working_day,
    {{ safe_ratio('planned_contracts', 'working_days_in_month') }} as needed_contracts_per_working_day
from needed
