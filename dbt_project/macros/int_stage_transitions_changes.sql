{#-
  The leads and deals whose stage history changed since int_stage_transitions was last built:
  a new, changed or tombstoned history row (tombstones included: the entity loses a transition),
  or a re-landed Bitrix24 deal (its lead) or amoCRM lead (its creation and current status start
  its history). The model recomputes exactly these entities, and its pre-hook deletes their old
  rows first — so an entity whose every row is now gone loses them too.

  Every row also copies its stage's name, part and control point (int_stages: the CRM's statuses,
  landed again on every extraction, and the stage_control_points seed). Their content's fingerprint
  is stored in each row (stages_fingerprint); a run that computes another one — a status renamed in
  the CRM (an amoCRM status maps by its name), a mapping row edited — recomputes every entity.
-#}
{% macro stage_mapping_rows() -%}
        select concat_ws(',', source_system, account, entity_type, cast(pipeline_id as varchar), stage_id,
            stage_name, stage_part, control_point) as x
        from {{ ref('int_stages') }}
{%- endmacro %}

{#- The pre-hook: the entities the run recomputes lose their rows first (all rows when the stages'
    fingerprint changed), in the model's transaction. -#}
{% macro int_stage_transitions_delete_recomputed() -%}
    {%- if is_incremental() -%}
        {%- if stored_fingerprint_is('stages_fingerprint', stage_mapping_rows()) -%}
    delete from {{ this }} as old using ({{ int_stage_transitions_changes() }}) as changed
    where old.source_system = changed.source_system and old.account = changed.account
        and old.entity_type = changed.entity_type and old.entity_id = changed.entity_id
        {%- else -%}
    delete from {{ this }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{% macro int_stage_transitions_changes() -%}
    {%- set since = changed_since_watermark('extracted_at') -%}  {#- one watermark query, not five #}
    select 'bitrix24' as source_system, account, 'lead' as entity_type, lead_id as entity_id
    from {{ ref('stg_bitrix24__lead_stage_history') }}
    where {{ since }}
    union
    select 'bitrix24', account, 'deal', deal_id
    from {{ ref('stg_bitrix24__deal_stage_history') }}
    where {{ since }}
    union
    select 'bitrix24', account, 'deal', deal_id
    from {{ ref('stg_bitrix24__deals') }}
    where {{ since }}
    union
    select 'amocrm', account, 'lead', entity_id
    from {{ ref('stg_amocrm__events') }}
    where {{ since }}
        and event_type = 'lead_status_changed' and entity_type = 'lead'
    union
    select 'amocrm', account, 'lead', lead_id
    from {{ ref('stg_amocrm__leads') }}
    where {{ since }}
{%- endmacro %}
