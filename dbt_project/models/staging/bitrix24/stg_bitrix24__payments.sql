with source as (

    select * from {{ source('raw_bitrix24', 'payments') }}

),

parsed as (

    select *, {{ parse_payload([('orderId', 'VARCHAR'), ('entityTypeId', 'VARCHAR'), ('entityId', 'VARCHAR'), ('accountNumber', 'VARCHAR'), ('paySystemName', 'VARCHAR'), ('paid', 'VARCHAR'), ('sum', 'VARCHAR'), ('currency', 'VARCHAR'), ('datePaid', 'VARCHAR'), ('dateBill', 'VARCHAR')]) }} as j
    from source

),

renamed as (

    select
        'bitrix24' as source_system,
        _account as account,
        id as payment_id,
        cast(nullif({{ jv('orderId') }}, '') as bigint) as deal_id,
        cast(nullif({{ jv('entityTypeId') }}, '') as integer) as entity_type_id,
        cast(nullif({{ jv('entityId') }}, '') as bigint) as entity_id,
        nullif({{ jv('accountNumber') }}, '') as account_number,
        nullif({{ jv('paySystemName') }}, '') as pay_system_name,
        {{ yn_to_bool(jv('paid')) }} as is_paid,
        cast(nullif({{ jv('sum') }}, '') as numeric(18, 2)) as amount,
        nullif({{ jv('currency') }}, '') as currency,
        {{ iso_to_utc(jv('datePaid')) }} as paid_at,
        {{ iso_to_utc(jv('dateBill')) }} as billed_at,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from parsed

)

select * from renamed
