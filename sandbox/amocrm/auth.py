"""OAuth 2.0 of the amoCRM emulator: codes, rotating refresh tokens, JWT access tokens, long-lived
tokens — persisted in the account's DuckDB file so that rotation survives a restart.

What the real service does (crm-api.md "amoCRM §1 Auth"): `POST /oauth2/access_token` exchanges an
authorization code (valid 20 min) or a refresh token for `{token_type, expires_in: 86400,
access_token, refresh_token}`; the refresh token is single-use and lives 3 months; reusing it gives
401 "Token has been revoked". Access tokens are JWTs (clients such as amocrm_api decode `exp`).
Long-lived tokens are JWTs issued in the UI, valid up to 5 years, with no refresh token.

Only SHA-256 digests of tokens are stored (`_oauth_tokens`), as a real server would keep them; the
`tokens` admin endpoint shows the digests so that tests can follow a rotation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable

import duckdb

OAUTH_PROBLEM = "https://developers.amocrm.ru/v3/errors/OAuthProblemJson"
TOKENS_DDL = """
    token_sha256 VARCHAR PRIMARY KEY, kind VARCHAR, client_id VARCHAR, source VARCHAR,
    issued_at BIGINT, expires_at BIGINT, used_at BIGINT, revoked_at BIGINT"""
META_DDL = "key VARCHAR PRIMARY KEY, value VARCHAR"

DAY = 86400
DEFAULTS = {
    "access_token_ttl": DAY,  # "expires_in": 86400
    "refresh_token_ttl": 90 * DAY,  # "3 months"
    "auth_code_ttl": 20 * 60,  # "valid 20 minutes"
    "long_lived_token_ttl": 5 * 365 * DAY,  # "1 day to 5 years": the maximum by default
}


def sha(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def derive_credentials(account: dict[str, Any], secret_key: bytes) -> dict[str, str]:
    """Fill in missing sandbox credentials deterministically from the account name, so that a
    manifest without a `credentials` block still gives stable, documented values."""
    name = account.get("account") or account.get("subdomain") or "amocrm"
    given = dict(account.get("credentials") or {})

    def h(what: str) -> str:
        return hashlib.sha256(f"amocrm-sandbox:{name}:{what}".encode()).hexdigest()

    out = {
        "client_id": str(uuid.UUID(h("client_id")[:32])),
        "client_secret": h("client_secret")[:64],
        "redirect_uri": "https://example.com/amocrm/oauth",
        "auth_code": "def50200" + h("auth_code")[:120],
        "refresh_token": "def50200" + h("refresh_token")[:240],
    }
    out.update({k: v for k, v in given.items() if v})
    if not given.get("long_lived_token"):
        # A JWT like the ones the amoCRM UI issues; fixed iat so that it is the same on every start.
        out["long_lived_token"] = make_jwt(secret_key, {
            "aud": out["client_id"], "jti": h("long_lived_jti")[:40], "iat": 1700000000,
            "nbf": 1700000000, "exp": 1700000000 + DEFAULTS["long_lived_token_ttl"],
            "sub": "0", "grant_type": "", "scopes": ["crm"]})
    return out


def make_jwt(key: bytes, payload: dict[str, Any]) -> str:
    # HS256 rather than amoCRM's RS256: clients only decode the payload, never verify it.
    header = _b64(json.dumps({"typ": "JWT", "alg": "HS256"}, separators=(",", ":")).encode())
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    sig = _b64(hmac.new(key, f"{header}.{body}".encode(), hashlib.sha256).digest())
    return f"{header}.{body}.{sig}"


@dataclass
class TokenState:
    kind: str  # access | refresh | code | long_lived
    issued_at: int
    expires_at: int
    used_at: int | None
    revoked_at: int | None


class OAuthError(Exception):
    def __init__(self, status: int, hint: str, detail: str) -> None:
        super().__init__(hint)
        self.status, self.hint, self.detail = status, hint, detail

    def payload(self) -> dict[str, Any]:
        return {"hint": self.hint, "title": "Некорректный запрос", "type": OAUTH_PROBLEM,
                "status": self.status, "detail": self.detail}


INVALID_REQUEST = ("The request is missing a required parameter, includes an invalid parameter value, "
                   "includes a parameter more than once, or is otherwise malformed.")
INVALID_REFRESH = "The refresh token is invalid."
INVALID_GRANT = ("The provided authorization grant (e.g., authorization code, resource owner credentials) "
                 "or refresh token is invalid, expired, revoked, does not match the redirection URI used "
                 "in the authorization request, or was issued to another client.")


class TokenStore:
    """Issues and checks tokens. Every write goes through `write_lock` (one DuckDB writer)."""

    def __init__(self, cursor: Callable[[], duckdb.DuckDBPyConnection], write_lock: threading.Lock,
                 account: dict[str, Any], options: dict[str, Any], account_id: int,
                 clock: Callable[[], float] = time.time) -> None:
        self._cursor, self._lock, self._clock = cursor, write_lock, clock
        self.ttl = {k: int(options.get(k, v)) for k, v in DEFAULTS.items()}
        self.account_id = account_id
        self.subdomain = account.get("subdomain") or account.get("account") or "sandbox"
        self._key = hashlib.sha256(f"amocrm-sandbox-jwt:{self.subdomain}".encode()).digest()
        self.creds = derive_credentials(account, self._key)
        self._cache: dict[str, TokenState | None] = {}
        with self._lock:
            cur = self._cursor()
            cur.execute(f"CREATE TABLE IF NOT EXISTS _oauth_tokens ({TOKENS_DDL})")
            cur.execute(f"CREATE TABLE IF NOT EXISTS _oauth_meta ({META_DDL})")
            row = cur.execute("SELECT value FROM _oauth_meta WHERE key = 'first_start'").fetchone()
            if row is None:
                cur.execute("INSERT INTO _oauth_meta VALUES ('first_start', ?)", [str(int(self._clock()))])
                row = (str(int(self._clock())),)
            first = int(row[0])
            # The manifest's code and refresh token count as issued at the emulator's first start;
            # once used they stay used across restarts (INSERT only if unknown).
            ll_exp = int(options.get("long_lived_token_expires_at") or first + self.ttl["long_lived_token_ttl"])
            for token, kind, exp in ((self.creds["auth_code"], "code", first + self.ttl["auth_code_ttl"]),
                                     (self.creds["refresh_token"], "refresh", first + self.ttl["refresh_token_ttl"]),
                                     (self.creds["long_lived_token"], "long_lived", ll_exp)):
                cur.execute("INSERT INTO _oauth_tokens VALUES (?, ?, ?, 'manifest', ?, ?, NULL, NULL) "
                            "ON CONFLICT DO NOTHING", [sha(token), kind, self.creds["client_id"], first, exp])
            if options.get("long_lived_token_expires_at"):
                cur.execute("UPDATE _oauth_tokens SET expires_at = ? WHERE token_sha256 = ?",
                            [ll_exp, sha(self.creds["long_lived_token"])])

    # ------------------------------------------------------------------ lookups
    def state(self, token: str) -> TokenState | None:
        digest = sha(token)
        if digest in self._cache:
            return self._cache[digest]
        row = self._cursor().execute(
            "SELECT kind, issued_at, expires_at, used_at, revoked_at FROM _oauth_tokens WHERE token_sha256 = ?",
            [digest]).fetchone()
        st = TokenState(*row) if row else None
        self._cache[digest] = st
        return st

    def check_access(self, token: str) -> str | None:
        """None if the bearer token may call the API, else the reason it may not."""
        st = self.state(token)
        if st is None or st.kind not in ("access", "long_lived"):
            return "unknown token"
        if st.revoked_at is not None:
            return "token revoked"
        if self._clock() >= st.expires_at:
            return "token expired"
        return None

    # ------------------------------------------------------------------ writes
    def _insert(self, cur: duckdb.DuckDBPyConnection, token: str, kind: str, source: str, ttl: int) -> None:
        now = int(self._clock())
        cur.execute("INSERT INTO _oauth_tokens VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)",
                    [sha(token), kind, self.creds["client_id"], source, now, now + ttl])
        self._cache.pop(sha(token), None)

    def _mark(self, cur: duckdb.DuckDBPyConnection, token: str, column: str) -> None:
        cur.execute(f"UPDATE _oauth_tokens SET {column} = ? WHERE token_sha256 = ?", [int(self._clock()), sha(token)])
        self._cache.pop(sha(token), None)

    def new_access_token(self) -> str:
        now = int(self._clock())
        return make_jwt(self._key, {
            "aud": self.creds["client_id"], "jti": secrets.token_hex(20), "iat": now, "nbf": now,
            "exp": now + self.ttl["access_token_ttl"], "sub": "0", "grant_type": "",
            "account_id": self.account_id, "base_domain": "amocrm.ru", "version": 2,
            "scopes": ["crm", "notifications"], "api_domain": "api-b.amocrm.ru"})

    def exchange(self, form: dict[str, Any]) -> dict[str, Any]:
        """`POST /oauth2/access_token`: returns the token response or raises OAuthError."""
        grant = str(form.get("grant_type") or "")
        if not grant:
            raise OAuthError(400, "Check the `grant_type` parameter", INVALID_REQUEST)
        if grant not in ("authorization_code", "refresh_token"):
            raise OAuthError(400, "Check the `grant_type` parameter",
                             "The authorization grant type is not supported by the authorization server.")
        if form.get("client_id") != self.creds["client_id"] or form.get("client_secret") != self.creds["client_secret"]:
            raise OAuthError(401, "Client authentication failed", "Client authentication failed")
        if form.get("redirect_uri") and form["redirect_uri"] != self.creds["redirect_uri"]:
            raise OAuthError(400, "Redirect URI mismatch", INVALID_GRANT)
        field_name = "code" if grant == "authorization_code" else "refresh_token"
        presented = str(form.get(field_name) or "")
        if not presented:
            raise OAuthError(400, f"Check the `{field_name}` parameter", INVALID_REQUEST)
        with self._lock:
            cur = self._cursor()
            st = self.state(presented)
            now = self._clock()
            if grant == "authorization_code":
                if st is None or st.kind != "code":
                    raise OAuthError(400, "Cannot decrypt the authorization code", INVALID_REQUEST)
                if st.used_at is not None or st.revoked_at is not None:
                    raise OAuthError(400, "Authorization code has been revoked", INVALID_REQUEST)
                if now >= st.expires_at:
                    raise OAuthError(400, "Authorization code has expired", INVALID_REQUEST)
            else:
                if st is None or st.kind != "refresh":
                    raise OAuthError(401, "Cannot decrypt the refresh token", INVALID_REFRESH)
                if st.used_at is not None or st.revoked_at is not None:
                    raise OAuthError(401, "Token has been revoked", INVALID_REFRESH)
                if now >= st.expires_at:
                    raise OAuthError(401, "Token has expired", INVALID_REFRESH)
            # Single use: the presented code or refresh token dies with this exchange.
            self._mark(cur, presented, "used_at")
            access = self.new_access_token()
            refresh = "def50200" + secrets.token_hex(150)
            self._insert(cur, access, "access", grant, self.ttl["access_token_ttl"])
            self._insert(cur, refresh, "refresh", grant, self.ttl["refresh_token_ttl"])
        return {"token_type": "Bearer", "expires_in": self.ttl["access_token_ttl"], "access_token": access,
                "refresh_token": refresh, "server_time": int(now)}

    def new_auth_code(self) -> str:
        code = "def50200" + secrets.token_hex(200)
        with self._lock:
            self._insert(self._cursor(), code, "code", "admin", self.ttl["auth_code_ttl"])
        return code

    def expire(self, token: str) -> None:
        with self._lock:
            self._cursor().execute("UPDATE _oauth_tokens SET expires_at = ? WHERE token_sha256 = ?",
                                   [int(self._clock()), sha(token)])
            self._cache.pop(sha(token), None)

    def expire_all(self, kinds: tuple[str, ...] = ("access",)) -> int:
        with self._lock:
            now = int(self._clock())
            marks = ",".join("?" * len(kinds))
            n = self._cursor().execute(
                f"UPDATE _oauth_tokens SET expires_at = ? WHERE kind IN ({marks}) AND expires_at > ?",
                [now, *kinds, now]).fetchone()[0]
            self._cache.clear()
            return int(n)

    def revoke_all(self) -> int:
        """The admin disabled the integration: every token dies (crm-api.md §1)."""
        with self._lock:
            now = int(self._clock())
            n = self._cursor().execute("UPDATE _oauth_tokens SET revoked_at = ? WHERE revoked_at IS NULL",
                                       [now]).fetchone()[0]
            self._cache.clear()
            return int(n)

    def describe(self) -> dict[str, Any]:
        now = int(self._clock())
        rows = self._cursor().execute(
            "SELECT token_sha256, kind, source, issued_at, expires_at, used_at, revoked_at "
            "FROM _oauth_tokens ORDER BY issued_at, kind").fetchall()
        tokens = []
        for digest, kind, source, issued, expires, used, revoked in rows:
            status = ("revoked" if revoked is not None else "used" if used is not None
                      else "expired" if now >= expires else "valid")
            tokens.append({"sha256": digest, "kind": kind, "source": source, "issued_at": issued,
                           "expires_at": expires, "used_at": used, "revoked_at": revoked, "status": status})
        valid = [t for t in tokens if t["status"] == "valid"]
        return {"tokens": tokens, "valid": {k: sum(t["kind"] == k for t in valid)
                                            for k in ("access", "refresh", "code", "long_lived")}}
