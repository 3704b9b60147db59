{#- The funnel (воронка): period (week, month) × branch × department × manager × channel ×
    source_system, with counts at each control point and conversions between them, on two labelled
    bases (never mixed): `cohort` — of the leads created in the period, how many ever reached each
    point (and within var cohort_window_days days); `flow` — how many leads reached each point
    during the period. Each conversion ratio's numerator and denominator are the count columns. -#}
{%- set points = ['recorded', 'taken', 'classified', 'rejected', 'shown', 'booked', 'contract', 'paid'] %}
{%- set grains = ['week', 'month'] %}
{%- set dims = ['source_system', 'account', 'branch', 'department_key', 'department_name', 'manager_key', 'channel'] %}
with

{# Every distinct combination of the funnel's dimensions, numbered. The leads are then aggregated
    by this integer and their dates, never by the seven strings: hashing ten string keys over ~6M
    rows was most of the model's time. -#}
dimension_groups as (

    select
        {%- for d in dims %}
        {{ d }},
        {%- endfor %}
        {#- numbered in a total order of the distinct tuples, so the numbering is the same wherever the
            engine evaluates this CTE (materialised once or inlined at both of its uses) #}
        row_number() over (order by {{ dims | join(', ') }}) as group_id
    from (
        select distinct {{ dims | join(', ') }}
        from {{ ref('fct_lead_control_points') }}
    ) as distinct_groups

),

{#- One narrow row per lead: its group, its creation date and the local date of every point. -#}
lead_dates as (

    select
        dimension_groups.group_id,
        leads.created_date as recorded_date,
        leads.recorded_at is not null as is_recorded,
        leads.is_classified,
        {%- for p in points[1:] %}
        {{ local_date('leads.' ~ p ~ '_at') }} as {{ p }}_date,
        leads.{{ p }}_at <= leads.recorded_at + interval '{{ var("cohort_window_days") }} days' as is_{{ p }}_within_window{{ "," if not loop.last }}
        {%- endfor %}
    {# the model read directly (not a CTE read twice, which DuckDB would materialise whole) -#}
    from {{ ref('fct_lead_control_points') }} as leads
    inner join dimension_groups
        {%- for d in dims %}
        {{ 'on' if loop.first else 'and' }} leads.{{ d }} is not distinct from dimension_groups.{{ d }}
        {%- endfor %}

),

point_events as (

    {%- for p in points %}
    select group_id, {{ loop.index }} as point_number, {{ p }}_date as reached_date
    from lead_dates
    where {{ 'is_recorded' if p == 'recorded' else p ~ '_date is not null' }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

{#- One aggregate per grain (no cross join with a grain table): the period start is then a plain
    expression of the row, which hashes far faster than a CASE over the grain at 1M leads. -#}
cohort as (
    {%- for grain in grains %}

    select
        '{{ grain }}' as period_grain,
        {{ period_start(grain, 'recorded_date') }} as period_start,
        'cohort' as funnel_basis,
        group_id,
        count(*) as leads_recorded,
        {%- for p in points[1:] %}
        {%- if p == 'classified' %}
        count(case when is_classified then 1 end) as leads_classified,
        {%- else %}
        count({{ p }}_date) as leads_{{ p }},
        {%- endif %}
        {%- endfor %}
        {%- for p in points[1:] %}
        count(case when is_{{ p }}_within_window then 1 end) as leads_{{ p }}_within_window{{ "," if not loop.last }}
        {%- endfor %}
    from lead_dates
    group by 1, 2, 3, 4
    {%- if not loop.last %}

    union all
    {%- endif %}
    {%- endfor %}

),

flow as (
    {%- for grain in grains %}

    select
        '{{ grain }}' as period_grain,
        {{ period_start(grain, 'reached_date') }} as period_start,
        'flow' as funnel_basis,
        group_id,
        {%- for p in points %}
        count(case when point_number = {{ loop.index }} then 1 end) as leads_{{ p }},
        {%- endfor %}
        {%- for p in points[1:] %}
        cast(null as bigint) as leads_{{ p }}_within_window{{ "," if not loop.last }}
        {%- endfor %}
    from point_events
    group by 1, 2, 3, 4
    {%- if not loop.last %}

    union all
    {%- endif %}
    {%- endfor %}

),

unioned as (

    select * from cohort
    union all
    select * from flow

)

select
    unioned.period_grain,
    cast(unioned.period_start as date) as period_start,
    unioned.funnel_basis,
    {%- for d in dims %}
    dimension_groups.{{ d }},
    {%- endfor %}
    {%- for p in points %}
    cast(unioned.leads_{{ p }} as bigint) as leads_{{ p }},
    {%- endfor %}
    {%- for p in points[1:] %}
    cast(unioned.leads_{{ p }}_within_window as bigint) as leads_{{ p }}_within_window,
    {%- endfor %}
    {{ safe_ratio('unioned.leads_taken', 'unioned.leads_recorded') }} as taken_rate,
    {{ safe_ratio('unioned.leads_classified', 'unioned.leads_taken') }} as classified_rate,
    {{ safe_ratio('unioned.leads_rejected', 'unioned.leads_recorded') }} as rejected_rate,
    {{ safe_ratio('unioned.leads_shown', 'unioned.leads_classified') }} as shown_rate,
    {{ safe_ratio('unioned.leads_booked', 'unioned.leads_shown') }} as booked_rate,
    {{ safe_ratio('unioned.leads_contract', 'unioned.leads_booked') }} as contract_rate,
    {{ safe_ratio('unioned.leads_paid', 'unioned.leads_contract') }} as paid_rate,
    {{ safe_ratio('unioned.leads_contract', 'unioned.leads_recorded') }} as lead_to_contract_rate
from unioned
inner join dimension_groups
    on unioned.group_id = dimension_groups.group_id
