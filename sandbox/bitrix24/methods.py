"""The REST methods the emulator serves, each a function `(ctx) -> Result`.

Response shapes follow the docs cited in `sandbox/bitrix24/__init__.py`; see `METHODS` at the end
for the list. Every list method pages by 50 through `lists.run_page` and reports its modelled
server cost (`time.operating`) through `CostModel`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from sandbox.bitrix24.lists import (
    split_filter_key,
    ApiError,
    FilterCompiler,
    Page,
    Table,
    compile_order,
    qi,
    render_old,
    render_typed,
    run_page,
    select_expr,
)
from sandbox.bitrix24.params import as_int, as_list, get_ci, is_yes

if TYPE_CHECKING:
    from sandbox.bitrix24.app import Bitrix24App


@dataclass
class CostModel:
    """Modelled server execution time of a call, in seconds ([B24DOCS] `settings/performance/huge-data.md`:
    49.9 s per page with counting vs 0.097 s with `start=-1`, on 2.39M rows).

    - a counted page (`start` ≥ 0) costs `page + count_full × rows/reference_rows`, plus
      `count_full × offset_weight × start/reference_rows` for the rows an OFFSET skips;
    - a fast page (`start=-1`, keyset by `>ID`) costs `page`, whatever the table size;
    - a single-record call (`*.get`, `*.fields`) costs `single`.
    """

    page: float = 0.097
    count_full: float = 49.9
    reference_rows: int = 2_390_000
    offset_weight: float = 0.25
    single: float = 0.01

    def list_cost(self, table_rows: int, page: Page) -> float:
        if not page.counted:
            return self.page
        scale = self.count_full / self.reference_rows
        return self.page + scale * table_rows + scale * self.offset_weight * page.offset


@dataclass
class Result:
    body: dict[str, Any]
    cost: float


@dataclass
class Ctx:
    app: "Bitrix24App"
    cur: Any
    params: dict[str, Any]
    user_id: int
    method: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def tz(self) -> timezone:
        return self.app.tz

    def table(self, name: str) -> Table:
        return self.app.table(name)

    def list_cost(self, table: Table, page: Page) -> float:
        return self.app.cost.list_cost(self.app.table_rows(table.name), page)


def parse_start(value: Any) -> int:
    n = as_int(value, 0)
    if n is None:
        return 0
    return -1 if n < 0 else n


def page_body(result: Any, page: Page) -> dict[str, Any]:
    """The list envelope: `next` only when there is a next page; `total: 0` on the fast path."""
    body: dict[str, Any] = {"result": result}
    if page.next is not None:
        body["next"] = page.next
    body["total"] = page.total if page.counted else 0
    return body


# --------------------------------------------------------------------------- CRM entities

@dataclass(frozen=True)
class Entity:
    name: str  # lead, deal, contact, company
    table: str
    type_id: int
    multifields: tuple[str, ...] = ()


ENTITIES = {
    "lead": Entity("lead", "crm_lead", 1, ("PHONE", "EMAIL")),
    "deal": Entity("deal", "crm_deal", 2),
    "contact": Entity("contact", "crm_contact", 3, ("PHONE", "EMAIL")),
    "company": Entity("company", "crm_company", 4, ("PHONE", "EMAIL")),
}
ENTITY_BY_TYPE = {e.type_id: e for e in ENTITIES.values()}
MULTIFIELDS = ("PHONE", "EMAIL", "WEB", "IM")


def old_select(table: Table, select: list[Any], multifields: tuple[str, ...]) -> list[str]:
    """Old-style `select`: default and "*" are the standard fields (no UF_, no multifields);
    "UF_*" adds custom fields; PHONE/EMAIL come only when listed explicitly ([B24DOCS] crm-lead-list)."""
    names = [str(s) for s in select if str(s) != ""] or ["*"]
    cols: list[str] = [table.id_column]
    uf = set(table.uf_columns)
    for name in names:
        if name == "*":
            cols += [c for c in table.columns if c not in uf and c.upper() not in MULTIFIELDS]
        elif name.upper() == "UF_*":
            cols += table.uf_columns
        else:
            c = table.resolve(name)
            if c is not None:
                cols.append(c)
    return list(dict.fromkeys(cols))


def render_row(table: Table, row: dict[str, Any], tz: timezone, style: Callable[[str, Any, timezone], Any],
               names: Callable[[str], str] | None = None) -> dict[str, Any]:
    fam = table._families
    if names is None:
        return {c: style(fam[c], v, tz) for c, v in row.items()}
    return {names(c): style(fam[c], v, tz) for c, v in row.items()}


def _drop_empty_multifields(row: dict[str, Any]) -> dict[str, Any]:
    # A record without phones has no PHONE key at all, even when PHONE is selected.
    for mf in MULTIFIELDS:
        if mf in row and not row[mf]:
            del row[mf]
    return row


def maybe_mutate(ctx: Ctx, entity: Entity | None) -> None:
    if entity is not None and entity.name in ("lead", "deal"):
        ctx.app.maybe_mutate_between_pages(ctx.table(entity.table))


def entity_list(entity: Entity) -> Callable[[Ctx], Result]:
    def handler(ctx: Ctx) -> Result:
        t = ctx.table(entity.table)
        p = ctx.params
        cols = old_select(t, as_list(get_ci(p, "select")), entity.multifields)
        filt = get_ci(p, "filter") or {}
        compiler = FilterCompiler(t, ctx.tz)
        where = compiler.compile(filt)
        rest = None
        if where.keyset_after is not None:  # the same filter without its `>ID` part, for ReadAhead
            rest = compiler.compile({k: v for k, v in filt.items()
                                     if not (split_filter_key(str(k))[0] in (">", ">=")
                                             and t.resolve(split_filter_key(str(k))[1]) == t.id_column)})
        order_sql = compile_order(get_ci(p, "order"), t.resolve, t.id_column)
        maybe_mutate(ctx, entity)
        page = run_page(ctx.cur, t, cols, where, order_sql, parse_start(get_ci(p, "start")),
                        sql_render_tz=ctx.tz, readahead=ctx.app.readahead, keyset_rest=rest)
        json_cols = [c for c in cols if t.family(c) == "json"]
        rows = page.rows
        for row in rows:  # everything else was rendered by DuckDB
            for c in json_cols:
                if isinstance(row[c], str):
                    row[c] = json.loads(row[c])
            _drop_empty_multifields(row)
        return Result(page_body(rows, page), ctx.list_cost(t, page))
    return handler


def _fetch_one(ctx: Ctx, t: Table, id_value: Any, columns: list[str] | None = None,
               id_column: str | None = None) -> dict[str, Any] | None:
    cols = columns or list(t.columns)
    idc = id_column or t.id_column
    row = ctx.cur.execute(f"SELECT {', '.join(select_expr(t, c) for c in cols)} FROM {qi(t.name)} "
                          f"WHERE {qi(idc)} = ?", [id_value]).fetchone()
    return dict(zip(cols, row)) if row else None


def entity_get(entity: Entity) -> Callable[[Ctx], Result]:
    def handler(ctx: Ctx) -> Result:
        t = ctx.table(entity.table)
        rid = as_int(get_ci(ctx.params, "id"))
        if not rid or rid <= 0:
            raise ApiError(400, "", "ID is not defined or invalid.")
        row = _fetch_one(ctx, t, rid)
        if row is None:
            raise ApiError(400, "", "Not found")
        return Result({"result": _drop_empty_multifields(render_row(t, row, ctx.tz, render_old))},
                      ctx.app.cost.single)
    return handler


FIELD_TYPES = {"int": "integer", "num": "double", "bool": "char", "ts": "datetime", "json": "crm_multifield",
               "str": "string"}
READONLY = {"ID", "DATE_CREATE", "DATE_MODIFY", "CREATED_BY_ID", "MODIFY_BY_ID", "MOVED_BY_ID", "MOVED_TIME",
            "STATUS_SEMANTIC_ID", "STAGE_SEMANTIC_ID", "IS_NEW", "IS_RETURN_CUSTOMER", "DATE_CLOSED"}
STATUS_TYPES = {"STATUS_ID": "STATUS", "SOURCE_ID": "SOURCE", "STAGE_ID": "DEAL_STAGE", "TYPE_ID": "DEAL_TYPE",
                "CURRENCY_ID": None}


def entity_fields(entity: Entity) -> Callable[[Ctx], Result]:
    def handler(ctx: Ctx) -> Result:
        t = ctx.table(entity.table)
        ufs = {r[0]: r for r in ctx.cur.execute(
            "SELECT FIELD_NAME, USER_TYPE_ID, MULTIPLE, MANDATORY, EDIT_FORM_LABEL FROM crm_userfield "
            "WHERE ENTITY_ID = ?", [f"CRM_{entity.name.upper()}"]).fetchall()}
        out: dict[str, Any] = {}
        for c in t.columns:
            fam = t.family(c)
            if c in ufs:
                _, utype, multiple, mandatory, label = ufs[c]
                lbl = json.loads(label) if isinstance(label, str) else (label or {})
                title = lbl.get("ru") or lbl.get("en") or c if isinstance(lbl, dict) else c
                out[c] = {"type": utype, "isRequired": bool(mandatory), "isReadOnly": False,
                          "isImmutable": False, "isMultiple": bool(multiple), "isDynamic": True,
                          "title": c, "listLabel": title, "formLabel": title, "filterLabel": title}
                continue
            ftype = FIELD_TYPES[fam]
            if c.endswith("_BY_ID") or c in ("RESPONSIBLE_ID", "AUTHOR_ID"):
                ftype = "user"
            elif c in STATUS_TYPES and STATUS_TYPES[c]:
                ftype = "crm_status"
            elif c == "CURRENCY_ID":
                ftype = "crm_currency"
            info = {"type": ftype, "isRequired": c == "TITLE" and entity.name == "lead", "isReadOnly": c in READONLY,
                    "isImmutable": False, "isMultiple": fam == "json", "isDynamic": False, "title": c}
            if ftype == "crm_status":
                info["statusType"] = STATUS_TYPES[c]
            out[c] = info
        return Result({"result": out}, ctx.app.cost.single)
    return handler


# --------------------------------------------------------------------------- crm.item.*

_SPECIAL_CAMEL = {
    "ID": "id", "DATE_CREATE": "createdTime", "DATE_MODIFY": "updatedTime", "CREATED_BY_ID": "createdBy",
    "MODIFY_BY_ID": "updatedBy", "MOVED_BY_ID": "movedBy", "MOVED_TIME": "movedTime",
    "BEGINDATE": "begindate", "CLOSEDATE": "closedate",
}


def camel(name: str) -> str:
    """UPPER_SNAKE -> crm.item camelCase. UF_CRM_x: "ufCrm" + camel(x), an all-digit or SPA-style
    "5_1639…" suffix keeping its underscore (⚠ inferred from doc examples like `ufCrm2_…`)."""
    if name in _SPECIAL_CAMEL:
        return _SPECIAL_CAMEL[name]
    if not name.isupper() and not name.replace("_", "").isdigit() and "_" not in name:
        return name  # already camelCase (crm_invoice, sale_payment)
    up = name.upper()
    if up.startswith("UF_CRM_"):
        rest = name[7:]
        if rest.isdigit():
            return "ufCrm_" + rest
        m = re.fullmatch(r"(\d+)_(.*)", rest)
        if m:
            return f"ufCrm{m.group(1)}_{m.group(2)}"
        return "ufCrm" + "".join(w.capitalize() for w in rest.lower().split("_"))
    words = name.lower().split("_")
    return words[0] + "".join(w.capitalize() for w in words[1:])


class ItemView:
    """How crm.item.* names a table's columns."""

    def __init__(self, table: Table, type_id: int, original_uf: bool) -> None:
        self.table, self.type_id, self.original_uf = table, type_id, original_uf
        self.uf = set(table.uf_columns)
        self.names = {c: (c if (original_uf and c in self.uf) else camel(c)) for c in table.columns}
        self._rev: dict[str, str] = {}
        for c, n in self.names.items():
            self._rev[n.lower()] = c
            self._rev[camel(c).lower()] = c
            self._rev[c.lower()] = c

    def resolve(self, name: str) -> str | None:
        return self._rev.get(str(name).lower())

    def name(self, column: str) -> str:
        return self.names[column]


