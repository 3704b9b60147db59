"""A record of every request an emulator served, for tests and benchmarks to count.

Kept in memory (an export of a million leads is a few thousand requests) and, when a path is
given, appended as JSON lines so a benchmark in another process can read it.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from typing import Any


class RequestLog:
    def __init__(self, path: str | None = None) -> None:
        self._lock = threading.Lock()
        self._path = path
        self._file = open(path, "a", encoding="utf-8") if path else None  # noqa: SIM115
        self.reset()

    _local = threading.local()

    def cpu_started(self) -> None:
        self._local.cpu0 = time.thread_time()

    def reset(self) -> None:
        with self._lock:
            self._cpu = 0.0
            self._entries: list[dict[str, Any]] = []
            self._by_status: Counter[int] = Counter()
            self._by_method: Counter[str] = Counter()
            self._limited: Counter[str] = Counter()
            self._faults: Counter[str] = Counter()
            self._cost = 0.0
            self._started = time.time()

    def record(self, req: Any, status: int, nbytes: int, started: float, resp: Any = None,
               fault: str = "", api_method: str = "") -> None:
        elapsed = time.perf_counter() - started
        cpu = time.thread_time() - getattr(self._local, "cpu0", time.thread_time())
        entry = {
            "ts": time.time(),
            "method": req.method,
            "path": req.path,
            "status": status,
            "bytes": nbytes,
            "ms": round(elapsed * 1000, 3),
            "cpu_ms": round(cpu * 1000, 3),
            "api_method": (resp.api_method if resp is not None else api_method) or "",
            "limited": resp.limited if resp is not None else "",
            "cost": resp.cost if resp is not None else 0.0,
            "fault": fault,
        }
        with self._lock:
            entry["seq"] = len(self._entries) + 1
            self._entries.append(entry)
            self._by_status[status] += 1
            if entry["api_method"]:
                self._by_method[entry["api_method"]] += 1
            if entry["limited"]:
                self._limited[entry["limited"]] += 1
            if fault:
                self._faults[fault] += 1
            self._cost += entry["cost"]
            self._cpu += cpu
            if self._file:
                self._file.write(json.dumps(entry, ensure_ascii=False) + "\n")
                self._file.flush()

    def entries(self, since: int = 0) -> list[dict[str, Any]]:
        with self._lock:
            return self._entries[since:]

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": len(self._entries),
                "by_status": {str(k): v for k, v in sorted(self._by_status.items())},
                "by_api_method": dict(self._by_method),
                "rate_limit_violations": sum(self._limited.values()),
                "rate_limited": dict(self._limited),
                "faults_injected": dict(self._faults),
                "server_cost_seconds": round(self._cost, 6),
                "server_cpu_seconds": round(self._cpu, 6),
                "since": self._started,
            }
