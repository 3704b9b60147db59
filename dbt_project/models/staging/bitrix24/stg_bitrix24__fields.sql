with source as (

    select * from {{ source('raw_bitrix24', 'fields') }}

),

renamed as (

    select
        'bitrix24' as source_system,
        _account as account,
        entity_type,
        field_name,
        payload ->> 'type' as field_type,
        payload ->> 'title' as field_title,
        {{ yn_to_bool("payload ->> 'isMultiple'") }} as is_multiple,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at
    from source

)

select * from renamed
