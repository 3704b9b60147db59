"""The sandbox's on-disk CRM state: the contract between the generator and the emulators.

`crmwh sandbox generate --out DIR` writes::

    DIR/manifest.json                 seed, as_of, scale, and one entry per CRM account (see below)
    DIR/bitrix24_<account>.duckdb     one file per Bitrix24 portal, tables BITRIX24_DDL
    DIR/amocrm_<account>.duckdb       one file per amoCRM account, tables AMOCRM_DDL
    DIR/truth/*.parquet               ground truth the CRM itself does not hold (see TRUTH_FILES)
    DIR/truth/plans.csv, plans.xlsx   the sales plans file a head of sales keeps

The emulators (`crmwh sandbox serve --data DIR`) read and write these files; nothing is kept as
Python objects, so a million-lead state serves from disk. Emulator-owned tables (issued OAuth
tokens, request log) start with an underscore and are created by the emulator itself.

Column names follow each API's own field names so an emulator can translate a filter key to a
column without a lookup table: Bitrix24 old-style UPPER_SNAKE names (the emulator derives the
camelCase names of `crm.item.list` from them), amoCRM v4 snake_case names. Values are stored
typed (BIGINT ids, TIMESTAMPTZ in UTC, DECIMAL money, BOOLEAN flags); each emulator renders them
the way its API does (Bitrix24: strings, "Y"/"N", ISO time with the portal's offset; amoCRM: ints
and unix seconds). JSON columns hold lists/objects exactly as the API returns them.

Custom fields: Bitrix24 `UF_CRM_*` columns are added to crm_lead / crm_deal by the generator with
ALTER TABLE, one per row of crm_userfield (the emulator discovers them with DESCRIBE). amoCRM
custom fields live in the `custom_fields_values` JSON column, defined in `custom_fields`.

manifest.json::

    {"seed": 42, "as_of": "2026-11-27T00:00:00+00:00", "leads": 10000, "timezone": "Europe/Moscow",
     "accounts": [
        {"system": "bitrix24", "account": "b24-msk", "file": "bitrix24_b24-msk.duckdb",
         "branches": ["Москва", "Подмосковье"], "plan": "enterprise"|"standard",
         "portal_offset": "+03:00",
         "credentials": {"webhook_user_id": 1, "webhook_code": "...",
                         "oauth_client_id": "...", "oauth_client_secret": "...",
                         "oauth_refresh_token": "..."}},
        {"system": "amocrm", "account": "amo-kzn", "file": "amocrm_amo-kzn.duckdb",
         "branches": ["Казань"], "subdomain": "amo-kzn",
         "credentials": {"client_id": "...", "client_secret": "...", "redirect_uri": "...",
                         "auth_code": "...", "refresh_token": "...", "long_lived_token": "..."}}]}

Credentials are deterministic from the seed and are sandbox-only: they never open a real portal.

The generator also writes "months" (history length) and "generator_version" to the manifest;
`crmwh sandbox mutate` advances "as_of" by one day per run, appends the log's path to a
"mutations" list and writes DIR/mutations/NNNN.json: {"seed", "number", "as_of_before",
"as_of_after", "accounts": {account: {"system", "changed"|"added"|"deleted": {table: [ids]}}}}
(amoCRM deletions are is_deleted rows, so they are listed under "deleted" only).
Generator UF fields: leads UF_CRM_JUNK_REASON, UF_CRM_LEAD_CLASS, UF_CRM_PROJECT (enumeration ids
as BIGINT); deals UF_CRM_PAYMENT_FORM, UF_CRM_PROJECT, UF_CRM_LOSS_REASON (BIGINT enumeration ids),
UF_CRM_CONTRACT_DATE (DATE), UF_CRM_AREA (DOUBLE).
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

# --------------------------------------------------------------------------- Bitrix24
BITRIX24_DDL: dict[str, str] = {
    # user.get; UF_DEPARTMENT is a JSON list of department ids as ints.
    "b_user": """
        ID BIGINT PRIMARY KEY, ACTIVE BOOLEAN, NAME VARCHAR, LAST_NAME VARCHAR, SECOND_NAME VARCHAR,
        EMAIL VARCHAR, WORK_POSITION VARCHAR, PERSONAL_MOBILE VARCHAR, UF_DEPARTMENT JSON,
        USER_TYPE VARCHAR, DATE_REGISTER TIMESTAMPTZ, LAST_LOGIN TIMESTAMPTZ, IS_ONLINE BOOLEAN""",
    # department.get
    "b_department": "ID BIGINT PRIMARY KEY, NAME VARCHAR, SORT INTEGER, PARENT BIGINT, UF_HEAD BIGINT",
    # crm.status.list: lead statuses (ENTITY_ID=STATUS), SOURCE, DEAL_STAGE, DEAL_STAGE_{cat}, DEAL_TYPE,
    # SMART_INVOICE_STAGE_{cat}. SEMANTICS is NULL (process), 'S' or 'F'.
    "crm_status": """
        ID BIGINT PRIMARY KEY, ENTITY_ID VARCHAR, STATUS_ID VARCHAR, NAME VARCHAR, NAME_INIT VARCHAR,
        SORT INTEGER, SYSTEM BOOLEAN, CATEGORY_ID BIGINT, COLOR VARCHAR, SEMANTICS VARCHAR""",
    # crm.category.list (deal pipelines, entityTypeId 2; smart-invoice categories, 31). id 0 is default.
    "crm_category": "id BIGINT, entityTypeId INTEGER, name VARCHAR, sort INTEGER, isDefault BOOLEAN",
    # crm.lead.list / crm.item.list entityTypeId=1. PHONE/EMAIL: JSON lists of
    # {"ID","VALUE_TYPE","VALUE","TYPE_ID"} as Bitrix24 returns multifields.
    "crm_lead": """
        ID BIGINT PRIMARY KEY, TITLE VARCHAR, NAME VARCHAR, SECOND_NAME VARCHAR, LAST_NAME VARCHAR,
        STATUS_ID VARCHAR, STATUS_SEMANTIC_ID VARCHAR, STATUS_DESCRIPTION VARCHAR,
        SOURCE_ID VARCHAR, SOURCE_DESCRIPTION VARCHAR, ASSIGNED_BY_ID BIGINT, CREATED_BY_ID BIGINT,
        MODIFY_BY_ID BIGINT, MOVED_BY_ID BIGINT, DATE_CREATE TIMESTAMPTZ, DATE_MODIFY TIMESTAMPTZ,
        MOVED_TIME TIMESTAMPTZ, DATE_CLOSED TIMESTAMPTZ, OPPORTUNITY DECIMAL(18,2), CURRENCY_ID VARCHAR,
        COMMENTS VARCHAR, CONTACT_ID BIGINT, COMPANY_ID BIGINT, IS_RETURN_CUSTOMER BOOLEAN,
        OPENED BOOLEAN, UTM_SOURCE VARCHAR, UTM_MEDIUM VARCHAR, UTM_CAMPAIGN VARCHAR,
        UTM_CONTENT VARCHAR, UTM_TERM VARCHAR, PHONE JSON, EMAIL JSON""",
    # crm.deal.list / crm.item.list entityTypeId=2. STAGE_ID carries "C{n}:" outside category 0.
    "crm_deal": """
        ID BIGINT PRIMARY KEY, TITLE VARCHAR, TYPE_ID VARCHAR, CATEGORY_ID BIGINT, STAGE_ID VARCHAR,
        STAGE_SEMANTIC_ID VARCHAR, IS_NEW BOOLEAN, CLOSED BOOLEAN, OPPORTUNITY DECIMAL(18,2),
        CURRENCY_ID VARCHAR, ASSIGNED_BY_ID BIGINT, CREATED_BY_ID BIGINT, MODIFY_BY_ID BIGINT,
        MOVED_BY_ID BIGINT, DATE_CREATE TIMESTAMPTZ, DATE_MODIFY TIMESTAMPTZ, MOVED_TIME TIMESTAMPTZ,
        BEGINDATE TIMESTAMPTZ, CLOSEDATE TIMESTAMPTZ, LEAD_ID BIGINT, CONTACT_ID BIGINT,
        COMPANY_ID BIGINT, SOURCE_ID VARCHAR, SOURCE_DESCRIPTION VARCHAR, COMMENTS VARCHAR,
        OPENED BOOLEAN, UTM_SOURCE VARCHAR, UTM_MEDIUM VARCHAR, UTM_CAMPAIGN VARCHAR,
        UTM_CONTENT VARCHAR, UTM_TERM VARCHAR""",
    "crm_contact": """
        ID BIGINT PRIMARY KEY, NAME VARCHAR, SECOND_NAME VARCHAR, LAST_NAME VARCHAR, TYPE_ID VARCHAR,
        SOURCE_ID VARCHAR, ASSIGNED_BY_ID BIGINT, CREATED_BY_ID BIGINT, MODIFY_BY_ID BIGINT,
        DATE_CREATE TIMESTAMPTZ, DATE_MODIFY TIMESTAMPTZ, OPENED BOOLEAN, COMPANY_ID BIGINT,
        LEAD_ID BIGINT, PHONE JSON, EMAIL JSON""",
    "crm_company": """
        ID BIGINT PRIMARY KEY, TITLE VARCHAR, COMPANY_TYPE VARCHAR, INDUSTRY VARCHAR,
        ASSIGNED_BY_ID BIGINT, CREATED_BY_ID BIGINT, MODIFY_BY_ID BIGINT, DATE_CREATE TIMESTAMPTZ,
        DATE_MODIFY TIMESTAMPTZ, OPENED BOOLEAN, PHONE JSON, EMAIL JSON""",
    # crm.activity.list. TYPE_ID 1 meeting, 2 call, 3 task, 4 email, 6 provider (CRM_TODO).
    # OWNER_TYPE_ID 1 lead, 2 deal, 3 contact. STATUS 1 waiting, 2 completed, 3 auto-completed.
    "crm_activity": """
        ID BIGINT PRIMARY KEY, OWNER_TYPE_ID INTEGER, OWNER_ID BIGINT, TYPE_ID INTEGER,
        PROVIDER_ID VARCHAR, PROVIDER_TYPE_ID VARCHAR, SUBJECT VARCHAR, DESCRIPTION VARCHAR,
        START_TIME TIMESTAMPTZ, END_TIME TIMESTAMPTZ, DEADLINE TIMESTAMPTZ, COMPLETED BOOLEAN,
        STATUS INTEGER, DIRECTION INTEGER, PRIORITY INTEGER, RESPONSIBLE_ID BIGINT, AUTHOR_ID BIGINT,
        EDITOR_ID BIGINT, CREATED TIMESTAMPTZ, LAST_UPDATED TIMESTAMPTZ""",
    # crm.stagehistory.list, both entity types in one table. TYPE_ID 1 created, 2 intermediate,
    # 3 final, 5 funnel change. Leads use STATUS_*; deals use CATEGORY_ID/STAGE_*.
    "crm_stagehistory": """
        ID BIGINT PRIMARY KEY, ENTITY_TYPE_ID INTEGER, TYPE_ID INTEGER, OWNER_ID BIGINT,
        CREATED_TIME TIMESTAMPTZ, CATEGORY_ID BIGINT, STATUS_ID VARCHAR, STATUS_SEMANTIC_ID VARCHAR,
        STAGE_ID VARCHAR, STAGE_SEMANTIC_ID VARCHAR""",
    # crm.lead.userfield.list / crm.deal.userfield.list. LIST: JSON [{"ID","VALUE","SORT","DEF"}] for
    # enumeration fields; EDIT_FORM_LABEL: JSON {"ru": "...", "en": "..."}.
    "crm_userfield": """
        ID BIGINT PRIMARY KEY, ENTITY_ID VARCHAR, FIELD_NAME VARCHAR, USER_TYPE_ID VARCHAR,
        XML_ID VARCHAR, SORT INTEGER, MULTIPLE BOOLEAN, MANDATORY BOOLEAN, SETTINGS JSON,
        EDIT_FORM_LABEL JSON, LIST JSON""",
    # crm.product.list: apartments as catalog products (PROPERTY_* carry the apartment's attributes).
    "crm_product": """
        ID BIGINT PRIMARY KEY, NAME VARCHAR, SECTION_ID BIGINT, PRICE DECIMAL(18,2),
        CURRENCY_ID VARCHAR, MEASURE INTEGER, DATE_CREATE TIMESTAMPTZ, TIMESTAMP_X TIMESTAMPTZ,
        PROPERTY_PROJECT VARCHAR, PROPERTY_BUILDING VARCHAR, PROPERTY_ROOMS INTEGER,
        PROPERTY_AREA DECIMAL(8,2), PROPERTY_FLOOR INTEGER""",
    # crm.deal.productrows.get / crm.item.productrow.list. OWNER_TYPE 'D' (deal).
    "crm_productrow": """
        ID BIGINT PRIMARY KEY, OWNER_ID BIGINT, OWNER_TYPE VARCHAR, PRODUCT_ID BIGINT,
        PRODUCT_NAME VARCHAR, PRICE DECIMAL(18,2), QUANTITY DECIMAL(18,4), DISCOUNT_SUM DECIMAL(18,2),
        TAX_RATE DECIMAL(5,2), MEASURE_CODE INTEGER, MEASURE_NAME VARCHAR, SORT INTEGER""",
    # crm.item.list entityTypeId=31 (smart invoices: the payment schedule of a deal). parentId2 = deal.
    "crm_invoice": """
        id BIGINT PRIMARY KEY, title VARCHAR, categoryId BIGINT, stageId VARCHAR,
        opportunity DECIMAL(18,2), currencyId VARCHAR, assignedById BIGINT, createdBy BIGINT,
        updatedBy BIGINT, createdTime TIMESTAMPTZ, updatedTime TIMESTAMPTZ, begindate TIMESTAMPTZ,
        closedate TIMESTAMPTZ, parentId2 BIGINT, contactId BIGINT, companyId BIGINT""",
    # Payments: served per object by crm.item.payment.list (entityTypeId/entityId) and portal-wide by
    # sale.payment.list (orderId). entityTypeId 2 deal or 31 invoice.
    "sale_payment": """
        id BIGINT PRIMARY KEY, orderId BIGINT, entityTypeId INTEGER, entityId BIGINT,
        accountNumber VARCHAR, paid BOOLEAN, datePaid TIMESTAMPTZ, dateBill TIMESTAMPTZ,
        empPaidId BIGINT, paySystemId BIGINT, paySystemName VARCHAR, sum DECIMAL(18,2),
        currency VARCHAR, updatedTime TIMESTAMPTZ""",
}

# --------------------------------------------------------------------------- amoCRM
AMOCRM_DDL: dict[str, str] = {
    # GET /api/v4/account (one row). timezone e.g. "Europe/Moscow".
    "account": """
        id BIGINT PRIMARY KEY, name VARCHAR, subdomain VARCHAR, currency VARCHAR, timezone VARCHAR,
        country VARCHAR, current_user_id BIGINT, created_at BIGINT, updated_at BIGINT""",
    # GET /api/v4/users; rights JSON as the API returns it (includes group_id, is_active, is_admin).
    "users": "id BIGINT PRIMARY KEY, name VARCHAR, email VARCHAR, lang VARCHAR, rights JSON",
    # user groups (= departments), returned in /users?with=group and /account?with=users_groups
    "groups": "id BIGINT PRIMARY KEY, name VARCHAR, uuid VARCHAR",
    "pipelines": """
        id BIGINT PRIMARY KEY, name VARCHAR, sort INTEGER, is_main BOOLEAN, is_unsorted_on BOOLEAN,
        is_archive BOOLEAN, account_id BIGINT""",
    # type 1 = unsorted, 0 = normal; every pipeline also has 142 (won) and 143 (lost).
    # 142/143 repeat across pipelines, so the key is (pipeline_id, id).
    "statuses": """
        id BIGINT, pipeline_id BIGINT, name VARCHAR, sort INTEGER, is_editable BOOLEAN,
        color VARCHAR, type INTEGER, account_id BIGINT, PRIMARY KEY (pipeline_id, id)""",
    "loss_reasons": "id BIGINT PRIMARY KEY, name VARCHAR, sort INTEGER, created_at BIGINT, updated_at BIGINT",
    # entity_type: leads | contacts | companies. enums: JSON [{"id","value","sort"}] or NULL.
    "custom_fields": """
        id BIGINT PRIMARY KEY, entity_type VARCHAR, name VARCHAR, code VARCHAR, sort INTEGER,
        type VARCHAR, is_api_only BOOLEAN, is_deletable BOOLEAN, group_id VARCHAR, enums JSON""",
    # sources (integration sources, /api/v4/sources and leads?with=source)
    "sources": "id BIGINT PRIMARY KEY, name VARCHAR, pipeline_id BIGINT, external_id VARCHAR, is_default BOOLEAN",
    # GET /api/v4/leads. Times are unix seconds. contacts/companies: JSON [{"id":..,"is_main":..}].
    # tags: JSON [{"id","name","color"}]. is_deleted rows are served only with=only_deleted.
    "leads": """
        id BIGINT PRIMARY KEY, name VARCHAR, price BIGINT, responsible_user_id BIGINT,
        group_id BIGINT, status_id BIGINT, pipeline_id BIGINT, loss_reason_id BIGINT,
        source_id BIGINT, created_by BIGINT, updated_by BIGINT, created_at BIGINT,
        updated_at BIGINT, closed_at BIGINT, closest_task_at BIGINT, is_deleted BOOLEAN,
        custom_fields_values JSON, score INTEGER, account_id BIGINT, labor_cost INTEGER,
        tags JSON, contacts JSON, companies JSON""",
    "contacts": """
        id BIGINT PRIMARY KEY, name VARCHAR, first_name VARCHAR, last_name VARCHAR,
        responsible_user_id BIGINT, group_id BIGINT, created_by BIGINT, updated_by BIGINT,
        created_at BIGINT, updated_at BIGINT, closest_task_at BIGINT, is_deleted BOOLEAN,
        is_unsorted BOOLEAN, custom_fields_values JSON, account_id BIGINT, tags JSON,
        leads JSON, companies JSON""",
    "companies": """
        id BIGINT PRIMARY KEY, name VARCHAR, responsible_user_id BIGINT, group_id BIGINT,
        created_by BIGINT, updated_by BIGINT, created_at BIGINT, updated_at BIGINT,
        closest_task_at BIGINT, is_deleted BOOLEAN, custom_fields_values JSON, account_id BIGINT,
        tags JSON""",
    # task_type_id 1 call, 2 meeting, custom types from task_types. result: JSON {"text": ..} or {}.
    "tasks": """
        id BIGINT PRIMARY KEY, created_by BIGINT, updated_by BIGINT, created_at BIGINT,
        updated_at BIGINT, responsible_user_id BIGINT, group_id BIGINT, entity_id BIGINT,
        entity_type VARCHAR, is_completed BOOLEAN, task_type_id BIGINT, text VARCHAR,
        duration INTEGER, complete_till BIGINT, result JSON, account_id BIGINT""",
    # account?with=task_types
    "task_types": "id BIGINT PRIMARY KEY, name VARCHAR, color VARCHAR, icon_id INTEGER, code VARCHAR",
    # GET /api/v4/events. id is a string; seq orders events that share created_at (API order).
    "events": """
        id VARCHAR PRIMARY KEY, seq BIGINT, type VARCHAR, entity_id BIGINT, entity_type VARCHAR,
        created_by BIGINT, created_at BIGINT, value_after JSON, value_before JSON, account_id BIGINT""",
    # GET /api/v4/catalogs; type 'invoices' holds payments, 'regular' the apartments (products).
    "catalogs": """
        id BIGINT PRIMARY KEY, name VARCHAR, type VARCHAR, sort INTEGER, can_add_elements BOOLEAN,
        can_link_multiple BOOLEAN, account_id BIGINT""",
    # GET /api/v4/catalogs/{id}/elements. custom_fields_values as for leads (catalog fields are
    # defined in custom_fields with entity_type 'catalogs:{catalog_id}'). lead_id is the linked lead
    # (served through /api/v4/leads/{id}/links and the element's links).
    "catalog_elements": """
        id BIGINT PRIMARY KEY, catalog_id BIGINT, name VARCHAR, created_by BIGINT, updated_by BIGINT,
        created_at BIGINT, updated_at BIGINT, is_deleted BOOLEAN, custom_fields_values JSON,
        lead_id BIGINT, account_id BIGINT""",
}

# --------------------------------------------------------------------------- ground truth
# DIR/truth/<name>.parquet. Keys: (source_system, account, <native id>). For amoCRM the lead id is
# the amoCRM lead (сделка) id; control-point times are UTC timestamps, NULL if never reached.
TRUTH_FILES: dict[str, str] = {
    "leads": "one row per generated lead (both CRMs): source_system, account, lead_id, deal_id "
    "(Bitrix24 deal converted from it, amoCRM: same id once it reaches the deal part, else NULL), "
    "channel, source_code, manager_id, department, branch, project, created_at, "
    "recorded_at, taken_at, classified_at, rejected_at, shown_at, booked_at, contract_at, paid_at, "
    "is_target, crm_junk (CRM marks it junk/lost-as-junk), junk_kind (NULL if clean; "
    "exact_duplicate | phone_format_duplicate | repeat_open_deal | test | spam | invalid_phone | "
    "missing_source | missing_responsible | bot_burst), duplicate_of_lead_id, phone_e164, "
    "is_deleted",
    "deals": "one row per deal: source_system, account, deal_id, lead_id, manager_id, project, "
    "apartment_id, units, area_m2, price, payment_form (full_payment | mortgage | installment | "
    "maternity_capital | trade_in), booked_at, contract_at, won_at, lost_at, is_won",
    "payments": "one row per payment received: source_system, account, payment_id, deal_id, "
    "paid_at, amount, payment_form",
    "activities": "one row per meeting/showing/call: source_system, account, activity_id, kind "
    "(call | meeting | showing | task), lead_id, deal_id, manager_id, planned_at, held_at "
    "(NULL if not held), is_completed",
    "managers": "source_system, account, manager_id, name, department, branch, hired_at, "
    "fired_at, skill",
}


def ddl_for(system: str) -> dict[str, str]:
    return {"bitrix24": BITRIX24_DDL, "amocrm": AMOCRM_DDL}[system]


def create_tables(con: duckdb.DuckDBPyConnection, system: str) -> None:
    """Create every state table of a CRM account (IF NOT EXISTS)."""
    for table, columns in ddl_for(system).items():
        con.execute(f'CREATE TABLE IF NOT EXISTS "{table}" ({columns})')


def load_manifest(data_dir: str | Path) -> dict:
    path = Path(data_dir) / "manifest.json"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found: generate a sandbox first (crmwh sandbox generate --out {data_dir})"
        )
    return json.loads(path.read_text(encoding="utf-8"))
