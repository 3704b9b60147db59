{#-
  The leads whose phones and e-mails may have changed since int_lead_contact_points was last built:
  a lead re-landed (its own multifields, its contact link, or a tombstone), or one whose contact was
  (the contact's phones and e-mails; a deleted contact takes them away). Contacts are matched to
  their leads by the current links — a lead that moved to another contact was itself re-landed.
  Since `newest`: the calling model's this_watermark('landed_through') (macros/incremental.sql).
-#}
{% macro lead_contact_landing_tables() -%}
    {{ return([('raw_bitrix24', 'leads'), ('raw_bitrix24', 'contacts'), ('raw_amocrm', 'leads'), ('raw_amocrm', 'contacts')]) }}
{%- endmacro %}

{% macro int_lead_contact_points_changes(newest) -%}
    {%- set since = newer_than('extracted_at', newest) -%}
    {%- set since_landed = newer_than('_extracted_at', newest) -%}
    select 'bitrix24' as source_system, account, lead_id
    from {{ ref('stg_bitrix24__leads') }}
    where {{ since }}
    union
    select 'bitrix24', leads.account, leads.lead_id
    from {{ ref('stg_bitrix24__leads') }} as leads
    inner join (
        select _account, id from {{ source('raw_bitrix24', 'contacts') }} where {{ since_landed }}
    ) as contacts
        on leads.account = contacts._account
        and leads.contact_id = contacts.id
    union
    select 'amocrm', account, lead_id
    from {{ ref('stg_amocrm__leads') }}
    where {{ since }}
    union
    select 'amocrm', links.account, links.lead_id
    from {{ ref('stg_amocrm__lead_contact_links') }} as links
    inner join (
        select _account, id
        from {{ source_or_empty('raw_amocrm', 'contacts', [('_account', 'varchar'), ('id', 'bigint'), ('_extracted_at', 'timestamp')]) }}
        where {{ since_landed }}
    ) as contacts
        on links.account = contacts._account
        and links.contact_id = contacts.id
    where links.is_lead_contact
{%- endmacro %}
