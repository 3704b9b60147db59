{#- Payments received (оплаты), both CRMs, with the deal, lead and the deal's payment form. -#}
with

bitrix24_payments as (

    select
        source_system, account, payment_id, deal_id,
        case when entity_type_id = 31 then entity_id end as invoice_id,
        cast(amount as double precision) as amount,
        paid_at
    from {{ ref('stg_bitrix24__payments') }}
    where not is_deleted and is_paid

),

payments as (

    select * from bitrix24_payments

)

select
    payments.source_system,
    payments.account,
    payments.payment_id,
    payments.deal_id,
    payments.invoice_id,
    deals.lead_id,
    deals.manager_id,
    deals.manager_key,
    deals.department_id,
    deals.branch,
    deals.project_code,
    deals.payment_form,
    payments.amount,
    payments.paid_at
from payments
left join {{ ref('int_deals') }} as deals
    on payments.source_system = deals.source_system
    and payments.account = deals.account
    and payments.deal_id = deals.deal_id
