"""OAuth of the amoCRM emulator: code exchange, single-use rotating refresh tokens, long-lived
tokens, expiry, revocation, persistence across a restart, and the 401 bodies."""

from __future__ import annotations

import hashlib
import shutil

import jwt
import pytest
import requests

from sandbox.amocrm.app import AmoCRMApp
from sandbox.common.http import start
from tests.sandbox.amocrm.conftest import CREDENTIALS, SUBDOMAIN

OAUTH_TYPE = "https://developers.amocrm.ru/v3/errors/OAuthProblemJson"


def grant(amo, kind: str, value: str, **over):
    body = {"client_id": CREDENTIALS["client_id"], "client_secret": CREDENTIALS["client_secret"],
            "redirect_uri": CREDENTIALS["redirect_uri"], "grant_type": kind,
            ("code" if kind == "authorization_code" else "refresh_token"): value, **over}
    return amo.oauth(**body)


def sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_status(amo, token: str) -> str:
    return next(t["status"] for t in amo.admin("tokens")["tokens"] if t["sha256"] == sha(token))


def test_code_exchange_gives_jwt_access_token(make_amo):
    amo = make_amo()
    r = grant(amo, "authorization_code", CREDENTIALS["auth_code"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 86400
    assert set(body) == {"token_type", "expires_in", "access_token", "refresh_token", "server_time"}
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 86400 and claims["jti"]
    assert amo.get("/api/v4/account", token=body["access_token"]).status_code == 200
    # the code is single-use
    again = grant(amo, "authorization_code", CREDENTIALS["auth_code"])
    assert again.status_code == 400 and again.json()["hint"] == "Authorization code has been revoked"
    # a freshly minted code works, and the exchange accepts a form body too
    code = amo.admin("auth-code")["code"]
    form = {**{k: CREDENTIALS[k] for k in ("client_id", "client_secret", "redirect_uri")},
            "grant_type": "authorization_code", "code": code}
    r = amo.session.post(amo.url + "/oauth2/access_token", data=form, timeout=10)
    assert r.status_code == 200 and r.json()["refresh_token"] != body["refresh_token"]


def test_refresh_rotation_and_reuse_is_revoked(make_amo):
    amo = make_amo()
    first = grant(amo, "refresh_token", CREDENTIALS["refresh_token"])  # the manifest's refresh token
    assert first.status_code == 200
    pair1 = first.json()
    pair2 = grant(amo, "refresh_token", pair1["refresh_token"]).json()
    assert pair2["refresh_token"] != pair1["refresh_token"]
    assert token_status(amo, pair1["refresh_token"]) == "used" and token_status(amo, pair2["refresh_token"]) == "valid"
    # reusing the old one: the exact body users report (amocrm-api-php#123, #269, #475)
    r = grant(amo, "refresh_token", pair1["refresh_token"])
    assert r.status_code == 401
    body = r.json()
    assert body["hint"] == "Token has been revoked" and body["title"] == "Некорректный запрос"
    assert body["type"] == OAUTH_TYPE and body["status"] == 401 and body["detail"]
    assert grant(amo, "refresh_token", CREDENTIALS["refresh_token"]).json()["hint"] == "Token has been revoked"
    # access tokens of both generations still work until they expire
    assert amo.get("/api/v4/account", token=pair1["access_token"]).status_code == 200
    assert amo.get("/api/v4/account", token=pair2["access_token"]).status_code == 200
    assert amo.admin("tokens")["valid"]["refresh"] == 1


def test_oauth_errors(make_amo):
    amo = make_amo()
    r = grant(amo, "refresh_token", CREDENTIALS["refresh_token"], client_secret="wrong")
    assert r.status_code == 401 and r.json()["hint"] == "Client authentication failed"
    r = grant(amo, "password", "x")
    assert r.status_code == 400 and r.json()["type"] == OAUTH_TYPE
    r = grant(amo, "refresh_token", "def50200garbage")
    assert r.status_code == 401 and r.json()["hint"] == "Cannot decrypt the refresh token"
    r = grant(amo, "refresh_token", "")
    assert r.status_code == 400 and "refresh_token" in r.json()["hint"]
    r = grant(amo, "authorization_code", CREDENTIALS["auth_code"], redirect_uri="https://evil.example")
    assert r.status_code == 400
    # a failed attempt does not burn the token
    assert grant(amo, "refresh_token", CREDENTIALS["refresh_token"]).status_code == 200


@pytest.mark.parametrize("header", [None, "Bearer nonsense", "Basic abc"])
def test_api_rejects_bad_bearer(amo_ro, header):
    headers = {"Authorization": header} if header else {}
    r = amo_ro.session.get(amo_ro.url + "/api/v4/leads", headers=headers, timeout=10)
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json() == {"title": "Unauthorized", "type": "https://httpstatus.es/401", "status": 401,
                        "detail": "Неверный логин или пароль"}


def test_access_token_expiry_and_admin_expire(make_amo):
    amo = make_amo(options={"access_token_ttl": 0})
    dead = grant(amo, "refresh_token", CREDENTIALS["refresh_token"]).json()
    assert dead["expires_in"] == 0 and amo.get("/api/v4/account", token=dead["access_token"]).status_code == 401
    amo2 = make_amo(subdir="b")
    pair = grant(amo2, "refresh_token", CREDENTIALS["refresh_token"]).json()
    assert amo2.get("/api/v4/account", token=pair["access_token"]).status_code == 200
    assert amo2.admin("expire-tokens")["expired"] >= 1
    assert amo2.get("/api/v4/account", token=pair["access_token"]).status_code == 401
    assert amo2.get("/api/v4/account").status_code == 200  # long-lived tokens are not access tokens
    fresh = grant(amo2, "refresh_token", pair["refresh_token"]).json()  # refresh still works
    assert amo2.get("/api/v4/account", token=fresh["access_token"]).status_code == 200


def test_refresh_token_expires_after_its_lifetime(make_amo):
    amo = make_amo(options={"refresh_token_ttl": 0})
    r = grant(amo, "refresh_token", CREDENTIALS["refresh_token"])
    assert r.status_code == 401 and r.json()["hint"] == "Token has expired"


def test_long_lived_token_and_its_expiry(make_amo):
    amo = make_amo()
    claims = jwt.decode(amo.token, options={"verify_signature": False})
    assert claims["exp"] > claims["iat"]
    assert amo.get("/api/v4/account").status_code == 200
    expired = make_amo(options={"long_lived_token_expires_at": 1_000_000_000}, subdir="b")
    assert expired.get("/api/v4/account").status_code == 401


def test_derived_credentials_are_deterministic(make_amo):
    a = make_amo(credentials=None)
    b = make_amo(credentials=None, subdir="b")
    ca, cb = a.admin("credentials"), b.admin("credentials")
    assert ca == cb and len(ca["client_id"]) == 36 and ca["long_lived_token"].count(".") == 2
    r = a.oauth(client_id=ca["client_id"], client_secret=ca["client_secret"], redirect_uri=ca["redirect_uri"],
                grant_type="authorization_code", code=ca["auth_code"])
    assert r.status_code == 200


def test_revocation_disables_every_token(make_amo):
    amo = make_amo()
    pair = grant(amo, "refresh_token", CREDENTIALS["refresh_token"]).json()
    amo.admin("revoke-tokens", method="POST")
    assert amo.get("/api/v4/account").status_code == 401
    assert amo.get("/api/v4/account", token=pair["access_token"]).status_code == 401
    assert grant(amo, "refresh_token", pair["refresh_token"]).json()["hint"] == "Token has been revoked"


def test_rotation_survives_restart(make_amo, tmp_path):
    amo = make_amo()
    pair = grant(amo, "refresh_token", CREDENTIALS["refresh_token"]).json()
    newer = grant(amo, "refresh_token", pair["refresh_token"]).json()
    path = amo.app.path
    amo.running.stop()
    amo.app.close()
    again = tmp_path / "again"
    again.mkdir()
    shutil.copy(path, again / path.name)
    account = {"system": "amocrm", "account": SUBDOMAIN, "file": path.name, "credentials": dict(CREDENTIALS)}
    app = AmoCRMApp(again, account, limits=False)
    running = start(app)
    try:
        def post(token):
            return requests.post(running.url + "/oauth2/access_token", timeout=10, json={
                "client_id": CREDENTIALS["client_id"], "client_secret": CREDENTIALS["client_secret"],
                "grant_type": "refresh_token", "refresh_token": token})
        assert post(CREDENTIALS["refresh_token"]).json()["hint"] == "Token has been revoked"
        assert post(pair["refresh_token"]).json()["hint"] == "Token has been revoked"
        assert requests.get(running.url + "/api/v4/account", timeout=10,
                            headers={"Authorization": f"Bearer {newer['access_token']}"}).status_code == 200
        assert post(newer["refresh_token"]).status_code == 200
    finally:
        running.stop()
        app.close()
