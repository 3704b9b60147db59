"""What we extract from a Bitrix24 portal: one `Entity` per landing table `raw_bitrix24.<name>`.

Kinds:
- `keyset`   — big lists, ID keyset + batch (paginate.keyset_pages); incremental on
  `modified_field` with an overlap window, or append-only by ID (`append_only`, stage history);
  deletions by an ID-only reconciliation scan when `reconcile`.
- `offset`   — small lists read whole with start/next every run (users, departments, user fields).
- `whole`    — one call answers everything (statuses, categories, field maps).
- `children` — per-object methods for the deals/invoices written since the last run
  (product rows, payments).
Every snapshot-like kind tombstones the rows it no longer sees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from warehouse.landing import TableSpec

MULTI = ["PHONE", "EMAIL", "WEB", "IM"]


@dataclass(frozen=True)
class Entity:
    name: str
    kind: str  # keyset | offset | whole | fields | categories | productrows | payments
    method: str = ""
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    id_field: str = "ID"
    wrapper: str | None = None
    modified_field: str | None = None  # incremental filter + `_modified_at`
    time_field: str | None = None  # `_modified_at` when there is no modified field (e.g. CREATED_TIME)
    append_only: bool = False
    reconcile: bool = False
    keys: tuple[tuple[str, str], ...] = (("id", "BIGINT"),)
    extras: tuple[tuple[str, str], ...] = ()
    variants: tuple[Any, ...] = ()  # e.g. entity types for fields/userfields/categories

    @property
    def spec(self) -> TableSpec:
        return TableSpec("bitrix24", self.name, self.keys, self.extras)


ENTITIES: list[Entity] = [
    # dictionaries first: they are small and the marts need them whole
    Entity("statuses", "offset", "crm.status.list", {"order": {"ID": "ASC"}}),
    Entity("categories", "categories", "crm.category.list", variants=(2, 31), id_field="id",
           keys=(("entity_type_id", "INTEGER"), ("id", "BIGINT"))),
    Entity("users", "offset", "user.get", {"sort": "ID", "order": "ASC"}),
    Entity("departments", "offset", "department.get", {"sort": "ID", "order": "ASC"}),
    Entity("userfields", "offset", "crm.{v}.userfield.list", {"order": {"ID": "ASC"}},
           variants=("lead", "deal", "contact", "company")),
    Entity("fields", "fields", "crm.{v}.fields", variants=("lead", "deal", "contact", "company", "activity"),
           keys=(("entity_type", "VARCHAR"), ("field_name", "VARCHAR"))),
    # CRM entities
    Entity("leads", "keyset", "crm.lead.list", {"select": ["*", "UF_*", *MULTI]},
           modified_field="DATE_MODIFY", reconcile=True),
    Entity("contacts", "keyset", "crm.contact.list", {"select": ["*", "UF_*", *MULTI]},
           modified_field="DATE_MODIFY", reconcile=True),
    Entity("companies", "keyset", "crm.company.list", {"select": ["*", "UF_*", *MULTI]},
           modified_field="DATE_MODIFY", reconcile=True),
    Entity("deals", "keyset", "crm.deal.list", {"select": ["*", "UF_*"]},
           modified_field="DATE_MODIFY", reconcile=True),
    Entity("activities", "keyset", "crm.activity.list", {"select": ["*"]},
           modified_field="LAST_UPDATED", reconcile=True),
    Entity("lead_stage_history", "keyset", "crm.stagehistory.list", {"entityTypeId": 1},
           wrapper="items", time_field="CREATED_TIME", append_only=True, reconcile=True),
    Entity("deal_stage_history", "keyset", "crm.stagehistory.list", {"entityTypeId": 2},
           wrapper="items", time_field="CREATED_TIME", append_only=True, reconcile=True),
    Entity("invoices", "keyset", "crm.item.list", {"entityTypeId": 31, "select": ["*"]},
           id_field="id", wrapper="items", modified_field="updatedTime", reconcile=True),
    Entity("products", "keyset", "crm.product.list", {"select": ["*", "PROPERTY_*"]},
           modified_field="TIMESTAMP_X", reconcile=True),
    # children of deals/invoices (after their parents in the same run)
    Entity("deal_productrows", "productrows", "crm.item.productrow.list", id_field="id",
           extras=(("owner_id", "BIGINT"),)),
    Entity("payments", "payments", "crm.item.payment.list", id_field="id",
           extras=(("entity_type_id", "INTEGER"), ("entity_id", "BIGINT"))),
]

BY_NAME = {e.name: e for e in ENTITIES}
