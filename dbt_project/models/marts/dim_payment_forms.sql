{#- Payment forms (формы оплаты) and the raw CRM values mapped to each. -#}
with

forms as (

    select payment_form, payment_form_name, sort_order from {{ ref('payment_form_names') }}
    union all
    select 'unmapped', 'Форма оплаты не сопоставлена', 100

),

raw_values as (

    select payment_form, string_agg(raw_value, ', ' order by raw_value) as mapped_raw_values
    from {{ ref('payment_forms') }}
    group by 1

)

select
    forms.payment_form,
    forms.payment_form_name,
    cast(forms.sort_order as integer) as sort_order,
    raw_values.mapped_raw_values
from forms
left join raw_values
    on forms.payment_form = raw_values.payment_form
