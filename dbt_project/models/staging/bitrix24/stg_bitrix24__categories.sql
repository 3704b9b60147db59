with source as (

    select * from {{ source('raw_bitrix24', 'categories') }}

),

parsed as (

    select *, {{ parse_payload([('entityTypeId', 'VARCHAR'), ('name', 'VARCHAR'), ('sort', 'VARCHAR'), ('isDefault', 'VARCHAR')]) }} as j
    from source

),

renamed as (

    select
        'bitrix24' as source_system,
        _account as account,
        id as category_id,
        cast(nullif({{ jv('entityTypeId') }}, '') as integer) as entity_type_id,
        nullif({{ jv('name') }}, '') as category_name,
        cast(nullif({{ jv('sort') }}, '') as integer) as sort_order,
        {{ yn_to_bool(jv('isDefault')) }} as is_default,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from parsed

)

select * from renamed
