with source as (

    select * from {{ source('raw_bitrix24', 'invoices') }}

),

renamed as (

    select
        'bitrix24' as source_system,
        _account as account,
        id as invoice_id,
        nullif(payload ->> 'title', '') as title,
        cast(nullif(payload ->> 'categoryId', '') as bigint) as category_id,
        nullif(payload ->> 'stageId', '') as stage_id,
        cast(nullif(payload ->> 'parentId2', '') as bigint) as deal_id,
        cast(nullif(payload ->> 'assignedById', '') as bigint) as assigned_user_id,
        cast(nullif(payload ->> 'opportunity', '') as numeric(18, 2)) as amount,
        nullif(payload ->> 'currencyId', '') as currency,
        {{ iso_to_utc("payload ->> 'createdTime'") }} as created_at,
        {{ iso_to_utc("payload ->> 'updatedTime'") }} as updated_at,
        {{ iso_to_utc("payload ->> 'closedate'") }} as due_at,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from source

)

select * from renamed
