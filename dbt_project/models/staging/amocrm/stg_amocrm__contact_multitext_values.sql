{#- One row per value of a contact's multitext custom field (PHONE, EMAIL, ...): amoCRM stores a
    client's phones and e-mails as contact fields, each with several values. value_position is the
    value's place in the field (1 = first). -#}
with source as (

    select * from {{ source_or_empty('raw_amocrm', 'contacts', [('_account', 'varchar'), ('id', 'bigint'), ('_is_deleted', 'boolean'), ('_extracted_at', 'timestamp'), ('_batch_id', 'varchar'), ('payload', 'json')]) }}

),

fields as (

    select
        source._account as account,
        source.id as contact_id,
        arr.elem ->> 'field_code' as field_code,
        arr.elem ->> 'field_type' as field_type,
        arr.elem -> 'values' as field_values
    from source,
        {{ json_array_elements("source.payload -> 'custom_fields_values'") }}
    where not source._is_deleted

),

renamed as (

    select
        'amocrm' as source_system,
        fields.account,
        fields.contact_id,
        fields.field_code,
        nullif(trim(arr.elem ->> 'value'), '') as field_value,
        arr.elem ->> 'enum_code' as enum_code,
        cast(arr.idx as integer) as value_position
    from fields,
        {{ json_array_elements_ordinal("fields.field_values") }}
    where fields.field_type = 'multitext'

)

select * from renamed