def _item_table(ctx: Ctx) -> tuple[Table, int, Entity | None]:
    etid = as_int(get_ci(ctx.params, "entityTypeId"))
    if etid is None:
        raise ApiError(400, "100", "Could not find value for parameter {entityTypeId}")
    if etid in ENTITY_BY_TYPE:
        e = ENTITY_BY_TYPE[etid]
        return ctx.table(e.table), etid, e
    if etid == 31:
        return ctx.table("crm_invoice"), etid, None
    raise ApiError(400, "NOT_FOUND", "Smart process not found")


def _fm(row: dict[str, Any], multifields: tuple[str, ...]) -> list[dict[str, Any]]:
    out = []
    for mf in multifields:
        raw = row.get(mf)
        for v in (json.loads(raw) if isinstance(raw, str) else raw) or []:
            out.append({"id": as_int(v.get("ID")), "typeId": v.get("TYPE_ID", mf), "valueType": v.get("VALUE_TYPE"),
                        "value": v.get("VALUE")})
    return out


def item_list(ctx: Ctx) -> Result:
    t, etid, entity = _item_table(ctx)
    view = ItemView(t, etid, is_yes(get_ci(ctx.params, "useOriginalUfNames", "N")))
    select = [str(s) for s in as_list(get_ci(ctx.params, "select"))] or ["*"]
    multifields = entity.multifields if entity else ()
    cols = [t.id_column]
    want_fm = False
    for s in select:
        if s == "*":
            cols += [c for c in t.columns if c.upper() not in MULTIFIELDS]
            want_fm = bool(multifields)
        elif s.lower() in ("uf_*", "ufcrm*", "ufcrm_*"):
            cols += t.uf_columns
        elif s == "fm":
            want_fm = bool(multifields)
        else:
            c = view.resolve(s)
            if c is not None and c.upper() not in MULTIFIELDS:
                cols.append(c)
    cols = list(dict.fromkeys(cols))
    fetch = cols + ([m for m in multifields] if want_fm else [])
    where = FilterCompiler(t, ctx.tz, view.resolve).compile(get_ci(ctx.params, "filter") or {})
    order_sql = compile_order(get_ci(ctx.params, "order"), view.resolve, t.id_column)
    maybe_mutate(ctx, entity)
    page = run_page(ctx.cur, t, fetch, where, order_sql, parse_start(get_ci(ctx.params, "start")))
    items = []
    for r in page.rows:
        item = {view.name(c): render_typed(t.family(c), r[c], ctx.tz) for c in cols}
        if want_fm:
            item["fm"] = _fm(r, multifields)
        items.append(item)
    return Result(page_body({"items": items}, page), ctx.list_cost(t, page))


