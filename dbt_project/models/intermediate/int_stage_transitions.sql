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
        stage_history_id as history_id
    from {{ ref('stg_bitrix24__lead_stage_history') }}
    where not is_deleted

),

bitrix24_deals as (

    select account, deal_id, lead_id
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
        history.stage_history_id as history_id
    from {{ ref('stg_bitrix24__deal_stage_history') }} as history
    left join bitrix24_deals
        on history.account = bitrix24_deals.account
        and history.deal_id = bitrix24_deals.deal_id
    where not history.is_deleted

),

transitions as (

    select * from bitrix24_lead_history
    union all
    select * from bitrix24_deal_history

),

sequenced as (

    select
        transitions.*,
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
    from transitions

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
    coalesce(stages.stage_part, sequenced.entity_type) as stage_part,
    stages.control_point,
    sequenced.next_stage_id,
    sequenced.entered_at,
    sequenced.exited_at,
    {{ seconds_between('sequenced.entered_at', 'sequenced.exited_at') }} as seconds_in_stage,
    sequenced.exited_at is null as is_current_stage
from sequenced
left join {{ ref('int_stages') }} as stages
    on sequenced.source_system = stages.source_system
    and sequenced.account = stages.account
    and sequenced.entity_type = stages.entity_type
    and coalesce(sequenced.pipeline_id, -1) = coalesce(stages.pipeline_id, -1)
    and sequenced.stage_id = stages.stage_id
