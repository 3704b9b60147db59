"""A small threaded HTTP server that every CRM emulator runs on, bound to loopback only.

Why the standard library and not a web framework: the emulators must misbehave on purpose —
reset a connection mid-request, send half a body under a full Content-Length, hang past a
client's timeout, answer HTML where JSON is expected. `http.server` gives direct access to the
socket for all of that, costs no dependency, and keeps up with the rate-limited APIs it stands in
for (see docs/benchmarks.md, "Sandbox serving rate").

An emulator is an object with `handle(request) -> Response` (see `App`). The server wraps it with
fault injection, the request log and the admin endpoints under `/_sandbox/`.
"""

from __future__ import annotations

import json
import socket
from datetime import date, datetime
from decimal import Decimal
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from sandbox.common.faults import FaultConfig, FaultInjector
from sandbox.common.requestlog import RequestLog

LOOPBACK = "127.0.0.1"

try:  # several times faster than the standard library on the big list pages (a dagster-dbt dependency)
    import orjson
except ImportError:  # pragma: no cover
    orjson = None


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(payload: Any) -> bytes:
    """Compact UTF-8 JSON, as the real services send it."""
    if orjson is not None:
        try:
            return orjson.dumps(payload, default=_default, option=orjson.OPT_NON_STR_KEYS)
        except TypeError:  # e.g. an int beyond 64 bits: the standard library writes it as is
            pass
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=_default).encode("utf-8")


@dataclass
class Request:
    method: str
    path: str  # without the query string
    query_string: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    client: str
    _json: Any = field(default=None, repr=False)

    @property
    def query_pairs(self) -> list[tuple[str, str]]:
        """Query parameters in order, repeated keys kept (PHP-style `a[]=1&a[]=2`)."""
        return parse_qsl(self.query_string, keep_blank_values=True)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def json(self) -> Any:
        """The body parsed as JSON; raises ValueError on a malformed body."""
        if self._json is None:
            self._json = json.loads(self.body.decode("utf-8")) if self.body else {}
        return self._json

    def form_pairs(self) -> list[tuple[str, str]]:
        return parse_qsl(self.body.decode("utf-8"), keep_blank_values=True) if self.body else []


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    # Filled in by the emulator for the request log: the API method served, the rate-limit rule it
    # tripped (if any), and the server-side cost it charged (Bitrix24 `time.operating`, seconds).
    api_method: str = ""
    limited: str = ""
    cost: float = 0.0

    @classmethod
    def json_body(cls, status: int, payload: Any, content_type: str = "application/json; charset=utf-8",
                  **kw: Any) -> "Response":
        return cls(status=status, body=dumps(payload), content_type=content_type, **kw)

    @classmethod
    def html(cls, status: int, text: str, **kw: Any) -> "Response":
        return cls(status=status, body=text.encode("utf-8"), content_type="text/html; charset=utf-8", **kw)


class App(Protocol):
    """What an emulator implements."""

    name: str  # e.g. "bitrix24:b24-msk"

    def handle(self, request: Request) -> Response: ...

    def render_fault(self, kind: str, request: Request) -> Response | None:
        """Render an API-specific injected fault (e.g. QUERY_LIMIT_EXCEEDED); None if not ours."""
        ...

    def admin(self, action: str, request: Request) -> Response | None:
        """Emulator-specific admin endpoints under /_sandbox/<action>; None if unknown."""
        ...

    def stats(self) -> dict[str, Any]:
        """Emulator-specific counters merged into /_sandbox/stats."""
        ...


def _nginx_page(status: int, reason: str) -> str:
    return (f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
            f"<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
            "</body>\r\n</html>\r\n")


