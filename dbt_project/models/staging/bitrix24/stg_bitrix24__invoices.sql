with source as (

    select * from {{ source('raw_bitrix24', 'invoices') }}

),

parsed as (

    select *, {{ parse_payload([('title', 'VARCHAR'), ('categoryId', 'VARCHAR'), ('stageId', 'VARCHAR'), ('parentId2', 'VARCHAR'), ('assignedById', 'VARCHAR'), ('opportunity', 'VARCHAR'), ('currencyId', 'VARCHAR'), ('createdTime', 'VARCHAR'), ('updatedTime', 'VARCHAR'), ('closedate', 'VARCHAR')]) }} as j
    from source

),

renamed as (

    select
        'bitrix24' as source_system,
        _account as account,
        id as invoice_id,
        nullif({{ jv('title') }}, '') as title,
        cast(nullif({{ jv('categoryId') }}, '') as bigint) as category_id,
        nullif({{ jv('stageId') }}, '') as stage_id,
        cast(nullif({{ jv('parentId2') }}, '') as bigint) as deal_id,
        cast(nullif({{ jv('assignedById') }}, '') as bigint) as assigned_user_id,
        cast(nullif({{ jv('opportunity') }}, '') as numeric(18, 2)) as amount,
        nullif({{ jv('currencyId') }}, '') as currency,
        {{ iso_to_utc(jv('createdTime')) }} as created_at,
        {{ iso_to_utc(jv('updatedTime')) }} as updated_at,
        {{ iso_to_utc(jv('closedate')) }} as due_at,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from parsed

)

select * from renamed
