{#- One row per lead (лид): when each control point was reached, durations, the taken SLA, junk
    (CRM-marked and pipeline-detected), channel, manager, department, branch. -#}
with

leads as (

    select * from {{ ref('int_leads') }}

),

{#- Everything known per lead from its stage transitions, payments and deals, in one aggregate
    (one pass, one join to the leads instead of three): the transitions without a point or at
    'recorded' (~45% of them, never read below) are left out; a payment or deal
    row carries its own column, null elsewhere. -#}
lead_events as (

    select
        source_system, account, lead_id, control_point, stage_part, entered_at,
        cast(null as timestamp) as payment_paid_at, cast(null as bigint) as deal_id
    from {{ ref('int_stage_transitions') }}
    where lead_id is not null
        and control_point <> 'recorded'
    union all
    select
        source_system, account, lead_id, cast(null as varchar), cast(null as varchar), cast(null as timestamp),
        paid_at, cast(null as bigint)
    from {{ ref('int_payments') }}
    where lead_id is not null
    union all
    select
        source_system, account, lead_id, cast(null as varchar), cast(null as varchar), cast(null as timestamp),
        cast(null as timestamp), deal_id
    from {{ ref('int_deals') }}
    where lead_id is not null

),

stage_points as (

    select
        source_system, account, lead_id,
        min(case when control_point = 'taken' then entered_at end) as taken_at,
        min(case when control_point = 'classified' then entered_at end) as classified_at,
        min(case when control_point in ('rejected', 'lost') and stage_part = 'lead' then entered_at end) as rejected_at,
        min(case when control_point = 'shown' then entered_at end) as shown_at,
        min(case when control_point = 'booked' then entered_at end) as booked_at,
        min(case when control_point = 'contract' then entered_at end) as contract_at,
        min(case when control_point = 'paid' then entered_at end) as won_stage_at,
        min(case when control_point = 'lost' and stage_part = 'deal' then entered_at end) as deal_lost_at,
        min(payment_paid_at) as first_paid_at,
        min(deal_id) as deal_id
    from lead_events
    group by 1, 2, 3

),

latest_quality_run as (

    select max(checked_at) as checked_at from {{ source('quality', 'lead_junk_flags') }}

),

detected_junk as (

    select
        flags.source_system, flags.account, flags.lead_id,
        string_agg(distinct flags.rule, ',' order by flags.rule) as detected_junk_rules,
        max(flags.severity) as detected_junk_severity
    from {{ source('quality', 'lead_junk_flags') }} as flags
    inner join {{ source('quality', 'lead_junk_flags') }} as run_rows
        on flags.run_id = run_rows.run_id
    inner join latest_quality_run
        on run_rows.checked_at = latest_quality_run.checked_at
    group by 1, 2, 3

),

calendar as (

    select calendar_date, is_working_day, next_working_date_after from {{ ref('dim_date') }}

),

joined as (

    select
        leads.*,
        {{ to_local('leads.created_at') }} as created_local,
        stage_points.deal_id,
        leads.created_at as recorded_at,
        stage_points.taken_at,
        stage_points.classified_at,
        stage_points.rejected_at,
        stage_points.shown_at,
        stage_points.booked_at,
        stage_points.contract_at,
        least(stage_points.won_stage_at, stage_points.first_paid_at) as paid_at,
        stage_points.deal_lost_at,
        detected_junk.detected_junk_rules,
        detected_junk.detected_junk_severity
    from leads
    left join stage_points
        on leads.source_system = stage_points.source_system
        and leads.account = stage_points.account
        and leads.lead_id = stage_points.lead_id
    left join detected_junk
        on leads.source_system = detected_junk.source_system
        and leads.account = detected_junk.account
        and leads.lead_id = detected_junk.lead_id

),

{#- The taken SLA clock starts at creation inside working hours of a working day, otherwise at the
    start of the next working day. -#}
sla as (

    select
        joined.*,
        case
            when calendar.is_working_day
                and extract(hour from joined.created_local) >= {{ var('working_hours_start') }}
                and extract(hour from joined.created_local) < {{ var('working_hours_end') }}
                then joined.created_local
            when calendar.is_working_day
                and extract(hour from joined.created_local) < {{ var('working_hours_start') }}
                then cast(cast(joined.created_local as date) as timestamp)
                    + interval '{{ var("working_hours_start") }} hours'
            else cast(calendar.next_working_date_after as timestamp)
                + interval '{{ var("working_hours_start") }} hours'
        end as sla_clock_start_local
    from joined
    left join calendar
        on cast(joined.created_local as date) = calendar.calendar_date

)

select
    source_system,
    account,
    lead_id,
    lead_key,
    deal_id,
    manager_id,
    manager_key,
    department_id,
    department_key,
    department_name,
    branch,
    channel,
    source_code,
    utm_source,
    utm_medium,
    utm_campaign,
    project_code,
    classification,
    case
        when paid_at is not null then 'paid'
        when contract_at is not null then 'contract'
        when booked_at is not null then 'booked'
        when shown_at is not null then 'shown'
        when rejected_at is not null then 'rejected'
        when classified_at is not null then 'classified'
        when taken_at is not null then 'taken'
        else 'recorded'
    end as current_control_point,
    crm_junk_reason,
    detected_junk_rules,
    detected_junk_severity,
    cast(created_local as date) as created_date,
    recorded_at,
    taken_at,
    classified_at,
    rejected_at,
    shown_at,
    booked_at,
    contract_at,
    paid_at,
    deal_lost_at,
    {{ seconds_between('recorded_at', 'taken_at') }} / 60.0 as minutes_to_taken,
    {{ seconds_between('recorded_at', 'classified_at') }} / 3600.0 as hours_to_classified,
    {{ seconds_between('recorded_at', 'shown_at') }} / 86400.0 as days_to_shown,
    {{ seconds_between('shown_at', 'contract_at') }} / 86400.0 as days_shown_to_contract,
    {{ seconds_between('recorded_at', 'contract_at') }} / 86400.0 as days_to_contract,
    {{ seconds_between('contract_at', 'paid_at') }} / 86400.0 as days_contract_to_paid,
    cast(sla_clock_start_local + interval '{{ var("sla_taken_minutes") }} minutes' as timestamp)
        as taken_sla_deadline_local,
    coalesce({{ to_local('taken_at') }} <= sla_clock_start_local + interval '{{ var("sla_taken_minutes") }} minutes', false)
        as is_taken_within_sla,
    classified_at is not null or classification is not null as is_classified,
    classification = 'Целевой' as is_target,
    rejected_at is not null as is_crm_junk,
    detected_junk_rules is not null as is_detected_junk,
    rejected_at is not null or detected_junk_rules is not null as is_junk
from sla
