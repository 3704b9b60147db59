with source as (

    select * from {{ source_or_empty('raw_amocrm', 'leads', [('_account', 'varchar'), ('id', 'bigint'), ('_is_deleted', 'boolean'), ('_extracted_at', 'timestamp'), ('_batch_id', 'varchar'), ('payload', 'json')]) }}
    {#- an incremental run reads only the rows landed since (macros/incremental.sql) #}
    where {{ changed_since_watermark('_extracted_at') }}

),

parsed as (

    select *, {{ parse_payload([('name', 'VARCHAR'), ('price', 'VARCHAR'), ('responsible_user_id', 'VARCHAR'), ('group_id', 'VARCHAR'), ('status_id', 'VARCHAR'), ('pipeline_id', 'VARCHAR'), ('loss_reason_id', 'VARCHAR'), ('source_id', 'VARCHAR'), ('created_by', 'VARCHAR'), ('custom_fields_values', 'JSON'), ('_embedded.catalog_elements', 'JSON'), ('_embedded.tags', 'JSON'), ('created_at', 'VARCHAR'), ('updated_at', 'VARCHAR'), ('closed_at', 'VARCHAR'), ('is_deleted', 'VARCHAR')]) }} as j
    from source

),

renamed as (

    select
        'amocrm' as source_system,
        _account as account,
        id as lead_id,
        nullif({{ jv('name') }}, '') as lead_name,
        cast(nullif({{ jv('price') }}, '') as double precision) as price,
        cast(nullif({{ jv('responsible_user_id') }}, '') as bigint) as responsible_user_id,
        cast(nullif({{ jv('group_id') }}, '') as bigint) as group_id,
        cast(nullif({{ jv('status_id') }}, '') as bigint) as status_id,
        cast(nullif({{ jv('pipeline_id') }}, '') as bigint) as pipeline_id,
        cast(nullif({{ jv('loss_reason_id') }}, '') as bigint) as loss_reason_id,
        cast(nullif({{ jv('source_id') }}, '') as bigint) as source_id,
        cast(nullif({{ jv('created_by') }}, '') as bigint) as created_by_user_id,
        {{ jjson('custom_fields_values') }} as custom_fields_values,
        {{ jjson('_embedded.catalog_elements') }} as catalog_element_links,
        {{ jjson('_embedded.tags') }} as tags,
        {{ unix_to_utc("nullif(" ~ jv('created_at') ~ ", '')") }} as created_at,
        {{ unix_to_utc("nullif(" ~ jv('updated_at') ~ ", '')") }} as updated_at,
        {{ unix_to_utc("nullif(" ~ jv('closed_at') ~ ", '')") }} as closed_at,
        _is_deleted or coalesce({{ yn_to_bool(jv('is_deleted')) }}, false) as is_deleted_in_crm,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from parsed

)

select * from renamed
