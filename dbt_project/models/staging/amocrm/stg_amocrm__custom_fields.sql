with source as (

    select * from {{ source_or_empty('raw_amocrm', 'custom_fields', [('entity_type', 'varchar'), ('_account', 'varchar'), ('id', 'bigint'), ('_is_deleted', 'boolean'), ('_extracted_at', 'timestamp'), ('_batch_id', 'varchar'), ('payload', 'json')]) }}

),

renamed as (

    select
        'amocrm' as source_system,
        _account as account,
        id as custom_field_id,
        entity_type as entity_type,
        nullif(payload ->> 'name', '') as field_name,
        nullif(payload ->> 'code', '') as field_code,
        nullif(payload ->> 'type', '') as field_type,
        payload -> 'enums' as enums,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from source

)

select * from renamed
