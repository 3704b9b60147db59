{#- The deal part of every inquiry, both CRMs: Bitrix24 deals, amoCRM leads from the first deal-part
    stage on. Stage times come from int_stage_transitions; money, area and payment form from the
    CRM fields. -#}
with

bitrix24_enums as (

    select * from {{ ref('int_crm_enum_values') }}
    where source_system = 'bitrix24' and entity_id = 'CRM_DEAL'

),

bitrix24_deals as (

    select
        deals.source_system,
        deals.account,
        deals.deal_id,
        deals.lead_id,
        deals.contact_id,
        deals.assigned_user_id as manager_id,
        deals.category_id as pipeline_id,
        deals.stage_id,
        deals.source_code,
        project_enum.enum_value as project_label,
        form_enum.enum_value as payment_form_raw,
        loss_enum.enum_value as loss_reason,
        cast(deals.opportunity as double precision) as price,
        deals.area_m2,
        deals.contract_date,
        deals.stage_semantic_id = 'S' as is_won,
        deals.stage_semantic_id = 'F' as is_lost,
        deals.created_at,
        case when deals.stage_semantic_id in ('S', 'F') then deals.close_at end as closed_at
    from {{ ref('stg_bitrix24__deals') }} as deals
    left join bitrix24_enums as project_enum
        on deals.account = project_enum.account
        and project_enum.field_name = 'UF_CRM_PROJECT'
        and deals.project_enum_id = project_enum.enum_id
    left join bitrix24_enums as form_enum
        on deals.account = form_enum.account
        and form_enum.field_name = 'UF_CRM_PAYMENT_FORM'
        and deals.payment_form_enum_id = form_enum.enum_id
    left join bitrix24_enums as loss_enum
        on deals.account = loss_enum.account
        and loss_enum.field_name = 'UF_CRM_LOSS_REASON'
        and deals.loss_reason_enum_id = loss_enum.enum_id
    where not deals.is_deleted

),

amocrm_deal_part as (

    select account, entity_id as lead_id, max(case when is_current_stage then stage_id end) as stage_id
    from {{ ref('int_stage_transitions') }}
    where source_system = 'amocrm'
    group by 1, 2
    having max(case when stage_part = 'deal' then 1 else 0 end) = 1

),

amocrm_fields as (

    select
        account, lead_id,
        max(case when field_name = '{{ var("amocrm_lead_fields")["project"] }}' then field_value end) as project_label,
        max(case when field_name = '{{ var("amocrm_lead_fields")["payment_form"] }}' then field_value end)
            as payment_form_raw,
        max(case when field_name = '{{ var("amocrm_lead_fields")["area_m2"] }}' then field_value end) as area_m2,
        max(case when field_name = '{{ var("amocrm_lead_fields")["contract_date"] }}' then field_value end)
            as contract_date_unix
    from {{ ref('stg_amocrm__lead_custom_field_values') }}
    group by 1, 2

),

amocrm_lead_contacts as (

    select account, lead_id, contact_id
    from {{ ref('stg_amocrm__lead_contact_links') }}
    where is_lead_contact

),

amocrm_deals as (

    select
        leads.source_system,
        leads.account,
        leads.lead_id as deal_id,
        leads.lead_id,
        lead_contacts.contact_id,
        leads.responsible_user_id as manager_id,
        leads.pipeline_id,
        cast(leads.status_id as varchar) as stage_id,
        cast(leads.source_id as varchar) as source_code,
        amocrm_fields.project_label,
        amocrm_fields.payment_form_raw,
        case when leads.status_id = 143 then loss_reasons.loss_reason_name end as loss_reason,
        leads.price,
        cast(amocrm_fields.area_m2 as double precision) as area_m2,
        {{ local_date(unix_to_utc('amocrm_fields.contract_date_unix')) }} as contract_date,
        leads.status_id = 142 as is_won,
        leads.status_id = 143 as is_lost,
        leads.created_at,
        case when leads.status_id in (142, 143) then leads.closed_at end as closed_at
    from {{ ref('stg_amocrm__leads') }} as leads
    inner join amocrm_deal_part
        on leads.account = amocrm_deal_part.account
        and leads.lead_id = amocrm_deal_part.lead_id
    left join amocrm_fields
        on leads.account = amocrm_fields.account
        and leads.lead_id = amocrm_fields.lead_id
    left join amocrm_lead_contacts as lead_contacts
        on leads.account = lead_contacts.account
        and leads.lead_id = lead_contacts.lead_id
    left join {{ ref('stg_amocrm__loss_reasons') }} as loss_reasons
        on leads.account = loss_reasons.account
        and leads.loss_reason_id = loss_reasons.loss_reason_id
    where not leads.is_deleted_in_crm

),

deals as (

    select * from bitrix24_deals
    union all
    select * from amocrm_deals

),

deal_points as (

    select
        source_system, account, entity_id as deal_id,
        min(case when control_point = 'shown' then entered_at end) as shown_at,
        min(case when control_point = 'booked' then entered_at end) as booked_at,
        min(case when control_point = 'contract' then entered_at end) as contract_at,
        min(case when control_point = 'paid' then entered_at end) as won_at,
        min(case when control_point = 'lost' then entered_at end) as lost_at
    from {{ ref('int_stage_transitions') }}
    where stage_part = 'deal'
    group by 1, 2, 3

),

{#- The payment-form lookup per CRM: a seed row applies to its CRM or to every CRM ('*'); the
    least form wins where both match. Resolved here on the small seed so that the deals join it
    on an equality key (a hash join, not a nested loop over every deal). -#}
crm_systems as (

    select 'bitrix24' as source_system
    union all
    select 'amocrm'

),

form_map as (

    select crm_systems.source_system, payment_forms.raw_value, min(payment_forms.payment_form) as payment_form
    from {{ ref('payment_forms') }} as payment_forms
    inner join crm_systems
        on payment_forms.source_system in (crm_systems.source_system, '*')
    group by 1, 2

)

select
    deals.source_system,
    deals.account,
    deals.deal_id,
    deals.source_system || ':' || deals.account || ':' || cast(deals.deal_id as varchar) as deal_key,
    deals.lead_id,
    deals.contact_id,
    deals.manager_id,
    users.user_key as manager_key,
    users.department_id,
    users.department_name,
    users.branch,
    deals.pipeline_id,
    deals.stage_id,
    projects.project_code,
    deals.project_label,
    deals.payment_form_raw,
    case
        when deals.payment_form_raw is null then 'unknown'
        else coalesce(form_map.payment_form, 'unmapped')
    end as payment_form,
    deals.loss_reason,
    deals.price,
    deals.area_m2,
    deals.contract_date,
    deals.is_won,
    deals.is_lost,
    deals.created_at,
    deals.closed_at,
    deal_points.shown_at,
    deal_points.booked_at,
    deal_points.contract_at,
    deal_points.won_at,
    deal_points.lost_at
from deals
left join deal_points
    on deals.source_system = deal_points.source_system
    and deals.account = deal_points.account
    and deals.deal_id = deal_points.deal_id
left join form_map
    on deals.source_system = form_map.source_system
    and deals.payment_form_raw = form_map.raw_value
left join {{ ref('int_users') }} as users
    on deals.source_system = users.source_system
    and deals.account = users.account
    and deals.manager_id = users.user_id
left join {{ ref('projects') }} as projects
    on deals.project_label = projects.project_name
