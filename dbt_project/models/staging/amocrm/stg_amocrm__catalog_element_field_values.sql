{#- One row per (catalog element, custom field): the first value of its custom_fields_values. -#}
with source as (

    select * from {{ source_or_empty('raw_amocrm', 'catalog_elements', [('catalog_id', 'bigint'), ('_account', 'varchar'), ('id', 'bigint'), ('_is_deleted', 'boolean'), ('_extracted_at', 'timestamp'), ('_batch_id', 'varchar'), ('payload', 'json')]) }}

),

renamed as (

    select
        'amocrm' as source_system,
        source._account as account,
        source.id as element_id,
        source.catalog_id,
        cast(arr.elem ->> 'field_id' as bigint) as field_id,
        arr.elem ->> 'field_code' as field_code,
        arr.elem ->> 'field_name' as field_name,
        arr.elem ->> 'field_type' as field_type,
        arr.elem -> 'values' -> 0 ->> 'value' as field_value
    from source,
        {{ json_array_elements("source.payload -> 'custom_fields_values'") }}

)

select * from renamed
