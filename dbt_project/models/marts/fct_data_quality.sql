{#- Data quality (качество данных): run × date × channel × manager × rule — leads checked, failed,
    share. Two kinds of runs: `dbt` (checks computed here on every build: CRM-marked junk, missing
    source, missing responsible, unmapped channel, taken SLA missed) and the junk-detection runs of
    quality.lead_junk_flags / quality.lead_checks (issue 5). The date is the lead's creation date. -#}
with

leads as (

    select * from {{ ref('fct_lead_control_points') }}

),

report as (

    select report_date from {{ ref('int_report_date') }}

),

{#- One pass over the leads: every rule shares the grouping (date × channel × manager), so the leads
    are aggregated once with a failed count per rule, then fanned out to one row per rule. -#}
{%- set rules = {
    'crm_marked_junk': 'is_crm_junk',
    'missing_source': "channel = 'unknown'",
    'missing_responsible': 'manager_key is null',
    'unmapped_channel': "channel = 'unmapped'",
    'taken_sla_missed': 'not is_taken_within_sla',
} %}
dbt_groups as (

    select
        leads.created_date as lead_date,
        leads.channel,
        leads.manager_key,
        count(*) as leads_checked,
        {%- for rule, condition in rules.items() %}
        count(case when {{ condition }} then 1 end) as failed_{{ rule }}{{ "," if not loop.last }}
        {%- endfor %}
    from leads
    group by 1, 2, 3

),

dbt_rule_names as (

    {%- for rule in rules %}
    select '{{ rule }}' as rule
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

dbt_rules as (

    select
        'dbt' as run_id,
        cast(report.report_date as timestamp) as checked_at,
        dbt_groups.lead_date,
        dbt_groups.channel,
        dbt_groups.manager_key,
        dbt_rule_names.rule,
        dbt_groups.leads_checked,
        case dbt_rule_names.rule
            {%- for rule in rules %}
            when '{{ rule }}' then dbt_groups.failed_{{ rule }}
            {%- endfor %}
        end as leads_failed
    from dbt_groups
    cross join dbt_rule_names
    cross join report

),

checks as (

    select checks.run_id, max(checks.checked_at) over (partition by checks.run_id) as checked_at,
        leads.created_date as lead_date, leads.channel, leads.manager_key,
        checks.source_system, checks.account, checks.lead_id
    from {{ source('quality', 'lead_checks') }} as checks
    inner join leads
        on checks.source_system = leads.source_system
        and checks.account = leads.account
        and checks.lead_id = leads.lead_id

),

flags as (

    select distinct run_id, rule, source_system, account, lead_id
    from {{ source('quality', 'lead_junk_flags') }}

),

run_rules as (

    select distinct run_id, rule from flags

),

pipeline_rules as (

    select
        checks.run_id,
        max(checks.checked_at) as checked_at,
        checks.lead_date,
        checks.channel,
        checks.manager_key,
        run_rules.rule,
        count(*) as leads_checked,
        count(case when flags.lead_id is not null then 1 end) as leads_failed
    from checks
    inner join run_rules
        on checks.run_id = run_rules.run_id
    left join flags
        on checks.run_id = flags.run_id
        and run_rules.rule = flags.rule
        and checks.source_system = flags.source_system
        and checks.account = flags.account
        and checks.lead_id = flags.lead_id
    group by 1, 3, 4, 5, 6

),

unioned as (

    select * from dbt_rules
    union all
    select * from pipeline_rules

)

select
    run_id,
    cast(checked_at as timestamp) as checked_at,
    cast(lead_date as date) as lead_date,
    channel,
    manager_key,
    rule,
    cast(leads_checked as bigint) as leads_checked,
    cast(leads_failed as bigint) as leads_failed,
    {{ safe_ratio('leads_failed', 'leads_checked') }} as failed_share
from unioned
