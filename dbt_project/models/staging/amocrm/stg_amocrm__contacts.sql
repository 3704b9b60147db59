with source as (

    select * from {{ source_or_empty('raw_amocrm', 'contacts', [('_account', 'varchar'), ('id', 'bigint'), ('_is_deleted', 'boolean'), ('_extracted_at', 'timestamp'), ('_batch_id', 'varchar'), ('payload', 'json')]) }}

),

renamed as (

    select
        'amocrm' as source_system,
        _account as account,
        id as contact_id,
        nullif(payload ->> 'name', '') as contact_name,
        cast(nullif(payload ->> 'responsible_user_id', '') as bigint) as responsible_user_id,
        payload -> 'custom_fields_values' as custom_fields_values,
        {{ unix_to_utc("nullif(payload ->> 'created_at', '')") }} as created_at,
        {{ unix_to_utc("nullif(payload ->> 'updated_at', '')") }} as updated_at,
        _is_deleted as is_deleted,
        _extracted_at as extracted_at,
        _batch_id as batch_id
    from source

)

select * from renamed
