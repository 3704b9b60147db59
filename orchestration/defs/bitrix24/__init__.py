"""Bitrix24 in Dagster: the landing tables `raw_bitrix24/*`, one multi-asset per entity group.

The extraction itself is extract.bitrix24 (plain Python, see its module docstring for the API,
auth and limits); this folder only declares how it appears in the asset graph.
"""

from __future__ import annotations

import dagster as dg

from extract.bitrix24.extractor import extract_accounts
from orchestration.defs.extraction import build_extraction_defs

GROUPS = {
    "reference": ["statuses", "categories", "users", "departments", "userfields", "fields"],
    "crm": ["leads", "contacts", "companies", "deals"],
    "activity": ["activities", "lead_stage_history", "deal_stage_history"],
    "sales": ["invoices", "products", "deal_productrows", "payments"],
}

DESCRIPTIONS = {
    "statuses": "Lead statuses, deal stages, sources (crm.status.list).",
    "categories": "Deal and smart-invoice pipelines (crm.category.list).",
    "users": "Employees (user.get).",
    "departments": "The department tree; branches sit under the root (department.get).",
    "userfields": "Custom field definitions with enumeration labels (crm.*.userfield.list).",
    "fields": "Field maps of each CRM entity (crm.*.fields).",
    "leads": "Leads (обращения), incremental by DATE_MODIFY, deletions by ID reconciliation.",
    "contacts": "Contacts (клиенты).",
    "companies": "Companies.",
    "deals": "Deals (сделки), incremental by DATE_MODIFY.",
    "activities": "Calls, meetings, showings (показы), tasks (crm.activity.list).",
    "lead_stage_history": "Lead status changes, append-only (crm.stagehistory.list, entityTypeId 1).",
    "deal_stage_history": "Deal stage changes, append-only (crm.stagehistory.list, entityTypeId 2).",
    "invoices": "Smart invoices: the payment schedule of each deal (crm.item.list, entityTypeId 31).",
    "products": "Apartments as catalogue products (crm.product.list).",
    "deal_productrows": "Apartments sold in each deal (crm.item.productrow.list).",
    "payments": "Payments received (sale.payment.list or crm.item.payment.list).",
}


def build_defs() -> dg.Definitions:
    return build_extraction_defs("bitrix24", GROUPS, extract_accounts, DESCRIPTIONS)
