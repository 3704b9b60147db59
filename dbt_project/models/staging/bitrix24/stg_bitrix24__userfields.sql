with source as (

    select * from {{ source('raw_bitrix24', 'userfields') }}

),

parsed as (

    select *, {{ parse_payload([('ENTITY_ID', 'VARCHAR'), ('FIELD_NAME', 'VARCHAR'), ('USER_TYPE_ID', 'VARCHAR'), ('MULTIPLE', 'VARCHAR'), ('LIST', 'JSON')]) }} as j
    from source

),

renamed as (

    select
        'bitrix24' as source_system,
        _account as account,
        id as userfield_id,
        nullif({{ jv('ENTITY_ID') }}, '') as entity_id,
        nullif({{ jv('FIELD_NAME') }}, '') as field_name,
        nullif({{ jv('USER_TYPE_ID') }}, '') as field_type,
        {{ yn_to_bool(jv('MULTIPLE')) }} as is_multiple,
        {{ jjson('LIST') }} as enum_list,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from parsed

)

select * from renamed
