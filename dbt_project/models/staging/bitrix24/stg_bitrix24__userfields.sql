with source as (

    select * from {{ source('raw_bitrix24', 'userfields') }}

),

renamed as (

    select
        'bitrix24' as source_system,
        _account as account,
        id as userfield_id,
        nullif(payload ->> 'ENTITY_ID', '') as entity_id,
        nullif(payload ->> 'FIELD_NAME', '') as field_name,
        nullif(payload ->> 'USER_TYPE_ID', '') as field_type,
        {{ yn_to_bool("payload ->> 'MULTIPLE'") }} as is_multiple,
        payload -> 'LIST' as enum_list,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from source

)

select * from renamed
