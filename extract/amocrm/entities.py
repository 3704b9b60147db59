"""What we extract from an amoCRM account: one `Entity` per landing table `raw_amocrm.<name>`.

Kinds:
- `incremental` — big lists read on a time field (`updated_at`; events `created_at`) with
  `paginate.sliced_scan` (API filters) or `paginate.desc_scan` (no filters); cursor per entity.
- `snapshot`    — small lists read whole every run; rows no longer served become tombstones.
- `account`, `user_groups`, `task_types` — `/account?with=users_groups,task_types` (one request).
- `pipelines`, `statuses` — `/leads/pipelines` with embedded statuses (one request).
- `custom_fields` — definitions of leads, contacts, companies and every catalog.
- `elements`    — catalog elements (payments/invoices, apartments): the API has no time filter
  for them, so they are a snapshot taken when due (`catalog_snapshot_hours`, default
  `Settings.reconcile_hours`).
"""

from __future__ import annotations

from dataclasses import dataclass

from warehouse.landing import TableSpec

SYSTEM = "amocrm"
LEAD_WITH = "contacts,loss_reason,catalog_elements,source_id"


@dataclass(frozen=True)
class Entity:
    name: str
    kind: str
    path: str = ""
    key: str | None = None  # the `_embedded` key
    params: tuple[tuple[str, str], ...] = ()
    time_field: str | None = None  # incremental field and `_modified_at`
    limit: int = 250
    keys: tuple[tuple[str, str], ...] = (("id", "BIGINT"),)
    extras: tuple[tuple[str, str], ...] = ()
    id_field: str = "id"

    @property
    def spec(self) -> TableSpec:
        return TableSpec(SYSTEM, self.name, self.keys, self.extras)


ENTITIES: list[Entity] = [
    Entity("account", "account", "/account", params=(("with", "users_groups,task_types"),)),
    Entity("user_groups", "account"),
    Entity("task_types", "account"),
    Entity("users", "snapshot", "/users", "users", (("with", "group,role"),)),
    Entity("pipelines", "pipelines", "/leads/pipelines", "pipelines"),
    Entity("statuses", "pipelines", keys=(("pipeline_id", "BIGINT"), ("id", "BIGINT"))),
    Entity("loss_reasons", "snapshot", "/leads/loss_reasons", "loss_reasons"),
    Entity("catalogs", "snapshot", "/catalogs", "catalogs"),
    Entity("custom_fields", "custom_fields", key="custom_fields",
           keys=(("entity_type", "VARCHAR"), ("id", "BIGINT"))),
    Entity("leads", "incremental", "/leads", "leads", (("with", LEAD_WITH),), time_field="updated_at"),
    Entity("contacts", "incremental", "/contacts", "contacts", time_field="updated_at"),
    Entity("companies", "incremental", "/companies", "companies", time_field="updated_at"),
    Entity("tasks", "incremental", "/tasks", "tasks", time_field="updated_at"),
    Entity("catalog_elements", "elements", key="elements", time_field="updated_at",
           extras=(("catalog_id", "BIGINT"),)),
    # Events last: their delete events tombstone rows of the tables above.
    Entity("events", "incremental", "/events", "events", time_field="created_at", limit=100,
           keys=(("id", "VARCHAR"),),
           extras=(("type", "VARCHAR"), ("entity_type", "VARCHAR"), ("entity_id", "BIGINT"))),
]

BY_NAME = {e.name: e for e in ENTITIES}

# Event types that delete / restore a row of a landing table (events-and-notes.md).
DELETE_EVENTS = {"lead_deleted": "leads", "contact_deleted": "contacts", "company_deleted": "companies",
                 "task_deleted": "tasks"}
RESTORE_EVENTS = {"leads": "lead_restored", "contacts": "contact_restored", "companies": "company_restored",
                  "tasks": "task_restored"}
