with source as (

    select * from {{ source_or_empty('raw_amocrm', 'custom_fields', [('entity_type', 'varchar'), ('_account', 'varchar'), ('id', 'bigint'), ('_is_deleted', 'boolean'), ('_extracted_at', 'timestamp'), ('_batch_id', 'varchar'), ('payload', 'json')]) }}

),

parsed as (

    select *, {{ parse_payload([('name', 'VARCHAR'), ('code', 'VARCHAR'), ('type', 'VARCHAR'), ('enums', 'JSON')]) }} as j
    from source

),

renamed as (

    select
        'amocrm' as source_system,
        _account as account,
        id as custom_field_id,
        entity_type as entity_type,
        nullif({{ jv('name') }}, '') as field_name,
        nullif({{ jv('code') }}, '') as field_code,
        nullif({{ jv('type') }}, '') as field_type,
        {{ jjson('enums') }} as enums,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from parsed

)

select * from renamed
