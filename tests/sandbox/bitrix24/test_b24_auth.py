"""Webhook and OAuth authentication, token endpoint, expiry, persistence across restarts."""

from __future__ import annotations

import time

import requests

from sandbox.bitrix24.auth import derive_credentials

NO_AUTH = {"error": "NO_AUTH_FOUND", "error_description": "Wrong authorization data"}


def _refresh(portal, refresh_token: str, **over) -> requests.Response:
    params = {"grant_type": "refresh_token", "client_id": portal.creds["oauth_client_id"],
              "client_secret": portal.creds["oauth_client_secret"], "refresh_token": refresh_token, **over}
    return requests.get(f"{portal.url}/oauth/token/", params=params, timeout=10)


def test_webhook_ok_with_and_without_json_suffix(portal):
    for suffix in ("", ".json"):
        r = requests.post(f"{portal.webhook}crm.lead.list{suffix}", json={}, timeout=10)
        assert r.status_code == 200
        assert r.headers["Content-Type"].startswith("application/json")
        assert r.json()["total"] == 320


def test_webhook_wrong_code_or_user_is_401_no_auth_found(portal):
    for bad in (f"{portal.url}/rest/1/wrongcode/", f"{portal.url}/rest/2/{portal.creds['webhook_code']}/"):
        r = portal.call("crm.lead.list", webhook=bad)
        assert r.status_code == 401
        assert r.json() == NO_AUTH


def test_oauth_without_auth_is_no_auth_found(portal):
    r = requests.post(f"{portal.url}/rest/crm.lead.list", json={}, timeout=10)
    assert (r.status_code, r.json()) == (401, NO_AUTH)


def test_refresh_flow_rotates_tokens(make_portal):
    portal = make_portal()
    r = _refresh(portal, "refresh-0")
    assert r.status_code == 200, r.text
    tok = r.json()
    assert tok["expires_in"] == 3600 and tok["refresh_token"] != "refresh-0"
    assert abs(tok["expires"] - (time.time() + 3600)) < 5
    assert tok["client_endpoint"] == f"{portal.url}/rest/"
    assert tok["member_id"] and tok["user_id"] == 1 and tok["status"] == "L" and "crm" in tok["scope"]
    # auth in the query string and in the JSON body both work
    q = requests.get(f"{tok['client_endpoint']}crm.deal.list", params={"auth": tok["access_token"]}, timeout=10)
    b = requests.post(f"{tok['client_endpoint']}crm.deal.list.json", json={"auth": tok["access_token"]}, timeout=10)
    assert q.json()["total"] == b.json()["total"] == 130
    # the used refresh token is spent; the new one works
    again = _refresh(portal, "refresh-0")
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert _refresh(portal, tok["refresh_token"]).status_code == 200


def test_token_endpoint_errors(make_portal):
    portal = make_portal()
    r = _refresh(portal, "refresh-0", client_secret="nope")
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = _refresh(portal, "no-such-token")
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    r = _refresh(portal, "refresh-0", grant_type="password")
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_authorization_code_grant(make_portal):
    portal = make_portal()
    params = {"grant_type": "authorization_code", "client_id": portal.creds["oauth_client_id"],
              "client_secret": portal.creds["oauth_client_secret"], "code": portal.creds["oauth_auth_code"]}
    r = requests.post(f"{portal.url}/oauth/token/", data=params, timeout=10)
    assert r.status_code == 200 and r.json()["access_token"]
    bad = requests.get(f"{portal.url}/oauth/token/", params={**params, "code": "x"}, timeout=10)
    assert bad.json()["error"] == "invalid_grant"


def test_expired_and_invalid_access_tokens(make_portal):
    portal = make_portal()
    tok = _refresh(portal, "refresh-0").json()
    assert portal.admin("expire-tokens")["expired"] == 1
    r = requests.post(f"{portal.url}/rest/crm.lead.list", json={"auth": tok["access_token"]}, timeout=10)
    assert r.status_code == 401
    assert r.json() == {"error": "expired_token", "error_description": "The access token provided has expired."}
    r = requests.post(f"{portal.url}/rest/crm.lead.list", json={"auth": "garbage"}, timeout=10)
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"
    # the documented recovery: refresh, retry
    tok2 = _refresh(portal, tok["refresh_token"]).json()
    r = requests.post(f"{portal.url}/rest/crm.lead.list", json={"auth": tok2["access_token"]}, timeout=10)
    assert r.status_code == 200


def test_access_token_lifetime_is_configurable(make_portal):
    portal = make_portal(options={"access_token_ttl": 0.5})
    tok = _refresh(portal, "refresh-0").json()
    assert tok["expires_in"] == 0
    time.sleep(0.7)
    r = requests.get(f"{portal.url}/rest/crm.lead.list", params={"auth": tok["access_token"]}, timeout=10)
    assert r.json()["error"] == "expired_token"


def test_tokens_survive_restart(make_portal):
    first = make_portal()
    tok = _refresh(first, "refresh-0").json()
    first.running.stop()
    first.app.close()
    second = make_portal(data_dir=first.data_dir)
    r = requests.get(f"{second.url}/rest/crm.lead.list", params={"auth": tok["access_token"]}, timeout=10)
    assert r.status_code == 200
    assert _refresh(second, "refresh-0").json()["error"] == "invalid_grant"  # still spent
    assert _refresh(second, tok["refresh_token"]).status_code == 200


def test_missing_credentials_are_derived_deterministically():
    a = derive_credentials({"account": "b24-x"})
    b = derive_credentials({"account": "b24-x", "credentials": {"webhook_code": "given"}})
    assert a["webhook_user_id"] == 1 and len(a["webhook_code"]) == 16
    assert a == derive_credentials({"account": "b24-x"})
    assert b["webhook_code"] == "given" and b["oauth_client_secret"] == a["oauth_client_secret"]
    assert a["oauth_client_id"].startswith("local.")
