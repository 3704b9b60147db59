{#- The sales plans in force: the head of sales' file loaded by the `plans/sales_plans` asset when
    there is one, otherwise the `sales_plans` seed. The file replaces the seed as a whole (never a
    mix of the two), so a plan line deleted from the file disappears from the marts. -#}
with

loaded as (

    select
        cast(period_start as date) as period_start,
        cast(scope_type as varchar(32)) as scope_type,
        cast(scope_id as varchar(200)) as scope_id,
        cast(scope_name as varchar(200)) as scope_name,
        cast(metric as varchar(32)) as metric,
        cast(target as double precision) as target
    from {{ source_or_empty('plans', 'sales_plans', [('period_start', 'date'), ('scope_type', 'varchar'),
                                                      ('scope_id', 'varchar'), ('scope_name', 'varchar'),
                                                      ('metric', 'varchar'), ('target', 'double precision')]) }}

),

seeded as (

    select
        cast(period_start as date) as period_start,
        cast(scope_type as varchar(32)) as scope_type,
        cast(scope_id as varchar(200)) as scope_id,
        cast(scope_name as varchar(200)) as scope_name,
        cast(metric as varchar(32)) as metric,
        cast(target as double precision) as target
    from {{ ref('sales_plans') }}

)

select * from loaded
union all
select * from seeded
where not exists (select 1 from loaded)
