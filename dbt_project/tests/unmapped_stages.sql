{{ config(severity='warn', store_failures=true) }}
-- Stages with no row in the stage_control_points seed: add them there (they are kept, not dropped).
select source_system, account, entity_type, pipeline_name, stage_id, stage_name
from {{ ref('int_stages') }}
where not is_mapped
