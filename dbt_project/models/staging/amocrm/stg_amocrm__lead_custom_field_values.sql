{#- One row per (lead, custom field): the first value of amoCRM's custom_fields_values array. -#}
with source as (

    select * from {{ source_or_empty('raw_amocrm', 'leads', [('_account', 'varchar'), ('id', 'bigint'), ('_is_deleted', 'boolean'), ('_extracted_at', 'timestamp'), ('_batch_id', 'varchar'), ('payload', 'json')]) }}

),

renamed as (

    select
        'amocrm' as source_system,
        source._account as account,
        source.id as lead_id,
        cast(arr.elem ->> 'field_id' as bigint) as field_id,
        arr.elem ->> 'field_code' as field_code,
        arr.elem ->> 'field_name' as field_name,
        arr.elem ->> 'field_type' as field_type,
        arr.elem -> 'values' -> 0 ->> 'value' as field_value,
        cast(arr.elem -> 'values' -> 0 ->> 'enum_id' as bigint) as enum_id
    from source,
        {{ json_array_elements("source.payload -> 'custom_fields_values'") }}
    where (source.payload ->> 'custom_fields_values') is not null
        and (source.payload ->> 'custom_fields_values') <> 'null'

)

select * from renamed
