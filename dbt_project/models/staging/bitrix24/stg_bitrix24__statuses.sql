with source as (

    select * from {{ source('raw_bitrix24', 'statuses') }}

),

renamed as (

    select
        'bitrix24' as source_system,
        _account as account,
        id as status_row_id,
        nullif(payload ->> 'ENTITY_ID', '') as entity_id,
        nullif(payload ->> 'STATUS_ID', '') as status_id,
        nullif(payload ->> 'NAME', '') as status_name,
        cast(nullif(payload ->> 'CATEGORY_ID', '') as bigint) as category_id,
        nullif(payload ->> 'SEMANTICS', '') as semantics,
        cast(nullif(payload ->> 'SORT', '') as integer) as sort_order,
        {{ yn_to_bool("payload ->> 'SYSTEM'") }} as is_system,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from source

)

select * from renamed
