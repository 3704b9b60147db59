{#- Payment forms (формы оплаты): month × project × branch × payment form — contracts signed
    (deals, units, m², revenue) with each form's share of the month, payments received, average
    check. Shares ship with their numerator (the row's value) and denominator (the month total). -#}
with

deals as (

    select
        {{ period_start('month', local_date('contract_at')) }} as month_start,
        coalesce(project_code, 'unknown') as project_code,
        coalesce(branch, 'unknown') as branch,
        payment_form,
        1 as deals, 1 as units, coalesce(area_m2, 0) as area_m2, coalesce(price, 0) as revenue,
        0 as payments_count, cast(0 as double precision) as payments_received
    from {{ ref('int_deals') }}
    where contract_at is not null

),

payments as (

    select
        {{ period_start('month', local_date('paid_at')) }} as month_start,
        coalesce(project_code, 'unknown') as project_code,
        coalesce(branch, 'unknown') as branch,
        coalesce(payment_form, 'unknown') as payment_form,
        0 as deals, 0 as units, cast(0 as double precision) as area_m2, cast(0 as double precision) as revenue,
        1 as payments_count, amount as payments_received
    from {{ ref('int_payments') }}

),

unioned as (

    select * from deals
    union all
    select * from payments

),

aggregated as (

    select
        month_start, project_code, branch, payment_form,
        sum(deals) as deals, sum(units) as units, sum(area_m2) as area_m2, sum(revenue) as revenue,
        sum(payments_count) as payments_count, sum(payments_received) as payments_received
    from unioned
    group by 1, 2, 3, 4

),

with_totals as (

    select
        aggregated.*,
        sum(deals) over (partition by month_start) as month_deals,
        sum(area_m2) over (partition by month_start) as month_area_m2,
        sum(revenue) over (partition by month_start) as month_revenue,
        sum(payments_received) over (partition by month_start) as month_payments_received
    from aggregated

)

select
    cast(month_start as date) as month_start,
    project_code,
    branch,
    payment_form,
    cast(deals as bigint) as deals,
    cast(units as bigint) as units,
    cast(area_m2 as double precision) as area_m2,
    cast(revenue as double precision) as revenue,
    cast(payments_count as bigint) as payments_count,
    cast(payments_received as double precision) as payments_received,
    cast(month_deals as bigint) as month_deals,
    cast(month_area_m2 as double precision) as month_area_m2,
    cast(month_revenue as double precision) as month_revenue,
    cast(month_payments_received as double precision) as month_payments_received,
    {{ safe_ratio('deals', 'month_deals') }} as deals_share,
    {{ safe_ratio('area_m2', 'month_area_m2') }} as area_m2_share,
    {{ safe_ratio('revenue', 'month_revenue') }} as revenue_share,
    {{ safe_ratio('payments_received', 'month_payments_received') }} as payments_received_share,
    {{ safe_ratio('revenue', 'deals') }} as average_check
from with_totals
