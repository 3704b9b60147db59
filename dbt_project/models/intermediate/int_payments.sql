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

amocrm_invoice_fields as (

    select
        values_.account, values_.element_id,
        max(case when values_.field_code = '{{ var("amocrm_invoice_fields")["status"] }}' then values_.field_value end)
            as invoice_status,
        max(case when values_.field_code = '{{ var("amocrm_invoice_fields")["amount"] }}' then values_.field_value end)
            as amount,
        max(case when values_.field_code = '{{ var("amocrm_invoice_fields")["paid_date"] }}' then values_.field_value end)
            as paid_unix
    from {{ ref('stg_amocrm__catalog_element_field_values') }} as values_
    inner join {{ ref('stg_amocrm__catalogs') }} as catalogs
        on values_.account = catalogs.account
        and values_.catalog_id = catalogs.catalog_id
        and catalogs.catalog_type = 'invoices'
    group by 1, 2

),

amocrm_payments as (

    select
        'amocrm' as source_system,
        amocrm_invoice_fields.account,
        amocrm_invoice_fields.element_id as payment_id,
        links.lead_id as deal_id,
        amocrm_invoice_fields.element_id as invoice_id,
        cast(amocrm_invoice_fields.amount as double precision) as amount,
        {{ unix_to_utc('amocrm_invoice_fields.paid_unix') }} as paid_at
    from amocrm_invoice_fields
    inner join {{ ref('stg_amocrm__catalog_elements') }} as elements
        on amocrm_invoice_fields.account = elements.account
        and amocrm_invoice_fields.element_id = elements.element_id
    left join {{ ref('stg_amocrm__lead_catalog_links') }} as links
        on amocrm_invoice_fields.account = links.account
        and amocrm_invoice_fields.element_id = links.element_id
    where not elements.is_deleted
        and amocrm_invoice_fields.invoice_status = '{{ var("amocrm_invoice_fields")["paid_status_value"] }}'

),

payments as (

    select * from bitrix24_payments
    union all
    select * from amocrm_payments

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
