with source as (

    select * from {{ source('raw_bitrix24', 'contacts') }}

),

parsed as (

    select *, {{ parse_payload([('NAME', 'VARCHAR'), ('LAST_NAME', 'VARCHAR'), ('SOURCE_ID', 'VARCHAR'), ('ASSIGNED_BY_ID', 'VARCHAR'), ('LEAD_ID', 'VARCHAR'), ('COMPANY_ID', 'VARCHAR'), ('PHONE', 'JSON'), ('EMAIL', 'JSON'), ('DATE_CREATE', 'VARCHAR'), ('DATE_MODIFY', 'VARCHAR')]) }} as j
    from source

),

renamed as (

    select
        'bitrix24' as source_system,
        _account as account,
        id as contact_id,
        nullif({{ jv('NAME') }}, '') as first_name,
        nullif({{ jv('LAST_NAME') }}, '') as last_name,
        nullif({{ jv('SOURCE_ID') }}, '') as source_code,
        cast(nullif({{ jv('ASSIGNED_BY_ID') }}, '') as bigint) as assigned_user_id,
        cast(nullif({{ jv('LEAD_ID') }}, '') as bigint) as lead_id,
        cast(nullif({{ jv('COMPANY_ID') }}, '') as bigint) as company_id,
        {{ jjson('PHONE') }} as phones,
        {{ jjson('EMAIL') }} as emails,
        {{ iso_to_utc(jv('DATE_CREATE')) }} as created_at,
        {{ iso_to_utc(jv('DATE_MODIFY')) }} as modified_at,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from parsed

)

select * from renamed
