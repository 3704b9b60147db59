{{ config(
    materialized='incremental',
    unique_key=['source_system', 'account', 'entity_type', 'entity_id'],
    incremental_strategy='delete+insert',
    on_schema_change='fail'
) }}
{#- Incremental by entity: a run recomputes the whole history of every lead/deal that got a new
    landing row since the last run (exit times and the amoCRM split depend on the neighbours),
    and replaces that entity's rows. A change to the stage mapping seed needs --full-refresh. -#}
{#- Every entry of a lead or deal into a status/stage, both CRMs, with exit time and time in stage
    (время в стадии). A lead's deal part (Bitrix24 deal, amoCRM stages from PREP on) carries lead_id. -#}
with

bitrix24_lead_history as (

    select
        source_system, account,
        'lead' as entity_type,
        lead_id as entity_id,
        lead_id,
        cast(null as bigint) as pipeline_id,
        status_id as stage_id,
        entered_at,
        cast(stage_history_id as bigint) as history_id,
        extracted_at
    from {{ ref('stg_bitrix24__lead_stage_history') }}
    where not is_deleted

),

bitrix24_deals as (

    select account, deal_id, lead_id, extracted_at
    from {{ ref('stg_bitrix24__deals') }}
    where not is_deleted

),

bitrix24_deal_history as (

    select
        history.source_system, history.account,
        'deal' as entity_type,
        history.deal_id as entity_id,
        bitrix24_deals.lead_id,
        coalesce(history.category_id, 0) as pipeline_id,
        history.stage_id,
        history.entered_at,
        history.stage_history_id as history_id,
        greatest(history.extracted_at, bitrix24_deals.extracted_at) as extracted_at
    from {{ ref('stg_bitrix24__deal_stage_history') }} as history
    left join bitrix24_deals
        on history.account = bitrix24_deals.account
        and history.deal_id = bitrix24_deals.deal_id
    where not history.is_deleted

),

amocrm_status_changes as (

    select
        account, entity_id as lead_id, event_id, created_at,
        pipeline_id_before, status_id_before, pipeline_id_after, status_id_after, extracted_at,
        row_number() over (partition by account, entity_id order by created_at, event_id) as change_number
    from {{ ref('stg_amocrm__events') }}
    where event_type = 'lead_status_changed'
        and entity_type = 'lead'
        and not is_deleted

),

{#- amoCRM records the creation (lead_added) without a status: the first status is the one the first
    change left, or the current status when it never changed. -#}
amocrm_initial as (

    select
        leads.source_system, leads.account,
        'lead' as entity_type,
        leads.lead_id as entity_id,
        leads.lead_id,
        coalesce(first_change.pipeline_id_before, leads.pipeline_id) as pipeline_id,
        cast(coalesce(first_change.status_id_before, leads.status_id) as varchar) as stage_id,
        leads.created_at as entered_at,
        cast(0 as bigint) as history_id,
        greatest(leads.extracted_at, first_change.extracted_at) as extracted_at
    from {{ ref('stg_amocrm__leads') }} as leads
    left join amocrm_status_changes as first_change
        on leads.account = first_change.account
        and leads.lead_id = first_change.lead_id
        and first_change.change_number = 1

),

amocrm_changes as (

    select
        'amocrm' as source_system, account,
        'lead' as entity_type,
        lead_id as entity_id,
        lead_id,
        pipeline_id_after as pipeline_id,
        cast(status_id_after as varchar) as stage_id,
        created_at as entered_at,
        cast(change_number as bigint) as history_id,
        extracted_at
    from amocrm_status_changes

),

all_transitions as (

    select * from bitrix24_lead_history
    union all
    select * from bitrix24_deal_history
    union all
    select * from amocrm_initial
    union all
    select * from amocrm_changes

),

{% if is_incremental() %}
changed_entities as (

    select distinct source_system, account, entity_type, entity_id
    from all_transitions
    where extracted_at > (select max(extracted_at) from {{ this }})

),

transitions as (

    select all_transitions.*
    from all_transitions
    inner join changed_entities
        on all_transitions.source_system = changed_entities.source_system
        and all_transitions.account = changed_entities.account
        and all_transitions.entity_type = changed_entities.entity_type
        and all_transitions.entity_id = changed_entities.entity_id

),
{% else %}
transitions as (

    select * from all_transitions

),
{% endif %}

mapped as (

    select
        transitions.*,
        stages.stage_name,
        stages.stage_part as mapped_stage_part,
        stages.control_point
    from transitions
    left join {{ ref('int_stages') }} as stages
        on transitions.source_system = stages.source_system
        and transitions.account = stages.account
        and transitions.entity_type = stages.entity_type
        and coalesce(transitions.pipeline_id, -1) = coalesce(stages.pipeline_id, -1)
        and transitions.stage_id = stages.stage_id

),

sequenced as (

    select
        mapped.*,
        max(case when mapped_stage_part = 'deal' then 1 else 0 end) over (
            partition by source_system, account, entity_type, entity_id
            order by entered_at, history_id
            rows between unbounded preceding and current row
        ) as has_reached_deal_part,
        lead(entered_at) over (
            partition by source_system, account, entity_type, entity_id
            order by entered_at, history_id
        ) as exited_at,
        lead(stage_id) over (
            partition by source_system, account, entity_type, entity_id
            order by entered_at, history_id
        ) as next_stage_id,
        row_number() over (
            partition by source_system, account, entity_type, entity_id
            order by entered_at, history_id
        ) as transition_number
    from mapped

)

select
    sequenced.source_system,
    sequenced.account,
    sequenced.entity_type,
    sequenced.entity_id,
    sequenced.lead_id,
    sequenced.history_id,
    sequenced.transition_number,
    sequenced.pipeline_id,
    sequenced.stage_id,
    sequenced.stage_name,
    {#- A stage valid in either part (amoCRM "lost") belongs to the deal part once the lead reached it. -#}
    case
        when sequenced.mapped_stage_part in ('lead', 'deal') then sequenced.mapped_stage_part
        when sequenced.has_reached_deal_part = 1 then 'deal'
        when sequenced.mapped_stage_part = 'any' then 'lead'
        else sequenced.entity_type
    end as stage_part,
    sequenced.control_point,
    sequenced.next_stage_id,
    sequenced.entered_at,
    sequenced.exited_at,
    {{ seconds_between('sequenced.entered_at', 'sequenced.exited_at') }} as seconds_in_stage,
    sequenced.exited_at is null as is_current_stage,
    sequenced.extracted_at
from sequenced
