with source as (

    select * from {{ source_or_empty('raw_amocrm', 'tasks', [('_account', 'varchar'), ('id', 'bigint'), ('_is_deleted', 'boolean'), ('_extracted_at', 'timestamp'), ('_batch_id', 'varchar'), ('payload', 'json')]) }}

),

parsed as (

    select *, {{ parse_payload([('entity_id', 'VARCHAR'), ('entity_type', 'VARCHAR'), ('task_type_id', 'VARCHAR'), ('responsible_user_id', 'VARCHAR'), ('text', 'VARCHAR'), ('duration', 'VARCHAR'), ('is_completed', 'VARCHAR'), ('complete_till', 'VARCHAR'), ('created_at', 'VARCHAR'), ('updated_at', 'VARCHAR')]) }} as j
    from source

),

renamed as (

    select
        'amocrm' as source_system,
        _account as account,
        id as task_id,
        cast(nullif({{ jv('entity_id') }}, '') as bigint) as entity_id,
        nullif({{ jv('entity_type') }}, '') as entity_type,
        cast(nullif({{ jv('task_type_id') }}, '') as bigint) as task_type_id,
        cast(nullif({{ jv('responsible_user_id') }}, '') as bigint) as responsible_user_id,
        nullif({{ jv('text') }}, '') as task_text,
        cast(nullif({{ jv('duration') }}, '') as integer) as duration_seconds,
        {{ yn_to_bool(jv('is_completed')) }} as is_completed,
        {{ unix_to_utc("nullif(" ~ jv('complete_till') ~ ", '')") }} as complete_till_at,
        {{ unix_to_utc("nullif(" ~ jv('created_at') ~ ", '')") }} as created_at,
        {{ unix_to_utc("nullif(" ~ jv('updated_at') ~ ", '')") }} as updated_at,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from parsed

)

select * from renamed
