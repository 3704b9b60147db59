{#-
  Parse a landing table's JSON payload once per row. DuckDB re-parses the document for every
  `->>`, so staging reads all its fields with one json_transform into a struct `j`; PostgreSQL's
  jsonb is already parsed, so `j` is the payload itself.

    select *, {{ parse_payload([('ID', 'VARCHAR'), ('PHONE', 'JSON'), ('rights.group_id', 'VARCHAR')]) }} as j
    ...  {{ jv('ID') }}, {{ jjson('PHONE') }}, {{ jv('rights.group_id') }}
-#}
{% macro parse_payload(fields, col='payload') -%}{{ return(adapter.dispatch('parse_payload')(fields, col)) }}{%- endmacro %}
{% macro default__parse_payload(fields, col) -%}cast({{ col }} as jsonb){%- endmacro %}
{% macro duckdb__parse_payload(fields, col) -%}
    {%- set tree = {} -%}
    {%- for path, typ in fields -%}
        {%- set parts = path.split('.') -%}
        {%- set node = namespace(d=tree) -%}
        {%- for p in parts[:-1] -%}
            {%- if p not in node.d -%}{%- do node.d.update({p: {}}) -%}{%- endif -%}
            {%- set node.d = node.d[p] -%}
        {%- endfor -%}
        {%- do node.d.update({parts[-1]: typ}) -%}
    {%- endfor -%}
    json_transform({{ col }}, '{{ tojson(tree) | replace("'", "''") }}')
{%- endmacro %}

{% macro jv(path) -%}{{ return(adapter.dispatch('jv')(path)) }}{%- endmacro %}
{% macro default__jv(path) -%}
    {%- set parts = path.split('.') -%}
    {%- if parts | length == 1 -%}(j ->> '{{ path }}'){%- else -%}(j #>> '{ {{- parts | join(',') -}} }'){%- endif -%}
{%- endmacro %}
{% macro duckdb__jv(path) -%}j{% for p in path.split('.') %}."{{ p }}"{% endfor %}{%- endmacro %}

{% macro jjson(path) -%}{{ return(adapter.dispatch('jjson')(path)) }}{%- endmacro %}
{% macro default__jjson(path) -%}
    {%- set parts = path.split('.') -%}
    {%- if parts | length == 1 -%}(j -> '{{ path }}'){%- else -%}(j #> '{ {{- parts | join(',') -}} }'){%- endif -%}
{%- endmacro %}
{% macro duckdb__jjson(path) -%}j{% for p in path.split('.') %}."{{ p }}"{% endfor %}{%- endmacro %}

{#-
  Unnest a JSON array of objects into rows of a record `arr.rec`, reading the listed fields:
  DuckDB transforms the whole array into a list of typed structs in one parse (reading each
  element with `->>` re-parses it per field); PostgreSQL's jsonb elements are already parsed.
  `fields` is a json_transform element spec (object); read a field with jrec('a') or
  jrec('values.0.value') (array positions 0-based, as in JSON).

    from source, {{ json_array_records("source.payload -> 'custom_fields_values'",
                                       {'field_id': 'VARCHAR', 'values': [{'value': 'VARCHAR'}]}) }}
    ...  {{ jrec('field_id') }}, {{ jrec('values.0.value') }}

  A NULL, JSON null or non-array yields no rows on both engines (no filter needed that would parse
  the payload a second time).
-#}
{% macro json_array_records(col, fields) -%}{{ return(adapter.dispatch('json_array_records')(col, fields)) }}{%- endmacro %}
{% macro default__json_array_records(col, fields) -%}
    lateral jsonb_array_elements({{ jsonb_array_or_null(col) }}) as arr(rec)
{%- endmacro %}
{% macro duckdb__json_array_records(col, fields) -%}
    unnest(json_transform({{ col }}, '{{ tojson([fields]) | replace("'", "''") }}')) as arr(rec)
{%- endmacro %}

{% macro jrec(path) -%}{{ return(adapter.dispatch('jrec')(path)) }}{%- endmacro %}
{% macro default__jrec(path) -%}
    {%- set parts = path.split('.') -%}
    (arr.rec{% for p in parts %}{{ ' ->> ' if loop.last else ' -> ' }}{{ p if p.isdigit() else "'" ~ p ~ "'" }}{% endfor %})
{%- endmacro %}
{% macro duckdb__jrec(path) -%}
    arr.rec{% for p in path.split('.') %}{{ '[' ~ (p | int + 1) ~ ']' if p.isdigit() else '."' ~ p ~ '"' }}{% endfor %}
{%- endmacro %}
