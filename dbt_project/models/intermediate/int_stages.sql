{#- Every lead status and deal stage of every account and pipeline, with its control point from the
    stage_control_points seed. control_point is null where the seed has no row (reported by the
    test unmapped_stages, never dropped). -#}
with

bitrix24_pipelines as (

    select account, category_id as pipeline_id, category_name as pipeline_name
    from {{ ref('stg_bitrix24__categories') }}
    where entity_type_id = 2 and not is_deleted

),

bitrix24_stages as (

    select
        statuses.source_system,
        statuses.account,
        case when statuses.entity_id = 'STATUS' then 'lead' else 'deal' end as entity_type,
        case when statuses.entity_id = 'STATUS' then cast(null as bigint)
            else coalesce(statuses.category_id, 0) end as pipeline_id,
        statuses.status_id as stage_id,
        regexp_replace(statuses.status_id, '^C[0-9]+:', '') as stage_code,
        statuses.status_name as stage_name,
        statuses.sort_order,
        coalesce(statuses.semantics, 'P') as stage_semantics
    from {{ ref('stg_bitrix24__statuses') }} as statuses
    where not statuses.is_deleted
        and (statuses.entity_id = 'STATUS' or statuses.entity_id like 'DEAL\_STAGE%' escape '\')

),

bitrix24_named as (

    select
        bitrix24_stages.*,
        bitrix24_pipelines.pipeline_name
    from bitrix24_stages
    left join bitrix24_pipelines
        on bitrix24_stages.account = bitrix24_pipelines.account
        and bitrix24_stages.pipeline_id = bitrix24_pipelines.pipeline_id

),

amocrm_stages as (

    select
        statuses.source_system,
        statuses.account,
        'lead' as entity_type,
        statuses.pipeline_id,
        pipelines.pipeline_name,
        cast(statuses.status_id as varchar) as stage_id,
        statuses.status_name as stage_code,
        statuses.status_name as stage_name,
        statuses.sort_order,
        case statuses.status_id when 142 then 'S' when 143 then 'F' else 'P' end as stage_semantics
    from {{ ref('stg_amocrm__statuses') }} as statuses
    left join {{ ref('stg_amocrm__pipelines') }} as pipelines
        on statuses.account = pipelines.account
        and statuses.pipeline_id = pipelines.pipeline_id
    where not statuses.is_deleted

),

stages as (

    select
        source_system, account, entity_type, pipeline_id, pipeline_name, stage_id, stage_code,
        stage_name, sort_order, stage_semantics
    from bitrix24_named
    union all
    select
        source_system, account, entity_type, pipeline_id, pipeline_name, stage_id, stage_code,
        stage_name, sort_order, stage_semantics
    from amocrm_stages

),

candidates as (

    select
        stages.source_system, stages.account, stages.entity_type, stages.pipeline_id, stages.stage_id,
        mapping.stage_part,
        mapping.control_point,
        row_number() over (
            partition by stages.source_system, stages.account, stages.entity_type, stages.pipeline_id,
                stages.stage_id
            order by case when mapping.pipeline_name = '*' then 1 else 0 end
        ) as rank_in_stage
    from stages
    inner join {{ ref('stage_control_points') }} as mapping
        on mapping.source_system = stages.source_system
        and mapping.pipeline_name in (coalesce(stages.pipeline_name, '*'), '*')
        and (mapping.stage_code = stages.stage_code or mapping.stage_code = stages.stage_name)
        and (mapping.stage_part = stages.entity_type or stages.source_system = 'amocrm')

)

select
    stages.source_system,
    stages.account,
    stages.entity_type,
    stages.pipeline_id,
    stages.pipeline_name,
    stages.stage_id,
    stages.stage_code,
    stages.stage_name,
    stages.sort_order,
    stages.stage_semantics,
    candidates.stage_part,
    nullif(candidates.control_point, 'none') as control_point,
    candidates.control_point is not null as is_mapped
from stages
left join candidates
    on stages.source_system = candidates.source_system
    and stages.account = candidates.account
    and stages.entity_type = candidates.entity_type
    and coalesce(stages.pipeline_id, -1) = coalesce(candidates.pipeline_id, -1)
    and stages.stage_id = candidates.stage_id
    and candidates.rank_in_stage = 1
