{#- One row per (lead, linked contact): amoCRM keeps the client's phones and e-mails on the contact,
    not on the lead (leads are read with `with=contacts`). is_main marks the lead's main contact;
    is_lead_contact the one contact a lead is matched with (the main one, else the first). -#}
with source as (

    select * from {{ source_or_empty('raw_amocrm', 'leads', [('_account', 'varchar'), ('id', 'bigint'), ('_is_deleted', 'boolean'), ('_extracted_at', 'timestamp'), ('_batch_id', 'varchar'), ('payload', 'json')]) }}
    {#- an incremental run reads only the rows landed since (macros/incremental.sql) #}
    where {{ changed_since_watermark('_extracted_at') }}

),

links as (

    select
        'amocrm' as source_system,
        source._account as account,
        source.id as lead_id,
        cast(arr.elem ->> 'id' as bigint) as contact_id,
        {{ yn_to_bool("arr.elem ->> 'is_main'") }} as is_main,
        cast(arr.idx as integer) as link_position,
        source._extracted_at as extracted_at
    from source,
        {{ json_array_elements_ordinal("source.payload -> '_embedded' -> 'contacts'") }}
    where not source._is_deleted

),

renamed as (

    select
        *,
        {#- the contact the lead's phones and e-mails come from: the main one, else the first -#}
        row_number() over (
            partition by account, lead_id order by case when is_main then 0 else 1 end, link_position
        ) = 1 as is_lead_contact
    from links

)

select * from renamed
