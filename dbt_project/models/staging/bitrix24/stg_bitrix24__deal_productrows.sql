with source as (

    select * from {{ source('raw_bitrix24', 'deal_productrows') }}

),

renamed as (

    select
        'bitrix24' as source_system,
        _account as account,
        id as productrow_id,
        cast(nullif(payload ->> 'ownerId', '') as bigint) as deal_id,
        nullif(payload ->> 'ownerType', '') as owner_type,
        cast(nullif(payload ->> 'productId', '') as bigint) as product_id,
        nullif(payload ->> 'productName', '') as product_name,
        cast(nullif(payload ->> 'price', '') as numeric(18, 2)) as price,
        cast(nullif(payload ->> 'quantity', '') as double precision) as quantity,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from source

)

select * from renamed
