"""Fidelity proof: third-party Bitrix24 clients, used unchanged, read every lead and deal.

- fast_bitrix24 (`Bitrix(webhook).get_all`): takes any http(s) webhook URL (it only checks that
  scheme, host and path are present), so it talks to http://127.0.0.1:PORT/rest/1/CODE/ directly.
  Its `get_all` reads `total` from page 1 and fires the remaining `start` offsets as 50-command
  batches; it runs with the emulator's rate limits ON and its own default throttling.
- b24pysdk (official SDK): builds `https://{domain}/rest/...` — HTTPS only, with the domain taken
  verbatim. We give it a real TLS endpoint: the test creates a throw-away CA and a certificate for
  127.0.0.1, serves the emulator through an `ssl` context, and points `requests` at the CA with the
  standard `REQUESTS_CA_BUNDLE` variable (the SDK calls `requests.post`, which honours it). The
  SDK's `call_list_fast` pages by `>ID` keyset with `start=-1` inside `halt=1` batches chained by
  `$result[n][49][ID]` references; `call_list` pages by `start` offsets.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import ssl
import threading
from pathlib import Path

import pytest

from sandbox.bitrix24.app import Bitrix24App
from sandbox.common.http import RunningServer, SandboxServer

from .conftest import ACCOUNT, N_DEALS, N_LEADS

fast_bitrix24 = pytest.importorskip("fast_bitrix24")
b24pysdk = pytest.importorskip("b24pysdk")


def _make_tls(dir_: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1, valid for one day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "crmwh sandbox test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_pem, cert_pem, key_pem = dir_ / "ca.pem", dir_ / "server.pem", dir_ / "server.key"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return ca_pem, cert_pem, key_pem


def serve_tls(app: Bitrix24App, cert: Path, key: Path) -> RunningServer:
    """The sandbox server with its listening socket wrapped in TLS (same handler, same faults/log)."""
    server = SandboxServer(app)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return RunningServer(server, thread)


@pytest.fixture
def tls_portal(portal_template, tmp_path, monkeypatch):
    def factory(data_dir: Path | None = None, account: dict | None = None, limits: bool = True):
        d = data_dir or tmp_path / "tls"
        acc = account or ACCOUNT
        if data_dir is None:
            d.mkdir(exist_ok=True)
            shutil.copy(portal_template, d / acc["file"])
        ca, cert, key = _make_tls(tmp_path)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca))
        app = Bitrix24App(d, acc, limits=limits)
        running = serve_tls(app, cert, key)
        started.append((running, app))
        return running, app

    started: list = []
    yield factory
    for running, app in started:
        running.stop()
        app.close()


def _fast_bitrix_read_all(webhook: str) -> tuple[list, list, list]:
    b = fast_bitrix24.Bitrix(webhook, verbose=False)
    leads = b.get_all("crm.lead.list", {"select": ["ID", "TITLE", "UF_*", "PHONE"]})
    deals = b.get_all("crm.deal.list")
    items = b.get_all("crm.item.list", {"entityTypeId": 2, "select": ["id", "stageId"]})
    return leads, deals, items


def _b24pysdk_read_all(domain: str, webhook_token: str) -> dict[str, list]:
    from b24pysdk import BitrixWebhook

    token = BitrixWebhook(domain=domain, webhook_token=webhook_token)
    fast_leads = list(token.call_list_fast("crm.lead.list", {"select": ["ID", "TITLE"]})["result"])
    fast_deals = list(token.call_list_fast("crm.deal.list")["result"])
    listed = token.call_list("crm.lead.list", {"select": ["ID"]})["result"]
    items = list(token.call_list_fast("crm.item.list", {"entityTypeId": 2, "select": ["id"]})["result"])
    return {"fast_leads": fast_leads, "fast_deals": fast_deals, "listed": list(listed), "items": items}


def test_fast_bitrix24_reads_every_lead_and_deal(make_portal):
    portal = make_portal(limits=True)
    leads, deals, items = _fast_bitrix_read_all(portal.webhook)
    assert sorted(int(x["ID"]) for x in leads) == list(range(1, N_LEADS + 1))
    assert sorted(int(x["ID"]) for x in deals) == list(range(1, N_DEALS + 1))
    assert sorted(int(x["id"]) for x in items) == list(range(1, N_DEALS + 1))
    assert leads[0]["UF_CRM_CHANNEL"] in ("avito", "cian", "site")
    stats = portal.admin("stats")
    assert stats["rate_limit_violations"] == 0
    assert stats["by_api_method"]["batch"] >= 2


def test_b24pysdk_reads_every_lead_and_deal_over_tls(tls_portal):
    running, app = tls_portal()
    port = running.server.server_address[1]
    got = _b24pysdk_read_all(f"127.0.0.1:{port}", f"1/{app.creds['webhook_code']}")
    assert [int(x["ID"]) for x in got["fast_leads"]] == list(range(1, N_LEADS + 1))
    assert [int(x["ID"]) for x in got["fast_deals"]] == list(range(1, N_DEALS + 1))
    assert sorted(int(x["ID"]) for x in got["listed"]) == list(range(1, N_LEADS + 1))
    assert [x["id"] for x in got["items"]] == list(range(1, N_DEALS + 1))
    assert running.server.log.stats()["rate_limit_violations"] == 0


def test_generated_portal_read_by_both_clients(tmp_path, tls_portal):
    generator = pytest.importorskip("sandbox.generator", reason="sandbox.generator not available yet")
    manifest = generator.generate(tmp_path / "gen", seed=7, leads=3000, accounts=["b24-msk"], months=3)
    account = next(a for a in manifest["accounts"] if a["system"] == "bitrix24")
    import duckdb

    con = duckdb.connect(str(tmp_path / "gen" / account["file"]), read_only=True)
    n_leads = con.execute("SELECT count(*) FROM crm_lead").fetchone()[0]
    n_deals = con.execute("SELECT count(*) FROM crm_deal").fetchone()[0]
    con.close()
    assert n_leads > 1000 and n_deals > 0

    app = Bitrix24App(tmp_path / "gen", account, limits=True)
    from sandbox.common.http import start

    plain = start(app)
    try:
        creds = app.creds
        webhook = f"{plain.url}/rest/{creds['webhook_user_id']}/{creds['webhook_code']}/"
        leads, deals, _ = _fast_bitrix_read_all(webhook)
    finally:
        plain.stop()
        app.close()
    assert len({x["ID"] for x in leads}) == len(leads) == n_leads
    assert len({x["ID"] for x in deals}) == len(deals) == n_deals

    running, app2 = tls_portal(data_dir=tmp_path / "gen", account=account)
    got = _b24pysdk_read_all(f"127.0.0.1:{running.server.server_address[1]}",
                             f"{app2.creds['webhook_user_id']}/{app2.creds['webhook_code']}")
    assert len({x["ID"] for x in got["fast_leads"]}) == len(got["fast_leads"]) == n_leads
    assert len(got["fast_deals"]) == n_deals and len(got["listed"]) == n_leads
