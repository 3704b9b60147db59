with source as (

    select * from {{ source('raw_bitrix24', 'statuses') }}

),

parsed as (

    select *, {{ parse_payload([('ENTITY_ID', 'VARCHAR'), ('STATUS_ID', 'VARCHAR'), ('NAME', 'VARCHAR'), ('CATEGORY_ID', 'VARCHAR'), ('SEMANTICS', 'VARCHAR'), ('SORT', 'VARCHAR'), ('SYSTEM', 'VARCHAR')]) }} as j
    from source

),

renamed as (

    select
        'bitrix24' as source_system,
        _account as account,
        id as status_row_id,
        nullif({{ jv('ENTITY_ID') }}, '') as entity_id,
        nullif({{ jv('STATUS_ID') }}, '') as status_id,
        nullif({{ jv('NAME') }}, '') as status_name,
        cast(nullif({{ jv('CATEGORY_ID') }}, '') as bigint) as category_id,
        nullif({{ jv('SEMANTICS') }}, '') as semantics,
        cast(nullif({{ jv('SORT') }}, '') as integer) as sort_order,
        {{ yn_to_bool(jv('SYSTEM')) }} as is_system,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from parsed

)

select * from renamed
