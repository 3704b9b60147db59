with source as (

    select * from {{ source_or_empty('raw_amocrm', 'account', [('_account', 'varchar'), ('id', 'bigint'), ('_is_deleted', 'boolean'), ('_extracted_at', 'timestamp'), ('_batch_id', 'varchar'), ('payload', 'json')]) }}

),

parsed as (

    select *, {{ parse_payload([('name', 'VARCHAR'), ('subdomain', 'VARCHAR'), ('currency', 'VARCHAR'), ('country', 'VARCHAR')]) }} as j
    from source

),

renamed as (

    select
        'amocrm' as source_system,
        _account as account,
        id as account_id,
        nullif({{ jv('name') }}, '') as account_name,
        nullif({{ jv('subdomain') }}, '') as subdomain,
        nullif({{ jv('currency') }}, '') as currency,
        nullif({{ jv('country') }}, '') as country,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from parsed

)

select * from renamed
