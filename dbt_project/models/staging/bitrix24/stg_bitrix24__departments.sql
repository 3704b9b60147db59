with source as (

    select * from {{ source('raw_bitrix24', 'departments') }}

),

renamed as (

    select
        'bitrix24' as source_system,
        _account as account,
        id as department_id,
        nullif(payload ->> 'NAME', '') as department_name,
        cast(nullif(payload ->> 'PARENT', '') as bigint) as parent_department_id,
        cast(nullif(payload ->> 'UF_HEAD', '') as bigint) as head_user_id,
        cast(nullif(payload ->> 'SORT', '') as integer) as sort_order,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from source

)

select * from renamed
