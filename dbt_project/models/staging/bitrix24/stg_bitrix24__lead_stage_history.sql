with source as (

    select * from {{ source('raw_bitrix24', 'lead_stage_history') }}

),

renamed as (

    select
        'bitrix24' as source_system,
        _account as account,
        id as stage_history_id,
        cast(nullif(payload ->> 'TYPE_ID', '') as integer) as history_type_id,
        cast(nullif(payload ->> 'OWNER_ID', '') as bigint) as lead_id,
        nullif(payload ->> 'STATUS_ID', '') as status_id,
        nullif(payload ->> 'STATUS_SEMANTIC_ID', '') as status_semantic_id,
        {{ iso_to_utc("payload ->> 'CREATED_TIME'") }} as entered_at,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from source

)

select * from renamed
