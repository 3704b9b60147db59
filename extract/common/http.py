"""HTTP for every extractor: a `requests` session with explicit timeouts, connection-level
retries, and `send_json` that turns everything a flaky API can do into a typed outcome.

- `make_session()` mounts urllib3 `Retry` for *connect* failures only (the request never reached
  the server, so no server-side rate-limit counter moved). Everything after the request left —
  read timeouts, resets, 5xx, truncated or HTML bodies — is raised as `TransientError` by
  `send_json` and retried by `retrying()` (tenacity) in the API client, which goes back through
  the client-side rate limiter on each attempt.
- `send_json()` never assumes a JSON body: HTML error pages (nginx 502, Bitrix24 under load,
  amoCRM 403 blocks) come back as `HttpResult(data=None, text=...)` with the status.
"""

from __future__ import annotations

import json
import time

try:  # a dependency of dagster-dbt; 2-3x faster than json for big list pages
    import orjson
except ImportError:  # pragma: no cover - the stdlib parser does the same job, slower
    orjson = None
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter
from urllib3.util.retry import Retry

from extract.common.errors import TransientError
from extract.common.redact import get_logger, redact

log = get_logger(__name__)
T = TypeVar("T")

USER_AGENT = "crm-sales-warehouse-extract/0.1"


def make_session(connect_retries: int = 3, pool_size: int = 4) -> requests.Session:
    """A session with keep-alive pooling and retries on connection *establishment* failures."""
    session = requests.Session()
    retry = Retry(total=connect_retries, connect=connect_retries, read=0, status=0, other=0,
                  redirect=2, backoff_factor=0.5, allowed_methods=None, raise_on_status=False)
    adapter = HTTPAdapter(max_retries=retry, pool_connections=pool_size, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


@dataclass
class HttpResult:
    status: int
    data: Any  # parsed JSON, or None when the body is empty or not JSON
    text: str  # the body (first 2,000 characters, redacted) when it is not JSON
    headers: dict[str, str]
    seconds: float

    @property
    def is_json(self) -> bool:
        return self.data is not None


def send_json(session: requests.Session, method: str, url: str, *, timeout: tuple[float, float],
              peek: Callable[[bytes], None] | None = None, **kwargs: Any) -> HttpResult:
    """One HTTP exchange. Raises TransientError for resets/timeouts, 5xx with an unparseable body
    and 200 answers whose JSON is truncated; returns every other answer as an `HttpResult`.
    `peek(body)`, if given, sees a complete HTTP 200 body before it is parsed (its errors are
    logged and ignored: it may only look)."""
    started = time.monotonic()
    try:
        # The body is read in ONE call (stream=True + raw.read()), not in requests' 10 KB
        # iter_content steps: each step releases the GIL around recv(), and with another thread
        # busy (landing the previous chunk) every re-acquisition waits up to the 5 ms switch
        # interval — a 2.5 MB Bitrix24 batch answer took 50-400 ms longer that way.
        resp = session.request(method, url, timeout=timeout, stream=True, **kwargs)
        try:
            body = resp.raw.read(decode_content=True)  # a short read raises here
        finally:
            resp.close()  # a fully read answer is already back in the pool; this frees a broken one
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise TransientError(f"{method} {url}: {type(exc).__name__}") from None
    except (requests.exceptions.ChunkedEncodingError, urllib3.exceptions.HTTPError, OSError) as exc:
        raise TransientError(f"{method} {url}: incomplete body ({type(exc).__name__})") from None
    elapsed = time.monotonic() - started
    headers = {k.lower(): v for k, v in resp.headers.items()}
    declared = headers.get("content-length")
    if declared and declared.isdigit() and int(declared) != len(body) and \
            headers.get("content-encoding", "identity") == "identity":
        raise TransientError(f"{method} {url}: body truncated ({len(body)} of {declared} bytes)")
    data: Any = None
    text = ""
    if peek is not None and resp.status_code == 200 and body:
        try:
            peek(body)
        except Exception as exc:  # noqa: BLE001 - an optimisation must not fail the request
            log.warning("%s %s: peek failed: %s", method, url, exc)
    if body:
        try:
            data = loads(body)
        except ValueError:
            text = redact(body[:2000].decode("utf-8", "replace"))
            looks_json = body.lstrip()[:1] in (b"{", b"[")
            if resp.status_code == 200 and looks_json:
                raise TransientError(f"{method} {url}: truncated JSON body ({len(body)} bytes)") from None
            if resp.status_code >= 500 and resp.status_code not in (503,):
                raise TransientError(f"{method} {url}: HTTP {resp.status_code} with a non-JSON body") from None
    elif resp.status_code >= 500:
        raise TransientError(f"{method} {url}: HTTP {resp.status_code} with an empty body")
    return HttpResult(resp.status_code, data, text, headers, elapsed)


def loads(body: bytes | str) -> Any:
    """Parse JSON: orjson when available, the stdlib for what orjson refuses (NaN, integers
    beyond 64 bits) — both give the same Python values for valid JSON."""
    if orjson is not None:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    return json.loads(body)


def retrying(fn: Callable[[], T], attempts: int = 6, what: str = "request",
             on_retry: Callable[[BaseException], None] | None = None,
             max_wait: float = 30.0) -> T:
    """Call `fn` until it stops raising TransientError (exponential backoff with jitter)."""

    def before_sleep(state: Any) -> None:
        exc = state.outcome.exception()
        log.warning("%s failed (attempt %d of %d), retrying: %s", what, state.attempt_number, attempts, exc)
        if on_retry:
            on_retry(exc)

    for attempt in Retrying(retry=retry_if_exception_type(TransientError), stop=stop_after_attempt(attempts),
                            wait=wait_exponential_jitter(initial=0.5, max=max_wait), reraise=True,
                            before_sleep=before_sleep):
        with attempt:
            return fn()
    raise AssertionError("unreachable")
