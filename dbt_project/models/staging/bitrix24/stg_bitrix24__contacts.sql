with source as (

    select * from {{ source('raw_bitrix24', 'contacts') }}

),

renamed as (

    select
        'bitrix24' as source_system,
        _account as account,
        id as contact_id,
        nullif(payload ->> 'NAME', '') as first_name,
        nullif(payload ->> 'LAST_NAME', '') as last_name,
        nullif(payload ->> 'SOURCE_ID', '') as source_code,
        cast(nullif(payload ->> 'ASSIGNED_BY_ID', '') as bigint) as assigned_user_id,
        cast(nullif(payload ->> 'LEAD_ID', '') as bigint) as lead_id,
        cast(nullif(payload ->> 'COMPANY_ID', '') as bigint) as company_id,
        payload -> 'PHONE' as phones,
        {{ iso_to_utc("payload ->> 'DATE_CREATE'") }} as created_at,
        {{ iso_to_utc("payload ->> 'DATE_MODIFY'") }} as modified_at,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from source

)

select * from renamed
