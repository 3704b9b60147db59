{#- Small cross-engine helpers (DuckDB default, PostgreSQL alternative) via adapter.dispatch. -#}

{#- ISO-8601 text with an offset (Bitrix24) -> naive UTC timestamp. -#}
{% macro iso_to_utc(expr) -%}{{ return(adapter.dispatch('iso_to_utc')(expr)) }}{%- endmacro %}
{% macro default__iso_to_utc(expr) -%}
    cast(cast(nullif({{ expr }}, '') as timestamp with time zone) at time zone 'UTC' as timestamp)
{%- endmacro %}
{#- DuckDB: the instant's epoch microseconds as a naive timestamp — the same value without an ICU
    time-zone conversion per row (a third of the CPU; millions of values per build at 1M leads). -#}
{% macro duckdb__iso_to_utc(expr) -%}
    make_timestamp(epoch_us(cast(nullif({{ expr }}, '') as timestamp with time zone)))
{%- endmacro %}

{#- unix seconds (amoCRM) -> naive UTC timestamp. -#}
{% macro unix_to_utc(expr) -%}{{ return(adapter.dispatch('unix_to_utc')(expr)) }}{%- endmacro %}
{% macro default__unix_to_utc(expr) -%}
    cast(to_timestamp(cast({{ expr }} as double precision)) at time zone 'UTC' as timestamp)
{%- endmacro %}
{% macro duckdb__unix_to_utc(expr) -%}
    cast(make_timestamp(cast({{ expr }} as bigint) * 1000000) as timestamp)
{%- endmacro %}

{#- naive UTC timestamp -> naive local timestamp in the company's time zone. -#}
{% macro to_local(expr) -%}{{ return(adapter.dispatch('to_local')(expr)) }}{%- endmacro %}
{% macro default__to_local(expr) -%}
    cast((cast({{ expr }} as timestamp) at time zone 'UTC') at time zone '{{ var("timezone") }}' as timestamp)
{%- endmacro %}
{#- DuckDB: the UTC instant built from epoch microseconds (no ICU call), then one ICU conversion to
    local time instead of two (a third less CPU per value; ~10M values per build at 1M leads). -#}
{% macro duckdb__to_local(expr) -%}
    timezone('{{ var("timezone") }}', make_timestamptz(epoch_us(cast({{ expr }} as timestamp))))
{%- endmacro %}
{% macro local_date(expr) -%}cast({{ to_local(expr) }} as date){%- endmacro %}

{#- seconds from a to b (both timestamps) as a double. -#}
{% macro seconds_between(a, b) -%}{{ return(adapter.dispatch('seconds_between')(a, b)) }}{%- endmacro %}
{% macro default__seconds_between(a, b) -%}
    cast(extract(epoch from ({{ b }} - {{ a }})) as double precision)
{%- endmacro %}
{% macro duckdb__seconds_between(a, b) -%}
    cast(epoch({{ b }}) - epoch({{ a }}) as double precision)
{%- endmacro %}

{#- Y/N, true/false strings or JSON booleans -> boolean. -#}
{% macro yn_to_bool(expr) -%}
    (upper(cast({{ expr }} as varchar)) in ('Y', 'TRUE', '1'))
{%- endmacro %}

{#- A ratio that never divides by zero (double precision; null when the denominator is 0). -#}
{% macro safe_ratio(num, den) -%}
    cast({{ num }} as double precision) / nullif(cast({{ den }} as double precision), 0)
{%- endmacro %}

{#- First day of the period containing a date: day | week (ISO, Monday) | month | quarter | year. -#}
{% macro period_start(grain, d) -%}
    cast(date_trunc('{{ grain }}', cast({{ d }} as timestamp)) as date)
{%- endmacro %}

{#- Add n days to a date. -#}
{% macro add_days(d, n) -%}{{ return(adapter.dispatch('add_days')(d, n)) }}{%- endmacro %}
{% macro default__add_days(d, n) -%}cast({{ d }} + cast({{ n }} as integer) as date){%- endmacro %}
{% macro duckdb__add_days(d, n) -%}cast({{ d }} + cast({{ n }} as integer) as date){%- endmacro %}

{#- Unnest a JSON array column into rows: yields a column `elem` (json). Use in FROM. A SQL NULL,
    a JSON null or a non-array yields no rows on both engines, so callers need no `is not null`
    filter on the JSON, which DuckDB pays for with a second parse of the whole document. -#}
{% macro json_array_elements(col) -%}{{ return(adapter.dispatch('json_array_elements')(col)) }}{%- endmacro %}
{% macro default__json_array_elements(col) -%}
    lateral jsonb_array_elements({{ jsonb_array_or_null(col) }}) as arr(elem)
{%- endmacro %}
{% macro duckdb__json_array_elements(col) -%}
    unnest({{ duckdb_json_list_or_null(col) }}) as arr(elem)
{%- endmacro %}

{#- DuckDB: the value as a list when it is a JSON array, else NULL (casting an object or a scalar to
    json[] raises). Same cost as the bare cast at 1M leads. -#}
{% macro duckdb_json_list_or_null(col) -%}
    case when json_type({{ col }}) = 'ARRAY' then cast({{ col }} as json[]) end
{%- endmacro %}

{#- PostgreSQL: the value as jsonb when it is an array, else NULL (jsonb_array_elements raises on a
    scalar, JSON null included). -#}
{% macro jsonb_array_or_null(col) -%}
    case when jsonb_typeof(cast({{ col }} as jsonb)) = 'array' then cast({{ col }} as jsonb) end
{%- endmacro %}

{#- First element of a JSON array as text. -#}
{% macro json_first_text(expr) -%}{{ return(adapter.dispatch('json_first_text')(expr)) }}{%- endmacro %}
{% macro default__json_first_text(expr) -%}(cast({{ expr }} as jsonb) ->> 0){%- endmacro %}
{% macro duckdb__json_first_text(expr) -%}({{ expr }} ->> '$[0]'){%- endmacro %}

{#- Unnest a JSON array column into rows with their 1-based position: columns `elem` (json) and
    `idx`. Use in FROM. NULL-safe like json_array_elements. -#}
{% macro json_array_elements_ordinal(col) -%}{{ return(adapter.dispatch('json_array_elements_ordinal')(col)) }}{%- endmacro %}
{% macro default__json_array_elements_ordinal(col) -%}
    lateral jsonb_array_elements({{ jsonb_array_or_null(col) }}) with ordinality as arr(elem, idx)
{%- endmacro %}
{% macro duckdb__json_array_elements_ordinal(col) -%}
    unnest({{ duckdb_json_list_or_null(col) }}) with ordinality as arr(elem, idx)
{%- endmacro %}
