with source as (

    select * from {{ source('raw_bitrix24', 'users') }}

),

parsed as (

    select *, {{ parse_payload([('NAME', 'VARCHAR'), ('LAST_NAME', 'VARCHAR'), ('SECOND_NAME', 'VARCHAR'), ('EMAIL', 'VARCHAR'), ('WORK_POSITION', 'VARCHAR'), ('UF_DEPARTMENT', 'JSON'), ('USER_TYPE', 'VARCHAR'), ('ACTIVE', 'VARCHAR'), ('DATE_REGISTER', 'VARCHAR'), ('LAST_LOGIN', 'VARCHAR')]) }} as j
    from source

),

renamed as (

    select
        'bitrix24' as source_system,
        _account as account,
        id as user_id,
        nullif({{ jv('NAME') }}, '') as first_name,
        nullif({{ jv('LAST_NAME') }}, '') as last_name,
        nullif({{ jv('SECOND_NAME') }}, '') as second_name,
        nullif({{ jv('EMAIL') }}, '') as email,
        nullif({{ jv('WORK_POSITION') }}, '') as work_position,
        cast({{ json_first_text(jjson('UF_DEPARTMENT')) }} as bigint) as department_id,
        nullif({{ jv('USER_TYPE') }}, '') as user_type,
        {{ yn_to_bool(jv('ACTIVE')) }} as is_active,
        {{ iso_to_utc(jv('DATE_REGISTER')) }} as registered_at,
        {{ iso_to_utc(jv('LAST_LOGIN')) }} as last_login_at,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from parsed

)

select * from renamed
