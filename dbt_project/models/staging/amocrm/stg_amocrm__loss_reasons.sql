with source as (

    select * from {{ source_or_empty('raw_amocrm', 'loss_reasons', [('_account', 'varchar'), ('id', 'bigint'), ('_is_deleted', 'boolean'), ('_extracted_at', 'timestamp'), ('_batch_id', 'varchar'), ('payload', 'json')]) }}

),

parsed as (

    select *, {{ parse_payload([('name', 'VARCHAR'), ('sort', 'VARCHAR')]) }} as j
    from source

),

renamed as (

    select
        'amocrm' as source_system,
        _account as account,
        id as loss_reason_id,
        nullif({{ jv('name') }}, '') as loss_reason_name,
        cast(nullif({{ jv('sort') }}, '') as integer) as sort_order,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from parsed

)

select * from renamed
