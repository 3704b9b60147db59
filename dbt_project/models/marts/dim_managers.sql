{#- Managers (менеджеры) of every account with department and branch. -#}
select
    user_key as manager_key,
    source_system,
    account,
    user_id as manager_id,
    user_name as manager_name,
    email,
    work_position,
    department_key,
    department_name,
    branch,
    is_active
from {{ ref('int_users') }}
