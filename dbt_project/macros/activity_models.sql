{#- Helpers of the activity models (int_daily_facts, fct_manager_daily_activity). -#}

{#- naive UTC timestamp -> local date in the company's time zone, as local_date() (cross_db.sql).
    DuckDB: the instant is built from its epoch microseconds (exact, no time-zone lookup), so only
    one ICU conversion (to the company's zone) runs per row instead of two (UTC, then the zone). -#}
{% macro utc_to_local_date(expr) -%}{{ return(adapter.dispatch('utc_to_local_date')(expr)) }}{%- endmacro %}
{% macro default__utc_to_local_date(expr) -%}{{ local_date(expr) }}{%- endmacro %}
{% macro duckdb__utc_to_local_date(expr) -%}
    cast(cast(make_timestamptz(epoch_us(cast({{ expr }} as timestamp))) at time zone '{{ var("timezone") }}' as timestamp) as date)
{%- endmacro %}
