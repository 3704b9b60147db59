"""A client-side sliding-window limiter: at most `limit` requests in any `window` seconds.

amoCRM allows 7 requests per second and answers the 8th with 429 (then blocks the account after
repeated 429s). A leaky bucket with a burst lets more than `limit` requests into one second, so
this limiter keeps the send times of the last `limit` requests and releases the next one only
`window + margin` seconds after the oldest of them. `margin` absorbs the jitter between our send
time and the server's arrival time (network, thread scheduling): a request that is late by less
than `margin` cannot push a window over the limit. Thread-safe (reservations under a lock, sleeps
outside it), so several pagers can share one limiter per account.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from extract.common.ratelimit import LimiterStats


class SlidingWindowLimiter:
    def __init__(self, limit: int, window: float = 1.0, margin: float = 0.05,
                 clock=time.monotonic, sleep=time.sleep, assume_busy: bool = True,
                 max_margin: float = 0.3) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be >= 1 and window > 0")
        self.limit, self.window, self.margin = int(limit), float(window), float(margin)
        self.max_margin = max(float(max_margin), self.margin)
        self._clock, self._sleep = clock, sleep
        self._sent: deque[float] = deque(maxlen=self.limit)
        if assume_busy:
            # Another client (the previous run, another process) may have filled the server's
            # window a moment ago: start as if it had, which costs at most one window.
            self._sent.extend([clock()] * self.limit)
        self._pause_until = 0.0
        self._lock = threading.Lock()
        self.stats = LimiterStats()

    @property
    def rate(self) -> float:
        """Sustained requests per second this limiter allows."""
        return self.limit / (self.window + self.margin)

    def acquire(self) -> float:
        """Block until one request may be sent; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            t = max(now, self._pause_until)
            if len(self._sent) == self.limit:
                t = max(t, self._sent[0] + self.window + self.margin)
            if self._sent:
                t = max(t, self._sent[-1])  # keep reservations ordered
            self._sent.append(t)
            wait = t - now
            if wait > 0:
                self.stats.waits += 1
                self.stats.wait_seconds += wait
        if wait > 0:
            self._sleep(wait)
        return wait

    def pause(self, seconds: float) -> None:
        """The server refused a request (429): send nothing for `seconds`, and widen the margin
        (×1.5, up to `max_margin`) since our timing was evidently not safe enough."""
        with self._lock:
            self._pause_until = max(self._pause_until, self._clock() + seconds)
            self.margin = min(self.max_margin, max(self.margin * 1.5, 0.02))
            self.stats.refusals += 1
