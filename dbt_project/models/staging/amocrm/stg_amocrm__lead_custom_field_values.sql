{#- One row per (lead, custom field): the first value of amoCRM's custom_fields_values array. -#}
with source as (

    select * from {{ source_or_empty('raw_amocrm', 'leads', [('_account', 'varchar'), ('id', 'bigint'), ('_is_deleted', 'boolean'), ('_extracted_at', 'timestamp'), ('_batch_id', 'varchar'), ('payload', 'json')]) }}
    {#- an incremental run reads only the rows landed since (macros/incremental.sql) #}
    where {{ changed_since_watermark('_extracted_at') }}

),

renamed as (

    select
        'amocrm' as source_system,
        source._account as account,
        source.id as lead_id,
        cast({{ jrec('field_id') }} as bigint) as field_id,
        {{ jrec('field_code') }} as field_code,
        {{ jrec('field_name') }} as field_name,
        {{ jrec('field_type') }} as field_type,
        {{ jrec('values.0.value') }} as field_value,
        cast({{ jrec('values.0.enum_id') }} as bigint) as enum_id,
        source._extracted_at as extracted_at
    from source,
        {{ json_array_records("source.payload -> 'custom_fields_values'", {
            'field_id': 'VARCHAR', 'field_code': 'VARCHAR', 'field_name': 'VARCHAR', 'field_type': 'VARCHAR',
            'values': [{'value': 'VARCHAR', 'enum_id': 'VARCHAR'}]}) }}

)

select * from renamed
