with source as (

    select * from {{ source('raw_bitrix24', 'companies') }}

),

renamed as (

    select
        'bitrix24' as source_system,
        _account as account,
        id as company_id,
        nullif(payload ->> 'TITLE', '') as company_name,
        nullif(payload ->> 'COMPANY_TYPE', '') as company_type,
        cast(nullif(payload ->> 'ASSIGNED_BY_ID', '') as bigint) as assigned_user_id,
        {{ iso_to_utc("payload ->> 'DATE_CREATE'") }} as created_at,
        {{ iso_to_utc("payload ->> 'DATE_MODIFY'") }} as modified_at,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from source

)

select * from renamed
