{#- The lead part of every inquiry (обращение), both CRMs: who, where from, which project, how the
    CRM classified or rejected it. amoCRM's single object contributes its lead part here. -#}
with

bitrix24_enums as (

    select * from {{ ref('int_crm_enum_values') }}
    where source_system = 'bitrix24' and entity_id = 'CRM_LEAD'

),

bitrix24_leads as (

    select
        leads.source_system,
        leads.account,
        leads.lead_id,
        leads.title as lead_title,
        leads.first_name,
        leads.comments,
        leads.status_id,
        leads.source_code,
        leads.utm_source,
        leads.utm_medium,
        leads.utm_campaign,
        leads.assigned_user_id as manager_id,
        leads.contact_id,
        {{ json_first_text("leads.phones") }} as first_phone_json,
        project_enum.enum_value as project_label,
        junk_enum.enum_value as crm_junk_reason,
        class_enum.enum_value as classification,
        leads.created_at,
        leads.modified_at
    from {{ ref('stg_bitrix24__leads') }} as leads
    left join bitrix24_enums as project_enum
        on leads.account = project_enum.account
        and project_enum.field_name = 'UF_CRM_PROJECT'
        and leads.project_enum_id = project_enum.enum_id
    left join bitrix24_enums as junk_enum
        on leads.account = junk_enum.account
        and junk_enum.field_name = 'UF_CRM_JUNK_REASON'
        and leads.junk_reason_enum_id = junk_enum.enum_id
    left join bitrix24_enums as class_enum
        on leads.account = class_enum.account
        and class_enum.field_name = 'UF_CRM_LEAD_CLASS'
        and leads.lead_class_enum_id = class_enum.enum_id
    where not leads.is_deleted

),

leads as (

    select * from bitrix24_leads

),

channel_map as (

    select * from {{ ref('source_channels') }}

)

select
    leads.source_system,
    leads.account,
    leads.lead_id,
    leads.source_system || ':' || leads.account || ':' || cast(leads.lead_id as varchar) as lead_key,
    leads.manager_id,
    users.user_key as manager_key,
    users.department_id,
    users.department_key,
    users.department_name,
    users.branch,
    leads.contact_id,
    leads.lead_title,
    leads.first_name,
    leads.comments,
    leads.status_id,
    leads.source_code,
    case
        when leads.source_code is null then 'unknown'
        else coalesce(channel_map.channel, 'unmapped')
    end as channel,
    leads.utm_source,
    leads.utm_medium,
    leads.utm_campaign,
    leads.first_phone_json ->> 'VALUE' as phone,
    leads.project_label,
    projects.project_code,
    leads.crm_junk_reason,
    leads.classification,
    leads.created_at,
    leads.modified_at
from leads
left join channel_map
    on leads.source_system = channel_map.source_system
    and leads.source_code = channel_map.source_code
left join {{ ref('int_users') }} as users
    on leads.source_system = users.source_system
    and leads.account = users.account
    and leads.manager_id = users.user_id
left join {{ ref('projects') }} as projects
    on leads.project_label = projects.project_name
