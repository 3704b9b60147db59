{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ int_leads_delete_recomputed() }}",
    on_schema_change='fail'
) }}
{#- The lead part of every inquiry (обращение), both CRMs: who, where from, which project, how the
    CRM classified or rejected it. amoCRM's single object contributes its lead part here.
    Incremental by lead (macros/int_leads_changes.sql): a run recomputes the leads changed since
    the last one, or all of them when a dimension they copy changed. -#}
{%- set by_lead = stored_fingerprint_is('dims_fingerprint', lead_dimension_rows()) %}
-- depends_on: {{ ref('stg_amocrm__events') }}
with

{% if by_lead %}
changed_leads as (

    {{ int_leads_changes() }}

),
{% endif %}

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
        leads.last_name,
        leads.comments,
        leads.opportunity as amount,
        leads.status_id,
        leads.source_code,
        leads.utm_source,
        leads.utm_medium,
        leads.utm_campaign,
        leads.assigned_user_id as manager_id,
        leads.contact_id,
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
    {%- if by_lead %}
        and (leads.account, leads.lead_id) in (select account, lead_id from changed_leads where source_system = 'bitrix24')
    {%- endif %}

),

amocrm_fields as (

    select
        account, lead_id,
        max(case when field_name = '{{ var("amocrm_lead_fields")["project"] }}' then field_value end) as project_label,
        max(case when field_name = '{{ var("amocrm_lead_fields")["classification"] }}' then field_value end)
            as classification,
        max(case when field_code = 'UTM_SOURCE' then field_value end) as utm_source,
        max(case when field_code = 'UTM_MEDIUM' then field_value end) as utm_medium,
        max(case when field_code = 'UTM_CAMPAIGN' then field_value end) as utm_campaign
    from {{ ref('stg_amocrm__lead_custom_field_values') }}
    {%- if by_lead %}
    where (account, lead_id) in (select account, lead_id from changed_leads where source_system = 'amocrm')
    {%- endif %}
    group by 1, 2

),

amocrm_lost_in_lead_part as (

    select account, lead_id
    from {{ ref('int_stage_transitions') }}
    where source_system = 'amocrm' and stage_part = 'lead' and control_point = 'lost'
    {%- if by_lead %}
        and (account, lead_id) in (select account, lead_id from changed_leads where source_system = 'amocrm')
    {%- endif %}
    group by 1, 2

),

amocrm_lead_contacts as (

    select account, lead_id, contact_id
    from {{ ref('stg_amocrm__lead_contact_links') }}
    where is_lead_contact

),

amocrm_leads as (

    select
        leads.source_system,
        leads.account,
        leads.lead_id,
        leads.lead_name as lead_title,
        leads.lead_name as first_name,
        cast(null as varchar) as last_name,
        cast(null as varchar) as comments,
        cast(leads.price as numeric(18, 2)) as amount,
        cast(leads.status_id as varchar) as status_id,
        cast(leads.source_id as varchar) as source_code,
        amocrm_fields.utm_source,
        amocrm_fields.utm_medium,
        amocrm_fields.utm_campaign,
        leads.responsible_user_id as manager_id,
        lead_contacts.contact_id,
        amocrm_fields.project_label,
        case when amocrm_lost_in_lead_part.lead_id is not null then loss_reasons.loss_reason_name end
            as crm_junk_reason,
        amocrm_fields.classification,
        leads.created_at,
        leads.updated_at as modified_at
    from {{ ref('stg_amocrm__leads') }} as leads
    left join amocrm_fields
        on leads.account = amocrm_fields.account
        and leads.lead_id = amocrm_fields.lead_id
    left join amocrm_lead_contacts as lead_contacts
        on leads.account = lead_contacts.account
        and leads.lead_id = lead_contacts.lead_id
    left join amocrm_lost_in_lead_part
        on leads.account = amocrm_lost_in_lead_part.account
        and leads.lead_id = amocrm_lost_in_lead_part.lead_id
    left join {{ ref('stg_amocrm__loss_reasons') }} as loss_reasons
        on leads.account = loss_reasons.account
        and leads.loss_reason_id = loss_reasons.loss_reason_id
    where not leads.is_deleted_in_crm
    {%- if by_lead %}
        and (leads.account, leads.lead_id) in (select account, lead_id from changed_leads where source_system = 'amocrm')
    {%- endif %}

),

leads as (

    select * from bitrix24_leads
    union all
    select * from amocrm_leads

),

channel_map as (

    select * from {{ ref('source_channels') }}

),

first_contact_points as (

    {#- the lead's phone and e-mail: the first of int_lead_contact_points (own before contact's) -#}
    select
        source_system, account, lead_id,
        max(case when kind = 'phone' then value end) as phone,
        max(case when kind = 'email' then value end) as email
    from {{ ref('int_lead_contact_points') }}
    where value_rank = 1
    {%- if by_lead %}
        and (source_system, account, lead_id) in (select source_system, account, lead_id from changed_leads)
    {%- endif %}
    group by 1, 2, 3

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
    leads.last_name,
    leads.comments,
    leads.amount,
    leads.status_id,
    leads.source_code,
    case
        when leads.source_code is null then 'unknown'
        else coalesce(channel_map.channel, 'unmapped')
    end as channel,
    leads.utm_source,
    leads.utm_medium,
    leads.utm_campaign,
    first_contact_points.phone,
    first_contact_points.email,
    leads.project_label,
    projects.project_code,
    leads.crm_junk_reason,
    leads.classification,
    leads.created_at,
    leads.modified_at,
    {{ landing_high_water_mark(lead_contact_landing_tables() + [('raw_amocrm', 'events')]) }} as landed_through,
    {{ content_fingerprint_sql(lead_dimension_rows()) }} as dims_fingerprint
from leads
left join first_contact_points
    on leads.source_system = first_contact_points.source_system
    and leads.account = first_contact_points.account
    and leads.lead_id = first_contact_points.lead_id
left join channel_map
    on leads.source_system = channel_map.source_system
    and leads.source_code = channel_map.source_code
left join {{ ref('int_users') }} as users
    on leads.source_system = users.source_system
    and leads.account = users.account
    and leads.manager_id = users.user_id
left join {{ ref('projects') }} as projects
    on leads.project_label = projects.project_name