GENERIC_FAULTS = {
    "http_500": (500, "Internal Server Error"),
    "http_502": (502, "Bad Gateway"),
    "http_504": (504, "Gateway Time-out"),
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real services
    server: "SandboxServer"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence stderr logging
        pass

    def _dispatch(self) -> None:
        started = time.perf_counter()
        # CPU time of this handler thread: what serving costs, whatever else the machine runs.
        self.server.log.cpu_started()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        req = Request(method=self.command, path=parts.path, query_string=parts.query,
                      headers={k.lower(): v for k, v in self.headers.items()}, body=body,
                      client=self.client_address[0])
        srv = self.server
        if req.path.startswith("/_sandbox/"):
            resp = srv.admin(req)
            self._send(resp)
            return

        delay = srv.faults.latency()
        if delay:
            time.sleep(delay)
        fault = srv.faults.roll(req.path)
        resp: Response | None = None
        if fault == "reset":
            srv.log.record(req, 0, 0, started, fault=fault)
            self._reset()
            return
        if fault == "timeout":
            # Hang past the client's timeout, then drop the connection without an answer.
            time.sleep(srv.faults.config.timeout_seconds)
            srv.log.record(req, 0, 0, started, fault=fault)
            self._reset()
            return
        if fault in GENERIC_FAULTS:
            status, reason = GENERIC_FAULTS[fault]
            resp = Response.html(status, _nginx_page(status, reason))
        elif fault and fault != "truncate":
            resp = srv.app.render_fault(fault, req)
        if resp is None:
            try:
                resp = srv.app.handle(req)
            except Exception as exc:  # an emulator bug must show up as a 500, not a hung socket
                resp = Response.json_body(500, {"error": "SANDBOX_BUG", "error_description": repr(exc)})
        resp.body = srv.faults.splice(resp.body)
        hold = srv.faults.hold(req.path)
        if hold:  # the request is handled (state changed); the client has not heard back yet
            time.sleep(hold)
        if fault == "truncate" and resp.status == 200 and len(resp.body) > 2:
            srv.log.record(req, resp.status, len(resp.body) // 2, started, resp=resp, fault=fault)
            self._send(resp, truncate=True)
            return
        srv.log.record(req, resp.status, len(resp.body), started, resp=resp, fault=fault or "")
        self._send(resp)

    def _send(self, resp: Response, truncate: bool = False) -> None:
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(resp.body)))
        for k, v in resp.headers.items():
            self.send_header(k, v)
        if truncate:
            self.send_header("Connection", "close")
        self.end_headers()
        if resp.status == 204 or self.command == "HEAD":
            return
        if truncate:
            self.wfile.write(resp.body[: len(resp.body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(resp.body)

    def _reset(self) -> None:
        # SO_LINGER with a zero timeout makes close() send RST: the client sees "connection reset".
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        except OSError:
            pass
        self.close_connection = True
        try:
            self.connection.close()
        except OSError:
            pass

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _dispatch


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, app: App, port: int = 0, faults: FaultConfig | None = None,
                 log_path: str | None = None) -> None:
        self.app = app
        self.faults = FaultInjector(faults or FaultConfig())
        self.log = RequestLog(log_path)
        if hasattr(app, "faults"):  # emulators that read expire_tokens_after / mutate_between_pages
            app.faults = self.faults
        super().__init__((LOOPBACK, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def admin(self, req: Request) -> Response:
        action = req.path[len("/_sandbox/"):].strip("/")
        if action == "stats":
            return Response.json_body(200, {**self.log.stats(), **self.app.stats(), "app": self.app.name})
        if action == "requests":
            since = int(dict(req.query_pairs).get("since", "0"))
            return Response.json_body(200, {"requests": self.log.entries(since)})
        if action == "reset-stats":
            self.log.reset()
            return Response.json_body(200, {"ok": True})
        if action == "faults":
            if req.method == "POST":
                self.faults.configure(FaultConfig.from_dict(req.json()))
            return Response.json_body(200, self.faults.config.to_dict())
        resp = self.app.admin(action, req)
        return resp if resp is not None else Response.json_body(404, {"error": f"unknown admin action {action!r}"})


@dataclass
class RunningServer:
    server: SandboxServer
    thread: threading.Thread

    @property
    def url(self) -> str:
        return self.server.url

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start(app: App, port: int = 0, faults: FaultConfig | None = None, log_path: str | None = None) -> RunningServer:
    """Start `app` on 127.0.0.1 in a daemon thread and return once it accepts connections."""
    server = SandboxServer(app, port=port, faults=faults, log_path=log_path)
    # A short poll interval lets stop() return quickly (tests start and stop many servers).
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name=f"sandbox-{app.name}", daemon=True)
    thread.start()
    return RunningServer(server, thread)
