with source as (

    select * from {{ source_or_empty('raw_amocrm', 'users', [('_account', 'varchar'), ('id', 'bigint'), ('_is_deleted', 'boolean'), ('_extracted_at', 'timestamp'), ('_batch_id', 'varchar'), ('payload', 'json')]) }}

),

parsed as (

    select *, {{ parse_payload([('name', 'VARCHAR'), ('email', 'VARCHAR'), ('rights.group_id', 'VARCHAR'), ('rights.is_active', 'VARCHAR')]) }} as j
    from source

),

renamed as (

    select
        'amocrm' as source_system,
        _account as account,
        id as user_id,
        nullif({{ jv('name') }}, '') as user_name,
        nullif({{ jv('email') }}, '') as email,
        cast(nullif({{ jv('rights.group_id') }}, '') as bigint) as department_id,
        {{ yn_to_bool(jv('rights.is_active')) }} as is_active,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from parsed

)

select * from renamed
