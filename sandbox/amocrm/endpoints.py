"""The amoCRM v4 resources: one `ListSpec` per list endpoint, renderers per entity, and the single
SQL-driven list engine that filters, orders and pages them (crm-api.md "amoCRM §2, §3").

Every list page is `SELECT id ... WHERE ... ORDER BY ... LIMIT limit+1 OFFSET (page-1)*limit`
against the account's DuckDB file, then the full rows of those ids: the extra row tells whether
`_links.next` exists without a count (the real leads and events lists carry no total), and
nothing is loaded beyond the page (page 2000 of a million leads: ~50 ms).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlencode

from sandbox.amocrm import params as P

try:  # serialises a 250-lead page several times faster than json, and passes JSON text through
    import orjson
except ImportError:  # pragma: no cover - the stdlib does the same, slower
    orjson = None

Row = dict[str, Any]


def _j(value: Any) -> Any:
    """A JSON column as the API returns it (DuckDB hands JSON back as text)."""
    if value is None or not isinstance(value, str):
        return value
    return json.loads(value)


def _cfv(value: Any) -> Any:
    """`custom_fields_values` (the bulk of a page): passed through as pre-serialised JSON when
    orjson is there (no parse and re-dump per row), null when empty."""
    if value is None or value in ("[]", "null", ""):
        return None
    if orjson is not None and isinstance(value, str):
        return orjson.Fragment(value)
    return _j(value) or None


def dumps(payload: Any) -> bytes:
    """A response body: compact UTF-8 JSON (orjson when available: 5-10x faster on big pages).
    Integers beyond 64 bits (which orjson refuses) are written as the digits, as the PHP server
    serialises whatever it holds: a malformed record is served, not turned into an HTTP 500."""
    if orjson is not None:
        try:
            return orjson.dumps(payload)
        except TypeError:
            big: dict[str, int] = {}
            body = orjson.dumps(_mark_big_ints(payload, big))
            for token, value in big.items():
                body = body.replace(f'"{token}"'.encode(), str(value).encode())
            return body
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _mark_big_ints(value: Any, big: dict[str, int]) -> Any:
    """A copy of `value` with each integer outside orjson's range replaced by a unique token."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and not -(2 ** 63) <= value < 2 ** 64:
        token = f"@@sandbox-bigint-{len(big)}@@"
        big[token] = value
        return token
    if isinstance(value, dict):
        return {k: _mark_big_ints(v, big) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mark_big_ints(v, big) for v in value]
    return value


@dataclass
class Ctx:
    """What a renderer needs besides the row: links base, `with`, a cursor for lookups."""
    base: str
    with_: set[str]
    cursor: Any
    account_id: int
    # Look-ups for the rows of one page, filled by `ListSpec.prefetch` in a few set-wise queries
    # (per-row queries made a 250-lead page with `with=catalog_elements` cost ~0.8 s).
    page: dict[str, Any] = field(default_factory=dict)

    def link(self, path: str) -> dict[str, Any]:
        return {"self": {"href": f"{self.base}{path}"}}


@dataclass
class ListSpec:
    key: str  # the `_embedded` key
    table: str
    filters: dict[str, P.FilterFn]
    orders: set[str]
    default_order: list[tuple[str, str]]
    render: Callable[[Row, Ctx], Row]
    self_path: str  # item link: "/api/v4/leads/{id}"
    max_limit: int = 250
    default_limit: int = 50
    base_where: Callable[[set[str]], str] | None = None
    with_total: bool = False  # `_total_items` (pipelines, custom fields, sources…)
    tie_breaker: str = "id"
    query_columns: tuple[str, ...] = ()  # `query=` searches these (and the id)
    where_extra: Callable[[Any, "P.Where", dict[str, Any]], None] | None = None
    paged: bool = True  # pipelines (at most 50) come in one answer without `_page`
    prefetch: Callable[[list[Row], Ctx], None] | None = None  # fills `Ctx.page` for a page's rows


# --------------------------------------------------------------------------- renderers
def _tags(row: Row) -> list[Any]:
    return _j(row.get("tags")) or []