def item_get(ctx: Ctx) -> Result:
    t, etid, entity = _item_table(ctx)
    rid = as_int(get_ci(ctx.params, "id"))
    if rid is None:
        raise ApiError(400, "100", "Could not find value for parameter {id}")
    view = ItemView(t, etid, is_yes(get_ci(ctx.params, "useOriginalUfNames", "N")))
    row = _fetch_one(ctx, t, rid)
    if row is None:
        raise ApiError(400, "NOT_FOUND", "Element not found")
    item = {view.name(c): render_typed(t.family(c), v, ctx.tz) for c, v in row.items() if c.upper() not in MULTIFIELDS}
    if entity and entity.multifields:
        item["fm"] = _fm(row, entity.multifields)
    return Result({"result": {"item": item}}, ctx.app.cost.single)


# --------------------------------------------------------------------------- other lists

def generic_list(ctx: Ctx, t: Table, *, filt: Any, order: Any, start: int, style: Callable = render_old,
                 columns: list[str] | None = None, names: Callable[[str], str] | None = None,
                 resolve: Callable[[str], str | None] | None = None, default_order: list[tuple[str, str]] | None = None,
                 extra_where: str = "", extra_params: list[Any] | None = None, paged: bool = True,
                 row_hook: Callable[[dict[str, Any], dict[str, Any]], None] | None = None) -> tuple[list[dict], Page, float]:
    resolve = resolve or t.resolve
    cols = columns or list(t.columns)
    where = FilterCompiler(t, ctx.tz, resolve).compile(filt or {})
    order_sql = compile_order(order, resolve, t.id_column, default_order)
    page = run_page(ctx.cur, t, cols, where, order_sql, start, paged=paged, extra_where=extra_where,
                    extra_params=extra_params)
    rows = []
    for r in page.rows:
        out = render_row(t, r, ctx.tz, style, names)
        if row_hook:
            row_hook(r, out)
        rows.append(out)
    return rows, page, ctx.list_cost(t, page)


