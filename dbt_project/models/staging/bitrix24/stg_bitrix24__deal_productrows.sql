with source as (

    select * from {{ source('raw_bitrix24', 'deal_productrows') }}

),

parsed as (

    select *, {{ parse_payload([('ownerId', 'VARCHAR'), ('ownerType', 'VARCHAR'), ('productId', 'VARCHAR'), ('productName', 'VARCHAR'), ('price', 'VARCHAR'), ('quantity', 'VARCHAR')]) }} as j
    from source

),

renamed as (

    select
        'bitrix24' as source_system,
        _account as account,
        id as productrow_id,
        cast(nullif({{ jv('ownerId') }}, '') as bigint) as deal_id,
        nullif({{ jv('ownerType') }}, '') as owner_type,
        cast(nullif({{ jv('productId') }}, '') as bigint) as product_id,
        nullif({{ jv('productName') }}, '') as product_name,
        cast(nullif({{ jv('price') }}, '') as numeric(18, 2)) as price,
        cast(nullif({{ jv('quantity') }}, '') as double precision) as quantity,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from parsed

)

select * from renamed
