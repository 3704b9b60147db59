{#- The date dimension with the Russian production calendar (производственный календарь). -#}
with

calendar as (

    select * from {{ ref('ru_working_calendar') }}

),

numbered as (

    select
        calendar.*,
        {{ period_start('week', 'calendar_date') }} as week_start,
        {{ period_start('month', 'calendar_date') }} as month_start,
        {{ period_start('quarter', 'calendar_date') }} as quarter_start,
        {{ period_start('year', 'calendar_date') }} as year_start,
        min(case when is_working_day then calendar_date end) over (
            order by calendar_date rows between current row and unbounded following
        ) as next_working_date_on_or_after,
        min(case when is_working_day then calendar_date end) over (
            order by calendar_date rows between 1 following and unbounded following
        ) as next_working_date_after
    from calendar

)

select
    cast(calendar_date as date) as calendar_date,
    cast(extract(year from calendar_date) as integer) as year_number,
    cast(extract(quarter from calendar_date) as integer) as quarter_number,
    cast(extract(month from calendar_date) as integer) as month_number,
    cast(extract(isodow from calendar_date) as integer) as iso_weekday,
    cast(week_start as date) as week_start,
    cast(month_start as date) as month_start,
    cast(quarter_start as date) as quarter_start,
    cast(year_start as date) as year_start,
    is_working_day,
    is_weekend,
    is_holiday,
    is_transferred_workday,
    nullif(holiday_name, '') as holiday_name,
    cast(sum(case when is_working_day then 1 else 0 end) over (
        partition by month_start order by calendar_date rows between unbounded preceding and current row
    ) as integer) as working_day_of_month,
    cast(sum(case when is_working_day then 1 else 0 end) over (partition by month_start) as integer)
        as working_days_in_month,
    cast(next_working_date_on_or_after as date) as next_working_date_on_or_after,
    cast(next_working_date_after as date) as next_working_date_after
from numbered
