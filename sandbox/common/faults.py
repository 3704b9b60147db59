"""Fault injection shared by the emulators: what can go wrong, how often, and where.

Generic kinds are rendered by the HTTP layer (sandbox.common.http): `reset` (TCP RST, no answer),
`timeout` (hang `timeout_seconds`, then drop), `truncate` (half the body under a full
Content-Length), `http_500`/`http_502`/`http_504` (nginx HTML pages). Every other kind is
API-specific and rendered by the emulator (e.g. Bitrix24 `query_limit`, `operation_limit`,
`expired_token`, `internal_error`, `html_error`; amoCRM `rate_limit`, `unauthorized`,
`html_error`); an emulator also reads `expire_tokens_after` and `mutate_between_pages` itself.

Two knobs for the reliability tests (tests/reliability):

- `corrupt_records`: {list name: [records]} — the emulator splices these records into the first
  non-empty page of that list it serves after the knob is set (Bitrix24: the method name, e.g.
  `crm.lead.list`; amoCRM: the `_embedded` key, e.g. `leads`), after the page's first record, so
  malformed input reaches a client over the real HTTP path. A record `{"__raw__": "<text>"}` is
  written into the body verbatim (JSON with duplicate keys, NaN, 30-digit integers: what
  `json.dumps` cannot produce).
- `hold_response`: {path regex: seconds} — hold the answer *after* the emulator has handled the
  request (its state already changed, e.g. an OAuth refresh token already spent) and before any
  byte is sent: the window in which a client crash loses a rotated token.

Faults are drawn from a seeded RNG, so a failing test replays the same sequence.
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class FaultConfig:
    latency_ms: float = 0.0  # added to every answer
    jitter_ms: float = 0.0  # uniform extra latency 0..jitter_ms
    rates: dict[str, float] = field(default_factory=dict)  # kind -> probability per request
    timeout_seconds: float = 5.0  # how long a `timeout` fault hangs
    path_pattern: str = ""  # regex; faults apply only to matching paths (all if empty)
    after_requests: int = 0  # no fault before this many API requests
    max_faults: int | None = None  # stop injecting after this many
    expire_tokens_after: int | None = None  # every access token expires after N more requests
    mutate_between_pages: float = 0.0  # probability a list page changes records before answering
    corrupt_records: dict[str, list[Any]] = field(default_factory=dict)  # list name -> records to splice in
    hold_response: dict[str, float] = field(default_factory=dict)  # path regex -> seconds held after handling
    seed: int = 0

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "FaultConfig":
        data = dict(data or {})
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class FaultInjector:
    def __init__(self, config: FaultConfig) -> None:
        self._lock = threading.Lock()
        self.configure(config)

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)
            self._pattern = re.compile(config.path_pattern) if config.path_pattern else None
            self._seen = 0
            self.injected: dict[str, int] = {}
            self._corrupt_served: set[str] = set()
            self._raw: dict[str, str] = {}

    def latency(self) -> float:
        c = self.config
        if not c.latency_ms and not c.jitter_ms:
            return 0.0
        with self._lock:
            return (c.latency_ms + self._rng.uniform(0, c.jitter_ms)) / 1000.0

    def roll(self, path: str) -> str | None:
        """Decide whether this request fails, and how. Returns the fault kind or None."""
        c = self.config
        if not c.rates:
            return None
        if self._pattern and not self._pattern.search(path):
            return None
        with self._lock:
            self._seen += 1
            if self._seen <= c.after_requests:
                return None
            if c.max_faults is not None and sum(self.injected.values()) >= c.max_faults:
                return None
            x = self._rng.random()
            acc = 0.0
            for kind, rate in c.rates.items():
                acc += rate
                if x < acc:
                    self.injected[kind] = self.injected.get(kind, 0) + 1
                    return kind
        return None

    def chance(self, p: float) -> bool:
        if p <= 0:
            return False
        with self._lock:
            return self._rng.random() < p

    # ------------------------------------------------------------------ corrupt records
    def take_corrupt(self, name: str) -> list[Any] | None:
        """The corrupt records for list `name`, once per configuration (None when none are due).
        `{"__raw__": text}` records come back as placeholders that `splice` replaces in the body."""
        c = self.config
        if name not in c.corrupt_records:
            return None
        with self._lock:
            if name in self._corrupt_served:
                return None
            self._corrupt_served.add(name)
            out: list[Any] = []
            for rec in c.corrupt_records[name]:
                if isinstance(rec, dict) and set(rec) == {"__raw__"}:
                    token = f"@@sandbox-corrupt-{len(self._raw)}@@"
                    self._raw[token] = str(rec["__raw__"])
                    out.append(token)
                else:
                    out.append(rec)
            self.injected["corrupt_records"] = self.injected.get("corrupt_records", 0) + len(out)
            return out

    def splice(self, body: bytes) -> bytes:
        """Replace the placeholders of raw corrupt records by their verbatim text."""
        if not self._raw or b"@@sandbox-corrupt-" not in body:
            return body
        for token, raw in list(self._raw.items()):
            body = body.replace(f'"{token}"'.encode(), raw.encode("utf-8", "surrogatepass"))
        return body

    def hold(self, path: str) -> float:
        """Seconds to hold the answer to `path` after handling it (FaultConfig.hold_response)."""
        for pattern, seconds in (self.config.hold_response or {}).items():
            if re.search(pattern, path):
                return float(seconds)
        return 0.0
