{#-
  The `quality` schema is written by the junk-detection step (issue 5), which may not have run
  yet. This on-run-start hook creates its tables empty (with the documented shape) if they are
  absent, so the marts always build; it never touches existing tables.

  quality.lead_junk_flags: one row per (run, lead, rule) the pipeline flagged —
    source_system, account, lead_id, rule, reason, severity, run_id, checked_at.
  quality.lead_checks: one row per (run, lead) checked (the denominator of fct_data_quality) —
    source_system, account, lead_id, run_id, checked_at.
-#}
{% macro create_optional_quality_tables() %}
    {% if execute %}
    create schema if not exists quality;
    create table if not exists quality.lead_junk_flags (
        source_system varchar, account varchar, lead_id bigint, rule varchar, reason varchar,
        severity varchar, run_id varchar, checked_at timestamp
    );
    create table if not exists quality.lead_checks (
        source_system varchar, account varchar, lead_id bigint, run_id varchar, checked_at timestamp
    );
    {% endif %}
{% endmacro %}

{#-
  A source relation that may not exist yet (e.g. raw_amocrm before the amoCRM extractor has run):
  select from it when present, else from an empty typed row set with the given columns.
  `columns` is a list of (name, type) pairs.
-#}
{% macro source_or_empty(source_name, table_name, columns) %}
    {%- set rel = source(source_name, table_name) -%}
    {%- set existing = load_relation(rel) if execute else none -%}
    {%- if existing is not none -%}
        {{ rel }}
    {%- else -%}
        (select
        {%- for name, typ in columns %}
            cast(null as {{ typ }}) as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
        where 1 = 0) as empty_{{ table_name }}
    {%- endif -%}
{% endmacro %}
