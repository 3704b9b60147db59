{#-
  Incremental models pick up landing rows by `extracted_at` (the landing moves it on every new
  version of a row, tombstones included: warehouse/landing.py). The watermark is read once, when
  the model is rendered, and inlined as a literal: a constant comparison is pushed into the landing
  table's scan (row groups skipped by their min/max), where a `(select max(...) from this)` subquery
  is evaluated after the staging view has parsed every payload.

    where {{ changed_since_watermark('extracted_at') }}

  renders `extracted_at > cast('2026-11-28 06:13:11.123456+00' as timestamp with time zone)` on an incremental
  run, and `true` on a full build or while the model's table is empty. The watermark is the
  model's own max(extracted_at); a model that keeps another watermark column reads it with
  this_watermark('<column>') and compares with newer_than.
-#}
{% macro changed_since_watermark(column) -%}
    {{ newer_than(column, this_watermark()) }}
{%- endmacro %}

{#- The model's watermark — max(`watermark`) of its own table — as text, or none on a full build or
    while the table is empty; read once where several comparisons need it. -#}
{% macro this_watermark(watermark='extracted_at') -%}
    {%- if execute and is_incremental() -%}
        {{ return(run_query('select cast(max(' ~ watermark ~ ') as varchar) from ' ~ this).columns[0].values()[0]) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}

{% macro newer_than(column, newest) -%}
    {%- if newest is none -%}true{%- else -%}{{ column }} > cast('{{ newest }}' as timestamp with time zone){%- endif -%}
{%- endmacro %}

{#- Pre-hook of a model incremental by lead: delete the rows of the leads in `changed` (a query of
    source_system, account, lead_id), in the model's transaction, before it inserts their new rows. -#}
{% macro delete_rows_of_changed_leads(changed) -%}
    delete from {{ this }} as old using ({{ changed }}) as changed
    where old.source_system = changed.source_system and old.account = changed.account
        and old.lead_id = changed.lead_id
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

{#-
  The newest landing time of the given source tables, read when the model is rendered, as a
  timestamp literal: a model whose rows combine several landing tables (a lead and its contact)
  stores it in every row it writes (`landed_through`) and takes max(landed_through) as its
  watermark. The rows' own landing times would not do: a contact landed after its lead, in the
  same extraction, would then count as changed on every run. Writers are serialised
  (warehouse/landing.py), so nothing lands while dbt builds.

    {{ landing_high_water_mark([('raw_bitrix24', 'leads'), ('raw_amocrm', 'contacts')]) }} as landed_through
-#}
{% macro landing_high_water_mark(tables) -%}
    {%- set parts = [] -%}
    {%- if execute -%}
        {%- for source_name, table_name in tables -%}
            {%- set rel = source(source_name, table_name) -%}
            {%- if load_relation(rel) is not none -%}
                {%- do parts.append('select max(_extracted_at) as m from ' ~ rel) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set newest = run_query('select cast(max(m) as varchar) from (' ~ parts | join(' union all ') ~ ') as landed').columns[0].values()[0] if parts else none -%}
    {%- if newest is none -%}cast(null as timestamp with time zone){%- else -%}cast('{{ newest }}' as timestamp with time zone){%- endif -%}
{%- endmacro %}

{#-
  Content fingerprints, for models that copy a small dimension into every row (a list label, a
  stage's name and control point): the CRM lands its reference data again on every extraction, so
  the landing time says nothing — the content does. The model stores the fingerprint of what it
  copied in each row, computed by the model's own SQL (a scalar subquery, so a unit test's fixture
  rows work too):

    {{ content_fingerprint_sql(rows) }} as dims_fingerprint

  and an incremental run that computes another one recomputes every row:

    {%- set by_lead = stored_fingerprint_is('dims_fingerprint', rows) %}

  `rows` is a query of one text column `x`, one row per copied dimension value.
-#}
{% macro content_fingerprint_sql(rows) -%}
    (select md5(coalesce(string_agg(x, '|' order by x), '')) from ({{ rows }}) as dimension_rows)
{%- endmacro %}

{#- True when this incremental run may recompute only what changed: every stored row carries the
    current fingerprint of `rows` in `column`. False on a full build (the dimensions are not read). -#}
{% macro stored_fingerprint_is(column, rows) -%}
    {%- if not (execute and is_incremental()) -%}{{ return(false) }}{%- endif -%}
    {%- set current = run_query('select ' ~ content_fingerprint_sql(rows)).columns[0].values()[0] -%}
    {%- set stored = run_query('select min(' ~ column ~ '), max(' ~ column ~ ') from ' ~ this).rows[0] -%}
    {{ return(stored[0] == current and stored[1] == current) }}
{%- endmacro %}
