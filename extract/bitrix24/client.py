"""Bitrix24 REST client: one `call()` and one `batch()` on top of extract.common.

Every request goes through the client-side leaky bucket; every answer's `time.operating` feeds the
per-method budget; failures are classified into retry (transient), wait (rate limit), refresh
(expired OAuth token) or a typed error naming the setting to fix.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import quote_plus

from extract.common.config import AccountConfig, Settings
from extract.common.errors import ApiError, AuthError, ConfigError, RateLimited, TransientError
from extract.common.http import HttpResult, make_session, retrying, send_json
from extract.common.ratelimit import Backoff, LeakyBucket, OperatingBudget
from extract.common.records import parse_time
from extract.common.redact import get_logger, register_secret
from extract.common.tokens import TokenStore

log = get_logger(__name__)

DEFAULT_OAUTH_SERVER = "https://oauth.bitrix.info/oauth/token/"
BATCH_MAX = 50
_WEBHOOK_RE = re.compile(r"^(https?://[^/]+(?:/[^/]+)*?)/rest/(\d+)/([^/]+)/?$")

# Errors meaning "your credentials are wrong" (vs. a refreshable expiry or a scope problem).
AUTH_ERRORS = {"NO_AUTH_FOUND", "INVALID_CREDENTIALS", "invalid_token", "WRONG_AUTH_TYPE",
               "user_access_error", "authorization_error", "PAYMENT_REQUIRED"}
SCOPE_ERRORS = {"insufficient_scope", "ACCESS_DENIED"}
TRANSIENT_ERRORS = {"INTERNAL_SERVER_ERROR", "ERROR_UNEXPECTED_ANSWER", "QUERY_LIMIT_EXCEEDED_TEMP"}


def php_query(params: Any, prefix: str | None = None) -> list[str]:
    """PHP http_build_query as Bitrix24 parses it: `filter[%3EID]=5&select[0]=ID`.
    Used for `batch` commands (the values, `$result[..]` references included, are encoded once)."""
    if isinstance(params, dict):
        items = params.items()
    elif isinstance(params, (list, tuple)):
        items = enumerate(params)
    else:
        value = "" if params is None else ("Y" if params is True else "N" if params is False else str(params))
        return [f"{prefix}={quote_plus(value)}"]
    out: list[str] = []
    for k, v in items:
        key = quote_plus(str(k))
        full = f"{prefix}[{key}]" if prefix is not None else key
        if isinstance(v, (dict, list, tuple)) and not v:
            out.append(f"{full}[]=")
        else:
            out.extend(php_query(v, full))
    return out


def command(method: str, params: dict[str, Any]) -> str:
    return method + "?" + "&".join(php_query(params))


def operating_reset_at(body: Any) -> float | None:
    """`operating_reset_at` from an error body or its `time` block: unix int or ISO string (⚠)."""
    if not isinstance(body, dict):
        return None
    for holder in (body, body.get("time") if isinstance(body.get("time"), dict) else {}):
        value = holder.get("operating_reset_at")
        if value in (None, ""):
            continue
        try:
            return float(value)
        except (TypeError, ValueError):
            try:
                dt = parse_time(value)
                return dt.timestamp() if dt else None
            except ValueError:
                return None
    return None


@dataclass
class ClientCounters:
    requests: int = 0  # HTTP requests sent (all attempts)
    refusals: int = 0  # 503/429 rate-limit answers
    budget_waits: int = 0
    budget_wait_seconds: float = 0.0
    refreshes: int = 0
    pipelined: int = 0  # keyset batches sent before the previous answer was parsed (and used)
    speculation_dropped: int = 0  # ... sent that way but not used (the chain went elsewhere)
    by_method: dict[str, int] = field(default_factory=dict)


class Bitrix24Client:
    """Talks to one portal. Thread-safe (the limiter and token refresh are locked)."""

    def __init__(self, account: AccountConfig, settings: Settings | None = None,
                 token_store: TokenStore | None = None) -> None:
        self.account = account
        self.settings = settings or Settings()
        self.session = make_session()
        rate, burst = account.rate_limit()
        self.limiter = LeakyBucket(rate, burst)
        # Pause a method before its next call could take it past 97 % of the budget.
        self.budget = OperatingBudget(account.operating_limit_seconds, headroom=0.97)
        self._last_cost: dict[str, float] = {}
        self._inflight: dict[str, int] = {}  # requests sent and not answered yet, per budget method
        self._inflight_lock = threading.Lock()
        self.counters = ClientCounters()
        self.timeout = (self.settings.http_connect_timeout, self.settings.http_read_timeout)
        self.max_rate_limit_wait = float(account.options.get("max_rate_limit_wait_seconds", 900))
        self._auth_lock = threading.Lock()
        self._access_token: str | None = None
        self.token_store = token_store or TokenStore(self.settings.token_dir)
        if account.auth == "webhook":
            self._webhook_var = account.env_name("WEBHOOK_URL")
            url = account.secret("WEBHOOK_URL")
            m = _WEBHOOK_RE.match(url.strip())
            if not m:
                raise ConfigError(self._webhook_var, "must look like https://PORTAL/rest/<user id>/<code>/")
            register_secret(m.group(3))
            self.rest_url = url.strip().rstrip("/") + "/"
            self.portal_url = m.group(1)
        else:
            if not account.base_url:
                raise ConfigError(f"accounts[{account.name}].base_url", "required for OAuth accounts")
            self.portal_url = account.base_url.rstrip("/")
            self.rest_url = self.portal_url + "/rest/"
            self.client_id = account.setting("CLIENT_ID", account.client_id)
            self.client_secret = account.secret("CLIENT_SECRET")
            self.oauth_server = account.oauth_server_url or DEFAULT_OAUTH_SERVER
            self._token_key = f"bitrix24_{account.env_name('oauth').lower()}"
        self.member_id: str | None = None

    # ------------------------------------------------------------------ auth (OAuth)
    def _env_refresh_fingerprint(self) -> str | None:
        token = self.account.secret("REFRESH_TOKEN", required=False)
        return hashlib.sha256(token.encode()).hexdigest()[:16] if token else None

    def _current_tokens(self) -> dict[str, Any] | None:
        stored = self.token_store.load(self._token_key)
        fp = self._env_refresh_fingerprint()
        # An operator who puts a new refresh token into the environment (re-authorised the app)
        # overrides the store; otherwise the store holds the latest rotated pair.
        if stored and (fp is None or stored.get("seed_fingerprint") == fp):
            return stored
        if fp is None:
            if stored:
                return stored
            raise ConfigError(self.account.env_name("REFRESH_TOKEN"),
                              f"not set and no stored token for account {self.account.name!r}")
        return {"refresh_token": self.account.secret("REFRESH_TOKEN"), "seed_fingerprint": fp}

    def _exchange(self, current: dict[str, Any] | None, failed_access: str | None) -> dict[str, Any]:
        current = current if current and (
            self._env_refresh_fingerprint() in (None, current.get("seed_fingerprint"))) else self._current_tokens()
        # Another process (or thread) may have refreshed already: use its pair.
        if current.get("access_token") and current["access_token"] != failed_access and \
                float(current.get("expires", 0)) > time.time() + 60:
            return current
        params = {"grant_type": "refresh_token", "client_id": self.client_id,
                  "client_secret": self.client_secret, "refresh_token": current["refresh_token"]}

        def once() -> HttpResult:
            self.limiter.acquire()  # the sandbox serves the auth server on the portal
            return send_json(self.session, "GET", self.oauth_server, params=params, timeout=self.timeout)

        # The one retry layer for the refresh. What still fails is an AuthError, which no caller
        # retries (not even the retrying() around _send that got here through _auth_token) and
        # which stops the account's run: otherwise a dead OAuth server costs http_retries² token
        # requests per entity. The next run starts over.
        try:
            res = retrying(once, self.settings.http_retries, what="Bitrix24 OAuth refresh")
        except TransientError as exc:
            raise AuthError(f"accounts[{self.account.name}].oauth_server_url",
                            f"Bitrix24 OAuth refresh failed {self.settings.http_retries} times in a row, the "
                            f"OAuth server is unreachable or failing ({exc}); stopping this account's run "
                            f"(no token pair was received; the next run tries again)") from None
        body = res.data if isinstance(res.data, dict) else {}
        if res.status != 200 or "access_token" not in body:
            err = body.get("error") or f"HTTP {res.status}"
            setting = (self.account.env_name("REFRESH_TOKEN") if err in ("invalid_grant", "expired_token")
                       else f"{self.account.env_name('CLIENT_ID')}/{self.account.env_name('CLIENT_SECRET')}"
                       if err == "invalid_client" else self.account.env_name("REFRESH_TOKEN"))
            raise AuthError(setting, f"OAuth server refused the refresh ({err})")
        for k in ("access_token", "refresh_token"):
            register_secret(body.get(k))
        expires = body.get("expires") or (time.time() + float(body.get("expires_in", 3600)))
        self.counters.refreshes += 1
        return {"access_token": body["access_token"], "refresh_token": body.get("refresh_token", current["refresh_token"]),
                "expires": float(expires), "member_id": body.get("member_id"),
                "client_endpoint": body.get("client_endpoint"),
                "seed_fingerprint": current.get("seed_fingerprint")}

    def _refresh(self, failed_access: str | None) -> None:
        tokens = self.token_store.rotate(self._token_key, lambda cur: self._exchange(cur, failed_access))
        self._access_token = tokens["access_token"]
        self.member_id = tokens.get("member_id")

    def _auth_token(self) -> str:
        with self._auth_lock:
            if self._access_token is None:
                cur = self._current_tokens()
                if cur.get("access_token") and float(cur.get("expires", 0)) > time.time() + 60:
                    self._access_token = cur["access_token"]
                    register_secret(self._access_token)
                else:
                    self._refresh(None)
            return self._access_token  # type: ignore[return-value]

    # ------------------------------------------------------------------ calls
    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call one REST method; returns the whole envelope ({result, next?, total?, time})."""
        return self._request(method, dict(params or {}), budget_methods=[method])

    def batch(self, commands: dict[str, str], halt: bool = True,
              budget_methods: list[str] | None = None,
              peek: Callable[[bytes], None] | None = None) -> dict[str, Any]:
        """Run up to 50 commands (`command(method, params)` strings) in one request. Returns the
        inner result {result, result_error, result_total, result_next, result_time}.
        `peek(body)` sees each HTTP 200 answer's raw bytes before they are parsed (the keyset
        paginator reads the next start id there and sends the next batch while this one parses)."""
        if len(commands) > BATCH_MAX:
            raise ValueError(f"a batch holds at most {BATCH_MAX} commands")
        methods = budget_methods or sorted({c.split("?", 1)[0] for c in commands.values()})
        env = self._request("batch", {"halt": 1 if halt else 0, "cmd": commands}, budget_methods=methods,
                            peek=peek)
        inner = env.get("result")
        if not isinstance(inner, dict):
            raise TransientError("batch answer without a result object")
        spent: dict[str, float] = {}
        for name, t in _as_dict(inner.get("result_time")).items():
            if isinstance(t, dict):
                m = commands.get(name, "").split("?", 1)[0]
                self.budget.record(m, _num(t.get("operating")))
                spent[m] = spent.get(m, 0.0) + _num(t.get("operating"))
        self._last_cost.update(spent)  # the next batch of the same method will cost about as much
        return inner

    def _request(self, method: str, params: dict[str, Any], budget_methods: list[str],
                 peek: Callable[[bytes], None] | None = None) -> dict[str, Any]:
        backoff = Backoff(initial=1.0, maximum=60.0)
        waited = 0.0
        refreshed = False
        while True:
            for m in budget_methods:
                # A request of the same method still in flight (the paginator's next batch is sent
                # while the previous one parses) has not reported its cost yet: count it too.
                with self._inflight_lock:
                    pending = self._inflight.get(m, 0)
                wait = self.budget.wait_needed(m, next_cost=self._last_cost.get(m, 0.0) * (1 + pending))
                if wait > 0:
                    if waited + wait > self.max_rate_limit_wait:
                        raise RateLimited(f"{m}: operating-time budget exhausted for {wait:.0f} s more",
                                          "OPERATION_TIME_LIMIT", time.time() + wait, m)
                    log.info("%s: pausing %.1f s to stay within the operating-time budget", m, wait)
                    self.counters.budget_waits += 1
                    self.counters.budget_wait_seconds += wait
                    waited += wait
                    time.sleep(wait)
            with self._inflight_lock:
                for m in budget_methods:
                    self._inflight[m] = self._inflight.get(m, 0) + 1
            try:
                res = retrying(lambda: self._send(method, params, peek), self.settings.http_retries,
                               what=f"Bitrix24 {method}")
            finally:
                with self._inflight_lock:
                    for m in budget_methods:
                        self._inflight[m] -= 1
            body = res.data if isinstance(res.data, dict) else None
            error = (body or {}).get("error") if body else None
            if res.status == 200 and body is not None and not error:
                t = body.get("time") if isinstance(body.get("time"), dict) else {}
                if method != "batch":
                    self.budget.record(method, _num(t.get("operating")))
                return body
            code = str(error or "")
            desc = str((body or {}).get("error_description") or res.text[:200] or "")
            # ---- rate limits: wait and retry
            if code == "QUERY_LIMIT_EXCEEDED" or (res.status == 503 and body is None):
                self.counters.refusals += 1
                self.limiter.saturate()
                delay = backoff.next()
                waited += delay
                if waited > self.max_rate_limit_wait:
                    raise RateLimited(f"{method}: still refused after {waited:.0f} s", "QUERY_LIMIT_EXCEEDED")
                log.warning("%s: 503 %s, backing off %.1f s", method, code or "(non-JSON body)", delay)
                time.sleep(delay)
                continue
            if code == "OPERATION_TIME_LIMIT" or res.status == 429:
                self.counters.refusals += 1
                reset = operating_reset_at(body) or (time.time() + backoff.next() * 10)
                for m in budget_methods:
                    self.budget.block_until(m, reset)
                if waited + max(0.0, reset - time.time()) > self.max_rate_limit_wait:
                    raise RateLimited(f"{method}: OPERATION_TIME_LIMIT until {reset:.0f}", code or "429", reset, method)
                log.warning("%s: 429 OPERATION_TIME_LIMIT, waiting until operating_reset_at", method)
                continue  # the budget wait at the top of the loop sleeps until `reset`
            # ---- auth
            if code == "expired_token" and self.account.auth == "oauth" and not refreshed:
                with self._auth_lock:
                    self._refresh(params.get("auth"))
                refreshed = True
                continue
            if code in AUTH_ERRORS or res.status == 401 or code == "expired_token":
                setting = self._webhook_var if self.account.auth == "webhook" else self.account.env_name("REFRESH_TOKEN")
                raise AuthError(setting, f"Bitrix24 answered {res.status} {code}: {desc}")
            if code in TRANSIENT_ERRORS or res.status >= 500:
                delay = backoff.next()
                waited += delay
                if waited > self.max_rate_limit_wait:
                    raise ApiError(f"{method}: {res.status} {code} {desc}", code, res.status)
                log.warning("%s: %s %s, retrying in %.1f s", method, res.status, code, delay)
                time.sleep(delay)
                continue
            raise ApiError(f"Bitrix24 {method}: HTTP {res.status} {code}: {desc}", code, res.status)

    def _send(self, method: str, params: dict[str, Any], peek: Callable[[bytes], None] | None = None
              ) -> HttpResult:
        if self.account.auth == "oauth":
            params["auth"] = self._auth_token()
        self.limiter.acquire()
        self.counters.requests += 1
        self.counters.by_method[method] = self.counters.by_method.get(method, 0) + 1
        return send_json(self.session, "POST", self.rest_url + method, json=params, timeout=self.timeout,
                         peek=peek)

    def close(self) -> None:
        self.session.close()


def _as_dict(value: Any) -> dict[str, Any]:
    """Bitrix24 renders an empty PHP array as [] where a map is expected."""
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    return {}


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0

