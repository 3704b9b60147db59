{{ config(severity='warn', store_failures=true) }}
-- Raw payment-form values with no row in the payment_forms seed (deals show payment_form = 'unmapped').
select source_system, account, payment_form_raw, count(*) as deals
from {{ ref('int_deals') }}
where payment_form = 'unmapped'
group by 1, 2, 3
