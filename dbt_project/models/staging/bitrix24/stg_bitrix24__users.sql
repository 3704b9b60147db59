with source as (

    select * from {{ source('raw_bitrix24', 'users') }}

),

renamed as (

    select
        'bitrix24' as source_system,
        _account as account,
        id as user_id,
        nullif(payload ->> 'NAME', '') as first_name,
        nullif(payload ->> 'LAST_NAME', '') as last_name,
        nullif(payload ->> 'SECOND_NAME', '') as second_name,
        nullif(payload ->> 'EMAIL', '') as email,
        nullif(payload ->> 'WORK_POSITION', '') as work_position,
        cast({{ json_first_text("payload -> 'UF_DEPARTMENT'") }} as bigint) as department_id,
        nullif(payload ->> 'USER_TYPE', '') as user_type,
        {{ yn_to_bool("payload ->> 'ACTIVE'") }} as is_active,
        {{ iso_to_utc("payload ->> 'DATE_REGISTER'") }} as registered_at,
        {{ iso_to_utc("payload ->> 'LAST_LOGIN'") }} as last_login_at,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from source

)

select * from renamed
