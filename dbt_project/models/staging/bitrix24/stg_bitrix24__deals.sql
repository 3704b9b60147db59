with source as (

    select * from {{ source('raw_bitrix24', 'deals') }}
    {#- an incremental run reads only the rows landed since (macros/incremental.sql) #}
    where {{ changed_since_watermark('_extracted_at') }}

),

parsed as (

    select *, {{ parse_payload([('TITLE', 'VARCHAR'), ('TYPE_ID', 'VARCHAR'), ('CATEGORY_ID', 'VARCHAR'), ('STAGE_ID', 'VARCHAR'), ('STAGE_SEMANTIC_ID', 'VARCHAR'), ('LEAD_ID', 'VARCHAR'), ('CONTACT_ID', 'VARCHAR'), ('COMPANY_ID', 'VARCHAR'), ('ASSIGNED_BY_ID', 'VARCHAR'), ('SOURCE_ID', 'VARCHAR'), ('UTM_SOURCE', 'VARCHAR'), ('UTM_MEDIUM', 'VARCHAR'), ('UTM_CAMPAIGN', 'VARCHAR'), ('UF_CRM_PAYMENT_FORM', 'VARCHAR'), ('UF_CRM_PROJECT', 'VARCHAR'), ('UF_CRM_LOSS_REASON', 'VARCHAR'), ('OPPORTUNITY', 'VARCHAR'), ('UF_CRM_AREA', 'VARCHAR'), ('CURRENCY_ID', 'VARCHAR'), ('CLOSED', 'VARCHAR'), ('IS_NEW', 'VARCHAR'), ('UF_CRM_CONTRACT_DATE', 'VARCHAR'), ('DATE_CREATE', 'VARCHAR'), ('DATE_MODIFY', 'VARCHAR'), ('MOVED_TIME', 'VARCHAR'), ('CLOSEDATE', 'VARCHAR')]) }} as j
    from source

),

renamed as (

    select
        'bitrix24' as source_system,
        _account as account,
        id as deal_id,
        nullif({{ jv('TITLE') }}, '') as title,
        nullif({{ jv('TYPE_ID') }}, '') as deal_type,
        cast(nullif({{ jv('CATEGORY_ID') }}, '') as bigint) as category_id,
        nullif({{ jv('STAGE_ID') }}, '') as stage_id,
        nullif({{ jv('STAGE_SEMANTIC_ID') }}, '') as stage_semantic_id,
        cast(nullif({{ jv('LEAD_ID') }}, '') as bigint) as lead_id,
        cast(nullif({{ jv('CONTACT_ID') }}, '') as bigint) as contact_id,
        cast(nullif({{ jv('COMPANY_ID') }}, '') as bigint) as company_id,
        cast(nullif({{ jv('ASSIGNED_BY_ID') }}, '') as bigint) as assigned_user_id,
        nullif({{ jv('SOURCE_ID') }}, '') as source_code,
        nullif({{ jv('UTM_SOURCE') }}, '') as utm_source,
        nullif({{ jv('UTM_MEDIUM') }}, '') as utm_medium,
        nullif({{ jv('UTM_CAMPAIGN') }}, '') as utm_campaign,
        cast(nullif({{ jv('UF_CRM_PAYMENT_FORM') }}, '') as bigint) as payment_form_enum_id,
        cast(nullif({{ jv('UF_CRM_PROJECT') }}, '') as bigint) as project_enum_id,
        cast(nullif({{ jv('UF_CRM_LOSS_REASON') }}, '') as bigint) as loss_reason_enum_id,
        cast(nullif({{ jv('OPPORTUNITY') }}, '') as numeric(18, 2)) as opportunity,
        cast(nullif({{ jv('UF_CRM_AREA') }}, '') as double precision) as area_m2,
        nullif({{ jv('CURRENCY_ID') }}, '') as currency,
        {{ yn_to_bool(jv('CLOSED')) }} as is_closed,
        {{ yn_to_bool(jv('IS_NEW')) }} as is_new,
        cast(substr(nullif({{ jv('UF_CRM_CONTRACT_DATE') }}, ''), 1, 10) as date) as contract_date,
        {{ iso_to_utc(jv('DATE_CREATE')) }} as created_at,
        {{ iso_to_utc(jv('DATE_MODIFY')) }} as modified_at,
        {{ iso_to_utc(jv('MOVED_TIME')) }} as moved_at,
        {{ iso_to_utc(jv('CLOSEDATE')) }} as close_at,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from parsed

)

select * from renamed
