{#- CRM users (managers) of every account with department and branch. -#}
with

bitrix24_users as (

    select
        source_system, account, user_id,
        trim(coalesce(first_name, '') || ' ' || coalesce(last_name, '')) as user_name,
        email, work_position, department_id, is_active, registered_at
    from {{ ref('stg_bitrix24__users') }}
    where not is_deleted

),

amocrm_users as (

    select
        source_system, account, user_id, user_name, email,
        cast(null as varchar) as work_position, department_id, is_active,
        cast(null as timestamp) as registered_at
    from {{ ref('stg_amocrm__users') }}
    where not is_deleted

),

users as (

    select * from bitrix24_users
    union all
    select * from amocrm_users

),

overrides as (

    select * from {{ ref('manager_departments') }}

)

select
    users.source_system,
    users.account,
    users.user_id,
    users.source_system || ':' || users.account || ':' || cast(users.user_id as varchar) as user_key,
    users.user_name,
    users.email,
    users.work_position,
    coalesce(overrides.department_id, users.department_id) as department_id,
    departments.department_key,
    departments.department_name,
    departments.branch,
    users.is_active,
    users.registered_at
from users
left join overrides
    on users.source_system = overrides.source_system
    and users.account = overrides.account
    and users.user_id = overrides.manager_id
left join {{ ref('int_departments') }} as departments
    on users.source_system = departments.source_system
    and users.account = departments.account
    and coalesce(overrides.department_id, users.department_id) = departments.department_id
