{#-
  The leads and deals whose stage history changed since int_stage_transitions was last built:
  a new, changed or tombstoned history row (tombstones included: the entity loses a transition),
  or a re-landed Bitrix24 deal (its lead) or amoCRM lead (its creation and current status start
  its history). The model recomputes exactly these entities, and its pre-hook deletes their old
  rows first — so an entity whose every row is now gone loses them too.
-#}
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
