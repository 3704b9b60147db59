{#- One row per (lead, linked catalog element): payments (invoices) and apartments of a lead. -#}
with source as (

    select * from {{ source_or_empty('raw_amocrm', 'leads', [('_account', 'varchar'), ('id', 'bigint'), ('_is_deleted', 'boolean'), ('_extracted_at', 'timestamp'), ('_batch_id', 'varchar'), ('payload', 'json')]) }}

),

renamed as (

    select
        'amocrm' as source_system,
        source._account as account,
        source.id as lead_id,
        cast(arr.elem ->> 'id' as bigint) as element_id,
        cast(arr.elem -> 'metadata' ->> 'catalog_id' as bigint) as catalog_id
    from source,
        {{ json_array_elements("source.payload -> '_embedded' -> 'catalog_elements'") }}

)

select * from renamed
