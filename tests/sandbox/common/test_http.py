"""The loopback HTTP layer: real sockets, each generic fault as a client sees it, the request log."""

import socket

import pytest
import requests

from sandbox.common.faults import FaultConfig
from sandbox.common.http import Response, start


class EchoApp:
    name = "echo"

    def handle(self, request):
        return Response.json_body(200, {"path": request.path, "query": request.query_pairs,
                                        "payload": "x" * 2000}, api_method="echo")

    def render_fault(self, kind, request):
        if kind == "custom":
            return Response.json_body(503, {"error": "CUSTOM"})
        return None

    def admin(self, action, request):
        return Response.json_body(200, {"action": action}) if action == "ping" else None

    def stats(self):
        return {"echo": True}


@pytest.fixture()
def server():
    srv = start(EchoApp())
    yield srv
    srv.stop()


def configure(server, **kw):
    r = requests.post(f"{server.url}/_sandbox/faults", json=kw, timeout=5)
    assert r.status_code == 200, r.text


def test_binds_loopback_only(server):
    assert server.server.server_address[0] == "127.0.0.1"
    assert server.url.startswith("http://127.0.0.1:")


def test_php_bracket_query_kept_in_order(server):
    body = requests.get(f"{server.url}/rest/m?select[]=ID&select[]=TITLE&filter[>ID]=5", timeout=5).json()
    assert body["query"] == [["select[]", "ID"], ["select[]", "TITLE"], ["filter[>ID]", "5"]]


def test_keep_alive_reuses_one_connection(server):
    with requests.Session() as s:
        for _ in range(5):
            assert s.get(f"{server.url}/x", timeout=5).status_code == 200
    stats = requests.get(f"{server.url}/_sandbox/stats", timeout=5).json()
    assert stats["requests"] == 5 and stats["by_api_method"] == {"echo": 5} and stats["echo"] is True


def test_reset_fault_is_a_connection_error(server):
    configure(server, rates={"reset": 1.0})
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.url}/x", timeout=5)


def test_truncate_fault_sends_half_the_body(server):
    configure(server, rates={"truncate": 1.0})
    with socket.create_connection(("127.0.0.1", server.server.server_address[1]), timeout=5) as sock:
        sock.sendall(b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    declared = int([h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")][0].split(b":")[1])
    assert 0 < len(body) < declared


def test_timeout_fault_hangs_past_client_timeout(server):
    configure(server, rates={"timeout": 1.0}, timeout_seconds=1.0)
    with pytest.raises((requests.Timeout, requests.ConnectionError)):
        requests.get(f"{server.url}/x", timeout=0.3)


def test_html_gateway_fault(server):
    configure(server, rates={"http_502": 1.0})
    r = requests.get(f"{server.url}/x", timeout=5)
    assert r.status_code == 502 and r.headers["content-type"].startswith("text/html") and "nginx" in r.text


def test_app_specific_fault_and_fault_limits(server):
    configure(server, rates={"custom": 1.0}, after_requests=2, max_faults=1)
    codes = [requests.get(f"{server.url}/x", timeout=5).status_code for _ in range(5)]
    assert codes == [200, 200, 503, 200, 200]
    stats = requests.get(f"{server.url}/_sandbox/stats", timeout=5).json()
    assert stats["faults_injected"] == {"custom": 1}


def test_path_pattern_limits_faults(server):
    configure(server, rates={"http_500": 1.0}, path_pattern="^/only")
    assert requests.get(f"{server.url}/x", timeout=5).status_code == 200
    assert requests.get(f"{server.url}/only/this", timeout=5).status_code == 500


def test_faults_are_reproducible_from_seed(server):
    def run():
        configure(server, rates={"http_500": 0.5}, seed=7)
        return [requests.get(f"{server.url}/x", timeout=5).status_code for _ in range(20)]

    first, second = run(), run()
    assert first == second and 200 in first and 500 in first


def test_latency(server):
    configure(server, latency_ms=150)
    r = requests.get(f"{server.url}/x", timeout=5)
    assert r.elapsed.total_seconds() >= 0.14


def test_unknown_fault_setting_is_rejected():
    with pytest.raises(ValueError, match="unknown fault settings"):
        FaultConfig.from_dict({"rate": 1})


def test_admin_endpoints(server):
    assert requests.get(f"{server.url}/_sandbox/ping", timeout=5).json() == {"action": "ping"}
    assert requests.get(f"{server.url}/_sandbox/nope", timeout=5).status_code == 404
    requests.get(f"{server.url}/a", timeout=5)
    log = requests.get(f"{server.url}/_sandbox/requests", timeout=5).json()["requests"]
    assert [e["path"] for e in log] == ["/a"] and log[0]["status"] == 200
    requests.post(f"{server.url}/_sandbox/reset-stats", timeout=5)
    assert requests.get(f"{server.url}/_sandbox/stats", timeout=5).json()["requests"] == 0


def test_work_day_on_running_emulators(tmp_path):
    """`/_sandbox/work-day` applies the generator's day of CRM work to a running emulator: the
    records it reports changed are visible through the API at once, dated no later than now."""
    import time as _time

    from sandbox.generator import generate
    from sandbox.serve import serve_all

    manifest = generate(tmp_path, seed=2, leads=1200, as_of="2026-11-01")
    servers = serve_all(tmp_path, limits=False)
    try:
        for acc in manifest["accounts"]:
            url, creds = servers[acc["account"]].url, acc["credentials"]
            r = requests.post(f"{url}/_sandbox/work-day", json={"seed": 1, "changes": 30}, timeout=60)
            assert r.status_code == 200, r.text
            log = r.json()["log"]
            if acc["system"] == "bitrix24":
                changed = (log.get("changed", {}).get("crm_lead") or []) + (log.get("added", {}).get("crm_lead") or [])
                assert changed
                base = f"{url}/rest/{creds['webhook_user_id']}/{creds['webhook_code']}/crm.lead.get.json"
                body = requests.get(base, params={"id": changed[0]}, timeout=5).json()["result"]
                modified = body["DATE_MODIFY"]
                from datetime import datetime
                assert datetime.fromisoformat(modified).timestamp() <= _time.time() + 1
            else:
                changed = (log.get("changed", {}).get("leads") or []) + (log.get("added", {}).get("leads") or [])
                assert changed
                r = requests.get(f"{url}/api/v4/leads/{changed[0]}", timeout=5,
                                 headers={"Authorization": f"Bearer {creds['long_lived_token']}"})
                assert r.status_code == 200 and r.json()["updated_at"] <= _time.time() + 1
        bad = requests.post(f"{servers[manifest['accounts'][0]['account']].url}/_sandbox/work-day",
                            json={"changes": "many"}, timeout=5)
        assert bad.status_code == 400
    finally:
        for s in servers.values():
            s.stop()
