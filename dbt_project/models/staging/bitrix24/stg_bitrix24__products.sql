with source as (

    select * from {{ source('raw_bitrix24', 'products') }}

),

renamed as (

    select
        'bitrix24' as source_system,
        _account as account,
        id as product_id,
        nullif(payload ->> 'NAME', '') as product_name,
        cast(nullif(payload ->> 'SECTION_ID', '') as bigint) as section_id,
        nullif(payload ->> 'PROPERTY_PROJECT', '') as project_name,
        nullif(payload ->> 'PROPERTY_BUILDING', '') as building,
        cast(nullif(payload ->> 'PROPERTY_ROOMS', '') as integer) as rooms,
        cast(nullif(payload ->> 'PROPERTY_FLOOR', '') as integer) as floor,
        cast(nullif(payload ->> 'PRICE', '') as numeric(18, 2)) as price,
        cast(nullif(payload ->> 'PROPERTY_AREA', '') as double precision) as area_m2,
        {{ iso_to_utc("payload ->> 'DATE_CREATE'") }} as created_at,
        {{ iso_to_utc("payload ->> 'TIMESTAMP_X'") }} as modified_at,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from source

)

select * from renamed
