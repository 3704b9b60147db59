{#- The report date (дата отчёта): the last day the data covers, in the company time zone — the
    newest lead's creation date unless var `as_of_date` pins it. Expected-to-date, backlog and
    forecasts are computed as of this date. -#}
{% if var('as_of_date', none) %}
select cast('{{ var("as_of_date") }}' as date) as report_date
{% else %}
select max({{ local_date('created_at') }}) as report_date
from {{ ref('int_leads') }}
{% endif %}
