{#-
  int_leads is incremental by lead. Two things decide what a run recomputes:

  - the dimensions a lead row copies (Bitrix24 list labels, amoCRM loss reasons, the manager's
    department and branch, the stages' parts and control points): their content's fingerprint is stored in every row
    (dims_fingerprint). The CRM's users and fields are landed again on every extraction, so their
    landing time says nothing; their content does. A run whose fingerprint differs from the stored
    one — a manager moved to another department, a list value renamed — recomputes every lead.
  - otherwise only the leads changed since the last run (int_leads_changes): re-landed, or their
    contact was (macros/int_lead_contact_points_changes.sql), or an amoCRM status change of theirs
    was landed (the loss reason shows only while the lead was lost in its lead part).

  Mapping seeds (channels, projects) are project files: a change makes the pipeline rebuild the
  model in full (warehouse/dbt_unchanged.py).
-#}
{% macro lead_dimension_rows() -%}
        select concat_ws(',', 'enum', account, field_name, cast(enum_id as varchar), enum_value) as x
        from {{ ref('int_crm_enum_values') }}
        where source_system = 'bitrix24' and entity_id = 'CRM_LEAD'
        union all
        select concat_ws(',', 'loss', account, cast(loss_reason_id as varchar), loss_reason_name)
        from {{ ref('stg_amocrm__loss_reasons') }}
        union all
        select concat_ws(',', 'user', source_system, account, cast(user_id as varchar), user_key,
            cast(department_id as varchar), department_key, department_name, branch)
        from {{ ref('int_users') }}
        union all
        {#- the stages: an amoCRM lead's loss reason shows while it is lost in its lead part #}
        select 'stage,' || x from ({{ stage_mapping_rows() }}) as stages
{%- endmacro %}

{% macro int_leads_changes() -%}
    {%- set newest = this_watermark('landed_through') -%}
    {{ int_lead_contact_points_changes(newest) }}
    union
    select 'amocrm', account, entity_id
    from {{ ref('stg_amocrm__events') }}
    where {{ newer_than('extracted_at', newest) }}
        and event_type = 'lead_status_changed' and entity_type = 'lead'
{%- endmacro %}

{#- The pre-hook: the rows the run is about to recompute go first (all of them when the
    dimensions changed), in the model's transaction. -#}
{% macro int_leads_delete_recomputed() -%}
    {%- if is_incremental() -%}
        {%- if stored_fingerprint_is('dims_fingerprint', lead_dimension_rows()) -%}
    {{ delete_rows_of_changed_leads(int_leads_changes()) }}
        {%- else -%}
    delete from {{ this }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
