{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ int_stage_transitions_delete_recomputed() }}",
    on_schema_change='fail'
) }}
{#- Incremental by entity: a run recomputes the whole history of every lead/deal with a new, changed
    or deleted landing row since the last run (exit times and the amoCRM split depend on the
    neighbours; macros/int_stage_transitions_changes.sql), after its pre-hook deleted those
    entities' rows (in the same transaction); every entity when the stages it copies changed (a
    status renamed, the stage_control_points seed edited: stages_fingerprint). -#}
{#- Every entry of a lead or deal into a status/stage, both CRMs, with exit time and time in stage
    (время в стадии). A lead's deal part (Bitrix24 deal, amoCRM stages from PREP on) carries lead_id. -#}
{%- set by_entity = stored_fingerprint_is('stages_fingerprint', stage_mapping_rows()) %}
with

{% if by_entity %}
changed_entities as (

    {{ int_stage_transitions_changes() }}

),
{% endif %}

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
        {#- the window numbers each lead's changes, so whole leads may be left out before it #}
        {%- if by_entity %}
        and (account, entity_id) in (
            select account, entity_id from changed_entities where source_system = 'amocrm' and entity_type = 'lead'
        )
        {%- endif %}

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

amocrm_transitions as (

    select * from amocrm_initial
    union all
    select * from amocrm_changes

),

{#- The stage mapping joins twice: before the window only a compact integer key and the deal-part
    flag ride along, so the window sorts narrow rows; the stage strings join back after it. -#}
stages as (

    select
        source_system, account, entity_type, pipeline_id, stage_id, stage_name, stage_part, control_point,
        row_number() over (
            order by source_system, account, entity_type, pipeline_id, stage_id
        ) as stage_key
    from {{ ref('int_stages') }}

),

{#- Each branch (Bitrix24 leads, Bitrix24 deals, amoCRM leads) has one source_system and one
    entity_type (constants of its staging models), so its window partitions by (account, entity_id)
    alone: three smaller sorts on two keys instead of one sort of everything on four. -#}
sequenced as (
{% for branch in ['bitrix24_lead_history', 'bitrix24_deal_history', 'amocrm_transitions'] %}
    {{ 'union all' if not loop.first }}
    select
        mapped.*,
        max(is_deal_stage) over (
            partition by account, entity_id order by entered_at, history_id
            rows between unbounded preceding and current row
        ) as has_reached_deal_part,
        lead(entered_at) over (partition by account, entity_id order by entered_at, history_id) as exited_at,
        lead(stage_id) over (partition by account, entity_id order by entered_at, history_id) as next_stage_id,
        row_number() over (partition by account, entity_id order by entered_at, history_id) as transition_number
    from (
        select
            transitions.*,
            stages.stage_key,
            case when stages.stage_part = 'deal' then 1 else 0 end as is_deal_stage
        from {{ branch }} as transitions
        {%- if by_entity %}
        inner join changed_entities
            on transitions.source_system = changed_entities.source_system
            and transitions.account = changed_entities.account
            and transitions.entity_type = changed_entities.entity_type
            and transitions.entity_id = changed_entities.entity_id
        {%- endif %}
        left join stages
            on transitions.source_system = stages.source_system
            and transitions.account = stages.account
            and transitions.entity_type = stages.entity_type
            and coalesce(transitions.pipeline_id, -1) = coalesce(stages.pipeline_id, -1)
            and transitions.stage_id = stages.stage_id
    ) as mapped
{% endfor %}
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
    stages.stage_name,
    {#- A stage valid in either part (amoCRM "lost") belongs to the deal part once the lead reached it. -#}
    case
        when stages.stage_part in ('lead', 'deal') then stages.stage_part
        when sequenced.has_reached_deal_part = 1 then 'deal'
        when stages.stage_part = 'any' then 'lead'
        else sequenced.entity_type
    end as stage_part,
    stages.control_point,
    sequenced.next_stage_id,
    sequenced.entered_at,
    sequenced.exited_at,
    {{ seconds_between('sequenced.entered_at', 'sequenced.exited_at') }} as seconds_in_stage,
    sequenced.exited_at is null as is_current_stage,
    sequenced.extracted_at,
    {{ content_fingerprint_sql(stage_mapping_rows()) }} as stages_fingerprint
from sequenced
left join stages
    on sequenced.stage_key = stages.stage_key
