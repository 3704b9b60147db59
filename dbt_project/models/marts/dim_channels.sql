{#- Sales channels (каналы продаж) with the CRM sources mapped to each. -#}
with

channels as (

    select channel, channel_name, channel_group from {{ ref('channels') }}
    union all
    select 'unmapped', 'Источник не сопоставлен', 'unmapped'

),

sources as (

    select channel, string_agg(source_system || ':' || source_code, ', ' order by source_system, source_code)
        as mapped_sources
    from {{ ref('source_channels') }}
    group by 1

)

select
    channels.channel,
    channels.channel_name,
    channels.channel_group,
    sources.mapped_sources
from channels
left join sources
    on channels.channel = sources.channel
