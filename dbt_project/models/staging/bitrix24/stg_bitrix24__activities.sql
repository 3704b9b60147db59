with source as (

    select * from {{ source('raw_bitrix24', 'activities') }}

),

parsed as (

    select *, {{ parse_payload([('OWNER_TYPE_ID', 'VARCHAR'), ('OWNER_ID', 'VARCHAR'), ('TYPE_ID', 'VARCHAR'), ('PROVIDER_ID', 'VARCHAR'), ('PROVIDER_TYPE_ID', 'VARCHAR'), ('SUBJECT', 'VARCHAR'), ('RESPONSIBLE_ID', 'VARCHAR'), ('STATUS', 'VARCHAR'), ('DIRECTION', 'VARCHAR'), ('COMPLETED', 'VARCHAR'), ('START_TIME', 'VARCHAR'), ('END_TIME', 'VARCHAR'), ('DEADLINE', 'VARCHAR'), ('CREATED', 'VARCHAR'), ('LAST_UPDATED', 'VARCHAR')]) }} as j
    from source

),

renamed as (

    select
        'bitrix24' as source_system,
        _account as account,
        id as activity_id,
        cast(nullif({{ jv('OWNER_TYPE_ID') }}, '') as integer) as owner_type_id,
        cast(nullif({{ jv('OWNER_ID') }}, '') as bigint) as owner_id,
        cast(nullif({{ jv('TYPE_ID') }}, '') as integer) as type_id,
        nullif({{ jv('PROVIDER_ID') }}, '') as provider_id,
        nullif({{ jv('PROVIDER_TYPE_ID') }}, '') as provider_type_id,
        nullif({{ jv('SUBJECT') }}, '') as subject,
        cast(nullif({{ jv('RESPONSIBLE_ID') }}, '') as bigint) as responsible_user_id,
        cast(nullif({{ jv('STATUS') }}, '') as integer) as status,
        cast(nullif({{ jv('DIRECTION') }}, '') as integer) as direction,
        {{ yn_to_bool(jv('COMPLETED')) }} as is_completed,
        {{ iso_to_utc(jv('START_TIME')) }} as start_at,
        {{ iso_to_utc(jv('END_TIME')) }} as end_at,
        {{ iso_to_utc(jv('DEADLINE')) }} as deadline_at,
        {{ iso_to_utc(jv('CREATED')) }} as created_at,
        {{ iso_to_utc(jv('LAST_UPDATED')) }} as last_updated_at,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from parsed

)

select * from renamed
