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
