{{ config(
    materialized='incremental',
    unique_key=['source_system', 'account', 'activity_id'],
    incremental_strategy='delete+insert',
    on_schema_change='fail'
) }}
{#- Calls, meetings, showings (показы) and tasks of both CRMs, tied to the lead (and deal). An
    activity is held when the CRM marks it completed; the CRM keeps no separate completion time,
    so held_at is its scheduled time. Incremental on the landing table's _extracted_at; an activity of
    a Bitrix24 deal re-landed since (its lead re-linked, the deal deleted) takes the deal's lead anew. -#}
{%- set newest = this_watermark() %}
with

bitrix24_deals as (

    select account, deal_id, lead_id
    from {{ ref('stg_bitrix24__deals') }}
    where not is_deleted

),

bitrix24_activities as (

    select
        activities.source_system,
        activities.account,
        activities.activity_id,
        case
            when activities.type_id = 2 then 'call'
            when activities.type_id = 1 and activities.subject like 'Показ%' then 'showing'
            when activities.type_id = 1 then 'meeting'
            when activities.type_id in (3, 6) then 'task'
            else 'other'
        end as activity_kind,
        case when activities.owner_type_id = 1 then activities.owner_id else bitrix24_deals.lead_id end as lead_id,
        case when activities.owner_type_id = 2 then activities.owner_id end as deal_id,
        activities.responsible_user_id as manager_id,
        activities.subject,
        activities.is_completed,
        activities.start_at as planned_at,
        case when activities.is_completed then activities.start_at end as held_at,
        activities.created_at,
        activities.is_deleted,
        activities.extracted_at
    from {{ ref('stg_bitrix24__activities') }} as activities
    -- the owner-type test sits inside the key so that the join stays a hash join
    left join bitrix24_deals
        on activities.account = bitrix24_deals.account
        and (case when activities.owner_type_id = 2 then activities.owner_id end) = bitrix24_deals.deal_id
    where activities.owner_type_id in (1, 2)

),

amocrm_task_types as (

    select account, task_type_id, task_type_name
    from {{ ref('stg_amocrm__task_types') }}

),

amocrm_activities as (

    select
        tasks.source_system,
        tasks.account,
        tasks.task_id as activity_id,
        case
            when tasks.task_type_id in ({{ var('amocrm_call_task_type_ids') | join(', ') }}) then 'call'
            when tasks.task_type_id in ({{ var('amocrm_meeting_task_type_ids') | join(', ') }}) then 'meeting'
            when amocrm_task_types.task_type_name in ('{{ var("amocrm_showing_task_type_names") | join("', '") }}')
                then 'showing'
            else 'task'
        end as activity_kind,
        tasks.entity_id as lead_id,
        cast(null as bigint) as deal_id,
        tasks.responsible_user_id as manager_id,
        tasks.task_text as subject,
        tasks.is_completed,
        tasks.complete_till_at as planned_at,
        case when tasks.is_completed then tasks.complete_till_at end as held_at,
        tasks.created_at,
        tasks.is_deleted,
        tasks.extracted_at
    from {{ ref('stg_amocrm__tasks') }} as tasks
    left join amocrm_task_types
        on tasks.account = amocrm_task_types.account
        and tasks.task_type_id = amocrm_task_types.task_type_id
    where tasks.entity_type = 'leads'

),

activities as (

    select * from bitrix24_activities
    union all
    select * from amocrm_activities

)

select
    source_system,
    account,
    activity_id,
    activity_kind,
    lead_id,
    deal_id,
    manager_id,
    source_system || ':' || account || ':' || cast(manager_id as varchar) as manager_key,
    subject,
    is_completed,
    is_deleted,
    planned_at,
    held_at,
    created_at,
    extracted_at
from activities
where {{ newer_than('extracted_at', newest) }}
{% if newest is not none %}

union all

{#- A Bitrix24 activity of a deal re-landed since, itself unchanged: its stored row with the deal's
    current lead (none once the deal is deleted), as the join above gives it on a full build. The
    unique key replaces the stored row; an activity re-landed too comes from the branch above. #}
select
    stored.source_system,
    stored.account,
    stored.activity_id,
    stored.activity_kind,
    relanded_deals.lead_id,
    stored.deal_id,
    stored.manager_id,
    stored.manager_key,
    stored.subject,
    stored.is_completed,
    stored.is_deleted,
    stored.planned_at,
    stored.held_at,
    stored.created_at,
    stored.extracted_at
from {{ this }} as stored
inner join (
    select account, deal_id, case when is_deleted then null else lead_id end as lead_id
    from {{ ref('stg_bitrix24__deals') }}
    where {{ newer_than('extracted_at', newest) }}
) as relanded_deals
    on stored.account = relanded_deals.account
    and stored.deal_id = relanded_deals.deal_id
where stored.source_system = 'bitrix24'
    and stored.lead_id is distinct from relanded_deals.lead_id
    and not exists (
        select 1
        from {{ ref('stg_bitrix24__activities') }} as relanded
        where {{ newer_than('relanded.extracted_at', newest) }}
            and relanded.account = stored.account
            and relanded.activity_id = stored.activity_id
    )
{% endif %}
