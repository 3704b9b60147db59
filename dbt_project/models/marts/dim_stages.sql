{#- Lead statuses and deal stages (стадии) of every account and pipeline with their control point. -#}
select
    source_system || ':' || account || ':' || entity_type || ':' || coalesce(cast(pipeline_id as varchar), '-')
        || ':' || stage_id as stage_key,
    source_system,
    account,
    entity_type,
    pipeline_id,
    pipeline_name,
    stage_id,
    stage_code,
    stage_name,
    cast(sort_order as integer) as sort_order,
    stage_semantics,
    stage_part,
    control_point,
    is_mapped
from {{ ref('int_stages') }}