def render_lead(row: Row, ctx: Ctx) -> Row:
    out: Row = {k: row[k] for k in (
        "id", "name", "price", "responsible_user_id", "group_id", "status_id", "pipeline_id",
        "loss_reason_id", "created_by", "updated_by", "created_at", "updated_at", "closed_at",
        "closest_task_at", "is_deleted")}
    out["price"] = int(row["price"] or 0)
    out["is_deleted"] = bool(row["is_deleted"])
    if "source_id" in ctx.with_ or "source" in ctx.with_:
        out["source_id"] = row["source_id"]
    if "is_price_modified_by_robot" in ctx.with_:
        out["is_price_modified_by_robot"] = False
    out.update({"custom_fields_values": _cfv(row["custom_fields_values"]), "score": row["score"],
                "account_id": row["account_id"] if row["account_id"] is not None else ctx.account_id,
                "labor_cost": row["labor_cost"], "_links": ctx.link(f"/api/v4/leads/{row['id']}")})
    emb: Row = {"tags": _tags(row), "companies": [
        {"id": c["id"], "_links": ctx.link(f"/api/v4/companies/{c['id']}")} for c in _j(row["companies"]) or []]}
    if "contacts" in ctx.with_:
        emb["contacts"] = [{"id": c["id"], "is_main": bool(c.get("is_main")),
                            "_links": ctx.link(f"/api/v4/contacts/{c['id']}")} for c in _j(row["contacts"]) or []]
    if "page" not in ctx.page:
        prefetch_leads([row], ctx)  # a single lead (GET /leads/{id})
    if "loss_reason" in ctx.with_:
        emb["loss_reason"] = []
        r = ctx.page["loss_reasons"].get(row["loss_reason_id"]) if row["loss_reason_id"] else None
        if r:
            emb["loss_reason"] = [{"id": r[0], "name": r[1], "sort": r[2], "created_at": r[3],
                                   "updated_at": r[4], "_links": ctx.link(f"/api/v4/leads/loss_reasons/{r[0]}")}]
    if "source" in ctx.with_ and row["source_id"]:
        r = ctx.page["sources"].get(row["source_id"])
        if r:
            emb["source"] = {"id": r[0], "name": r[1], "external_id": r[2], "pipeline_id": r[3]}
    if "catalog_elements" in ctx.with_:
        emb["catalog_elements"] = [{"id": i, "metadata": {"quantity": 1, "catalog_id": c}}
                                   for i, c in ctx.page["elements"].get(row["id"], ())]
    out["_embedded"] = emb
    return out


def lead_elements(cursor: Any, lead_ids: list[int]) -> dict[int, list[tuple[int, int]]]:
    """Live catalog elements linked to each lead: {lead_id: [(element_id, catalog_id), ...]}."""
    out: dict[int, list[tuple[int, int]]] = {}
    if lead_ids:
        for lead_id, eid, cid in cursor.execute(
                "SELECT lead_id, id, catalog_id FROM catalog_elements WHERE lead_id IN (SELECT unnest(?::BIGINT[])) "
                "AND NOT coalesce(is_deleted, FALSE) ORDER BY lead_id, id", [list(lead_ids)]).fetchall():
            out.setdefault(lead_id, []).append((eid, cid))
    return out


def prefetch_leads(rows: list[Row], ctx: Ctx) -> None:
    """The `with=` look-ups of a page of leads, one query each (not one per lead)."""
    ctx.page["page"] = True
    if "catalog_elements" in ctx.with_:
        ctx.page["elements"] = lead_elements(ctx.cursor, [r["id"] for r in rows])
    if "loss_reason" in ctx.with_:
        ids = sorted({r["loss_reason_id"] for r in rows if r["loss_reason_id"]})
        ctx.page["loss_reasons"] = {r[0]: r for r in ctx.cursor.execute(
            "SELECT id, name, sort, created_at, updated_at FROM loss_reasons WHERE id IN (SELECT unnest(?::BIGINT[]))",
            [ids]).fetchall()} if ids else {}
    if "source" in ctx.with_:
        ids = sorted({r["source_id"] for r in rows if r["source_id"]})
        ctx.page["sources"] = {r[0]: r for r in ctx.cursor.execute(
            "SELECT id, name, external_id, pipeline_id FROM sources WHERE id IN (SELECT unnest(?::BIGINT[]))",
            [ids]).fetchall()} if ids else {}


