with source as (

    select * from {{ source_or_empty('raw_amocrm', 'catalog_elements', [('catalog_id', 'bigint'), ('_account', 'varchar'), ('id', 'bigint'), ('_is_deleted', 'boolean'), ('_extracted_at', 'timestamp'), ('_batch_id', 'varchar'), ('payload', 'json')]) }}

),

parsed as (

    select *, {{ parse_payload([('name', 'VARCHAR'), ('custom_fields_values', 'JSON'), ('created_at', 'VARCHAR'), ('updated_at', 'VARCHAR')]) }} as j
    from source

),

renamed as (

    select
        'amocrm' as source_system,
        _account as account,
        id as element_id,
        catalog_id as catalog_id,
        nullif({{ jv('name') }}, '') as element_name,
        {{ jjson('custom_fields_values') }} as custom_fields_values,
        {{ unix_to_utc("nullif(" ~ jv('created_at') ~ ", '')") }} as created_at,
        {{ unix_to_utc("nullif(" ~ jv('updated_at') ~ ", '')") }} as updated_at,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from parsed

)

select * from renamed