def activity_list(ctx: Ctx) -> Result:
    t = ctx.table("crm_activity")
    p = ctx.params
    cols = old_select(t, as_list(get_ci(p, "select")), ())
    rows, page, cost = generic_list(ctx, t, filt=get_ci(p, "filter"), order=get_ci(p, "order"),
                                    start=parse_start(get_ci(p, "start")), columns=cols,
                                    default_order=[("START_TIME", "ASC")])
    return Result(page_body(rows, page), cost)


STAGEHISTORY_FIELDS = {
    1: ["ID", "TYPE_ID", "OWNER_ID", "CREATED_TIME", "STATUS_ID", "STATUS_SEMANTIC_ID"],
    2: ["ID", "TYPE_ID", "OWNER_ID", "CREATED_TIME", "CATEGORY_ID", "STAGE_ID", "STAGE_SEMANTIC_ID"],
}


def stagehistory_list(ctx: Ctx) -> Result:
    etid = as_int(get_ci(ctx.params, "entityTypeId"))
    if etid not in STAGEHISTORY_FIELDS:
        raise ApiError(400, "ERROR_CORE", "entityTypeId is not supported")
    t = ctx.table("crm_stagehistory")
    fields = [c for c in STAGEHISTORY_FIELDS[etid] if c in t.columns]
    select = [str(s).upper() for s in as_list(get_ci(ctx.params, "select"))]
    cols = ["ID"] + [c for c in fields if c != "ID" and (not select or "*" in select or c in select)]

    def resolve(name: str) -> str | None:
        c = t.resolve(name)
        return c if c in fields else None

    rows, page, cost = generic_list(ctx, t, filt=get_ci(ctx.params, "filter"), order=get_ci(ctx.params, "order"),
                                    start=parse_start(get_ci(ctx.params, "start")), style=render_typed,
                                    columns=cols, resolve=resolve, extra_where='"ENTITY_TYPE_ID" = ?',
                                    extra_params=[etid])
    return Result(page_body({"items": rows}, page), cost)


