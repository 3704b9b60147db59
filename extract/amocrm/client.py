"""amoCRM (Kommo) API v4 client: auth, limits and error mapping on top of extract.common.

- Base URL: `AccountConfig.base_url` (any URL: the sandbox, `https://{sub}.kommo.com`), else
  `https://{options.subdomain or account name}.amocrm.ru`. The token endpoint is
  `{base}/oauth2/access_token` on the same host (or `oauth_server_url`).
- OAuth (`auth: oauth`): refresh tokens are single-use and rotate on every exchange, so the one
  way to refresh is `TokenStore.rotate()`, which persists the new pair **before** it is returned
  to us and used; the exchange runs under an inter-process lock. On start the stored pair wins
  over the seed in the environment (`AMOCRM_<ACCOUNT>_REFRESH_TOKEN` or `_AUTH_CODE`) unless the
  environment holds a *different* seed than the one the store was started from (the operator
  re-authorised the integration). A 401 on an API call refreshes once and retries.
- Long-lived tokens (`auth: long_lived`): `AMOCRM_<ACCOUNT>_LONG_LIVED_TOKEN`, no refresh.
- Limits: 7 requests/s, enforced client-side by a sliding window (`extract.common.window`) shared
  by every thread of the account, on answer times: a request goes out only a window after the
  answer to the request 7 places back, so server-side queueing cannot make two windows overlap. A 429 (non-JSON body, Retry-After not guaranteed) pauses the
  window (Retry-After if given, else 1 s doubling) and retries; after `max_429` refusals in one
  run we stop rather than approach the account block (403 HTML after repeated 429s), which is
  reported as an error and never retried.
- 204 (empty body) is the API's "nothing found" and returns None.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from extract.common.config import AccountConfig, Settings, env_slug
from extract.common.errors import ApiError, AuthError, ConfigError, RateLimited, TransientError
from extract.common.http import HttpResult, make_session, retrying
from extract.common.redact import get_logger, redact, register_secret
from extract.common.tokens import TokenStore
from extract.common.window import SlidingWindowLimiter

log = get_logger(__name__)


@dataclass
class ClientCounters:
    requests: int = 0  # HTTP requests sent to the API and the token endpoint (all attempts)
    refusals: int = 0  # 429 answers
    refreshes: int = 0  # token exchanges
    by_path: dict[str, int] = field(default_factory=dict)


def _nan_to_none(value: str) -> None:
    """JSON `NaN`/`Infinity` are not JSON: parse them as null (they would poison the payload)."""
    return None


def _decode(body: bytes) -> Any:
    return json.loads(body, parse_constant=_nan_to_none)


class AmoCRMClient:
    """Talks to one amoCRM account. Thread-safe: pagers of one account share it."""

    def __init__(self, account: AccountConfig, settings: Settings | None = None,
                 token_store: TokenStore | None = None) -> None:
        if account.system != "amocrm":
            raise ConfigError(f"accounts[{account.name}].system", "is not amocrm")
        self.account = account
        self.settings = settings or Settings()
        opts = account.options
        sub = str(opts.get("subdomain") or account.name)
        self.base_url = (account.base_url or f"https://{sub}.amocrm.ru").rstrip("/")
        self.api_url = self.base_url + "/api/v4"
        self.token_url = account.oauth_server_url or self.base_url + "/oauth2/access_token"
        self._host = urlsplit(self.base_url).netloc
        rate = int(account.rate_per_second or opts.get("rate_limit_per_second") or account.rate_limit()[0])
        self.limiter = SlidingWindowLimiter(rate, float(opts.get("rate_window_seconds", 1.0)),
                                            float(opts.get("rate_margin_seconds", 0.02)))
        self.max_429 = int(opts.get("max_429", 6))
        self.session = make_session(pool_size=8)
        self.timeout = (self.settings.http_connect_timeout, float(opts.get("read_timeout", 60.0)))
        self.counters = ClientCounters()
        self._counter_lock = threading.Lock()
        self._auth_lock = threading.Lock()
        self._access_token: str | None = None
        self._expires_at = 0.0
        self.server_clock: float | None = None  # last `Date` header seen (unix), server time
        self.token_store = token_store or TokenStore(self.settings.token_dir)
        self._token_key = f"amocrm_{env_slug(account.name).lower()}"
        if account.auth == "long_lived":
            self._access_token = account.secret("LONG_LIVED_TOKEN")
            self._expires_at = float("inf")
        else:
            self.client_id = account.setting("CLIENT_ID", account.client_id)
            self.client_secret = account.secret("CLIENT_SECRET")
            self.redirect_uri = account.setting("REDIRECT_URI", opts.get("redirect_uri"), required=False)

    # ------------------------------------------------------------------ tokens
    @property
    def token_path(self) -> str:
        return str(self.token_store.directory / f"{self._token_key}.json")

    def _seed(self) -> tuple[str, str] | None:
        """The initial grant from the environment: ("refresh_token"|"code", value)."""
        rt = self.account.secret("REFRESH_TOKEN", required=False)
        if rt:
            return "refresh_token", rt
        code = self.account.secret("AUTH_CODE", required=False)
        return ("code", code) if code else None

    def _current_tokens(self) -> dict[str, Any]:
        stored = self.token_store.load(self._token_key)
        seed = self._seed()
        fp = hashlib.sha256(seed[1].encode()).hexdigest()[:16] if seed else None
        if stored and (fp is None or stored.get("seed_fingerprint") == fp):
            return stored
        if seed is None:
            raise ConfigError(self.account.env_name("REFRESH_TOKEN"),
                              f"not set (nor {self.account.env_name('AUTH_CODE')}) and no stored token for "
                              f"account {self.account.name!r} in {self.token_path}")
        if stored:
            log.info("amocrm %s: a new grant in the environment replaces the stored tokens", self.account.name)
        return {seed[0]: seed[1], "seed_fingerprint": fp}

    def _grant_setting(self, current: dict[str, Any]) -> str:
        return self.account.env_name("AUTH_CODE" if "code" in current and "refresh_token" not in current
                                     else "REFRESH_TOKEN")

    def _exchange(self, current: dict[str, Any] | None, failed_access: str | None) -> dict[str, Any]:
        """Runs under TokenStore.rotate's lock; the returned pair is persisted before use."""
        cur = self._current_tokens()  # the store as of now (we hold its lock), or a new grant
        if cur.get("access_token") and cur["access_token"] != failed_access and \
                float(cur.get("expires_at", 0)) > time.time() + 60:
            return cur  # another process or thread refreshed already
        body: dict[str, Any] = {"client_id": self.client_id, "client_secret": self.client_secret}
        if self.redirect_uri:
            body["redirect_uri"] = self.redirect_uri
        if cur.get("refresh_token"):
            body.update(grant_type="refresh_token", refresh_token=cur["refresh_token"])
        elif cur.get("code"):
            body.update(grant_type="authorization_code", code=cur["code"])
        else:
            raise ConfigError(self.account.env_name("REFRESH_TOKEN"), "no refresh token or auth code to exchange")
        res = retrying(lambda: self._send("POST", self.token_url, json=body), self.settings.http_retries,
                       what="amoCRM token exchange")
        data = res.data if isinstance(res.data, dict) else {}
        if res.status != 200 or not data.get("access_token"):
            reason = data.get("hint") or data.get("detail") or data.get("title") or res.text[:100] or ""
            if res.status == 429:
                raise RateLimited("amoCRM token endpoint answered 429", "429")
            setting = self._grant_setting(cur)
            if "client" in str(reason).lower():
                setting = f"{self.account.env_name('CLIENT_ID')}/{self.account.env_name('CLIENT_SECRET')}"
            raise AuthError(setting, f"amoCRM refused the token exchange (HTTP {res.status}: {redact(reason)}); "
                                     f"if the stored token in {self.token_path} was revoked, re-authorise the "
                                     f"integration and set a new refresh token or auth code")
        for k in ("access_token", "refresh_token"):
            register_secret(data.get(k))
        now = float(data.get("server_time") or time.time())
        self.counters.refreshes += 1
        return {"token_type": data.get("token_type", "Bearer"), "access_token": data["access_token"],
                "refresh_token": data.get("refresh_token"), "expires_at": now + float(data.get("expires_in", 86400)),
                "obtained_at": time.time(), "seed_fingerprint": cur.get("seed_fingerprint")}

    def _refresh(self, failed_access: str | None) -> None:
        tokens = self.token_store.rotate(self._token_key, lambda cur: self._exchange(cur, failed_access))
        self._use(tokens)

    def _use(self, tokens: dict[str, Any]) -> None:
        self._access_token = tokens["access_token"]
        self._expires_at = float(tokens.get("expires_at", 0))
        register_secret(self._access_token)

    def access_token(self) -> str:
        with self._auth_lock:
            if self._access_token is None or self._expires_at < time.time() + 60:
                cur = self._current_tokens()
                if cur.get("access_token") and float(cur.get("expires_at", 0)) > time.time() + 60:
                    self._use(cur)
                else:
                    self._refresh(self._access_token)
            return self._access_token  # type: ignore[return-value]

    # ------------------------------------------------------------------ HTTP
    def _send(self, method: str, url: str, **kw: Any) -> HttpResult:
        slot = self.limiter.acquire()
        with self._counter_lock:
            self.counters.requests += 1
            key = urlsplit(url).path
            self.counters.by_path[key] = self.counters.by_path.get(key, 0) + 1
        started = time.monotonic()
        try:
            # stream=True returns at the headers: the server has counted the request by then,
            # which is what the window needs to know (extract.common.window); the body is then
            # read in one call (no GIL hand-offs per 10 KB step, see extract.common.http).
            resp = self.session.request(method, url, timeout=self.timeout, stream=True, **kw)
            self.limiter.done(slot)
            try:
                body = resp.raw.read(decode_content=True)
            finally:
                resp.close()
        except Exception as exc:  # noqa: BLE001 - requests' connection/timeout/chunked errors
            import requests
            import urllib3.exceptions

            self.limiter.done(slot)
            if isinstance(exc, (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                                urllib3.exceptions.HTTPError, OSError)):
                raise TransientError(f"{method} {url}: {type(exc).__name__}") from None
            raise
        headers = {k.lower(): v for k, v in resp.headers.items()}
        declared = headers.get("content-length")
        if declared and declared.isdigit() and int(declared) != len(body):
            raise TransientError(f"{method} {url}: body truncated ({len(body)} of {declared} bytes)")
        if "date" in headers:
            try:
                self.server_clock = parsedate_to_datetime(headers["date"]).timestamp()
            except (TypeError, ValueError):
                pass
        data: Any = None
        text = ""
        if body:
            try:
                data = _decode(body)
            except ValueError:
                text = redact(body[:500].decode("utf-8", "replace"))
                if resp.status_code == 200:
                    raise TransientError(f"{method} {url}: HTTP 200 with a body that is not JSON "
                                         f"({len(body)} bytes)") from None
        if resp.status_code >= 500:
            raise TransientError(f"{method} {url}: HTTP {resp.status_code}")
        return HttpResult(resp.status_code, data, text, headers, time.monotonic() - started)

    def get(self, path_or_url: str, params: list[tuple[str, Any]] | dict[str, Any] | None = None) -> dict | None:
        """GET an API path ('/leads') or an absolute `_links` URL of this account. Returns the JSON
        object, or None for 204 (nothing found)."""
        url = path_or_url if path_or_url.startswith("http") else self.api_url + path_or_url
        if path_or_url.startswith("http") and urlsplit(url).netloc != self._host:
            raise ApiError(f"refusing to follow a link to another host: {urlsplit(url).netloc}")
        refreshed = False
        refusals = 0
        while True:
            token = self.access_token()
            res = retrying(lambda: self._send("GET", url, params=params, headers={
                "Authorization": f"Bearer {token}", "Accept": "application/hal+json"}),
                self.settings.http_retries, what=f"amoCRM GET {urlsplit(url).path}")
            if res.status == 200:
                if not isinstance(res.data, dict):
                    raise ApiError(f"amoCRM GET {urlsplit(url).path}: expected a JSON object", status=200)
                return res.data
            if res.status == 204:
                return None
            if res.status == 429:
                refusals += 1
                with self._counter_lock:
                    self.counters.refusals += 1
                if self.counters.refusals > self.max_429:
                    raise RateLimited(f"amoCRM answered 429 {self.counters.refusals} times in this run; stopping "
                                      f"before the account gets blocked", "429")
                delay = _retry_after(res.headers.get("retry-after")) or min(30.0, 2.0 ** (refusals - 1))
                log.warning("amoCRM 429 on %s, pausing %.1f s", urlsplit(url).path, delay)
                self.limiter.pause(delay)
                continue
            problem = res.data if isinstance(res.data, dict) else {}
            detail = str(problem.get("detail") or problem.get("title") or res.text[:200] or "")
            if res.status == 401:
                if self.account.auth == "oauth" and not refreshed:
                    with self._auth_lock:
                        if self._access_token == token:
                            self._refresh(token)
                    refreshed = True
                    continue
                setting = (self.account.env_name("LONG_LIVED_TOKEN") if self.account.auth == "long_lived"
                           else self.account.env_name("REFRESH_TOKEN"))
                raise AuthError(setting, f"amoCRM answered 401 ({redact(detail)})")
            if res.status == 403:
                if not res.is_json:
                    raise ApiError(f"amoCRM answered 403 with an HTML page on {urlsplit(url).path}: the account "
                                   f"(or this IP) is blocked, usually after repeated 429s; amoCRM support lifts it",
                                   "blocked", 403)
                raise AuthError(self.account.env_name("CLIENT_ID"), f"amoCRM answered 403 ({redact(detail)})")
            if res.status == 402:
                raise ApiError(f"amoCRM answered 402: the account's subscription has ended ({redact(detail)})",
                               "payment_required", 402)
            raise ApiError(f"amoCRM GET {urlsplit(url).path}: HTTP {res.status}: {redact(detail)}"
                           + (f" {redact(json.dumps(problem.get('validation-errors'), ensure_ascii=False))[:300]}"
                              if problem.get("validation-errors") else ""), str(res.status), res.status)

    def close(self) -> None:
        self.session.close()


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, min(120.0, float(value)))
    except ValueError:
        try:
            return max(0.0, min(120.0, parsedate_to_datetime(value).timestamp() - time.time()))
        except (TypeError, ValueError):
            return None
