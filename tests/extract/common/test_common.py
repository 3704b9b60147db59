"""extract.common: configuration, redaction, rate limiting, token store, HTTP outcomes."""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
import time

import pytest

from extract.common.config import AccountConfig, env_slug, load_accounts
from extract.common.errors import ConfigError, TransientError
from extract.common.http import make_session, send_json
from extract.common.ratelimit import LeakyBucket, OperatingBudget
from extract.common.redact import get_logger, redact, register_secret
from extract.common.tokens import TokenStore


# ---------------------------------------------------------------- config
def test_env_names_derive_from_account_name():
    acc = AccountConfig(name="b24-msk", system="bitrix24", auth="webhook", plan="enterprise")
    assert env_slug("b24-msk") == "B24_MSK"
    assert acc.env_name("WEBHOOK_URL") == "BITRIX24_B24_MSK_WEBHOOK_URL"
    assert acc.rate_limit() == (5.0, 250)
    amo = AccountConfig(name="amo.kzn", system="amocrm", auth="oauth")
    assert amo.env_name("CLIENT_SECRET") == "AMOCRM_AMO_KZN_CLIENT_SECRET"


def test_missing_secret_names_the_variable(monkeypatch):
    acc = AccountConfig(name="b24-msk", system="bitrix24", auth="webhook")
    monkeypatch.delenv("BITRIX24_B24_MSK_WEBHOOK_URL", raising=False)
    with pytest.raises(ConfigError, match="BITRIX24_B24_MSK_WEBHOOK_URL"):
        acc.secret("WEBHOOK_URL")


def test_accounts_file_yaml_and_toml(tmp_path):
    y = tmp_path / "a.yaml"
    y.write_text("accounts:\n  - {name: b24-msk, system: bitrix24, auth: webhook, plan: standard}\n"
                 "  - {name: amo-kzn, system: amocrm, auth: long_lived}\n")
    accs = load_accounts(y)
    assert [(a.system, a.name) for a in accs] == [("bitrix24", "b24-msk"), ("amocrm", "amo-kzn")]
    t = tmp_path / "a.toml"
    t.write_text('[[accounts]]\nname = "p"\nsystem = "bitrix24"\nauth = "oauth"\nplan = "enterprise"\n')
    assert load_accounts(t)[0].rate_limit() == (5.0, 250)
    bad = tmp_path / "b.yaml"
    bad.write_text("accounts:\n  - {name: x, system: bitrix24, auth: password}\n")
    with pytest.raises(ConfigError, match=r"accounts\[0\]"):
        load_accounts(bad)


# ---------------------------------------------------------------- redaction
def test_redaction_masks_registered_and_pattern_secrets(caplog):
    register_secret("s3cr3t-value-123")
    text = ("GET https://p.bitrix24.ru/rest/1/abcdef123456/crm.lead.list?auth=tok123&x=1 "
            '{"refresh_token": "rt-999"} Authorization: Bearer eyJabc s3cr3t-value-123')
    out = redact(text)
    for secret in ("abcdef123456", "tok123", "rt-999", "eyJabc", "s3cr3t-value-123"):
        assert secret not in out
    log = get_logger("extract.test")
    with caplog.at_level(logging.INFO, logger="extract.test"):
        log.info("calling %s", "https://x/rest/7/zzzsecretzzz/batch")
    assert "zzzsecretzzz" not in caplog.text


# ---------------------------------------------------------------- rate limiting
def test_leaky_bucket_never_overflows_a_server_bucket():
    """Many threads hammer the limiter; a server-side bucket with the same parameters (draining
    in real time) must never be over capacity."""
    from sandbox.common.ratelimit import LeakyBucket as ServerBucket  # the emulator's own bucket

    rate, burst = 50.0, 10
    client = LeakyBucket(rate, burst, margin=1)
    server = ServerBucket(rate, burst)
    refused = []

    def worker():
        for _ in range(20):
            client.acquire()
            if not server.try_acquire():
                refused.append(1)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    started = time.monotonic()
    [t.start() for t in threads]
    [t.join() for t in threads]
    elapsed = time.monotonic() - started
    assert not refused
    # 120 requests, burst 9 → at least (120 - 9) / 50 s; and not much slower than that
    assert (120 - burst) / rate * 0.95 <= elapsed <= (120 - burst) / rate + 1.0
    assert client.stats.waits > 0


def test_operating_budget_pauses_before_the_limit():
    now = [1_000_000.0]
    b = OperatingBudget(limit_seconds=100, headroom=0.8, clock=lambda: now[0])
    b.record("crm.lead.list", 50)
    assert b.wait_needed("crm.lead.list") == 0
    b.record("crm.lead.list", 35)  # 85 > 80
    wait = b.wait_needed("crm.lead.list")
    assert 0 < wait <= 600
    assert b.wait_needed("crm.deal.list") == 0  # per method
    b.block_until("crm.deal.list", now[0] + 30)
    assert b.wait_needed("crm.deal.list") == pytest.approx(30)


# ---------------------------------------------------------------- token store
def test_token_store_atomic_0600_and_rotation_persists_before_use(tmp_path):
    store = TokenStore(tmp_path / "tok")
    store.save("amocrm_x", {"access_token": "a1", "refresh_token": "r1"})
    path = tmp_path / "tok" / "amocrm_x.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    seen_on_disk = {}

    def exchange(current):
        assert current["refresh_token"] == "r1"
        return {"access_token": "a2", "refresh_token": "r2"}

    new = store.rotate("amocrm_x", exchange)
    seen_on_disk.update(json.loads(path.read_text()))
    assert new["refresh_token"] == "r2" and seen_on_disk["refresh_token"] == "r2"

    def failing(current):
        raise RuntimeError("auth server down")

    with pytest.raises(RuntimeError):
        store.rotate("amocrm_x", failing)
    assert store.load("amocrm_x")["refresh_token"] == "r2"  # the old pair survives a failed exchange
    assert not [p for p in (tmp_path / "tok").iterdir() if p.name.endswith(".tmp")]


# ---------------------------------------------------------------- HTTP outcomes
def test_send_json_classifies_html_truncated_and_resets():
    from sandbox.common.faults import FaultConfig
    from sandbox.common.http import Response, start

    class App:
        name = "t"

        def handle(self, req):
            if req.path == "/html":
                return Response.html(502, "<html>bad gateway</html>")
            if req.path == "/html403":
                return Response.html(403, "<html>blocked</html>")
            return Response.json_body(200, {"ok": True, "pad": "x" * 100})

        def render_fault(self, kind, req):
            return None

        def admin(self, action, req):
            return None

        def stats(self):
            return {}

    srv = start(App())
    try:
        s = make_session()
        assert send_json(s, "GET", srv.url + "/ok", timeout=(2, 5)).data["ok"] is True
        with pytest.raises(TransientError):
            send_json(s, "GET", srv.url + "/html", timeout=(2, 5))
        r = send_json(s, "GET", srv.url + "/html403", timeout=(2, 5))
        assert r.status == 403 and r.data is None and "blocked" in r.text
        srv.server.faults.configure(FaultConfig(rates={"truncate": 1.0}))
        with pytest.raises(TransientError):
            send_json(s, "GET", srv.url + "/ok", timeout=(2, 5))
        srv.server.faults.configure(FaultConfig(rates={"reset": 1.0}))
        with pytest.raises(TransientError):
            send_json(make_session(), "GET", srv.url + "/ok", timeout=(2, 5))
    finally:
        srv.stop()
