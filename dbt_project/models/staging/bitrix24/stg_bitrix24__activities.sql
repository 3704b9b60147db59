with source as (

    select * from {{ source('raw_bitrix24', 'activities') }}

),

renamed as (

    select
        'bitrix24' as source_system,
        _account as account,
        id as activity_id,
        cast(nullif(payload ->> 'OWNER_TYPE_ID', '') as integer) as owner_type_id,
        cast(nullif(payload ->> 'OWNER_ID', '') as bigint) as owner_id,
        cast(nullif(payload ->> 'TYPE_ID', '') as integer) as type_id,
        nullif(payload ->> 'PROVIDER_ID', '') as provider_id,
        nullif(payload ->> 'PROVIDER_TYPE_ID', '') as provider_type_id,
        nullif(payload ->> 'SUBJECT', '') as subject,
        cast(nullif(payload ->> 'RESPONSIBLE_ID', '') as bigint) as responsible_user_id,
        cast(nullif(payload ->> 'STATUS', '') as integer) as status,
        cast(nullif(payload ->> 'DIRECTION', '') as integer) as direction,
        {{ yn_to_bool("payload ->> 'COMPLETED'") }} as is_completed,
        {{ iso_to_utc("payload ->> 'START_TIME'") }} as start_at,
        {{ iso_to_utc("payload ->> 'END_TIME'") }} as end_at,
        {{ iso_to_utc("payload ->> 'DEADLINE'") }} as deadline_at,
        {{ iso_to_utc("payload ->> 'CREATED'") }} as created_at,
        {{ iso_to_utc("payload ->> 'LAST_UPDATED'") }} as last_updated_at,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from source

)

select * from renamed
