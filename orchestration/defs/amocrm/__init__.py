"""amoCRM (Kommo) in Dagster: the landing tables `raw_amocrm/*`, one multi-asset per entity group.

The extraction itself is extract.amocrm (plain Python, see its module docstring for the API,
auth with single-use rotating refresh tokens, and limits); this folder only declares how it
appears in the asset graph.
"""

from __future__ import annotations

import dagster as dg

from extract.amocrm.extractor import extract_accounts
from orchestration.defs.extraction import build_extraction_defs

GROUPS = {
    # account, user_groups and task_types come from one /api/v4/account call: keep them together.
    "reference": ["account", "user_groups", "task_types", "users", "pipelines", "statuses", "loss_reasons",
                  "catalogs", "custom_fields"],
    "crm": ["leads", "contacts", "companies"],
    "activity": ["tasks", "events"],
    "sales": ["catalog_elements"],
}

DESCRIPTIONS = {
    "account": "The account: subdomain, currency, time zone (/api/v4/account).",
    "user_groups": "User groups (отделы) of the account.",
    "task_types": "Task types, including custom ones such as showings (показ).",
    "users": "Employees with their group (/api/v4/users).",
    "pipelines": "Sales pipelines (воронки).",
    "statuses": "Pipeline statuses, including 142 won and 143 lost.",
    "loss_reasons": "Loss reasons (причины отказа), junk reasons among them.",
    "catalogs": "Catalogs: invoices (payments) and products (apartments).",
    "custom_fields": "Custom field definitions of leads, contacts, companies and catalogs.",
    "leads": "Leads (сделки): one object from inquiry to won/lost, incremental by updated_at.",
    "contacts": "Contacts (клиенты) with phones and e-mails.",
    "companies": "Companies.",
    "tasks": "Calls, meetings and showings planned and done.",
    "events": "Status changes, responsible changes, additions and deletions (tombstones).",
    "catalog_elements": "Catalog elements: payments (invoices) and apartments.",
}


def _extract(accounts, warehouse, settings, entities=None, full=False, reconcile=None):
    # amoCRM reports deletions as events, so there is no reconciliation scan to force or skip.
    return extract_accounts(accounts, warehouse, settings, entities=entities, full=full)


def build_defs() -> dg.Definitions:
    return build_extraction_defs("amocrm", GROUPS, _extract, DESCRIPTIONS)
