"""Client-side rate limiting: stay under the server's limits instead of bouncing off them.

- `LeakyBucket`: the mirror image of Bitrix24's per-portal counter (+1 per request, drains at
  `rate`/s, refused above `burst`). A request is sent only when our own count — which is never
  lower than the server's, because the server sees each request later than we send it and drains
  in between — stays `margin` below the burst. Thread-safe (a reservation scheme: callers compute
  their slot under the lock and sleep outside it). `saturate()` after a 503 QUERY_LIMIT_EXCEEDED
  assumes the server's bucket is full (someone else on the portal shares it).
- `OperatingBudget`: Bitrix24's per-method execution-time budget (`time.operating`, summed over
  ten one-minute baskets). We feed it every answer's `operating` figure and pause a method
  *before* it reaches `headroom` × limit; `block_until()` records a 429's `operating_reset_at`.
- `Backoff`: adaptive delay for refusals (1 s, ×2, capped), reset by a success.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass


@dataclass
class LimiterStats:
    waits: int = 0
    wait_seconds: float = 0.0
    refusals: int = 0  # server-side rate-limit answers seen (should stay 0)


class LeakyBucket:
    def __init__(self, rate: float, burst: int, margin: int = 2, clock=time.monotonic, sleep=time.sleep) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = float(rate)
        self.capacity = max(1.0, float(burst - margin))
        self._clock, self._sleep = clock, sleep
        self._level = 0.0
        self._last = clock()
        self._lock = threading.Lock()
        self.stats = LimiterStats()

    def acquire(self) -> float:
        """Block until one request may be sent; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            self._level = max(0.0, self._level - (now - self._last) * self.rate)
            self._last = now
            wait = max(0.0, (self._level + 1.0 - self.capacity) / self.rate)
            self._level += 1.0  # reserved now; drains while we sleep
            if wait > 0:
                self.stats.waits += 1
                self.stats.wait_seconds += wait
        if wait > 0:
            self._sleep(wait)
        return wait

    def saturate(self) -> None:
        """The server said its bucket is full: assume our level is at capacity."""
        with self._lock:
            now = self._clock()
            self._level = max(self._level - (now - self._last) * self.rate, self.capacity)
            self._last = now
            self.stats.refusals += 1


class OperatingBudget:
    def __init__(self, limit_seconds: float = 480.0, headroom: float = 0.85, baskets: int = 10,
                 basket_seconds: float = 60.0, clock=time.time) -> None:
        self.limit, self.headroom = limit_seconds, headroom
        self.baskets, self.basket_seconds, self._clock = baskets, basket_seconds, clock
        self._spent: dict[str, dict[int, float]] = defaultdict(dict)
        self._blocked: dict[str, float] = {}
        self._lock = threading.Lock()

    def _window(self, method: str, now: float) -> dict[int, float]:
        current = int(now // self.basket_seconds)
        spent = self._spent[method]
        for b in [b for b in spent if b <= current - self.baskets]:
            del spent[b]
        return spent

    def record(self, method: str, seconds: float) -> None:
        if not seconds or seconds < 0:
            return
        with self._lock:
            now = self._clock()
            spent = self._window(method, now)
            b = int(now // self.basket_seconds)
            spent[b] = spent.get(b, 0.0) + float(seconds)

    def used(self, method: str) -> float:
        with self._lock:
            return sum(self._window(method, self._clock()).values())

    def block_until(self, method: str, unix_time: float) -> None:
        with self._lock:
            self._blocked[method] = max(self._blocked.get(method, 0.0), unix_time)

    def wait_needed(self, method: str, next_cost: float = 0.0) -> float:
        """Seconds to wait before calling `method` so that its budget stays under the headroom."""
        with self._lock:
            now = self._clock()
            wait = max(0.0, self._blocked.get(method, 0.0) - now)
            spent = self._window(method, now)
            target = self.limit * self.headroom
            total = sum(spent.values()) + next_cost
            if total > target:
                for b in sorted(spent):
                    total -= spent[b]
                    if total <= target:
                        wait = max(wait, (b + self.baskets) * self.basket_seconds - now)
                        break
            return wait


class Backoff:
    def __init__(self, initial: float = 1.0, factor: float = 2.0, maximum: float = 60.0) -> None:
        self.initial, self.factor, self.maximum = initial, factor, maximum
        self._n = 0

    def next(self) -> float:
        d = min(self.maximum, self.initial * self.factor ** self._n)
        self._n += 1
        return d

    def reset(self) -> None:
        self._n = 0
