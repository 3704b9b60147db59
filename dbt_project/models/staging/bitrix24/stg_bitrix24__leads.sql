with source as (

    select * from {{ source('raw_bitrix24', 'leads') }}
    {#- an incremental run reads only the rows landed since (macros/incremental.sql) #}
    where {{ changed_since_watermark('_extracted_at') }}

),

parsed as (

    select *, {{ parse_payload([('TITLE', 'VARCHAR'), ('STATUS_ID', 'VARCHAR'), ('STATUS_SEMANTIC_ID', 'VARCHAR'), ('SOURCE_ID', 'VARCHAR'), ('ASSIGNED_BY_ID', 'VARCHAR'), ('CREATED_BY_ID', 'VARCHAR'), ('CONTACT_ID', 'VARCHAR'), ('COMPANY_ID', 'VARCHAR'), ('NAME', 'VARCHAR'), ('LAST_NAME', 'VARCHAR'), ('COMMENTS', 'VARCHAR'), ('UTM_SOURCE', 'VARCHAR'), ('UTM_MEDIUM', 'VARCHAR'), ('UTM_CAMPAIGN', 'VARCHAR'), ('UTM_CONTENT', 'VARCHAR'), ('UTM_TERM', 'VARCHAR'), ('UF_CRM_JUNK_REASON', 'VARCHAR'), ('UF_CRM_LEAD_CLASS', 'VARCHAR'), ('UF_CRM_PROJECT', 'VARCHAR'), ('PHONE', 'JSON'), ('EMAIL', 'JSON'), ('OPPORTUNITY', 'VARCHAR'), ('IS_RETURN_CUSTOMER', 'VARCHAR'), ('DATE_CREATE', 'VARCHAR'), ('DATE_MODIFY', 'VARCHAR'), ('MOVED_TIME', 'VARCHAR'), ('DATE_CLOSED', 'VARCHAR')]) }} as j
    from source

),

renamed as (

    select
        'bitrix24' as source_system,
        _account as account,
        id as lead_id,
        nullif({{ jv('TITLE') }}, '') as title,
        nullif({{ jv('STATUS_ID') }}, '') as status_id,
        nullif({{ jv('STATUS_SEMANTIC_ID') }}, '') as status_semantic_id,
        nullif({{ jv('SOURCE_ID') }}, '') as source_code,
        cast(nullif({{ jv('ASSIGNED_BY_ID') }}, '') as bigint) as assigned_user_id,
        cast(nullif({{ jv('CREATED_BY_ID') }}, '') as bigint) as created_by_user_id,
        cast(nullif({{ jv('CONTACT_ID') }}, '') as bigint) as contact_id,
        cast(nullif({{ jv('COMPANY_ID') }}, '') as bigint) as company_id,
        nullif({{ jv('NAME') }}, '') as first_name,
        nullif({{ jv('LAST_NAME') }}, '') as last_name,
        nullif({{ jv('COMMENTS') }}, '') as comments,
        nullif({{ jv('UTM_SOURCE') }}, '') as utm_source,
        nullif({{ jv('UTM_MEDIUM') }}, '') as utm_medium,
        nullif({{ jv('UTM_CAMPAIGN') }}, '') as utm_campaign,
        nullif({{ jv('UTM_CONTENT') }}, '') as utm_content,
        nullif({{ jv('UTM_TERM') }}, '') as utm_term,
        cast(nullif({{ jv('UF_CRM_JUNK_REASON') }}, '') as bigint) as junk_reason_enum_id,
        cast(nullif({{ jv('UF_CRM_LEAD_CLASS') }}, '') as bigint) as lead_class_enum_id,
        cast(nullif({{ jv('UF_CRM_PROJECT') }}, '') as bigint) as project_enum_id,
        {{ jjson('PHONE') }} as phones,
        {{ jjson('EMAIL') }} as emails,
        cast(nullif({{ jv('OPPORTUNITY') }}, '') as numeric(18, 2)) as opportunity,
        {{ yn_to_bool(jv('IS_RETURN_CUSTOMER')) }} as is_return_customer,
        {{ iso_to_utc(jv('DATE_CREATE')) }} as created_at,
        {{ iso_to_utc(jv('DATE_MODIFY')) }} as modified_at,
        {{ iso_to_utc(jv('MOVED_TIME')) }} as moved_at,
        {{ iso_to_utc(jv('DATE_CLOSED')) }} as closed_at,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from parsed

)

select * from renamed
