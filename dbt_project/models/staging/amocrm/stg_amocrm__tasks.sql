with source as (

    select * from {{ source_or_empty('raw_amocrm', 'tasks', [('_account', 'varchar'), ('id', 'bigint'), ('_is_deleted', 'boolean'), ('_extracted_at', 'timestamp'), ('_batch_id', 'varchar'), ('payload', 'json')]) }}

),

renamed as (

    select
        'amocrm' as source_system,
        _account as account,
        id as task_id,
        cast(nullif(payload ->> 'entity_id', '') as bigint) as entity_id,
        nullif(payload ->> 'entity_type', '') as entity_type,
        cast(nullif(payload ->> 'task_type_id', '') as bigint) as task_type_id,
        cast(nullif(payload ->> 'responsible_user_id', '') as bigint) as responsible_user_id,
        nullif(payload ->> 'text', '') as task_text,
        cast(nullif(payload ->> 'duration', '') as integer) as duration_seconds,
        {{ yn_to_bool("payload ->> 'is_completed'") }} as is_completed,
        {{ unix_to_utc("nullif(payload ->> 'complete_till', '')") }} as complete_till_at,
        {{ unix_to_utc("nullif(payload ->> 'created_at', '')") }} as created_at,
        {{ unix_to_utc("nullif(payload ->> 'updated_at', '')") }} as updated_at,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from source

)

select * from renamed
