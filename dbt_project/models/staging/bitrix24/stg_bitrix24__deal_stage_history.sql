with source as (

    select * from {{ source('raw_bitrix24', 'deal_stage_history') }}

),

renamed as (

    select
        'bitrix24' as source_system,
        _account as account,
        id as stage_history_id,
        cast(nullif(payload ->> 'TYPE_ID', '') as integer) as history_type_id,
        cast(nullif(payload ->> 'OWNER_ID', '') as bigint) as deal_id,
        cast(nullif(payload ->> 'CATEGORY_ID', '') as bigint) as category_id,
        nullif(payload ->> 'STAGE_ID', '') as stage_id,
        nullif(payload ->> 'STAGE_SEMANTIC_ID', '') as stage_semantic_id,
        {{ iso_to_utc("payload ->> 'CREATED_TIME'") }} as entered_at,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from source

)

select * from renamed
