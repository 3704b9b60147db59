"""The Bitrix24 REST emulator: routing, auth, rate limits, batch, faults (see the package docstring)."""

from __future__ import annotations

import random
import re
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb

from sandbox.bitrix24.auth import TokenStore, derive_credentials
from sandbox.bitrix24.lists import ApiError, ReadAhead, Table, qi
from sandbox.bitrix24.methods import METHODS, CostModel, Ctx
from sandbox.bitrix24.params import BadRequestBody, get_ci, is_yes, parse_php_query, request_params
from sandbox.common.faults import FaultInjector
from sandbox.common.http import Request, Response
from sandbox.common.ratelimit import LeakyBucket, OperatingBudget
from sandbox.state import BITRIX24_DDL, create_tables
from sandbox.workday import account_index, work_day

# Exact bodies of the documented errors ([B24DOCS] `limits.md`, `_includes/system-errors.md`,
# issues bitrix-tools/b24-rest-docs#193, fast_bitrix24#220).
QUERY_LIMIT = {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}
OPERATION_LIMIT = {"error": "OPERATION_TIME_LIMIT", "error_description": "Method is blocked due to operation time limit."}
NO_AUTH = {"error": "NO_AUTH_FOUND", "error_description": "Wrong authorization data"}
EXPIRED = {"error": "expired_token", "error_description": "The access token provided has expired."}
INVALID_TOKEN = {"error": "invalid_token", "error_description": "The access token provided is invalid."}
METHOD_NOT_FOUND = {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"}
INTERNAL = {"error": "INTERNAL_SERVER_ERROR", "error_description": "Internal server error"}
BATCH_LENGTH = {"error": "ERROR_BATCH_LENGTH_EXCEEDED", "error_description": "Max batch length exceeded"}
BATCH_NOT_ALLOWED = {"error": "ERROR_BATCH_METHOD_NOT_ALLOWED", "error_description": "Method is not allowed for batch usage"}
BATCH_MAX = 50

HTML_503 = ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>503 Service Temporarily Unavailable"
            "</title></head>\n<body><h1>Service Temporarily Unavailable</h1>\n<p>The server is temporarily "
            "unable to service your request due to maintenance downtime or capacity problems. Please try again "
            "later.</p>\n</body></html>\n")

DEFAULT_OPTIONS: dict[str, Any] = {
    "access_token_ttl": 3600.0,  # [B24DOCS] settings/oauth: 1 h
    "refresh_token_ttl": 180 * 86400.0,  # ⚠ 180 days (docs) vs 28 days (older community material)
    "refresh_token_single_use": True,  # ⚠ the docs say "store the new one in place of the old"
    "operating_limit": 480.0,  # ⚠ cloud value "set by configuration"; the docs' worked example uses 480 s
    "operating_baskets": 10,
    "operating_basket_seconds": 60.0,
    "processing_time_scale": 0.0,  # sleep modelled cost × scale, so slow paging is truly slow
    "cost_page": 0.097,
    "cost_count_full": 49.9,
    "cost_reference_rows": 2_390_000,
    "cost_offset_weight": 0.25,
    "cost_single": 0.01,
    "bucket_rate": None,  # default from plan: enterprise 5/s, others 2/s
    "bucket_capacity": None,  # default from plan: enterprise 250, others 50
    "admin_user_ids": [1],  # sale.payment.list is admin-only
    "batch_overflow": "per_command",  # ⚠ "per_command" (rest module source) or "reject" (HTTP 400)
    "public_url": None,  # client_endpoint base; default http://<Host header>
    "scope": "crm,user,department,sale",
    "mutate_rows": 3,  # rows whose DATE_MODIFY a between-pages mutation bumps
}

_REF = re.compile(r"\$(result|next|total|time|error)([^\s]*)", re.IGNORECASE)
_PATH = re.compile(r"\[([^\]]+)\]")


def _offset(text: str | None) -> timezone:
    m = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", (text or "+03:00").strip())
    if not m:
        return timezone(timedelta(hours=3))
    sign = -1 if m.group(1) == "-" else 1
    return timezone(sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3))))


def php_array(d: dict[str, Any]) -> Any:
    """How PHP's json_encode renders an array keyed by command names: [] when empty, a JSON list
    when the keys are exactly 0..n-1 in order, an object otherwise."""
    keys = list(d)
    if keys == [str(i) for i in range(len(keys))]:
        return [d[k] for k in keys]
    return d


