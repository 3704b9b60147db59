{{ config(severity='warn', store_failures=true) }}
-- CRM sources with no row in the source_channels seed (their leads show channel = 'unmapped').
select source_system, account, source_code, count(*) as leads
from {{ ref('int_leads') }}
where channel = 'unmapped'
group by 1, 2, 3
