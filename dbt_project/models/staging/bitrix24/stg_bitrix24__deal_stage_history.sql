with source as (

    select * from {{ source('raw_bitrix24', 'deal_stage_history') }}

),

parsed as (

    select *, {{ parse_payload([('TYPE_ID', 'VARCHAR'), ('OWNER_ID', 'VARCHAR'), ('CATEGORY_ID', 'VARCHAR'), ('STAGE_ID', 'VARCHAR'), ('STAGE_SEMANTIC_ID', 'VARCHAR'), ('CREATED_TIME', 'VARCHAR')]) }} as j
    from source

),

renamed as (

    select
        'bitrix24' as source_system,
        _account as account,
        id as stage_history_id,
        cast(nullif({{ jv('TYPE_ID') }}, '') as integer) as history_type_id,
        cast(nullif({{ jv('OWNER_ID') }}, '') as bigint) as deal_id,
        cast(nullif({{ jv('CATEGORY_ID') }}, '') as bigint) as category_id,
        nullif({{ jv('STAGE_ID') }}, '') as stage_id,
        nullif({{ jv('STAGE_SEMANTIC_ID') }}, '') as stage_semantic_id,
        {{ iso_to_utc(jv('CREATED_TIME')) }} as entered_at,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from parsed

)

select * from renamed
