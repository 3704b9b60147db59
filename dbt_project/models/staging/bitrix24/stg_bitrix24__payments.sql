with source as (

    select * from {{ source('raw_bitrix24', 'payments') }}

),

renamed as (

    select
        'bitrix24' as source_system,
        _account as account,
        id as payment_id,
        cast(nullif(payload ->> 'orderId', '') as bigint) as deal_id,
        cast(nullif(payload ->> 'entityTypeId', '') as integer) as entity_type_id,
        cast(nullif(payload ->> 'entityId', '') as bigint) as entity_id,
        nullif(payload ->> 'accountNumber', '') as account_number,
        nullif(payload ->> 'paySystemName', '') as pay_system_name,
        {{ yn_to_bool("payload ->> 'paid'") }} as is_paid,
        cast(nullif(payload ->> 'sum', '') as numeric(18, 2)) as amount,
        nullif(payload ->> 'currency', '') as currency,
        {{ iso_to_utc("payload ->> 'datePaid'") }} as paid_at,
        {{ iso_to_utc("payload ->> 'dateBill'") }} as billed_at,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from source

)

select * from renamed
