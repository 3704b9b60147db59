"""`AmoCRMApp`: the amoCRM v4 emulator behind sandbox.common.http (see the package docstring for
what is emulated and every configurable choice)."""

from __future__ import annotations

import json
import random
import re
import threading
import time
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qsl

import duckdb

from sandbox.amocrm import endpoints as E
from sandbox.amocrm import params as P
from sandbox.amocrm.auth import OAuthError, TokenStore
from sandbox.common.http import Request, Response, _nginx_page
from sandbox.common.ratelimit import Blocker, SlidingWindow
from sandbox.workday import account_index, work_day

HAL = "application/hal+json"
PROBLEM = "application/problem+json"

DEFAULT_OPTIONS: dict[str, Any] = {
    # ⚠ API filtering is a paid/alpha add-on on some accounts (crm-api.md "Filters"). When off,
    # filter[...] parameters are ignored — the API answers the unfiltered list, as it does for
    # any filter it does not support — so a client that trusts its filter silently over-reads.
    "filters_enabled": True,
    # ⚠ Past the last page: "204" (empty body, code 2002 "nothing found") or "empty" (200 with an
    # empty `_embedded` list). A first page with nothing in it is always 204.
    "past_last_page": "204",
    # ⚠ Retry-After on 429 is unconfirmed (amocrm-api-php#526): None = header absent.
    "retry_after": None,
    "rate_limit_per_second": 7,
    "rate_limit_window": 1.0,
    # Repeated 429s turn into an account block (403 nginx HTML) "until support unblocks it".
    "block_threshold": 20,
    "block_window": 60.0,
    "block_seconds": 24 * 3600.0,
    # Absolute base of `_links` hrefs; None = derived from the request's Host header.
    "base_url": None,
    # ⚠ GET /api/v4/leads/links: most `filter[entity_id]` values per request (not documented).
    "links_max_entity_ids": 250,
    # Token lifetimes (seconds) and the long-lived token's expiry (unix) — see auth.DEFAULTS.
}

_NOT_FOUND = {"title": "Not Found", "type": "https://httpstatus.es/404", "status": 404}


def _problem(status: int, title: str, detail: str, **kw: Any) -> Response:
    return Response.json_body(status, {"title": title, "type": f"https://httpstatus.es/{status}",
                                       "status": status, "detail": detail}, content_type=PROBLEM, **kw)


def _unauthorized(detail: str = "Неверный логин или пароль", **kw: Any) -> Response:
    # The body amoCRM sends for a bad or expired bearer token (amocrm-api-php#333).
    return _problem(401, "Unauthorized", detail, **kw)


def _validation(err: P.ValidationFailed, **kw: Any) -> Response:
    payload = {"validation-errors": [{"request_id": "0", "errors": [
        {"code": err.code, "path": err.path, "detail": err.detail}]}],
        "title": "Bad Request", "type": "https://httpstatus.es/400", "status": 400,
        "detail": "Request validation failed"}
    return Response.json_body(400, payload, content_type=PROBLEM, **kw)


def _too_many(retry_after: Any, **kw: Any) -> Response:
    # Not JSON (AMOSDK parseResponse; PR #517): an nginx page, as the edge answers it.
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return Response.html(429, _nginx_page(429, "Too Many Requests"), headers=headers, **kw)


Handler = Callable[[Request, dict[str, Any], "re.Match[str]"], Response]


