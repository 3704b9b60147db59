with source as (

    select * from {{ source_or_empty('raw_amocrm', 'events', [('type', 'varchar'), ('entity_type', 'varchar'), ('entity_id', 'bigint'), ('_account', 'varchar'), ('id', 'varchar'), ('_is_deleted', 'boolean'), ('_extracted_at', 'timestamp'), ('_batch_id', 'varchar'), ('payload', 'json')]) }}

),

parsed as (

    select *, {{ parse_payload([('value_after', 'JSON'), ('value_before', 'JSON'), ('created_by', 'VARCHAR'), ('created_at', 'VARCHAR')]) }} as j
    from source

),

renamed as (

    select
        'amocrm' as source_system,
        _account as account,
        id as event_id,
        type as event_type,
        entity_type as entity_type,
        entity_id as entity_id,
        cast(nullif({{ jjson('value_after') }} -> 0 -> 'lead_status' ->> 'id', '') as bigint) as status_id_after,
        cast(nullif({{ jjson('value_after') }} -> 0 -> 'lead_status' ->> 'pipeline_id', '') as bigint) as pipeline_id_after,
        cast(nullif({{ jjson('value_before') }} -> 0 -> 'lead_status' ->> 'id', '') as bigint) as status_id_before,
        cast(nullif({{ jjson('value_before') }} -> 0 -> 'lead_status' ->> 'pipeline_id', '') as bigint) as pipeline_id_before,
        cast(nullif({{ jjson('value_after') }} -> 0 -> 'responsible_user' ->> 'id', '') as bigint) as responsible_user_id_after,
        cast(nullif({{ jv('created_by') }}, '') as bigint) as created_by_user_id,
        {{ unix_to_utc("nullif(" ~ jv('created_at') ~ ", '')") }} as created_at,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from parsed

)

select * from renamed
