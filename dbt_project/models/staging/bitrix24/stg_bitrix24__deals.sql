with source as (

    select * from {{ source('raw_bitrix24', 'deals') }}

),

renamed as (

    select
        'bitrix24' as source_system,
        _account as account,
        id as deal_id,
        nullif(payload ->> 'TITLE', '') as title,
        nullif(payload ->> 'TYPE_ID', '') as deal_type,
        cast(nullif(payload ->> 'CATEGORY_ID', '') as bigint) as category_id,
        nullif(payload ->> 'STAGE_ID', '') as stage_id,
        nullif(payload ->> 'STAGE_SEMANTIC_ID', '') as stage_semantic_id,
        cast(nullif(payload ->> 'LEAD_ID', '') as bigint) as lead_id,
        cast(nullif(payload ->> 'CONTACT_ID', '') as bigint) as contact_id,
        cast(nullif(payload ->> 'COMPANY_ID', '') as bigint) as company_id,
        cast(nullif(payload ->> 'ASSIGNED_BY_ID', '') as bigint) as assigned_user_id,
        nullif(payload ->> 'SOURCE_ID', '') as source_code,
        nullif(payload ->> 'UTM_SOURCE', '') as utm_source,
        nullif(payload ->> 'UTM_MEDIUM', '') as utm_medium,
        nullif(payload ->> 'UTM_CAMPAIGN', '') as utm_campaign,
        cast(nullif(payload ->> 'UF_CRM_PAYMENT_FORM', '') as bigint) as payment_form_enum_id,
        cast(nullif(payload ->> 'UF_CRM_PROJECT', '') as bigint) as project_enum_id,
        cast(nullif(payload ->> 'UF_CRM_LOSS_REASON', '') as bigint) as loss_reason_enum_id,
        cast(nullif(payload ->> 'OPPORTUNITY', '') as numeric(18, 2)) as opportunity,
        cast(nullif(payload ->> 'UF_CRM_AREA', '') as double precision) as area_m2,
        nullif(payload ->> 'CURRENCY_ID', '') as currency,
        {{ yn_to_bool("payload ->> 'CLOSED'") }} as is_closed,
        {{ yn_to_bool("payload ->> 'IS_NEW'") }} as is_new,
        cast(substr(nullif(payload ->> 'UF_CRM_CONTRACT_DATE', ''), 1, 10) as date) as contract_date,
        {{ iso_to_utc("payload ->> 'DATE_CREATE'") }} as created_at,
        {{ iso_to_utc("payload ->> 'DATE_MODIFY'") }} as modified_at,
        {{ iso_to_utc("payload ->> 'MOVED_TIME'") }} as moved_at,
        {{ iso_to_utc("payload ->> 'CLOSEDATE'") }} as close_at,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from source

)

select * from renamed
