with source as (

    select * from {{ source('raw_bitrix24', 'leads') }}

),

renamed as (

    select
        'bitrix24' as source_system,
        _account as account,
        id as lead_id,
        nullif(payload ->> 'TITLE', '') as title,
        nullif(payload ->> 'STATUS_ID', '') as status_id,
        nullif(payload ->> 'STATUS_SEMANTIC_ID', '') as status_semantic_id,
        nullif(payload ->> 'SOURCE_ID', '') as source_code,
        cast(nullif(payload ->> 'ASSIGNED_BY_ID', '') as bigint) as assigned_user_id,
        cast(nullif(payload ->> 'CREATED_BY_ID', '') as bigint) as created_by_user_id,
        cast(nullif(payload ->> 'CONTACT_ID', '') as bigint) as contact_id,
        cast(nullif(payload ->> 'COMPANY_ID', '') as bigint) as company_id,
        nullif(payload ->> 'NAME', '') as first_name,
        nullif(payload ->> 'LAST_NAME', '') as last_name,
        nullif(payload ->> 'COMMENTS', '') as comments,
        nullif(payload ->> 'UTM_SOURCE', '') as utm_source,
        nullif(payload ->> 'UTM_MEDIUM', '') as utm_medium,
        nullif(payload ->> 'UTM_CAMPAIGN', '') as utm_campaign,
        nullif(payload ->> 'UTM_CONTENT', '') as utm_content,
        nullif(payload ->> 'UTM_TERM', '') as utm_term,
        cast(nullif(payload ->> 'UF_CRM_JUNK_REASON', '') as bigint) as junk_reason_enum_id,
        cast(nullif(payload ->> 'UF_CRM_LEAD_CLASS', '') as bigint) as lead_class_enum_id,
        cast(nullif(payload ->> 'UF_CRM_PROJECT', '') as bigint) as project_enum_id,
        payload -> 'PHONE' as phones,
        payload -> 'EMAIL' as emails,
        cast(nullif(payload ->> 'OPPORTUNITY', '') as numeric(18, 2)) as opportunity,
        {{ yn_to_bool("payload ->> 'IS_RETURN_CUSTOMER'") }} as is_return_customer,
        {{ iso_to_utc("payload ->> 'DATE_CREATE'") }} as created_at,
        {{ iso_to_utc("payload ->> 'DATE_MODIFY'") }} as modified_at,
        {{ iso_to_utc("payload ->> 'MOVED_TIME'") }} as moved_at,
        {{ iso_to_utc("payload ->> 'DATE_CLOSED'") }} as closed_at,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from source

)

select * from renamed
