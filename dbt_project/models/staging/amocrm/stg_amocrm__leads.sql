with source as (

    select * from {{ source_or_empty('raw_amocrm', 'leads', [('_account', 'varchar'), ('id', 'bigint'), ('_is_deleted', 'boolean'), ('_extracted_at', 'timestamp'), ('_batch_id', 'varchar'), ('payload', 'json')]) }}

),

renamed as (

    select
        'amocrm' as source_system,
        _account as account,
        id as lead_id,
        nullif(payload ->> 'name', '') as lead_name,
        cast(nullif(payload ->> 'price', '') as double precision) as price,
        cast(nullif(payload ->> 'responsible_user_id', '') as bigint) as responsible_user_id,
        cast(nullif(payload ->> 'group_id', '') as bigint) as group_id,
        cast(nullif(payload ->> 'status_id', '') as bigint) as status_id,
        cast(nullif(payload ->> 'pipeline_id', '') as bigint) as pipeline_id,
        cast(nullif(payload ->> 'loss_reason_id', '') as bigint) as loss_reason_id,
        cast(nullif(payload ->> 'source_id', '') as bigint) as source_id,
        cast(nullif(payload ->> 'created_by', '') as bigint) as created_by_user_id,
        payload -> 'custom_fields_values' as custom_fields_values,
        payload -> '_embedded' -> 'catalog_elements' as catalog_element_links,
        payload -> '_embedded' -> 'tags' as tags,
        {{ unix_to_utc("nullif(payload ->> 'created_at', '')") }} as created_at,
        {{ unix_to_utc("nullif(payload ->> 'updated_at', '')") }} as updated_at,
        {{ unix_to_utc("nullif(payload ->> 'closed_at', '')") }} as closed_at,
        _is_deleted or coalesce({{ yn_to_bool("payload ->> 'is_deleted'") }}, false) as is_deleted_in_crm,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from source

)

select * from renamed