def render_contact(row: Row, ctx: Ctx) -> Row:
    out: Row = {k: row[k] for k in (
        "id", "name", "first_name", "last_name", "responsible_user_id", "group_id", "created_by",
        "updated_by", "created_at", "updated_at", "closest_task_at")}
    out.update({"is_deleted": bool(row["is_deleted"]), "is_unsorted": bool(row["is_unsorted"]),
                "custom_fields_values": _cfv(row["custom_fields_values"]),
                "account_id": row["account_id"] if row["account_id"] is not None else ctx.account_id,
                "_links": ctx.link(f"/api/v4/contacts/{row['id']}")})
    emb: Row = {"tags": _tags(row), "companies": [
        {"id": c["id"], "_links": ctx.link(f"/api/v4/companies/{c['id']}")} for c in _j(row["companies"]) or []]}
    if "leads" in ctx.with_:
        emb["leads"] = [{"id": lead["id"], "_links": ctx.link(f"/api/v4/leads/{lead['id']}")}
                        for lead in _j(row["leads"]) or []]
    out["_embedded"] = emb
    return out


def render_company(row: Row, ctx: Ctx) -> Row:
    out: Row = {k: row[k] for k in (
        "id", "name", "responsible_user_id", "group_id", "created_by", "updated_by", "created_at",
        "updated_at", "closest_task_at")}
    out.update({"is_deleted": bool(row["is_deleted"]),
                "custom_fields_values": _cfv(row["custom_fields_values"]),
                "account_id": row["account_id"] if row["account_id"] is not None else ctx.account_id,
                "_links": ctx.link(f"/api/v4/companies/{row['id']}"), "_embedded": {"tags": _tags(row)}})
    return out


def render_user(row: Row, ctx: Ctx) -> Row:
    rights = _j(row["rights"]) or {}
    out: Row = {"id": row["id"], "name": row["name"], "email": row["email"], "lang": row["lang"],
                "rights": rights, "_links": ctx.link(f"/api/v4/users/{row['id']}")}
    emb: Row = {}
    if "group" in ctx.with_:
        gid = rights.get("group_id")
        r = ctx.cursor.execute("SELECT id, name, uuid FROM groups WHERE id = ?", [gid]).fetchone() if gid else None
        emb["groups"] = [{"id": r[0], "name": r[1]}] if r else []
    if "role" in ctx.with_:
        # The sandbox state has no roles table: a user's role is its rights' role_id, unnamed.
        rid = rights.get("role_id")
        emb["roles"] = [{"id": rid, "name": None, "_links": ctx.link(f"/api/v4/roles/{rid}")}] if rid else []
    if emb:
        out["_embedded"] = emb
    return out


def render_task(row: Row, ctx: Ctx) -> Row:
    out: Row = {k: row[k] for k in (
        "id", "created_by", "updated_by", "created_at", "updated_at", "responsible_user_id", "group_id",
        "entity_id", "entity_type", "task_type_id", "text", "duration", "complete_till")}
    out.update({"is_completed": bool(row["is_completed"]), "result": _j(row["result"]) or [],
                "account_id": row["account_id"] if row["account_id"] is not None else ctx.account_id,
                "_links": ctx.link(f"/api/v4/tasks/{row['id']}")})
    return out


def render_event(row: Row, ctx: Ctx) -> Row:
    return {"id": row["id"], "type": row["type"], "entity_id": row["entity_id"],
            "entity_type": row["entity_type"], "created_by": row["created_by"], "created_at": row["created_at"],
            "value_after": _j(row["value_after"]) or [], "value_before": _j(row["value_before"]) or [],
            "account_id": row["account_id"] if row["account_id"] is not None else ctx.account_id,
            "_links": ctx.link(f"/api/v4/events/{row['id']}")}


def render_loss_reason(row: Row, ctx: Ctx) -> Row:
    return {"id": row["id"], "name": row["name"], "sort": row["sort"], "created_at": row["created_at"],
            "updated_at": row["updated_at"], "_links": ctx.link(f"/api/v4/leads/loss_reasons/{row['id']}")}


