{#- Apartments (квартиры) sold through deals: Bitrix24 catalog products on deal product rows. -#}
with

bitrix24_products as (

    select * from {{ ref('stg_bitrix24__products') }}
    where not is_deleted

),

bitrix24_rows as (

    select * from {{ ref('stg_bitrix24__deal_productrows') }}
    where not is_deleted and owner_type = 'D'

),

bitrix24_apartments as (

    select
        bitrix24_products.source_system,
        bitrix24_products.account,
        bitrix24_products.product_id as apartment_id,
        bitrix24_rows.deal_id,
        bitrix24_products.product_name as apartment_name,
        bitrix24_products.project_name,
        bitrix24_products.building,
        bitrix24_products.rooms,
        bitrix24_products.floor,
        bitrix24_products.area_m2,
        cast(bitrix24_products.price as double precision) as price
    from bitrix24_products
    left join bitrix24_rows
        on bitrix24_products.account = bitrix24_rows.account
        and bitrix24_products.product_id = bitrix24_rows.product_id

)

select
    apartments.*,
    projects.project_code
from bitrix24_apartments as apartments
left join {{ ref('projects') }} as projects
    on apartments.project_name = projects.project_name
