with source as (

    select * from {{ source_or_empty('raw_amocrm', 'pipelines', [('_account', 'varchar'), ('id', 'bigint'), ('_is_deleted', 'boolean'), ('_extracted_at', 'timestamp'), ('_batch_id', 'varchar'), ('payload', 'json')]) }}

),

parsed as (

    select *, {{ parse_payload([('name', 'VARCHAR'), ('sort', 'VARCHAR'), ('is_main', 'VARCHAR'), ('is_archive', 'VARCHAR')]) }} as j
    from source

),

renamed as (

    select
        'amocrm' as source_system,
        _account as account,
        id as pipeline_id,
        nullif({{ jv('name') }}, '') as pipeline_name,
        cast(nullif({{ jv('sort') }}, '') as integer) as sort_order,
        {{ yn_to_bool(jv('is_main')) }} as is_main,
        {{ yn_to_bool(jv('is_archive')) }} as is_archive,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from parsed

)

select * from renamed
