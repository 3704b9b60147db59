"""Bitrix24 authentication: inbound webhooks and OAuth 2.0 (local application).

- Webhook: `/rest/{USER_ID}/{CODE}/{method}` — a wrong user or code answers 401
  `{"error":"NO_AUTH_FOUND","error_description":"Wrong authorization data"}`
  ([B24DOCS] `local-integrations/local-webhooks.md`, `_includes/system-errors.md`).
- OAuth: `/rest/{method}` with `auth=<access_token>` in the query or body; the token endpoint is
  served by the same emulator at `/oauth/token/` and answers like oauth.bitrix.info
  ([B24DOCS] `settings/oauth/index.md`, `auto-renewal.md`): access token 3600 s, a **new**
  refresh token on every refresh, `expires`, `member_id`, `client_endpoint`, `scope`, `status`,
  `user_id`; errors `invalid_grant`, `invalid_client`, `invalid_request`.
  An expired access token answers 401 `expired_token`; an unknown one 401 `invalid_token`.

Issued tokens live in the emulator-owned table `_b24_oauth_token` of the portal's DuckDB file, so
they survive an emulator restart.

Credentials come from the manifest entry's `credentials`; a missing key is derived
deterministically from the account name (see `derive_credentials`).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from typing import Any, Callable

TOKEN_TABLE = "_b24_oauth_token"
TOKEN_DDL = f"""CREATE TABLE IF NOT EXISTS {TOKEN_TABLE} (
    token VARCHAR PRIMARY KEY, kind VARCHAR, user_id BIGINT, client_id VARCHAR,
    issued_at DOUBLE, expires_at DOUBLE, revoked BOOLEAN)"""


def _h(account: str, what: str, n: int) -> str:
    return hashlib.sha256(f"bitrix24:{account}:{what}".encode()).hexdigest()[:n]


def derive_credentials(account: dict[str, Any]) -> dict[str, Any]:
    """The portal's sandbox credentials: manifest values win; absent ones are derived from the
    account name so that a test or a demo can compute them without reading the manifest:

    webhook_user_id = 1; webhook_code = sha256("bitrix24:<account>:webhook")[:16];
    oauth_client_id = "local." + sha256(..":client_id")[:14] + "." + sha256(..":client_no")[:8];
    oauth_client_secret = sha256(..":client_secret")[:50];
    oauth_refresh_token = sha256(..":refresh_token")[:64];
    oauth_auth_code = sha256(..":auth_code")[:32] (authorization_code grant; reusable in the sandbox).
    """
    name = str(account.get("account", "portal"))
    given = dict(account.get("credentials") or {})
    derived = {
        "webhook_user_id": 1,
        "webhook_code": _h(name, "webhook", 16),
        "oauth_client_id": f"local.{_h(name, 'client_id', 14)}.{_h(name, 'client_no', 8)}",
        "oauth_client_secret": _h(name, "client_secret", 50),
        "oauth_refresh_token": _h(name, "refresh_token", 64),
        "oauth_auth_code": _h(name, "auth_code", 32),
        "oauth_user_id": given.get("webhook_user_id", 1),
    }
    derived.update({k: v for k, v in given.items() if v not in (None, "")})
    derived["webhook_user_id"] = int(derived["webhook_user_id"])
    derived["member_id"] = _h(name, "member_id", 32)
    return derived


class TokenStore:
    """OAuth tokens persisted in the portal's DuckDB file."""

    def __init__(self, cursor: Callable[[], Any], write_lock: threading.Lock, creds: dict[str, Any],
                 access_ttl: float = 3600.0, refresh_ttl: float = 180 * 86400.0,
                 refresh_single_use: bool = True, clock: Callable[[], float] = time.time) -> None:
        self._cursor, self._lock, self.creds = cursor, write_lock, creds
        self.access_ttl, self.refresh_ttl = access_ttl, refresh_ttl
        self.refresh_single_use = refresh_single_use
        self._clock = clock
        with self._lock:
            cur = self._cursor()
            cur.execute(TOKEN_DDL)
            # The manifest's refresh token is valid from the first start; once used (revoked) it stays
            # used across restarts, as on a real portal.
            cur.execute(f"INSERT INTO {TOKEN_TABLE} VALUES (?, 'refresh', ?, ?, ?, ?, FALSE) ON CONFLICT DO NOTHING",
                        [creds["oauth_refresh_token"], int(creds["oauth_user_id"]), creds["oauth_client_id"],
                         self._clock(), self._clock() + refresh_ttl])

    # ---------------------------------------------------------------- access tokens
    def check_access(self, token: str) -> tuple[str | None, int | None]:
        """("ok"|"expired"|"invalid", user_id)."""
        row = self._cursor().execute(
            f"SELECT user_id, expires_at, revoked FROM {TOKEN_TABLE} WHERE token = ? AND kind = 'access'",
            [token]).fetchone()
        if row is None or row[2]:
            return "invalid", None
        if row[1] <= self._clock():
            return "expired", int(row[0])
        return "ok", int(row[0])

    def expire_all_access(self) -> int:
        now = self._clock()
        with self._lock:
            cur = self._cursor()
            n = cur.execute(f"SELECT count(*) FROM {TOKEN_TABLE} WHERE kind = 'access' AND expires_at > ?",
                            [now]).fetchone()[0]
            cur.execute(f"UPDATE {TOKEN_TABLE} SET expires_at = ? WHERE kind = 'access' AND expires_at > ?",
                        [now, now])
        return int(n)

    # ---------------------------------------------------------------- token endpoint
    def grant(self, params: dict[str, Any], client_endpoint: str, scope: str) -> tuple[int, dict[str, Any]]:
        """Handle /oauth/token/; returns (HTTP status, JSON body)."""
        grant_type = str(params.get("grant_type", ""))
        client_id, client_secret = params.get("client_id"), params.get("client_secret")
        if grant_type not in ("refresh_token", "authorization_code"):
            return 400, {"error": "invalid_request", "error_description": "Invalid grant_type"}
        if client_id != self.creds["oauth_client_id"] or client_secret != self.creds["oauth_client_secret"]:
            return 401, {"error": "invalid_client", "error_description": "Invalid client credentials"}
        now = self._clock()
        if grant_type == "authorization_code":
            if params.get("code") != self.creds["oauth_auth_code"]:
                return 400, {"error": "invalid_grant", "error_description": "Invalid authorization code"}
            user_id = int(self.creds["oauth_user_id"])
        else:
            rt = str(params.get("refresh_token", ""))
            with self._lock:
                row = self._cursor().execute(
                    f"SELECT user_id, expires_at, revoked FROM {TOKEN_TABLE} WHERE token = ? AND kind = 'refresh'",
                    [rt]).fetchone()
                if row is None or row[2] or row[1] <= now:
                    return 400, {"error": "invalid_grant", "error_description": "Invalid refresh token"}
                user_id = int(row[0])
                if self.refresh_single_use:
                    self._cursor().execute(f"UPDATE {TOKEN_TABLE} SET revoked = TRUE WHERE token = ?", [rt])
        access, refresh = secrets.token_hex(35), secrets.token_hex(35)
        with self._lock:
            cur = self._cursor()
            cur.execute(f"INSERT INTO {TOKEN_TABLE} VALUES (?, 'access', ?, ?, ?, ?, FALSE)",
                        [access, user_id, client_id, now, now + self.access_ttl])
            cur.execute(f"INSERT INTO {TOKEN_TABLE} VALUES (?, 'refresh', ?, ?, ?, ?, FALSE)",
                        [refresh, user_id, client_id, now, now + self.refresh_ttl])
        return 200, {
            "access_token": access,
            "expires": int(now + self.access_ttl),
            "expires_in": int(self.access_ttl),
            "scope": scope,
            "domain": "oauth.bitrix.info",
            "server_endpoint": "https://oauth.bitrix.info/rest/",
            "status": "L",
            "client_endpoint": client_endpoint,
            "member_id": self.creds["member_id"],
            "user_id": user_id,
            "refresh_token": refresh,
        }
