{#- The funnel (воронка): period (week, month) × branch × department × manager × channel ×
    source_system, with counts at each control point and conversions between them, on two labelled
    bases (never mixed): `cohort` — of the leads created in the period, how many ever reached each
    point (and within var cohort_window_days days); `flow` — how many leads reached each point
    during the period. Each conversion ratio's numerator and denominator are the count columns. -#}
with

leads as (

    select * from {{ ref('fct_lead_control_points') }}

),

point_events as (

    {%- set points = ['recorded', 'taken', 'classified', 'rejected', 'shown', 'booked', 'contract', 'paid'] %}
    {%- for p in points %}
    select
        source_system, account, lead_id, branch, department_key, department_name, manager_key, channel,
        '{{ p }}' as control_point,
        {%- if p == 'recorded' %} created_date {%- else %} {{ local_date(p ~ '_at') }} {%- endif %} as reached_date
    from leads
    where {{ p }}_at is not null
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

{#- One aggregate per grain (no cross join with a grain table): the period start is then a plain
    expression of the row, which hashes far faster than a CASE over the grain at 1M leads. -#}
{%- set grains = ['week', 'month'] %}
cohort as (
    {%- for grain in grains %}

    select
        '{{ grain }}' as period_grain,
        {{ period_start(grain, 'leads.created_date') }} as period_start,
        'cohort' as funnel_basis,
        leads.source_system, leads.account, leads.branch, leads.department_key, leads.department_name,
        leads.manager_key, leads.channel,
        count(*) as leads_recorded,
        {%- for p in points[1:] %}
        {%- if p == 'classified' %}
        count(case when leads.is_classified then 1 end) as leads_classified,
        {%- else %}
        count(case when leads.{{ p }}_at is not null then 1 end) as leads_{{ p }},
        {%- endif %}
        {%- endfor %}
        {%- for p in points[1:] %}
        count(case when leads.{{ p }}_at is not null
            and leads.{{ p }}_at <= leads.recorded_at + interval '{{ var("cohort_window_days") }} days'
            then 1 end) as leads_{{ p }}_within_window{{ "," if not loop.last }}
        {%- endfor %}
    from leads
    group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
    {%- if not loop.last %}

    union all
    {%- endif %}
    {%- endfor %}

),

flow as (
    {%- for grain in grains %}

    select
        '{{ grain }}' as period_grain,
        {{ period_start(grain, 'point_events.reached_date') }} as period_start,
        'flow' as funnel_basis,
        source_system, account, branch, department_key, department_name, manager_key, channel,
        {%- for p in points %}
        count(case when control_point = '{{ p }}' then 1 end) as leads_{{ p }},
        {%- endfor %}
        {%- for p in points[1:] %}
        cast(null as bigint) as leads_{{ p }}_within_window{{ "," if not loop.last }}
        {%- endfor %}
    from point_events
    group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
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
    period_grain,
    cast(period_start as date) as period_start,
    funnel_basis,
    source_system,
    account,
    branch,
    department_key,
    department_name,
    manager_key,
    channel,
    {%- for p in points %}
    cast(leads_{{ p }} as bigint) as leads_{{ p }},
    {%- endfor %}
    {%- for p in points[1:] %}
    cast(leads_{{ p }}_within_window as bigint) as leads_{{ p }}_within_window,
    {%- endfor %}
    {{ safe_ratio('leads_taken', 'leads_recorded') }} as taken_rate,
    {{ safe_ratio('leads_classified', 'leads_taken') }} as classified_rate,
    {{ safe_ratio('leads_rejected', 'leads_recorded') }} as rejected_rate,
    {{ safe_ratio('leads_shown', 'leads_classified') }} as shown_rate,
    {{ safe_ratio('leads_booked', 'leads_shown') }} as booked_rate,
    {{ safe_ratio('leads_contract', 'leads_booked') }} as contract_rate,
    {{ safe_ratio('leads_paid', 'leads_contract') }} as paid_rate,
    {{ safe_ratio('leads_contract', 'leads_recorded') }} as lead_to_contract_rate
from unioned