SEMANTIC_EXTRA = {None: "process", "S": "success", "F": "failure"}


def status_list(ctx: Ctx) -> Result:
    t = ctx.table("crm_status")

    def hook(raw: dict[str, Any], out: dict[str, Any]) -> None:
        out["SEMANTICS"] = raw.get("SEMANTICS")
        entity_id = raw.get("ENTITY_ID") or ""
        if entity_id == "STATUS" or "STAGE" in entity_id:
            out["EXTRA"] = {"SEMANTICS": SEMANTIC_EXTRA.get(raw.get("SEMANTICS"), "process"),
                            "COLOR": raw.get("COLOR")}

    # crm.status.list answers the whole (small) reference list at once (⚠ no paging observed in docs).
    rows, page, cost = generic_list(ctx, t, filt=get_ci(ctx.params, "filter"), order=get_ci(ctx.params, "order"),
                                    start=0, default_order=[("SORT", "ASC")], paged=False, row_hook=hook)
    return Result({"result": rows, "total": page.total}, cost)


def category_list(ctx: Ctx) -> Result:
    etid = as_int(get_ci(ctx.params, "entityTypeId"))
    if etid is None:
        raise ApiError(400, "100", "Could not find value for parameter {entityTypeId}")
    t = ctx.table("crm_category")
    rows, page, cost = generic_list(ctx, t, filt=get_ci(ctx.params, "filter"), order=get_ci(ctx.params, "order"),
                                    start=parse_start(get_ci(ctx.params, "start")), style=render_typed,
                                    default_order=[("sort", "ASC")], extra_where='"entityTypeId" = ?',
                                    extra_params=[etid])
    return Result(page_body({"categories": rows}, page), cost)


USER_CONTROL_KEYS = {"FILTER", "SORT", "ORDER", "ADMIN_MODE", "START", "AUTH"}


def user_get(ctx: Ctx) -> Result:
    t = ctx.table("b_user")
    p = ctx.params
    filt = dict(get_ci(p, "FILTER") or {})
    for k, v in p.items():  # user.get also takes filter fields at the top level
        if k.upper() not in USER_CONTROL_KEYS:
            filt[k] = v
    extra, extra_params = "", []
    if not any(k.lstrip("!=<>@%").upper() == "USER_TYPE" for k in filt):
        # bots, e-mail users, Open Channels users and integrators are not returned ([B24DOCS] user-get)
        extra, extra_params = "\"USER_TYPE\" = 'employee' OR \"USER_TYPE\" IS NULL", []
    sort = get_ci(p, "SORT")
    order = {str(sort): str(get_ci(p, "ORDER") or "ASC")} if sort else None

    def style(fam: str, v: Any, tz: timezone) -> Any:
        return render_old(fam, v, tz)

    def hook(raw: dict[str, Any], out: dict[str, Any]) -> None:
        out["ACTIVE"] = bool(raw.get("ACTIVE"))
        dep = raw.get("UF_DEPARTMENT")
        out["UF_DEPARTMENT"] = [int(x) for x in (json.loads(dep) if isinstance(dep, str) else dep or [])]

    rows, page, cost = generic_list(ctx, t, filt=filt, order=order, start=parse_start(get_ci(p, "start")),
                                    style=style, extra_where=extra, extra_params=extra_params, row_hook=hook)
    return Result(page_body(rows, page), cost)