def render_custom_field(row: Row, ctx: Ctx) -> Row:
    et = row["entity_type"] or ""
    path = f"/api/v4/{et.replace(':', '/')}/custom_fields/{row['id']}"
    out: Row = {"id": row["id"], "name": row["name"], "type": row["type"], "account_id": ctx.account_id,
                "code": row["code"], "sort": row["sort"], "is_api_only": bool(row["is_api_only"]),
                "enums": _j(row["enums"]), "group_id": row["group_id"], "required_statuses": [],
                "is_deletable": bool(row["is_deletable"]), "is_predefined": row["code"] is not None,
                "entity_type": et.split(":")[0], "remind": None, "settings": None, "_links": ctx.link(path)}
    if et.startswith("catalogs:"):
        out["catalog_id"] = int(et.split(":")[1])
    return out


def render_source(row: Row, ctx: Ctx) -> Row:
    return {"id": row["id"], "name": row["name"], "pipeline_id": row["pipeline_id"],
            "external_id": row["external_id"], "default": bool(row["is_default"]),
            "origin_code": None, "services": [], "_links": ctx.link(f"/api/v4/sources/{row['id']}")}


def render_catalog(row: Row, ctx: Ctx) -> Row:
    return {"id": row["id"], "name": row["name"], "created_by": 0, "updated_by": 0, "created_at": 0,
            "updated_at": 0, "sort": row["sort"], "type": row["type"],
            "can_add_elements": bool(row["can_add_elements"]), "can_show_in_cards": True,
            "can_link_multiple": bool(row["can_link_multiple"]), "can_be_deleted": row["type"] == "regular",
            "sdk_widget_code": None, "account_id": row["account_id"] if row["account_id"] is not None else ctx.account_id,
            "_links": ctx.link(f"/api/v4/catalogs/{row['id']}")}


def render_element(row: Row, ctx: Ctx) -> Row:
    return {"id": row["id"], "name": row["name"], "created_by": row["created_by"], "updated_by": row["updated_by"],
            "created_at": row["created_at"], "updated_at": row["updated_at"], "is_deleted": bool(row["is_deleted"]),
            "custom_fields_values": _cfv(row["custom_fields_values"]), "catalog_id": row["catalog_id"],
            "account_id": row["account_id"] if row["account_id"] is not None else ctx.account_id,
            "_links": ctx.link(f"/api/v4/catalogs/{row['catalog_id']}/elements/{row['id']}")}


def render_status(row: Row, ctx: Ctx) -> Row:
    return {"id": row["id"], "name": row["name"], "sort": row["sort"], "is_editable": bool(row["is_editable"]),
            "pipeline_id": row["pipeline_id"], "color": row["color"], "type": row["type"],
            "account_id": row["account_id"] if row["account_id"] is not None else ctx.account_id,
            "_links": ctx.link(f"/api/v4/leads/pipelines/{row['pipeline_id']}/statuses/{row['id']}")}


def render_pipeline(row: Row, ctx: Ctx) -> Row:
    cur = ctx.cursor.execute("SELECT * FROM statuses WHERE pipeline_id = ? ORDER BY sort, id", [row["id"]])
    names = [d[0] for d in cur.description]
    statuses = [render_status(dict(zip(names, r)), ctx) for r in cur.fetchall()]
    return {"id": row["id"], "name": row["name"], "sort": row["sort"], "is_main": bool(row["is_main"]),
            "is_unsorted_on": bool(row["is_unsorted_on"]), "is_archive": bool(row["is_archive"]),
            "account_id": row["account_id"] if row["account_id"] is not None else ctx.account_id,
            "_links": ctx.link(f"/api/v4/leads/pipelines/{row['id']}"), "_embedded": {"statuses": statuses}}


# --------------------------------------------------------------------------- filter sets
def _deleted_where(with_: set[str]) -> str:
    # Deleted entities live in the trash: served only (and then exclusively) with=only_deleted.
    return "coalesce(is_deleted, FALSE)" if "only_deleted" in with_ else "NOT coalesce(is_deleted, FALSE)"


_COMMON = {
    "id": P.ids("id"), "created_by": P.ids("created_by"), "updated_by": P.ids("updated_by"),
    "responsible_user_id": P.ids("responsible_user_id"), "created_at": P.time_range("created_at"),
    "updated_at": P.time_range("updated_at"), "closest_task_at": P.time_range("closest_task_at"),
    "name": P.text_equals("name"),
}


def _price(value: Any, where: P.Where, path: str) -> None:
    if isinstance(value, dict):
        P.time_range("price")(value, where, path)
    elif value not in (None, "") and not isinstance(value, list):
        where.add("price = ?", P.to_int(value, path))


