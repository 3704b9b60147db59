with source as (

    select * from {{ source('raw_bitrix24', 'products') }}

),

parsed as (

    select *, {{ parse_payload([('NAME', 'VARCHAR'), ('SECTION_ID', 'VARCHAR'), ('PROPERTY_PROJECT', 'VARCHAR'), ('PROPERTY_BUILDING', 'VARCHAR'), ('PROPERTY_ROOMS', 'VARCHAR'), ('PROPERTY_FLOOR', 'VARCHAR'), ('PRICE', 'VARCHAR'), ('PROPERTY_AREA', 'VARCHAR'), ('DATE_CREATE', 'VARCHAR'), ('TIMESTAMP_X', 'VARCHAR')]) }} as j
    from source

),

renamed as (

    select
        'bitrix24' as source_system,
        _account as account,
        id as product_id,
        nullif({{ jv('NAME') }}, '') as product_name,
        cast(nullif({{ jv('SECTION_ID') }}, '') as bigint) as section_id,
        nullif({{ jv('PROPERTY_PROJECT') }}, '') as project_name,
        nullif({{ jv('PROPERTY_BUILDING') }}, '') as building,
        cast(nullif({{ jv('PROPERTY_ROOMS') }}, '') as integer) as rooms,
        cast(nullif({{ jv('PROPERTY_FLOOR') }}, '') as integer) as floor,
        cast(nullif({{ jv('PRICE') }}, '') as numeric(18, 2)) as price,
        cast(nullif({{ jv('PROPERTY_AREA') }}, '') as double precision) as area_m2,
        {{ iso_to_utc(jv('DATE_CREATE')) }} as created_at,
        {{ iso_to_utc(jv('TIMESTAMP_X')) }} as modified_at,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from parsed

)

select * from renamed