DEPT_CONTROL_KEYS = {"SORT", "ORDER", "START", "AUTH"}


def department_get(ctx: Ctx) -> Result:
    t = ctx.table("b_department")
    p = ctx.params
    filt = {k: v for k, v in p.items() if k.upper() not in DEPT_CONTROL_KEYS}
    sort = get_ci(p, "sort")
    order = {str(sort): str(get_ci(p, "order") or "ASC")} if sort else None

    def hook(raw: dict[str, Any], out: dict[str, Any]) -> None:
        out["SORT"] = raw.get("SORT")

    rows, page, cost = generic_list(ctx, t, filt=filt, order=order, start=parse_start(get_ci(p, "start")),
                                    row_hook=hook)
    return Result(page_body(rows, page), cost)


def userfield_list(entity_id: str) -> Callable[[Ctx], Result]:
    def handler(ctx: Ctx) -> Result:
        t = ctx.table("crm_userfield")
        filt = dict(get_ci(ctx.params, "filter") or {})
        lang = get_ci(filt, "LANG")
        filt = {k: v for k, v in filt.items() if k.upper() != "LANG"}

        def hook(raw: dict[str, Any], out: dict[str, Any]) -> None:
            if lang and isinstance(out.get("EDIT_FORM_LABEL"), dict):
                out["EDIT_FORM_LABEL"] = out["EDIT_FORM_LABEL"].get(lang)
            if out.get("LIST") is None:
                out.pop("LIST", None)

        rows, page, cost = generic_list(ctx, t, filt=filt, order=get_ci(ctx.params, "order"),
                                        start=parse_start(get_ci(ctx.params, "start")), row_hook=hook,
                                        extra_where='"ENTITY_ID" = ?', extra_params=[entity_id])
        return Result(page_body(rows, page), cost)
    return handler


def product_list(ctx: Ctx) -> Result:
    t = ctx.table("crm_product")
    p = ctx.params
    select = [str(s) for s in as_list(get_ci(p, "select"))]
    cols = list(t.columns) if not select or "*" in select else old_select(t, select, ())
    rows, page, cost = generic_list(ctx, t, filt=get_ci(p, "filter"), order=get_ci(p, "order"),
                                    start=parse_start(get_ci(p, "start")), columns=cols)
    return Result(page_body(rows, page), cost)


def _productrow_style(fam: str, v: Any, tz: timezone) -> Any:
    if fam == "num" and v is not None:
        f = float(v)
        return int(f) if f.is_integer() else f
    return render_old(fam, v, tz)


def deal_productrows_get(ctx: Ctx) -> Result:
    rid = as_int(get_ci(ctx.params, "id"))
    if not rid:
        raise ApiError(400, "", "ID is not defined or invalid.")
    if _fetch_one(ctx, ctx.table("crm_deal"), rid, ["ID"]) is None:
        raise ApiError(400, "", "Not found")
    t = ctx.table("crm_productrow")

    def hook(raw: dict[str, Any], out: dict[str, Any]) -> None:
        out["PRODUCT_ID"] = raw.get("PRODUCT_ID")

    rows, page, cost = generic_list(ctx, t, filt={}, order={"SORT": "ASC"}, start=0, style=_productrow_style,
                                    paged=False, extra_where='"OWNER_TYPE" = \'D\' AND "OWNER_ID" = ?',
                                    extra_params=[rid], row_hook=hook)
    return Result({"result": rows}, cost)


def item_productrow_list(ctx: Ctx) -> Result:
    t = ctx.table("crm_productrow")
    filt = get_ci(ctx.params, "filter") or {}
    keys = {k.lstrip("=").lower() for k in filt} if isinstance(filt, dict) else set()
    if not {"ownertype", "ownerid"} <= keys:
        raise ApiError(400, "100", "Required filter fields ownerType and ownerId are missing")
    view = ItemView(t, 0, False)
    rows, page, cost = generic_list(ctx, t, filt=filt, order=get_ci(ctx.params, "order"),
                                    start=parse_start(get_ci(ctx.params, "start")), style=render_typed,
                                    names=view.name, resolve=view.resolve)
    return Result(page_body({"productRows": rows}, page), cost)