def _events_entity(value: Any, where: P.Where, params: dict[str, Any]) -> None:
    """`filter[entity]` (lead|contact|company|customer|task, or plural) and `filter[entity_id]`:
    up to 10 ids, and only together with exactly one entity type (events-and-notes.md)."""
    flt = params.get("filter") if isinstance(params.get("filter"), dict) else {}
    entities = [str(e).rstrip("s") if str(e) not in ("companies",) else "company"
                for e in P.as_list(flt.get("entity"))]
    entities = ["company" if e == "companie" else e for e in entities]
    if entities:
        names = entities + [e + "s" if e != "company" else "companies" for e in entities]
        where.add(f"entity_type IN ({','.join('?' * len(names))})", *names)
    entity_ids = P.as_list(flt.get("entity_id"))
    if entity_ids:
        if len(entity_ids) > 10:
            raise P.ValidationFailed("filter.entity_id", "Count",
                                     "This collection should contain 10 elements or less.")
        if len(entities) != 1:
            raise P.ValidationFailed("filter.entity", "NotBlank",
                                     "filter[entity_id] needs exactly one filter[entity].")
        ids = [P.to_int(v, "filter.entity_id") for v in entity_ids]
        where.add(f"entity_id IN ({','.join('?' * len(ids))})", *ids)


def _value_status(column: str) -> P.FilterFn:
    """`filter[value_after|value_before][leads_statuses][i][pipeline_id|status_id]`."""
    def apply(value: Any, where: P.Where, path: str) -> None:
        if not isinstance(value, dict):
            return
        pairs, params = [], []
        for i, item in enumerate(value.get("leads_statuses") or []):
            if not isinstance(item, dict):
                continue
            conds = []
            for key in ("pipeline_id", "status_id"):
                if item.get(key) not in (None, ""):
                    jkey = "id" if key == "status_id" else "pipeline_id"
                    conds.append(f"CAST(json_extract({column}, '$[0].lead_status.{jkey}') AS BIGINT) = ?")
                    params.append(P.to_int(item[key], f"{path}.leads_statuses.{i}.{key}"))
            if conds:
                pairs.append(" AND ".join(conds))
        if pairs:
            where.add(" OR ".join(f"({p})" for p in pairs), *params)
    return apply


def _event_types(value: Any, where: P.Where, path: str) -> None:
    types = [str(t) for t in P.as_list(value)]
    if types:
        where.add(f"type IN ({','.join('?' * len(types))})", *types)


