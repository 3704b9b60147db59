{#- Departments (отделы) with their branch (филиал). -#}
select
    department_key,
    source_system,
    account,
    department_id,
    department_name,
    parent_department_id,
    branch_department_id,
    branch,
    is_company_root
from {{ ref('int_departments') }}
