{#- Lean `table` and `view` materializations for DuckDB.

    dbt-duckdb's built-in ones build `<name>__dbt_tmp`, look the old relation's indexes and
    foreign keys up in the catalog, rename the old relation to `<name>__dbt_backup`, rename the new
    one in, commit and drop the backup: five to seven statements and catalog queries per model,
    each rendered, logged and executed by dbt. DuckDB replaces a relation atomically with
    `CREATE OR REPLACE` inside the model's transaction (readers see the old table until the
    commit), so one statement does the same. This project has no indexes and no foreign keys;
    contracts, hooks, grants and persist_docs behave as in the built-in materializations.
    docs/benchmarks.md (dbt, round 3) has the measured effect. PostgreSQL keeps dbt's own. -#}

{% materialization table, adapter='duckdb' %}
  {%- set existing_relation = load_cached_relation(this) -%}
  {%- set target_relation = this.incorporate(type='table') -%}
  {%- set grant_config = config.get('grants') -%}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {#- A view of the same name (the model changed materialization) cannot be replaced by a table. -#}
  {%- if existing_relation is not none and not existing_relation.is_table -%}
    {{ adapter.drop_relation(existing_relation) }}
  {%- endif -%}

  {% call statement('main') -%}
    {{ crmwh_duckdb_create_or_replace_table(target_relation, compiled_code) }}
  {%- endcall %}

  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {% do apply_grants(target_relation, grant_config, should_revoke=should_revoke(existing_relation, full_refresh_mode=True)) %}
  {% do persist_docs(target_relation, model) %}
  {{ adapter.commit() }}
  {{ run_hooks(post_hooks, inside_transaction=False) }}

  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{% materialization view, adapter='duckdb' %}
  {%- set existing_relation = load_cached_relation(this) -%}
  {%- set target_relation = this.incorporate(type='view') -%}
  {%- set grant_config = config.get('grants') -%}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {%- if existing_relation is not none and not existing_relation.is_view -%}
    {{ adapter.drop_relation(existing_relation) }}
  {%- endif -%}

  {% call statement('main') -%}
    {%- if config.get('contract').enforced -%}
      {{ get_assert_columns_equivalent(sql) }}
    {%- endif %}
    {%- set sql_header = config.get('sql_header', none) %}
    {{ sql_header if sql_header is not none }}
    create or replace view {{ target_relation }} as (
      {{ sql }}
    );
  {%- endcall %}

  {% do apply_grants(target_relation, grant_config, should_revoke=should_revoke(existing_relation, full_refresh_mode=True)) %}
  {% do persist_docs(target_relation, model) %}
  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {{ adapter.commit() }}
  {{ run_hooks(post_hooks, inside_transaction=False) }}

  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{% macro crmwh_duckdb_create_or_replace_table(relation, compiled_code) -%}
  {%- set sql_header = config.get('sql_header', none) %}
  {{ sql_header if sql_header is not none }}
  {%- if config.get('contract').enforced %}
    {#- An enforced contract: the declared column types and constraints, then the rows. -#}
    {{ get_assert_columns_equivalent(compiled_code) }}
    create or replace table {{ relation }} {{ get_table_columns_and_constraints() }};
    insert into {{ relation }} {{ get_column_names() }} (
      {{ get_select_subquery(compiled_code) }}
    );
  {%- else %}
    create or replace table {{ relation }} as (
      {{ compiled_code }}
    );
  {%- endif %}
{%- endmacro %}
