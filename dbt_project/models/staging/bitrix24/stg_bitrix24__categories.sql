with source as (

    select * from {{ source('raw_bitrix24', 'categories') }}

),

renamed as (

    select
        'bitrix24' as source_system,
        _account as account,
        id as category_id,
        cast(nullif(payload ->> 'entityTypeId', '') as integer) as entity_type_id,
        nullif(payload ->> 'name', '') as category_name,
        cast(nullif(payload ->> 'sort', '') as integer) as sort_order,
        {{ yn_to_bool("payload ->> 'isDefault'") }} as is_default,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from source

)

select * from renamed