SPECS: dict[str, ListSpec] = {
    "leads": ListSpec(
        key="leads", table="leads", render=render_lead, self_path="/api/v4/leads/{id}",
        filters={**_COMMON, "pipeline_id": P.ids("pipeline_id"), "statuses": P.statuses,
                 "status_id": P.ids("status_id"), "closed_at": P.time_range("closed_at"), "price": _price,
                 "group_id": P.ids("group_id"), "loss_reason_id": P.ids("loss_reason_id")},
        orders={"created_at", "updated_at", "id"}, default_order=[("id", "ASC")],
        base_where=_deleted_where, query_columns=("name", "CAST(custom_fields_values AS VARCHAR)"),
        prefetch=prefetch_leads),
    "contacts": ListSpec(
        key="contacts", table="contacts", render=render_contact, self_path="/api/v4/contacts/{id}",
        filters=dict(_COMMON), orders={"created_at", "updated_at", "id"}, default_order=[("id", "ASC")],
        base_where=_deleted_where,
        query_columns=("name", "first_name", "last_name", "CAST(custom_fields_values AS VARCHAR)")),
    "companies": ListSpec(
        key="companies", table="companies", render=render_company, self_path="/api/v4/companies/{id}",
        filters=dict(_COMMON), orders={"created_at", "updated_at", "id"}, default_order=[("id", "ASC")],
        base_where=_deleted_where, query_columns=("name", "CAST(custom_fields_values AS VARCHAR)")),
    "users": ListSpec(
        key="users", table="users", render=render_user, self_path="/api/v4/users/{id}",
        filters={"id": P.ids("id")}, orders={"id"}, default_order=[("id", "ASC")], with_total=True),
    "tasks": ListSpec(
        key="tasks", table="tasks", render=render_task, self_path="/api/v4/tasks/{id}",
        filters={"id": P.ids("id"), "responsible_user_id": P.ids("responsible_user_id"),
                 "is_completed": P.boolean("is_completed"), "task_type": P.ids("task_type_id"),
                 "entity_type": P.strings("entity_type"), "entity_id": P.ids("entity_id"),
                 "updated_at": P.time_range("updated_at"), "created_at": P.time_range("created_at")},
        orders={"created_at", "complete_till", "id", "updated_at"}, default_order=[("id", "ASC")]),
    "events": ListSpec(
        key="events", table="events", render=render_event, self_path="/api/v4/events/{id}",
        filters={"id": P.strings("id"), "created_at": P.time_range("created_at", single="since"),
                 "created_by": P.ids("created_by"), "type": _event_types,
                 "value_after": _value_status("value_after"), "value_before": _value_status("value_before")},
        # Newest first, as the events feed is shown; `seq` orders events of the same second.
        orders={"created_at", "id"}, default_order=[("created_at", "DESC"), ("seq", "DESC")],
        max_limit=100, default_limit=100, tie_breaker="seq", where_extra=_events_entity),
    "loss_reasons": ListSpec(
        key="loss_reasons", table="loss_reasons", render=render_loss_reason,
        self_path="/api/v4/leads/loss_reasons/{id}", filters={}, orders=set(),
        default_order=[("sort", "ASC"), ("id", "ASC")], with_total=True),
    "sources": ListSpec(
        key="sources", table="sources", render=render_source, self_path="/api/v4/sources/{id}",
        filters={"external_id": P.strings("external_id")}, orders=set(), default_order=[("id", "ASC")],
        max_limit=100, default_limit=100, with_total=True),
    "catalogs": ListSpec(
        key="catalogs", table="catalogs", render=render_catalog, self_path="/api/v4/catalogs/{id}",
        filters={}, orders=set(), default_order=[("sort", "ASC"), ("id", "ASC")], with_total=True),
    "catalog_elements": ListSpec(
        key="elements", table="catalog_elements", render=render_element,
        self_path="/api/v4/catalogs/{catalog_id}/elements/{id}", filters={"id": P.ids("id")},
        orders=set(), default_order=[("id", "ASC")], base_where=lambda w: "NOT coalesce(is_deleted, FALSE)",
        query_columns=("name", "CAST(custom_fields_values AS VARCHAR)")),
    "custom_fields": ListSpec(
        key="custom_fields", table="custom_fields", render=render_custom_field,
        self_path="/api/v4/{entity}/custom_fields/{id}", filters={"id": P.ids("id")}, orders=set(),
        default_order=[("sort", "ASC"), ("id", "ASC")], with_total=True),
    "pipelines": ListSpec(
        key="pipelines", table="pipelines", render=render_pipeline, self_path="/api/v4/leads/pipelines/{id}",
        filters={}, orders=set(), default_order=[("sort", "ASC"), ("id", "ASC")], with_total=True, paged=False),
}


@dataclass
class ListResult:
    items: list[Row]
    has_next: bool
    total: int | None = None
    page: int = 1
    limit: int = 50
    extra_where: list[str] = field(default_factory=list)


