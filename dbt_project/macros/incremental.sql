{#-
  Incremental models pick up landing rows by `extracted_at` (the landing moves it on every new
  version of a row, tombstones included: warehouse/landing.py). The watermark is read once, when
  the model is rendered, and inlined as a literal: a constant comparison is pushed into the landing
  table's scan (row groups skipped by their min/max), where a `(select max(...) from this)` subquery
  is evaluated after the staging view has parsed every payload.

    where {{ changed_since_watermark('extracted_at') }}

  renders `extracted_at > cast('2026-11-28 06:13:11.123456+00' as timestamp with time zone)` on an incremental
  run, and `true` on a full build or while the model's table is empty.
-#}
{% macro changed_since_watermark(column) -%}
    {%- if execute and is_incremental() -%}
        {%- set newest = run_query('select cast(max(extracted_at) as varchar) from ' ~ this).columns[0].values()[0] -%}
        {%- if newest is none -%}true{%- else -%}{{ column }} > cast('{{ newest }}' as timestamp with time zone){%- endif -%}
    {%- else -%}true{%- endif -%}
{%- endmacro %}

{#-
  Pre-hook of a model that unnests an array of its landing row into several rows (the custom-field
  values and contacts of an amoCRM lead): on an incremental run, delete the rows of every parent
  landed since, in the model's transaction, before the model inserts their new rows — a parent
  whose new version has fewer (or no) elements, or is a tombstone, keeps no stale row.
-#}
{% macro delete_rows_of_changed_parents(parent_source, parent_table, child_key) -%}
    {%- if is_incremental() -%}
        {%- set parent = source(parent_source, parent_table) -%}
        {%- if load_relation(parent) is not none -%}
    delete from {{ this }} as old using (
        select _account, id from {{ parent }} where {{ changed_since_watermark('_extracted_at') }}
    ) as changed
    where old.account = changed._account and old.{{ child_key }} = changed.id
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
