"""Fidelity proof: the PyPI client `amocrm-api` (Krukov's amocrm_api, `amocrm.v2`), used unchanged,
reads every lead, contact, pipeline and event of the emulator, including an OAuth refresh.

The library hard-codes `https://{subdomain}.amocrm.ru` (interaction.py, tokens.py), and refreshes
tokens with a bare `requests.post`. Rather than patching it, the test configures the environment
the way a corporate network would: `HTTPS_PROXY` points at a small CONNECT proxy on 127.0.0.1
that accepts only `*.amocrm.ru:443`, terminates TLS with a certificate for that host signed by a
throw-away CA generated here, and forwards the plain HTTP to the sandbox; `REQUESTS_CA_BUNDLE`
trusts that CA. Both variables are standard `requests` configuration, read on every request, so
the library's own code path — TLS, proxies, JWT `exp` checks, paging by `_links.next` — runs as it
would against the real service. Nothing leaves the machine.
"""

from __future__ import annotations

import datetime as dt
import select
import socket
import ssl
import threading
import time
from pathlib import Path

import duckdb
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sandbox.amocrm.app import AmoCRMApp
from sandbox.common.http import start
from tests.sandbox.amocrm.conftest import CREDENTIALS, SUBDOMAIN

amocrm_v2 = pytest.importorskip("amocrm.v2", reason="the test extra `amocrm-api` is not installed")


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_certificates(directory: Path, hostnames: list[str]) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate for `hostnames` signed by it (PEM files)."""
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (x509.CertificateBuilder().subject_name(_name("crm-sales-warehouse test CA"))
               .issuer_name(_name("crm-sales-warehouse test CA")).public_key(ca_key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
               .not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                            content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False,
                                            encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name(hostnames[0])).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hostnames]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_path, cert_path, key_path = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return ca_path, cert_path, key_path


class TLSFront:
    """A CONNECT proxy for `*.amocrm.ru:443` that terminates TLS and forwards to the sandbox."""

    def __init__(self, upstream_port: int, cert: Path, key: Path) -> None:
        self.upstream_port = upstream_port
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(str(cert), str(key))
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.tunnels = 0
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 8192:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                head += chunk
            method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
            host, _, port = target.rpartition(":")
            if method != "CONNECT" or port != "443" or not host.endswith(".amocrm.ru"):
                conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                return
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self.tunnels += 1
            tls = self.ctx.wrap_socket(conn, server_side=True)
            up = socket.create_connection(("127.0.0.1", self.upstream_port))
            try:
                self._pipe(tls, up)
            finally:
                up.close()
                tls.close()
        except (OSError, ValueError):
            pass
        finally:
            conn.close()

    @staticmethod
    def _pipe(tls: ssl.SSLSocket, up: socket.socket) -> None:
        while True:
            # Decrypted bytes already buffered in the TLS object are invisible to select().
            ready = [tls] if tls.pending() else select.select([tls, up], [], [], 30)[0]
            if not ready:
                return
            for s in ready:
                try:
                    data = s.recv(65536)
                except ssl.SSLWantReadError:
                    continue
                if not data:
                    return
                (up if s is tls else tls).sendall(data)

    def close(self) -> None:
        self._stop = True
        self.sock.close()


@pytest.fixture
def via_amocrm_ru(tmp_path, monkeypatch):
    """Route the library's https://*.amocrm.ru traffic to a sandbox server: returns a function
    `route(running_server) -> TLSFront` that sets HTTPS_PROXY and REQUESTS_CA_BUNDLE."""
    fronts: list[TLSFront] = []

    def route(running) -> TLSFront:
        ca, cert, key = make_certificates(tmp_path, ["*.amocrm.ru", "amocrm.ru"])
        front = TLSFront(running.server.server_address[1], cert, key)
        fronts.append(front)
        for var in ("HTTPS_PROXY", "https_proxy"):
            monkeypatch.setenv(var, f"http://127.0.0.1:{front.port}")
        for var in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca))
        return front

    yield route
    for f in fronts:
        f.close()


def init_library(subdomain: str, creds: dict) -> None:
    from amocrm.v2 import tokens

    tokens.default_token_manager(client_id=creds["client_id"], client_secret=creds["client_secret"],
                                 subdomain=subdomain, redirect_url=creds["redirect_uri"],
                                 storage=tokens.MemoryTokensStorage())
    tokens.default_token_manager.init(code=creds["auth_code"])


def test_amocrm_api_reads_everything_and_refreshes(make_amo, via_amocrm_ru):
    from amocrm.v2 import Contact, Event, Lead, Pipeline

    amo = make_amo(options={"access_token_ttl": 3})
    front = via_amocrm_ru(amo.running)
    init_library(SUBDOMAIN, CREDENTIALS)
    con = amo.app._cursor()
    live = {r[0] for r in con.execute("SELECT id FROM leads WHERE NOT is_deleted").fetchall()}

    ids = [lead.id for lead in Lead.objects.all()]
    assert len(ids) == len(live) and set(ids) == live
    assert len([c.id for c in Contact.objects.all()]) == con.execute("SELECT count(*) FROM contacts").fetchone()[0]
    pipelines = list(Pipeline.objects.all())
    assert sorted(p.id for p in pipelines) == [r[0] for r in con.execute("SELECT id FROM pipelines ORDER BY id").fetchall()]
    events = [e.id for e in Event.objects.all()]
    assert len(events) == con.execute("SELECT count(*) FROM events").fetchone()[0]
    first = Lead.objects.get(object_id=min(live))
    assert first.name and first.price >= 0

    # Past the JWT `exp`, the library refreshes with its refresh token (single use) and goes on.
    time.sleep(3.2)
    assert len([lead.id for lead in Lead.objects.all()]) == len(live)
    tokens = amo.admin("tokens")["tokens"]
    assert sum(t["source"] == "refresh_token" and t["kind"] == "access" for t in tokens) == 1
    assert [t["status"] for t in tokens if t["kind"] == "refresh" and t["source"] == "authorization_code"] == ["used"]
    assert front.tunnels >= 1
    stats = amo.admin("stats")
    assert stats["by_api_method"]["POST /oauth2/access_token"] == 2
    assert stats["by_api_method"]["GET /api/v4/leads"] == 2 * ((len(live) + 249) // 250)


def test_amocrm_api_reads_every_generated_lead(tmp_path, via_amocrm_ru):
    generator = pytest.importorskip("sandbox.generator", reason="the data generator has not landed yet")
    from amocrm.v2 import Lead

    manifest = generator.generate(tmp_path / "sandbox", seed=11, leads=8000)
    account = next(a for a in manifest["accounts"] if a["system"] == "amocrm")
    path = tmp_path / "sandbox" / account["file"]
    with duckdb.connect(str(path), read_only=True) as con:
        expected = {r[0] for r in con.execute("SELECT id FROM leads WHERE NOT coalesce(is_deleted, FALSE)").fetchall()}
    import pandas as pd

    truth = pd.read_parquet(tmp_path / "sandbox" / "truth" / "leads.parquet")
    truth = truth[(truth["source_system"] == "amocrm") & (truth["account"] == account["account"])]
    assert len(expected) == int((~truth["is_deleted"].astype(bool)).sum()) >= 1000

    app = AmoCRMApp(tmp_path / "sandbox", account, limits=False)
    running = start(app)
    try:
        via_amocrm_ru(running)
        init_library(account["subdomain"], account["credentials"])
        ids = [lead.id for lead in Lead.objects.all()]
        assert len(ids) == len(expected) and set(ids) == expected
    finally:
        running.stop()
        app.close()
