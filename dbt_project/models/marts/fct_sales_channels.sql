{#- Sales channels (каналы продаж): month × channel × source_system, on the cohort of leads created
    in the month — volume, junk (CRM-marked and detected), classified, shown, contracts, paid,
    revenue of their contracts, conversion, cycle days; cost per lead / per sale when the
    channel_costs seed has the month (a channel's cost is split across CRMs by lead count). -#}
with

leads as (

    select * from {{ ref('fct_lead_control_points') }}

),

deals as (

    select source_system, account, lead_id, sum(coalesce(price, 0)) as revenue
    from {{ ref('int_deals') }}
    where contract_at is not null
    group by 1, 2, 3

),

aggregated as (

    select
        {{ period_start('month', 'leads.created_date') }} as month_start,
        leads.channel,
        leads.source_system,
        count(*) as leads,
        sum(case when leads.is_crm_junk then 1 else 0 end) as crm_junk_leads,
        sum(case when leads.is_detected_junk then 1 else 0 end) as detected_junk_leads,
        sum(case when leads.is_junk then 1 else 0 end) as junk_leads,
        sum(case when leads.is_classified then 1 else 0 end) as classified_leads,
        sum(case when leads.shown_at is not null then 1 else 0 end) as shown_leads,
        sum(case when leads.contract_at is not null then 1 else 0 end) as contract_leads,
        sum(case when leads.paid_at is not null then 1 else 0 end) as paid_leads,
        sum(coalesce(deals.revenue, 0)) as revenue,
        sum(case when leads.contract_at is not null then leads.days_to_contract else 0 end) as contract_cycle_days_total
    from leads
    left join deals
        on leads.source_system = deals.source_system
        and leads.account = deals.account
        and leads.lead_id = deals.lead_id
    group by 1, 2, 3

),

costs as (

    select cast(month as date) as month_start, channel, sum(cost) as channel_cost
    from {{ ref('channel_costs') }}
    group by 1, 2

),

with_cost as (

    select
        aggregated.*,
        costs.channel_cost * aggregated.leads
            / sum(aggregated.leads) over (partition by aggregated.month_start, aggregated.channel) as cost
    from aggregated
    left join costs
        on aggregated.month_start = costs.month_start
        and aggregated.channel = costs.channel

)

select
    cast(month_start as date) as month_start,
    channel,
    source_system,
    cast(leads as bigint) as leads,
    cast(crm_junk_leads as bigint) as crm_junk_leads,
    cast(detected_junk_leads as bigint) as detected_junk_leads,
    cast(junk_leads as bigint) as junk_leads,
    cast(classified_leads as bigint) as classified_leads,
    cast(shown_leads as bigint) as shown_leads,
    cast(contract_leads as bigint) as contract_leads,
    cast(paid_leads as bigint) as paid_leads,
    cast(revenue as double precision) as revenue,
    {{ safe_ratio('junk_leads', 'leads') }} as junk_share,
    {{ safe_ratio('contract_leads', 'leads') }} as lead_to_contract_rate,
    {{ safe_ratio('paid_leads', 'leads') }} as lead_to_paid_rate,
    cast(contract_cycle_days_total as double precision) as contract_cycle_days_total,
    {{ safe_ratio('contract_cycle_days_total', 'contract_leads') }} as average_cycle_days,
    cast(cost as double precision) as cost,
    {{ safe_ratio('cost', 'leads') }} as cost_per_lead,
    {{ safe_ratio('cost', 'contract_leads') }} as cost_per_sale
from with_cost