def item_payment_list(ctx: Ctx) -> Result:
    entity_id = as_int(get_ci(ctx.params, "entityId"))
    etid = as_int(get_ci(ctx.params, "entityTypeId"))
    if entity_id is None:
        raise ApiError(400, "100", "Could not find value for parameter {entityId}")
    if etid is None:
        raise ApiError(400, "100", "Could not find value for parameter {entityTypeId}")
    if etid not in (2, 31):
        raise ApiError(400, "ERROR_CORE", "Payments are supported only for deals and invoices")
    t = ctx.table("sale_payment")
    cols = ["id", "accountNumber", "paid", "datePaid", "empPaidId", "paySystemId", "sum", "currency",
            "paySystemName"]
    cols = [c for c in cols if c in t.columns]
    rows, page, cost = generic_list(ctx, t, filt={}, order={"id": "ASC"}, start=0, style=render_typed,
                                    columns=cols, paged=False, extra_where='"entityTypeId" = ? AND "entityId" = ?',
                                    extra_params=[etid, entity_id])
    return Result({"result": rows}, cost)


def sale_payment_list(ctx: Ctx) -> Result:
    if ctx.user_id not in ctx.app.admin_user_ids:
        raise ApiError(403, "ACCESS_DENIED", "Access denied.")
    t = ctx.table("sale_payment")
    select = [str(s) for s in as_list(get_ci(ctx.params, "select"))]
    view = ItemView(t, 0, False)
    cols = list(t.columns) if not select or "*" in select else list(
        dict.fromkeys(["id"] + [c for c in (view.resolve(s) for s in select) if c]))
    rows, page, cost = generic_list(ctx, t, filt=get_ci(ctx.params, "filter"), order=get_ci(ctx.params, "order"),
                                    start=parse_start(get_ci(ctx.params, "start")), style=render_typed,
                                    columns=cols, names=view.name, resolve=view.resolve)
    return Result(page_body({"payments": rows}, page), cost)


def server_time(ctx: Ctx) -> Result:
    return Result({"result": datetime.now(ctx.tz).isoformat(timespec="seconds")}, 0.0)


def profile(ctx: Ctx) -> Result:
    row = ctx.cur.execute('SELECT "ID", "NAME", "LAST_NAME" FROM b_user WHERE "ID" = ?', [ctx.user_id]).fetchone()
    return Result({"result": {"ID": str(ctx.user_id), "ADMIN": ctx.user_id in ctx.app.admin_user_ids,
                              "NAME": row[1] if row else "", "LAST_NAME": row[2] if row else "",
                              "PERSONAL_GENDER": "", "TIME_ZONE": ""}}, ctx.app.cost.single)


METHODS: dict[str, Callable[[Ctx], Result]] = {
    "server.time": server_time,
    "profile": profile,
    "crm.item.list": item_list,
    "crm.item.get": item_get,
    "crm.activity.list": activity_list,
    "crm.stagehistory.list": stagehistory_list,
    "crm.status.list": status_list,
    "crm.category.list": category_list,
    "user.get": user_get,
    "department.get": department_get,
    "crm.lead.userfield.list": userfield_list("CRM_LEAD"),
    "crm.deal.userfield.list": userfield_list("CRM_DEAL"),
    "crm.contact.userfield.list": userfield_list("CRM_CONTACT"),
    "crm.company.userfield.list": userfield_list("CRM_COMPANY"),
    # Activities have a field map but no user fields; the entity here only names the table.
    "crm.activity.fields": entity_fields(Entity("activity", "crm_activity", 0)),
    "crm.product.list": product_list,
    "crm.deal.productrows.get": deal_productrows_get,
    "crm.item.productrow.list": item_productrow_list,
    "crm.item.payment.list": item_payment_list,
    "sale.payment.list": sale_payment_list,
}
for _e in ENTITIES.values():
    METHODS[f"crm.{_e.name}.list"] = entity_list(_e)
    METHODS[f"crm.{_e.name}.get"] = entity_get(_e)
    METHODS[f"crm.{_e.name}.fields"] = entity_fields(_e)
