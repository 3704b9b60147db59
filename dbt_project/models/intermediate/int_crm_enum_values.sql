{#- Labels of enumeration custom fields (Bitrix24 userfield LIST), one row per field value. -#}
with

bitrix24_userfields as (

    select source_system, account, entity_id, field_name, enum_list
    from {{ ref('stg_bitrix24__userfields') }}
    where not is_deleted
        and field_type = 'enumeration'
        and enum_list is not null

),

bitrix24_values as (

    select
        bitrix24_userfields.source_system,
        bitrix24_userfields.account,
        bitrix24_userfields.entity_id,
        bitrix24_userfields.field_name,
        cast(arr.elem ->> 'ID' as bigint) as enum_id,
        arr.elem ->> 'VALUE' as enum_value
    from bitrix24_userfields,
        {{ json_array_elements('bitrix24_userfields.enum_list') }}

)

select * from bitrix24_values
