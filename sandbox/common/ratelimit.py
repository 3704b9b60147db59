"""Server-side rate limits as the real services enforce them.

- `LeakyBucket`: Bitrix24's per-portal counter that grows by one per request and drains at
  `rate` per second; a request that would push it over `capacity` is refused (503
  QUERY_LIMIT_EXCEEDED). Standard plans: 2/s, 50; Enterprise: 5/s, 250.
- `SlidingWindow`: amoCRM's "7 requests per second" (429), with `Blocker` turning repeated
  violations into an account block (403 HTML) that lasts until it expires or an admin lifts it.
- `OperatingBudget`: Bitrix24's per-method execution-time budget, summed over ten one-minute
  baskets; over the limit the method answers 429 OPERATION_TIME_LIMIT until the oldest basket
  leaves the window (`operating_reset_at`).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque


class LeakyBucket:
    def __init__(self, rate: float, capacity: float, clock=time.monotonic) -> None:
        self.rate, self.capacity, self._clock = rate, capacity, clock
        self._level = 0.0
        self._last = clock()
        self._lock = threading.Lock()

    def _drain(self) -> None:
        now = self._clock()
        self._level = max(0.0, self._level - (now - self._last) * self.rate)
        self._last = now

    def try_acquire(self) -> bool:
        with self._lock:
            self._drain()
            if self._level + 1 > self.capacity:
                return False
            self._level += 1
            return True

    @property
    def level(self) -> float:
        with self._lock:
            self._drain()
            return self._level


class SlidingWindow:
    """At most `limit` requests in any `window` seconds."""

    def __init__(self, limit: int, window: float = 1.0, clock=time.monotonic) -> None:
        self.limit, self.window, self._clock = limit, window, clock
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def try_acquire(self) -> bool:
        with self._lock:
            now = self._clock()
            while self._times and now - self._times[0] >= self.window:
                self._times.popleft()
            if len(self._times) >= self.limit:
                return False
            self._times.append(now)
            return True


class Blocker:
    """Blocks after `threshold` violations within `window` seconds, for `block_seconds`."""

    def __init__(self, threshold: int, window: float, block_seconds: float, clock=time.monotonic) -> None:
        self.threshold, self.window, self.block_seconds, self._clock = threshold, window, block_seconds, clock
        self._violations: deque[float] = deque()
        self._blocked_until = 0.0
        self._lock = threading.Lock()

    def violation(self) -> None:
        with self._lock:
            now = self._clock()
            self._violations.append(now)
            while self._violations and now - self._violations[0] > self.window:
                self._violations.popleft()
            if len(self._violations) >= self.threshold:
                self._blocked_until = now + self.block_seconds
                self._violations.clear()

    @property
    def blocked(self) -> bool:
        with self._lock:
            return self._clock() < self._blocked_until

    def unblock(self) -> None:
        with self._lock:
            self._blocked_until = 0.0
            self._violations.clear()


class OperatingBudget:
    """Per-method sum of server execution time over `baskets` one-minute baskets."""

    def __init__(self, limit_seconds: float, baskets: int = 10, basket_seconds: float = 60.0,
                 clock=time.time) -> None:
        self.limit, self.baskets, self.basket_seconds, self._clock = limit_seconds, baskets, basket_seconds, clock
        self._spent: dict[str, dict[int, float]] = defaultdict(dict)
        self._lock = threading.Lock()

    def _window(self, method: str, now: float) -> dict[int, float]:
        current = int(now // self.basket_seconds)
        spent = self._spent[method]
        for b in [b for b in spent if b <= current - self.baskets]:
            del spent[b]
        return spent

    def used(self, method: str) -> float:
        with self._lock:
            return sum(self._window(method, self._clock()).values())

    def blocked_until(self, method: str) -> float | None:
        """Unix time at which the method is usable again, or None if it is usable now."""
        with self._lock:
            now = self._clock()
            spent = self._window(method, now)
            if sum(spent.values()) <= self.limit:
                return None
            # Usable again once enough of the oldest baskets have left the window.
            total = sum(spent.values())
            for b in sorted(spent):
                total -= spent[b]
                if total <= self.limit:
                    return (b + self.baskets) * self.basket_seconds
            return (max(spent) + self.baskets) * self.basket_seconds

    def reset_at(self, method: str) -> float:
        """Unix time at which the method's current spending starts leaving the window (when it is
        blocked: when it is usable again). Bitrix24 reports it as `time.operating_reset_at`."""
        until = self.blocked_until(method)
        if until is not None:
            return until
        with self._lock:
            now = self._clock()
            spent = self._window(method, now)
            if not spent:
                return now + self.baskets * self.basket_seconds
            return (min(spent) + self.baskets) * self.basket_seconds

    def methods(self) -> dict[str, float]:
        """Window totals of every method that spent anything."""
        with self._lock:
            now = self._clock()
            return {m: sum(self._window(m, now).values()) for m in list(self._spent)}

    def charge(self, method: str, seconds: float) -> float:
        """Add `seconds` to the method's current basket; returns the window total."""
        with self._lock:
            now = self._clock()
            spent = self._window(method, now)
            b = int(now // self.basket_seconds)
            spent[b] = spent.get(b, 0.0) + seconds
            return sum(spent.values())
