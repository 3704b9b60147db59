with source as (

    select * from {{ source('raw_bitrix24', 'departments') }}

),

parsed as (

    select *, {{ parse_payload([('NAME', 'VARCHAR'), ('PARENT', 'VARCHAR'), ('UF_HEAD', 'VARCHAR'), ('SORT', 'VARCHAR')]) }} as j
    from source

),

renamed as (

    select
        'bitrix24' as source_system,
        _account as account,
        id as department_id,
        nullif({{ jv('NAME') }}, '') as department_name,
        cast(nullif({{ jv('PARENT') }}, '') as bigint) as parent_department_id,
        cast(nullif({{ jv('UF_HEAD') }}, '') as bigint) as head_user_id,
        cast(nullif({{ jv('SORT') }}, '') as integer) as sort_order,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from parsed

)

select * from renamed
