{#- Departments of every account with their branch (филиал): the ancestor right under the company
    root (Bitrix24 tree), mapped to a branch name by the department_branches seed. -#}
with recursive

bitrix24_departments as (

    select source_system, account, department_id, department_name, parent_department_id
    from {{ ref('stg_bitrix24__departments') }}
    where not is_deleted

),

amocrm_departments as (

    select source_system, account, department_id, department_name,
        cast(null as bigint) as parent_department_id
    from {{ ref('stg_amocrm__user_groups') }}
    where not is_deleted

),

departments as (

    select * from bitrix24_departments
    union all
    select * from amocrm_departments

),

ancestry as (

    select
        source_system, account, department_id,
        department_id as ancestor_id,
        parent_department_id as ancestor_parent_id,
        0 as depth
    from departments

    union all

    select
        ancestry.source_system, ancestry.account, ancestry.department_id,
        parents.department_id as ancestor_id,
        parents.parent_department_id as ancestor_parent_id,
        ancestry.depth + 1 as depth
    from ancestry
    inner join departments as parents
        on ancestry.source_system = parents.source_system
        and ancestry.account = parents.account
        and ancestry.ancestor_parent_id = parents.department_id
    where ancestry.depth < 20

),

roots as (

    select source_system, account, department_id as root_department_id
    from departments
    where parent_department_id is null

),

{#- The branch department: the ancestor whose parent is a root. Flat structures (amoCRM groups) have
    no root above them, so a department is its own branch department there. -#}
branch_ancestors as (

    select ancestry.source_system, ancestry.account, ancestry.department_id,
        ancestry.ancestor_id as branch_department_id
    from ancestry
    inner join roots
        on ancestry.source_system = roots.source_system
        and ancestry.account = roots.account
        and ancestry.ancestor_parent_id = roots.root_department_id

),

with_branch_department as (

    select
        departments.*,
        case
            when departments.source_system = 'amocrm' then departments.department_id
            else branch_ancestors.branch_department_id
        end as branch_department_id
    from departments
    left join branch_ancestors
        on departments.source_system = branch_ancestors.source_system
        and departments.account = branch_ancestors.account
        and departments.department_id = branch_ancestors.department_id

),

named as (

    select
        with_branch_department.*,
        branch_departments.department_name as branch_department_name
    from with_branch_department
    left join departments as branch_departments
        on with_branch_department.source_system = branch_departments.source_system
        and with_branch_department.account = branch_departments.account
        and with_branch_department.branch_department_id = branch_departments.department_id

),

branch_candidates as (

    select
        named.source_system, named.account, named.department_id,
        mapping.branch,
        case
            when mapping.department_name = named.department_name then 1
            when mapping.department_name = named.branch_department_name then 2
            else 3
        end as specificity,
        case when mapping.account = named.account then 0 else 1 end as account_specificity
    from named
    inner join {{ ref('department_branches') }} as mapping
        on mapping.source_system = named.source_system
        and mapping.account in (named.account, '*')
        and mapping.department_name in (named.department_name, named.branch_department_name, '*')

),

best_branch as (

    select source_system, account, department_id, branch
    from (
        select
            branch_candidates.*,
            row_number() over (
                partition by source_system, account, department_id
                order by specificity, account_specificity
            ) as rank_in_department
        from branch_candidates
    ) as ranked
    where rank_in_department = 1

)

select
    named.source_system,
    named.account,
    named.department_id,
    named.source_system || ':' || named.account || ':' || cast(named.department_id as varchar) as department_key,
    named.department_name,
    named.parent_department_id,
    named.branch_department_id,
    named.branch_department_name,
    coalesce(best_branch.branch, named.branch_department_name) as branch,
    named.parent_department_id is null and named.source_system = 'bitrix24' as is_company_root
from named
left join best_branch
    on named.source_system = best_branch.source_system
    and named.account = best_branch.account
    and named.department_id = best_branch.department_id