class Bitrix24App:
    """One Bitrix24 portal served from its DuckDB state file."""

    def __init__(self, data_dir: Path | str, account: dict[str, Any], limits: bool = True,
                 options: dict[str, Any] | None = None) -> None:
        self.account = account
        self.data_dir = Path(data_dir)
        self.name = f"bitrix24:{account.get('account', 'portal')}"
        # serve_all passes one options dict to every emulator: take our known flat keys, and
        # everything under "bitrix24" (checked strictly there, so a typo does not pass silently).
        opts = dict(options or {})
        own = dict(opts.pop("bitrix24", None) or {})
        unknown = set(own) - set(DEFAULT_OPTIONS)
        if unknown:
            raise ValueError(f"unknown Bitrix24 emulator options: {sorted(unknown)}")
        self.options = {**DEFAULT_OPTIONS, **{k: v for k, v in opts.items() if k in DEFAULT_OPTIONS}, **own}
        self.limits = limits
        self.faults: FaultInjector | None = None  # set by sandbox.common.http when served
        self.tz = _offset(account.get("portal_offset"))
        self.creds = derive_credentials(account)
        self.admin_user_ids = {int(x) for x in self.options["admin_user_ids"]}
        o = self.options
        self.cost = CostModel(page=o["cost_page"], count_full=o["cost_count_full"],
                              reference_rows=int(o["cost_reference_rows"]), offset_weight=o["cost_offset_weight"],
                              single=o["cost_single"])
        self.path = Path(data_dir) / account.get("file", f"bitrix24_{account.get('account', 'portal')}.duckdb")
        self._con = duckdb.connect(str(self.path))
        # One thread per query: the emulator's queries are small and many, DuckDB's worker pool only
        # adds hand-off latency, and the request log's per-thread CPU time then covers all the work.
        self._con.execute("SET threads=1")
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self.readahead = ReadAhead()  # keyset pages from one wide read; dropped on every data write
        with self._write_lock:
            create_tables(self._cursor(), "bitrix24")  # tolerate a state without some optional table
        self._tables: dict[str, Table] = {}
        self.refresh_tables()
        self._rows: dict[str, tuple[int, float]] = {}
        self.tokens = TokenStore(self._cursor, self._write_lock, self.creds,
                                 access_ttl=float(o["access_token_ttl"]), refresh_ttl=float(o["refresh_token_ttl"]),
                                 refresh_single_use=bool(o["refresh_token_single_use"]))
        self._counters_lock = threading.Lock()
        self.counters = {"query_limit_exceeded": 0, "operation_time_limit": 0, "mutations": 0,
                         "tokens_issued": 0, "tokens_expired_by_fault": 0}
        self._fault_config_seen: Any = None
        self._expire_countdown: int | None = None
        self._mut_rng = random.Random(0)
        self.reset_limits()

    # ---------------------------------------------------------------- state access
    def _cursor(self) -> Any:
        cur = getattr(self._local, "cur", None)
        if cur is None:
            cur = self._con.cursor()
            self._local.cur = cur
        return cur

    def refresh_tables(self) -> None:
        cur = self._cursor()
        names = [r[0] for r in cur.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()").fetchall()]
        for name in names:
            if name in BITRIX24_DDL:
                cols = {r[0]: r[1] for r in cur.execute(f"DESCRIBE {qi(name)}").fetchall()}
                id_col = "ID" if "ID" in cols else ("id" if "id" in cols else next(iter(cols)))
                self._tables[name] = Table(name, cols, id_col)

    def table(self, name: str) -> Table:
        return self._tables[name]

    def table_rows(self, name: str) -> int:
        """Row count for the cost model (cached briefly: the cost is a model, not a measurement)."""
        now = time.monotonic()
        hit = self._rows.get(name)
        if hit and now - hit[1] < 5.0:
            return hit[0]
        n = int(self._cursor().execute(f"SELECT count(*) FROM {qi(name)}").fetchone()[0])
        self._rows[name] = (n, now)
        return n

    def close(self) -> None:
        self._con.close()

    # ---------------------------------------------------------------- limits
    def reset_limits(self) -> None:
        o = self.options
        enterprise = str(self.account.get("plan", "")).lower() == "enterprise"
        rate = o["bucket_rate"] if o["bucket_rate"] is not None else (5.0 if enterprise else 2.0)
        cap = o["bucket_capacity"] if o["bucket_capacity"] is not None else (250 if enterprise else 50)
        self.bucket = LeakyBucket(float(rate), float(cap))
        self.budget = OperatingBudget(float(o["operating_limit"]), int(o["operating_baskets"]),
                                      float(o["operating_basket_seconds"]))

    def _count(self, key: str, n: int = 1) -> None:
        with self._counters_lock:
            self.counters[key] += n

    # ---------------------------------------------------------------- HTTP entry point
    def handle(self, req: Request) -> Response:
        path = req.path
        if path.rstrip("/") == "/oauth/token":
            return self._oauth(req)
        if not path.startswith("/rest/"):
            return Response.html(404, "<html><body><h1>404 Not Found</h1></body></html>")
        parts = [p for p in path[len("/rest/"):].split("/") if p != ""]
        webhook = len(parts) >= 3 and parts[0].isdigit()
        method = "/".join(parts[2:] if webhook else parts).lower()
        method = re.sub(r"\.(json|xml)$", "", method)
        try:
            params = request_params(req)
        except BadRequestBody as exc:
            return self._error(400, {"error": "INVALID_REQUEST", "error_description": f"Invalid request: {exc}"},
                               method)
        self._tick_token_expiry()
        if webhook:
            if parts[0] != str(self.creds["webhook_user_id"]) or parts[1] != str(self.creds["webhook_code"]):
                return self._error(401, NO_AUTH, method)
            user_id = int(parts[0])
            params.pop("auth", None)
        else:
            token = params.pop("auth", None) or get_ci(params, "auth")
            if not token:
                return self._error(401, NO_AUTH, method)
            state, uid = self.tokens.check_access(str(token))
            if state == "expired":
                return self._error(401, EXPIRED, method)
            if state != "ok" or uid is None:
                return self._error(401, INVALID_TOKEN, method)
            user_id = uid
        if not method:
            return self._error(404, METHOD_NOT_FOUND, method)
        if self.limits and not self.bucket.try_acquire():
            self._count("query_limit_exceeded")
            return self._error(503, QUERY_LIMIT, method, limited="QUERY_LIMIT_EXCEEDED")
        if method == "batch":
            return self._batch(params, user_id)
        status, body, cost, limited = self._call(method, params, user_id)
        if status == 200 and "result" in body:
            body["result"] = self._corrupt(method, body["result"])
        return Response.json_body(status, body, api_method=method, limited=limited, cost=cost)

    def _corrupt(self, method: str, result: Any) -> Any:
        """FaultConfig.corrupt_records: splice malformed records into the first non-empty page of
        `method` (after its first record, so the page's last ID — which batch references and
        keyset pagers read — stays a real one)."""
        if self.faults is None or method not in self.faults.config.corrupt_records:
            return result
        rows = result.get("items") if isinstance(result, dict) else result
        if not isinstance(rows, list) or not rows:
            return result
        bad = self.faults.take_corrupt(method)
        if bad:
            rows[1:1] = bad
        return result

    def _error(self, status: int, body: dict[str, Any], method: str, limited: str = "") -> Response:
        return Response.json_body(status, body, api_method=method, limited=limited)

    def _time_block(self, start: float, finish: float, operating: float, method: str | None) -> dict[str, Any]:
        reset = self.budget.reset_at(method) if method else time.time() + 600
        return {
            "start": round(start, 6),
            "finish": round(finish, 6),
            "duration": round(finish - start, 6),
            "processing": round(max(0.0, finish - start) * 0.9, 6),
            "date_start": datetime.fromtimestamp(start, self.tz).isoformat(timespec="seconds"),
            "date_finish": datetime.fromtimestamp(finish, self.tz).isoformat(timespec="seconds"),
            "operating_reset_at": int(reset),
            "operating": round(operating, 6),
        }

    def _call(self, method: str, params: dict[str, Any], user_id: int) -> tuple[int, dict[str, Any], float, str]:
        """Run one API method; returns (HTTP status, body, charged cost, limit tripped)."""
        fn = METHODS.get(method)
        if fn is None:
            return 404, dict(METHOD_NOT_FOUND), 0.0, ""
        if self.limits and self.budget.blocked_until(method) is not None:
            self._count("operation_time_limit")
            return 429, dict(OPERATION_LIMIT), 0.0, "OPERATION_TIME_LIMIT"
        start = time.time()
        ctx = Ctx(self, self._cursor(), params, user_id, method)
        try:
            res = fn(ctx)
        except ApiError as exc:
            return exc.status, exc.body(), 0.0, ""
        except duckdb.Error as exc:  # a filter the database refuses: the API's generic SQL error
            return 400, {"error": "", "error_description": f"SQL query error! {exc.__class__.__name__}"}, 0.0, ""
        cost = res.cost
        self.budget.charge(method, cost)
        scale = float(self.options["processing_time_scale"])
        if scale > 0 and cost > 0:
            time.sleep(cost * scale)
        body = dict(res.body)
        body["time"] = self._time_block(start, time.time(), cost, method)
        return 200, body, cost, ""

    # ---------------------------------------------------------------- batch
    def _batch(self, params: dict[str, Any], user_id: int) -> Response:
        start = time.time()
        cmd = get_ci(params, "cmd") or {}
        halt = is_yes(get_ci(params, "halt", 0) or 0)
        if isinstance(cmd, list):
            items = [(str(i), c) for i, c in enumerate(cmd)]
        elif isinstance(cmd, dict):
            items = [(str(k), c) for k, c in cmd.items()]
        else:
            items = []
        if len(items) > BATCH_MAX and self.options["batch_overflow"] == "reject":
            return self._error(400, BATCH_LENGTH, "batch")
        out: dict[str, dict[str, Any]] = {"result": {}, "next": {}, "total": {}, "time": {}, "error": {}}
        methods: dict[str, str] = {}
        total_cost, limited = 0.0, ""
        for n, (key, call) in enumerate(items):
            if n >= BATCH_MAX:
                err: dict[str, Any] | None = dict(BATCH_LENGTH)
            else:
                method, _, query = str(call).partition("?")
                method = re.sub(r"\.(json|xml)$", "", method.strip().lower())
                sub = _resolve_refs(parse_php_query(query), out)
                sub.pop("auth", None)
                if method == "batch":
                    err = dict(BATCH_NOT_ALLOWED)
                else:
                    status, body, cost, lim = self._call(method, sub, user_id)
                    total_cost += cost
                    limited = limited or lim
                    if status == 200 and "error" not in body:
                        err = None
                        out["result"][key] = body.get("result")
                        methods[key] = method
                        if "next" in body:
                            out["next"][key] = body["next"]
                        if "total" in body:
                            out["total"][key] = body["total"]
                        out["time"][key] = body["time"]
                    else:
                        err = {"error": body.get("error"), "error_description": body.get("error_description")}
            if err is not None:
                out["error"][key] = err
                if halt:
                    break
        for key, method in methods.items():  # after every reference was resolved on the real rows
            out["result"][key] = self._corrupt(method, out["result"][key])
        body = {"result": {"result": php_array(out["result"]), "result_error": php_array(out["error"]),
                           "result_total": php_array(out["total"]), "result_next": php_array(out["next"]),
                           "result_time": php_array(out["time"])},
                # The outer batch is not charged ([B24DOCS] limits.md); nested calls are, per method.
                "time": self._time_block(start, time.time(), 0.0, None)}
        return Response.json_body(200, body, api_method="batch", limited=limited, cost=total_cost)

    # ---------------------------------------------------------------- OAuth
    def _oauth(self, req: Request) -> Response:
        try:
            params = request_params(req)
        except BadRequestBody:
            params = {}
        base = self.options["public_url"] or f"http://{req.headers.get('host', '127.0.0.1')}"
        status, body = self.tokens.grant({k: (v if isinstance(v, str) else str(v)) for k, v in params.items()},
                                         base.rstrip("/") + "/rest/", str(self.options["scope"]))
        if status == 200:
            self._count("tokens_issued")
        return Response.json_body(status, body, api_method="oauth.token")

    def _tick_token_expiry(self) -> None:
        """FaultConfig.expire_tokens_after: every access token expires after N more API requests."""
        if self.faults is None:
            return
        cfg = self.faults.config
        with self._counters_lock:
            if cfg is not self._fault_config_seen:
                self._fault_config_seen = cfg
                self._expire_countdown = cfg.expire_tokens_after
            if self._expire_countdown is None:
                return
            self._expire_countdown -= 1
            fire = self._expire_countdown < 0
            if fire:
                self._expire_countdown = cfg.expire_tokens_after
        if fire:
            self._count("tokens_expired_by_fault", self.tokens.expire_all_access())

    # ---------------------------------------------------------------- data changing between pages
    def maybe_mutate_between_pages(self, table: Table) -> None:
        """FaultConfig.mutate_between_pages: before a list page, with that probability, bump
        DATE_MODIFY on a few rows, add one record and delete one, so that a naive offset pager
        skips or repeats rows as it would on a live portal."""
        if self.faults is None:
            return
        p = self.faults.config.mutate_between_pages
        if not p or not self.faults.chance(p):
            return
        t, idc = qi(table.name), qi(table.id_column)
        with self._write_lock:
            self.readahead.bump()
            cur = self._cursor()
            n = int(cur.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
            if n == 0:
                return
            rng = self._mut_rng

            def pick() -> int:
                return int(cur.execute(f"SELECT {idc} FROM {t} ORDER BY {idc} LIMIT 1 OFFSET ?",
                                       [rng.randrange(n)]).fetchone()[0])

            if "DATE_MODIFY" in table.columns:
                ids = [pick() for _ in range(int(self.options["mutate_rows"]))]
                cur.execute(f"UPDATE {t} SET DATE_MODIFY = now() WHERE {idc} IN ({','.join('?' * len(ids))})", ids)
            new_id = int(cur.execute(f"SELECT max({idc}) FROM {t}").fetchone()[0]) + 1
            repl = [f"{new_id} AS {idc}"] + [f"now() AS {qi(c)}" for c in ("DATE_CREATE", "DATE_MODIFY")
                                             if c in table.columns]
            cur.execute(f"INSERT INTO {t} SELECT * REPLACE ({', '.join(repl)}) FROM {t} WHERE {idc} = ?", [pick()])
            cur.execute(f"DELETE FROM {t} WHERE {idc} = ?", [pick()])
        self._rows.pop(table.name, None)
        self._count("mutations")

    # ---------------------------------------------------------------- App protocol
    def render_fault(self, kind: str, request: Request) -> Response | None:
        method = re.sub(r"\.(json|xml)$", "", request.path.rstrip("/").rsplit("/", 1)[-1].lower())
        if kind == "query_limit":
            return Response.json_body(503, QUERY_LIMIT, api_method=method, limited="QUERY_LIMIT_EXCEEDED")
        if kind == "operation_limit":
            return Response.json_body(429, OPERATION_LIMIT, api_method=method, limited="OPERATION_TIME_LIMIT")
        if kind == "expired_token":
            return Response.json_body(401, EXPIRED, api_method=method)
        if kind == "internal_error":
            return Response.json_body(500, INTERNAL, api_method=method)
        if kind == "html_error":
            return Response.html(503, HTML_503, api_method=method)
        return None

    def admin(self, action: str, request: Request) -> Response | None:
        if action == "work-day":  # a day of CRM work on the open database (sandbox/workday.py)
            self.readahead.bump()
            resp = work_day(self._cursor(), self._write_lock, self.account, account_index(self.data_dir, self.account),
                            request)
            self.readahead.bump()
            return resp
        if action == "expire-tokens":
            return Response.json_body(200, {"expired": self.tokens.expire_all_access()})
        if action == "operating":
            return Response.json_body(200, self._operating())
        if action == "reset-limits":
            self.reset_limits()
            return Response.json_body(200, {"ok": True})
        return None

    def _operating(self) -> dict[str, Any]:
        methods = {}
        for m, used in sorted(self.budget.methods().items()):
            methods[m] = {"used": round(used, 6), "blocked_until": self.budget.blocked_until(m)}
        return {"limit": self.budget.limit, "window_seconds": self.budget.baskets * self.budget.basket_seconds,
                "methods": methods}

    def stats(self) -> dict[str, Any]:
        with self._counters_lock:
            counters = dict(self.counters)
        return {"bitrix24": {
            "limits": self.limits,
            "bucket": {"level": round(self.bucket.level, 3), "capacity": self.bucket.capacity,
                       "rate": self.bucket.rate},
            "operating": self._operating(),
            **counters,
        }}


def _resolve_refs(value: Any, out: dict[str, dict[str, Any]]) -> Any:
    """`$result[cmd][N][FIELD]` references inside a batch command's parameters, resolved the way
    CRestUtil::processBatchElement does: walk the path as far as it exists; a reference that is the
    whole value is replaced by what it points to, one inside a longer string by its text."""
    if isinstance(value, dict):
        return {_resolve_refs(k, out) if isinstance(k, str) else k: _resolve_refs(v, out) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_refs(v, out) for v in value]
    if not isinstance(value, str) or "$" not in value:
        return value
    result: Any = value
    for m in list(_REF.finditer(value)):
        r: Any = out.get(m.group(1).lower(), {})
        for key in _PATH.findall(m.group(2)):
            if isinstance(r, dict) and key in r:
                r = r[key]
            elif isinstance(r, list) and key.isdigit() and int(key) < len(r):
                r = r[int(key)]
            else:
                break
        if m.group(0) == value:
            return r
        text = "Array" if isinstance(r, (dict, list)) else ("" if r is None else str(r))
        result = str(result).replace(m.group(0), text)
    return result
