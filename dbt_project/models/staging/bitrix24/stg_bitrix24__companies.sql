with source as (

    select * from {{ source('raw_bitrix24', 'companies') }}

),

parsed as (

    select *, {{ parse_payload([('TITLE', 'VARCHAR'), ('COMPANY_TYPE', 'VARCHAR'), ('ASSIGNED_BY_ID', 'VARCHAR'), ('DATE_CREATE', 'VARCHAR'), ('DATE_MODIFY', 'VARCHAR')]) }} as j
    from source

),

renamed as (

    select
        'bitrix24' as source_system,
        _account as account,
        id as company_id,
        nullif({{ jv('TITLE') }}, '') as company_name,
        nullif({{ jv('COMPANY_TYPE') }}, '') as company_type,
        cast(nullif({{ jv('ASSIGNED_BY_ID') }}, '') as bigint) as assigned_user_id,
        {{ iso_to_utc(jv('DATE_CREATE')) }} as created_at,
        {{ iso_to_utc(jv('DATE_MODIFY')) }} as modified_at,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from parsed

)

select * from renamed
