with source as (

    select * from {{ source_or_empty('raw_amocrm', 'statuses', [('pipeline_id', 'bigint'), ('_account', 'varchar'), ('id', 'bigint'), ('_is_deleted', 'boolean'), ('_extracted_at', 'timestamp'), ('_batch_id', 'varchar'), ('payload', 'json')]) }}

),

parsed as (

    select *, {{ parse_payload([('name', 'VARCHAR'), ('sort', 'VARCHAR'), ('type', 'VARCHAR')]) }} as j
    from source

),

renamed as (

    select
        'amocrm' as source_system,
        _account as account,
        id as status_id,
        pipeline_id as pipeline_id,
        nullif({{ jv('name') }}, '') as status_name,
        cast(nullif({{ jv('sort') }}, '') as integer) as sort_order,
        cast(nullif({{ jv('type') }}, '') as integer) as status_type,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from parsed

)

select * from renamed