class AmoCRMApp:
    """One amoCRM account served from `data_dir/account["file"]`.

    Thread-safe: each server thread reads through its own DuckDB cursor; writes (tokens, injected
    mutations) are serialised by one lock, since DuckDB allows one writer at a time per table.
    """

    def __init__(self, data_dir: Path, account: dict[str, Any], limits: bool = True,
                 options: dict[str, Any] | None = None) -> None:
        self.account = account
        self.data_dir = Path(data_dir)
        self.name = f"amocrm:{account.get('account', 'sandbox')}"
        self.options = {**DEFAULT_OPTIONS, **(options or {})}
        self.limits = limits
        self.path = Path(data_dir) / account.get("file", f"amocrm_{account.get('account')}.duckdb")
        self._con = duckdb.connect(str(self.path))
        # One thread per query: the emulator's queries are small and many, DuckDB's worker pool only
        # adds hand-off latency, and the request log's per-thread CPU time then covers all the work.
        self._con.execute("SET threads=1")
        self._local = threading.local()
        self._write_lock = threading.Lock()
        row = self._cursor().execute("SELECT id FROM account LIMIT 1").fetchone()
        self.account_id = int(row[0]) if row else 0
        self.tokens = TokenStore(self._cursor, self._write_lock, account, self.options, self.account_id)
        o = self.options
        self.window = SlidingWindow(int(o["rate_limit_per_second"]), float(o["rate_limit_window"]))
        self.blocker = Blocker(int(o["block_threshold"]), float(o["block_window"]), float(o["block_seconds"]))
        self.faults = None  # a sandbox.common.faults.FaultInjector, set by sandbox.common.http.start
        self._counts = {"http_429": 0, "blocks": 0, "mutations": 0, "expired_by_fault": 0}
        self._counts_lock = threading.Lock()
        self._token_uses: dict[str, int] = {}
        self._uses_config: Any = None
        self._rng = random.Random(0)
        self._routes: list[tuple[str, re.Pattern[str], str, Handler]] = []
        self._build_routes()

    # ------------------------------------------------------------------ plumbing
    def _cursor(self) -> duckdb.DuckDBPyConnection:
        cur = getattr(self._local, "cur", None)
        if cur is None:
            cur = self._local.cur = self._con.cursor()
        return cur

    def close(self) -> None:
        self._con.close()

    def _count(self, key: str) -> None:
        with self._counts_lock:
            self._counts[key] += 1

    def _base(self, req: Request) -> str:
        if self.options.get("base_url"):
            return str(self.options["base_url"]).rstrip("/")
        host = req.headers.get("host") or "127.0.0.1"
        # Requests that reach us under a real amoCRM/Kommo host name came through a TLS endpoint
        # (the third-party client test): their links must stay https on that host.
        scheme = "https" if host.split(":")[0].endswith((".amocrm.ru", ".kommo.com", ".amocrm.com")) else "http"
        return f"{scheme}://{host}"

    def _route(self, method: str, pattern: str, label: str, handler: Handler) -> None:
        self._routes.append((method, re.compile(f"^{pattern}/?$"), label, handler))

    def _build_routes(self) -> None:
        r = self._route
        r("POST", r"/oauth2/access_token", "POST /oauth2/access_token", self._oauth)
        r("GET", r"/api/v4/account", "GET /api/v4/account", self._account)
        r("GET", r"/api/v4/leads/pipelines", "GET /api/v4/leads/pipelines", self._list("pipelines"))
        r("GET", r"/api/v4/leads/pipelines/(?P<id>\d+)", "GET /api/v4/leads/pipelines/{id}", self._pipeline)
        r("GET", r"/api/v4/leads/pipelines/(?P<pid>\d+)/statuses", "GET /api/v4/leads/pipelines/{id}/statuses",
          self._statuses)
        r("GET", r"/api/v4/leads/pipelines/(?P<pid>\d+)/statuses/(?P<id>\d+)",
          "GET /api/v4/leads/pipelines/{id}/statuses/{id}", self._status)
        r("GET", r"/api/v4/leads/loss_reasons", "GET /api/v4/leads/loss_reasons", self._list("loss_reasons"))
        r("GET", r"/api/v4/leads/loss_reasons/(?P<id>\d+)", "GET /api/v4/leads/loss_reasons/{id}",
          self._single("loss_reasons"))
        for entity in ("leads", "contacts", "companies"):
            r("GET", rf"/api/v4/(?P<entity>{entity})/custom_fields", f"GET /api/v4/{entity}/custom_fields",
              self._custom_fields)
            r("GET", rf"/api/v4/(?P<entity>{entity})/custom_fields/(?P<id>\d+)",
              f"GET /api/v4/{entity}/custom_fields/{{id}}", self._custom_fields)
        r("GET", r"/api/v4/leads/(?P<id>\d+)/links", "GET /api/v4/leads/{id}/links", self._lead_links)
        r("GET", r"/api/v4/leads/links", "GET /api/v4/leads/links", self._mass_lead_links)
        for entity in ("leads", "contacts", "companies", "users", "tasks", "events", "sources", "catalogs"):
            r("GET", rf"/api/v4/{entity}", f"GET /api/v4/{entity}", self._list(entity))
            r("GET", rf"/api/v4/{entity}/(?P<id>[0-9a-z]+)", f"GET /api/v4/{entity}/{{id}}", self._single(entity))
        r("GET", r"/api/v4/catalogs/(?P<cid>\d+)/elements", "GET /api/v4/catalogs/{id}/elements", self._elements)
        r("GET", r"/api/v4/catalogs/(?P<cid>\d+)/elements/(?P<id>\d+)",
          "GET /api/v4/catalogs/{id}/elements/{id}", self._elements)
        r("GET", r"/api/v4/catalogs/(?P<cid>\d+)/custom_fields", "GET /api/v4/catalogs/{id}/custom_fields",
          self._custom_fields)

    # ------------------------------------------------------------------ entry point
    def handle(self, request: Request) -> Response:
        route = None
        method_ok = False
        for method, pattern, label, handler in self._routes:
            m = pattern.match(request.path)
            if m:
                method_ok = True
                if method == request.method or (method == "GET" and request.method == "HEAD"):
                    route = (label, handler, m)
                    break
        label = route[0] if route else ""
        if self.limits:
            if self.blocker.blocked:
                return Response.html(403, _nginx_page(403, "Forbidden"), api_method=label, limited="blocked")
            if not self.window.try_acquire():
                was = self.blocker.blocked
                self.blocker.violation()
                self._count("http_429")
                if not was and self.blocker.blocked:
                    self._count("blocks")
                return _too_many(self.options.get("retry_after"), api_method=label, limited="429")
        if route is None:
            if method_ok:
                return _problem(405, "Method Not Allowed",
                                "The sandbox emulates the read API only", api_method=f"{request.method} {request.path}")
            return Response.json_body(404, {**_NOT_FOUND, "detail": f"No route found for \"{request.method} "
                                            f"{request.path}\""}, content_type=PROBLEM)
        label, handler, m = route
        if label != "POST /oauth2/access_token":
            denied = self._authenticate(request)
            if denied is not None:
                denied.api_method = label
                return denied
        params = P.parse_nested(request.query_pairs)
        try:
            resp = handler(request, params, m)
        except P.ValidationFailed as err:
            resp = _validation(err)
        resp.api_method = label
        return resp

    def _authenticate(self, request: Request) -> Response | None:
        auth = request.headers.get("authorization", "")
        if not auth.lower().startswith("bearer "):
            return _unauthorized()
        token = auth[7:].strip()
        reason = self.tokens.check_access(token)
        if reason is not None:
            return _unauthorized()
        limit = self._fault_config("expire_tokens_after")
        st = self.tokens.state(token)
        if limit is not None and st is not None and st.kind == "access":
            # FaultConfig.expire_tokens_after: the token dies after N more requests although its
            # JWT `exp` says otherwise — the mid-run expiry a client must survive by refreshing.
            cfg = self.faults.config if self.faults is not None else None
            if cfg is not self._uses_config:
                self._uses_config, self._token_uses = cfg, {}
            n = self._token_uses.get(token, 0) + 1
            self._token_uses[token] = n
            if n > int(limit):
                self.tokens.expire(token)
                self._count("expired_by_fault")
                return _unauthorized()
        return None

    def _fault_config(self, name: str) -> Any:
        return getattr(self.faults.config, name, None) if self.faults is not None else None

    # ------------------------------------------------------------------ helpers
    def _ctx(self, request: Request, params: dict[str, Any]) -> E.Ctx:
        return E.Ctx(self._base(request), P.parse_with(params), self._cursor(), self.account_id)

    def _hal(self, payload: Any) -> Response:
        return Response(200, E.dumps(payload), content_type=HAL)

    def _list_response(self, request: Request, spec: E.ListSpec, params: dict[str, Any],
                       fixed: P.Where | None = None) -> Response:
        ctx = self._ctx(request, params)
        result = E.run_list(spec, ctx, params, bool(self.options["filters_enabled"]), fixed)
        if not result.items:
            if result.page > 1 and self.options["past_last_page"] == "empty":
                return self._hal({"_page": result.page, "_links": E.page_links(
                    ctx.base, request.path, request.query_pairs, result.page, False), "_embedded": {spec.key: []}})
            return Response(204, b"", content_type=HAL)
        payload: dict[str, Any] = {}
        if result.total is not None:
            payload["_total_items"] = result.total
        if spec.paged:
            payload["_page"] = result.page
            payload["_links"] = E.page_links(ctx.base, request.path, request.query_pairs, result.page,
                                             result.has_next)
        else:
            payload["_links"] = ctx.link(request.path)
        items = result.items
        bad = self.faults.take_corrupt(spec.key) if self.faults is not None else None
        if bad:  # FaultConfig.corrupt_records, after the first record (see sandbox.common.faults)
            items = [*items[:1], *bad, *items[1:]]
        payload["_embedded"] = {spec.key: items}
        return self._hal(payload)

    def _list(self, entity: str) -> Handler:
        spec = E.SPECS[entity]

        def handler(request: Request, params: dict[str, Any], m: re.Match[str]) -> Response:
            if entity in ("leads", "events"):
                self._maybe_mutate()
            return self._list_response(request, spec, params)
        return handler

    def _fetch_one(self, sql: str, args: list[Any]) -> dict[str, Any] | None:
        cur = self._cursor().execute(sql, args)
        row = cur.fetchone()
        return dict(zip([d[0] for d in cur.description], row)) if row else None

    def _single(self, entity: str) -> Handler:
        spec = E.SPECS[entity]

        def handler(request: Request, params: dict[str, Any], m: re.Match[str]) -> Response:
            key: Any = m.group("id")
            if entity != "events":
                if not key.isdigit():
                    return Response.json_body(404, {**_NOT_FOUND, "detail": "Not found"}, content_type=PROBLEM)
                key = int(key)
            where = "id = ?"
            if spec.base_where is not None:
                where += f" AND {spec.base_where(P.parse_with(params))}"
            row = self._fetch_one(f"SELECT * FROM {spec.table} WHERE {where}", [key])
            if row is None:
                return Response(204, b"", content_type=HAL)  # leads-api.md: 204 if the lead does not exist
            return self._hal(spec.render(row, self._ctx(request, params)))
        return handler

    # ------------------------------------------------------------------ endpoints
    def _oauth(self, request: Request, params: dict[str, Any], m: re.Match[str]) -> Response:
        try:
            if request.content_type == "application/json":
                form = request.json()
                if not isinstance(form, dict):
                    raise ValueError("not an object")
            else:
                form = dict(request.form_pairs())
        except (ValueError, UnicodeDecodeError):
            return Response.json_body(400, OAuthError(400, "Check the request body", "").payload()
                                      | {"detail": "Malformed request body"}, content_type=PROBLEM)
        try:
            return Response.json_body(200, self.tokens.exchange(form))
        except OAuthError as err:
            return Response.json_body(err.status, err.payload(), content_type=PROBLEM)

    def _account(self, request: Request, params: dict[str, Any], m: re.Match[str]) -> Response:
        row = self._fetch_one("SELECT * FROM account LIMIT 1", [])
        if row is None:
            return Response.json_body(404, {**_NOT_FOUND, "detail": "Account not found"}, content_type=PROBLEM)
        ctx = self._ctx(request, params)
        out = {k: row.get(k) for k in ("id", "name", "subdomain", "created_at", "updated_at", "current_user_id",
                                        "country", "currency")}
        out.update({"created_by": 0, "updated_by": 0, "customers_mode": "disabled", "is_unsorted_on": True,
                    "is_loss_reason_enabled": True, "is_helpbot_enabled": False, "is_technical_account": False,
                    "contact_name_display_order": 1, "currency_symbol": "₽" if row.get("currency") == "RUB" else "",
                    "_links": ctx.link("/api/v4/account")})
        emb: dict[str, Any] = {}
        if "users_groups" in ctx.with_:
            cur = self._cursor().execute("SELECT id, name, uuid FROM groups ORDER BY id")
            emb["users_groups"] = [{"id": 0, "name": "Отдел продаж", "uuid": None}] + [
                {"id": i, "name": n, "uuid": u} for i, n, u in cur.fetchall() if i != 0]
        if "task_types" in ctx.with_:
            cur = self._cursor().execute("SELECT id, name, color, icon_id, code FROM task_types ORDER BY id")
            emb["task_types"] = [{"id": i, "name": n, "color": c, "icon_id": ic, "code": cd}
                                 for i, n, c, ic, cd in cur.fetchall()]
        if "amojo_id" in ctx.with_:
            out["amojo_id"] = f"{self.account_id:08x}-0000-4000-8000-000000000000"
        if "uuid" in ctx.with_:
            out["uuid"] = f"{self.account_id:08x}-0000-4000-8000-00000000a000"
        if "version" in ctx.with_:
            out["version"] = 1
        if "datetime_settings" in ctx.with_:
            out["datetime_settings"] = {"date_pattern": "d.m.Y H:i", "short_date_pattern": "d.m.Y",
                                        "short_time_pattern": "H:i", "date_format": "d.m.Y", "time_format": "H:i:s",
                                        "timezone": row.get("timezone"), "timezone_offset": "+03:00"}
        if emb:
            out["_embedded"] = emb
        return self._hal(out)

    def _pipeline(self, request: Request, params: dict[str, Any], m: re.Match[str]) -> Response:
        row = self._fetch_one("SELECT * FROM pipelines WHERE id = ?", [int(m.group("id"))])
        if row is None:
            return Response(204, b"", content_type=HAL)
        return self._hal(E.render_pipeline(row, self._ctx(request, params)))

    def _statuses(self, request: Request, params: dict[str, Any], m: re.Match[str]) -> Response:
        pid = int(m.group("pid"))
        ctx = self._ctx(request, params)
        cur = self._cursor().execute("SELECT * FROM statuses WHERE pipeline_id = ? ORDER BY sort, id", [pid])
        names = [d[0] for d in cur.description]
        items = [E.render_status(dict(zip(names, r)), ctx) for r in cur.fetchall()]
        if not items:
            return Response(204, b"", content_type=HAL)
        return self._hal({"_total_items": len(items), "_links": ctx.link(request.path),
                          "_embedded": {"statuses": items}})

    def _status(self, request: Request, params: dict[str, Any], m: re.Match[str]) -> Response:
        row = self._fetch_one("SELECT * FROM statuses WHERE pipeline_id = ? AND id = ?",
                              [int(m.group("pid")), int(m.group("id"))])
        if row is None:
            return Response(204, b"", content_type=HAL)
        return self._hal(E.render_status(row, self._ctx(request, params)))

    def _custom_fields(self, request: Request, params: dict[str, Any], m: re.Match[str]) -> Response:
        groups = m.groupdict()
        entity = groups.get("entity") or f"catalogs:{groups['cid']}"
        if groups.get("id"):
            row = self._fetch_one("SELECT * FROM custom_fields WHERE entity_type = ? AND id = ?",
                                  [entity, int(groups["id"])])
            if row is None:
                return Response(204, b"", content_type=HAL)
            return self._hal(E.render_custom_field(row, self._ctx(request, params)))
        fixed = P.Where()
        fixed.add("entity_type = ?", entity)
        return self._list_response(request, E.SPECS["custom_fields"], params, fixed)

    def _elements(self, request: Request, params: dict[str, Any], m: re.Match[str]) -> Response:
        cid = int(m.group("cid"))
        if self._fetch_one("SELECT id FROM catalogs WHERE id = ?", [cid]) is None:
            return Response.json_body(404, {**_NOT_FOUND, "detail": "Catalog not found"}, content_type=PROBLEM)
        if m.groupdict().get("id"):
            row = self._fetch_one("SELECT * FROM catalog_elements WHERE catalog_id = ? AND id = ? "
                                  "AND NOT coalesce(is_deleted, FALSE)", [cid, int(m.group("id"))])
            if row is None:
                return Response(204, b"", content_type=HAL)
            return self._hal(E.render_element(row, self._ctx(request, params)))
        fixed = P.Where()
        fixed.add("catalog_id = ?", cid)
        return self._list_response(request, E.SPECS["catalog_elements"], params, fixed)

    def _lead_links(self, request: Request, params: dict[str, Any], m: re.Match[str]) -> Response:
        lead_id = int(m.group("id"))
        row = self._fetch_one("SELECT contacts, companies FROM leads WHERE id = ? "
                              "AND NOT coalesce(is_deleted, FALSE)", [lead_id])
        if row is None:
            return Response(204, b"", content_type=HAL)
        ctx = self._ctx(request, params)
        links: list[dict[str, Any]] = []

        def link(to_id: int, to_type: str, metadata: dict[str, Any] | None) -> dict[str, Any]:
            return {"to_entity_id": to_id, "to_entity_type": to_type, "metadata": metadata,
                    "_links": ctx.link(f"/api/v4/leads/{lead_id}/links")}

        for c in E._j(row["contacts"]) or []:
            links.append(link(c["id"], "contacts", {"main_contact": bool(c.get("is_main"))}))
        for c in E._j(row["companies"]) or []:
            links.append(link(c["id"], "companies", None))
        for eid, cid in self._cursor().execute(
                "SELECT id, catalog_id FROM catalog_elements WHERE lead_id = ? AND NOT coalesce(is_deleted, FALSE) "
                "ORDER BY id", [lead_id]).fetchall():
            links.append(link(eid, "catalog_elements", {"quantity": 1, "catalog_id": cid}))
        if not links:
            return Response(204, b"", content_type=HAL)
        return self._hal({"_total_items": len(links), "_links": ctx.link(request.path),
                          "_embedded": {"links": links}})

    def _mass_lead_links(self, request: Request, params: dict[str, Any], m: re.Match[str]) -> Response:
        """`GET /api/v4/leads/links?filter[entity_id][]=..` (entity-links-api.md): the links of many
        leads in one list; `filter[entity_id]` is required. ⚠ The docs give no maximum number of ids
        and no paging: we take up to `links_max_entity_ids` ids and page the links like other lists
        (`page`, `limit` ≤ 250, `_links.next`)."""
        flt = params.get("filter") if isinstance(params.get("filter"), dict) else {}
        ids = [P.to_int(v, "filter.entity_id") for v in P.as_list(flt.get("entity_id"))]
        if not ids:
            raise P.ValidationFailed("filter.entity_id", "NotBlank", "This value should not be blank.")
        most = int(self.options["links_max_entity_ids"])
        if len(ids) > most:
            raise P.ValidationFailed("filter.entity_id", "Count",
                                     f"This collection should contain {most} elements or less.")
        page, limit = P.parse_paging(params, 50, 250)
        links = E.lead_links(self._cursor(), ids)
        if flt.get("to_entity_type") not in (None, ""):
            links = [x for x in links if x["to_entity_type"] == str(flt["to_entity_type"])]
        if flt.get("to_entity_id") not in (None, ""):
            to_ids = {P.to_int(v, "filter.to_entity_id") for v in P.as_list(flt["to_entity_id"])}
            links = [x for x in links if x["to_entity_id"] in to_ids]
        if flt.get("to_catalog_id") not in (None, ""):
            cid = P.to_int(flt["to_catalog_id"], "filter.to_catalog_id")
            links = [x for x in links if (x["metadata"] or {}).get("catalog_id") == cid]
        items = links[(page - 1) * limit:page * limit]
        if not items:
            return Response(204, b"", content_type=HAL)
        base = self._base(request)
        return self._hal({"_total_items": len(links), "_page": page,
                          "_links": E.page_links(base, request.path, request.query_pairs, page,
                                                 page * limit < len(links)),
                          "_embedded": {"links": items}})

    # ------------------------------------------------------------------ data changing between pages
    def _maybe_mutate(self) -> None:
        p = self._fault_config("mutate_between_pages") or 0.0
        if p and self.faults.chance(p):
            self.mutate()

    def mutate(self) -> dict[str, Any]:
        """Change a few leads as live users would between two list pages: bump `updated_at` on
        three leads, add one (with a `lead_added` event), delete one (with `lead_deleted`). A pager
        that walks `page=1..n` over a moving ordering then skips or repeats rows."""
        with self._write_lock:
            cur = self._cursor()
            lo, hi, max_upd, max_seq = cur.execute(
                "SELECT min(id), max(id), max(updated_at), (SELECT coalesce(max(seq), 0) FROM events) FROM leads"
            ).fetchone()
            if lo is None:
                return {}
            now = max(int(time.time()), int(max_upd or 0) + 1)
            rng = self._rng

            def pick() -> int | None:
                r = cur.execute("SELECT id FROM leads WHERE id >= ? AND NOT coalesce(is_deleted, FALSE) "
                                "ORDER BY id LIMIT 1", [rng.randint(lo, hi)]).fetchone()
                return r[0] if r else None

            bumped = [i for i in (pick() for _ in range(3)) if i is not None]
            for lead_id in bumped:
                cur.execute("UPDATE leads SET updated_at = ? WHERE id = ?", [now, lead_id])
            template = pick()
            new_id = int(hi) + 1
            cur.execute("INSERT INTO leads SELECT * REPLACE (? AS id, ? AS created_at, ? AS updated_at, "
                        "NULL AS closed_at, 'Новая заявка' AS name) FROM leads WHERE id = ?",
                        [new_id, now, now, template])
            deleted = pick()
            if deleted is not None:
                cur.execute("UPDATE leads SET is_deleted = TRUE, updated_at = ? WHERE id = ?", [now, deleted])

            def event(kind: str, lead_id: int, after: list[Any], seq: int) -> None:
                eid = "".join(rng.choice("0123456789abcdefghijklmnopqrstuvwxyz") for _ in range(26))
                cur.execute("INSERT INTO events (id, seq, type, entity_id, entity_type, created_by, created_at, "
                            "value_after, value_before, account_id) VALUES (?, ?, ?, ?, 'lead', 0, ?, ?, '[]', ?)",
                            [eid, seq, kind, lead_id, now, json.dumps(after), self.account_id])

            event("lead_added", new_id, [{"note": {"id": rng.randint(10**8, 10**9)}}], max_seq + 1)
            if deleted is not None:
                event("lead_deleted", deleted, [], max_seq + 2)
        self._count("mutations")
        return {"bumped": bumped, "added": new_id, "deleted": deleted, "at": now}

    # ------------------------------------------------------------------ faults, admin, stats
    def render_fault(self, kind: str, request: Request) -> Response | None:
        if kind == "rate_limit":
            return _too_many(self.options.get("retry_after"))
        if kind == "unauthorized":
            return _unauthorized()
        if kind == "html_error":
            return Response.html(503, _nginx_page(503, "Service Temporarily Unavailable"))
        if kind == "server_error":
            return _problem(500, "Internal Server Error", "Internal Server Error")
        return None

    def admin(self, action: str, request: Request) -> Response | None:
        if action == "tokens":
            return Response.json_body(200, self.tokens.describe())
        if action == "expire-tokens":
            kinds = ("access", "refresh") if dict(request.query_pairs).get("refresh") == "1" else ("access",)
            return Response.json_body(200, {"expired": self.tokens.expire_all(kinds)})
        if action == "revoke-tokens":
            return Response.json_body(200, {"revoked": self.tokens.revoke_all()})
        if action == "auth-code":
            return Response.json_body(200, {"code": self.tokens.new_auth_code()})
        if action == "credentials":
            return Response.json_body(200, self.tokens.creds)
        if action == "unblock":
            self.blocker.unblock()
            self.window = SlidingWindow(self.window.limit, self.window.window)
            return Response.json_body(200, {"blocked": False})
        if action == "reset-limits":
            self.blocker.unblock()
            self.window = SlidingWindow(self.window.limit, self.window.window)
            with self._counts_lock:
                self._counts.update(http_429=0, blocks=0)
            return Response.json_body(200, {"ok": True})
        if action == "mutate":
            return Response.json_body(200, self.mutate())
        if action == "work-day":  # a day of CRM work on the open database (sandbox/workday.py)
            return work_day(self._cursor(), self._write_lock, self.account, account_index(self.data_dir, self.account),
                            request)
        if action == "options":
            if request.method == "POST":
                body = request.json() or dict(parse_qsl(request.query_string))
                self.options.update(body)
            return Response.json_body(200, self.options)
        return None

    def stats(self) -> dict[str, Any]:
        with self._counts_lock:
            counts = dict(self._counts)
        return {**counts, "blocked": self.blocker.blocked}
