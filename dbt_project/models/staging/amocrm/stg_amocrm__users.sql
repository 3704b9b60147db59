with source as (

    select * from {{ source_or_empty('raw_amocrm', 'users', [('_account', 'varchar'), ('id', 'bigint'), ('_is_deleted', 'boolean'), ('_extracted_at', 'timestamp'), ('_batch_id', 'varchar'), ('payload', 'json')]) }}

),

renamed as (

    select
        'amocrm' as source_system,
        _account as account,
        id as user_id,
        nullif(payload ->> 'name', '') as user_name,
        nullif(payload ->> 'email', '') as email,
        cast(nullif(payload -> 'rights' ->> 'group_id', '') as bigint) as department_id,
        {{ yn_to_bool("payload -> 'rights' ->> 'is_active'") }} as is_active,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from source

)

select * from renamed