def run_list(spec: ListSpec, ctx: Ctx, params: dict[str, Any], filters_enabled: bool,
             fixed: P.Where | None = None) -> ListResult:
    """Filter, order and page `spec.table` in SQL. `fixed` holds path constraints (catalog id,
    custom-field entity) that apply whatever the filter add-on says."""
    page, limit = P.parse_paging(params, spec.default_limit, spec.max_limit) if spec.paged else (1, spec.max_limit)
    where = fixed or P.Where()
    if spec.base_where is not None:
        where.add(spec.base_where(ctx.with_))
    if filters_enabled:
        P.compile_filters(params.get("filter"), spec.filters, where)
        if spec.where_extra is not None:
            spec.where_extra(params.get("filter"), where, params)
    query = params.get("query")
    if spec.query_columns and isinstance(query, str) and query.strip():
        q = query.strip()
        likes = " OR ".join(f"{c} ILIKE ?" for c in spec.query_columns)
        args: list[Any] = [f"%{q}%"] * len(spec.query_columns)
        if q.isdigit():
            likes += " OR id = ?"
            args.append(int(q))
        where.add(likes, *args)
    order = P.parse_order(params, spec.orders) or list(spec.default_order)
    if spec.tie_breaker not in {f for f, _ in order}:
        # A stable total order, or OFFSET paging would repeat and skip rows within one snapshot.
        order.append((spec.tie_breaker, order[-1][1] if order else "ASC"))
    order_sql = ", ".join(f"{f} {d}" for f, d in order)
    # Two steps: order and page over the narrow columns only, then fetch the page's full rows.
    # Dragging the JSON columns through a deep OFFSET made page 2000 of a million leads 20x slower.
    sql = (f"SELECT id FROM {spec.table} WHERE {where.sql()} ORDER BY {order_sql} "
           f"LIMIT {limit + 1} OFFSET {(page - 1) * limit}")
    page_ids = [r[0] for r in ctx.cursor.execute(sql, where.params).fetchall()]
    rows: list[Row] = []
    if page_ids:
        if all(isinstance(i, int) for i in page_ids):  # numeric ids: zone maps skip most of the table
            cur = ctx.cursor.execute(f"SELECT * FROM {spec.table} WHERE id BETWEEN ? AND ? "
                                     f"AND id IN (SELECT unnest(?::BIGINT[]))", [min(page_ids), max(page_ids), page_ids])
        else:  # event ids are random strings
            cur = ctx.cursor.execute(f"SELECT * FROM {spec.table} WHERE id IN ({','.join('?' * len(page_ids))})",
                                     page_ids)
        names = [d[0] for d in cur.description]
        by_id = {r[names.index("id")]: dict(zip(names, r)) for r in cur.fetchall()}
        rows = [by_id[i] for i in page_ids if i in by_id]
    has_next = len(rows) > limit
    if spec.prefetch is not None and rows:
        spec.prefetch(rows[:limit], ctx)
    total = None
    if spec.with_total:
        total = ctx.cursor.execute(f"SELECT count(*) FROM {spec.table} WHERE {where.sql()}", where.params).fetchone()[0]
    return ListResult([spec.render(r, ctx) for r in rows[:limit]], has_next, total, page, limit)


def page_links(base: str, path: str, query_pairs: list[tuple[str, str]], page: int, has_next: bool) -> Row:
    """`_links` of a list page: absolute URLs of this server, the request's own query with `page`
    replaced, so that a client following `next.href` keeps its filters and limit."""
    kept = [(k, v) for k, v in query_pairs if k != "page"]

    def href(p: int) -> dict[str, str]:
        return {"href": f"{base}{path}?{urlencode(kept + [('page', str(p))])}"}

    links: Row = {"self": href(page)}
    if has_next:
        links["next"] = href(page + 1)
    links["first"] = href(1)
    if page > 1:
        links["prev"] = href(page - 1)
    return links


def lead_links(cursor: Any, lead_ids: list[int]) -> list[Row]:
    """Every link of the given live leads, in the shape of `GET /api/v4/leads/links`
    (entity-links-api.md, "Массовый список связанных сущностей"): per lead, its contacts
    (`main_contact`), companies (metadata null), then catalog elements (`quantity`, `catalog_id`)."""
    ids = sorted({int(i) for i in lead_ids})
    if not ids:
        return []
    rows = cursor.execute("SELECT id, contacts, companies FROM leads WHERE id IN (SELECT unnest(?::BIGINT[])) "
                          "AND NOT coalesce(is_deleted, FALSE) ORDER BY id", [ids]).fetchall()
    elements = lead_elements(cursor, [r[0] for r in rows])
    out: list[Row] = []
    for lead_id, contacts, companies in rows:
        def link(to_id: int, to_type: str, metadata: Row | None) -> Row:
            return {"entity_id": lead_id, "entity_type": "leads", "to_entity_id": to_id, "to_entity_type": to_type,
                    "metadata": metadata}
        out += [link(c["id"], "contacts", {"main_contact": bool(c.get("is_main"))}) for c in _j(contacts) or []]
        out += [link(c["id"], "companies", None) for c in _j(companies) or []]
        out += [link(e, "catalog_elements", {"quantity": 1, "catalog_id": c}) for e, c in elements.get(lead_id, ())]
    return out
