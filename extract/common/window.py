"""A client-side sliding-window limiter: at most `limit` requests in any `window` seconds *as the
server counts them*.

amoCRM allows 7 requests per second and answers the 8th with 429 (then blocks the account after
repeated 429s). The server stamps a request at some moment we cannot see — when it reaches the
edge, or when a busy worker gets to it — but that moment lies between our send and the arrival of
the answer's headers. So a request i may go out only `window + margin` after the *answer* to
request i − limit came back: then server_stamp(i) ≥ send(i) ≥ answer(i − limit) + window ≥
server_stamp(i − limit) + window, whatever the network and the server's queueing did. No timing
guess is involved, so `margin` only covers clock granularity (a few ms), and a slow server costs
us its latency per slot, never a 429. (The earlier version spaced *send* times by window + 80 ms
and met 429s whenever a request waited ~100 ms inside the server before being counted.)

Use: `slot = limiter.acquire()` before sending, `limiter.done(slot)` once the answer's headers
are in (or the attempt failed). A slot never closed (a caller that does not call `done`) counts as
closed at its send time, i.e. the old send-time spacing. Thread-safe: reservations under a lock,
sleeps outside it; several pagers share one limiter per account.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from extract.common.ratelimit import LimiterStats


class Slot:
    """One request's place in the window: sent at `start`, answered at `end` (None: in flight)."""
    __slots__ = ("start", "end")

    def __init__(self, start: float) -> None:
        self.start, self.end = start, None

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"Slot({self.start:.3f}, {self.end})"


class SlidingWindowLimiter:
    def __init__(self, limit: int, window: float = 1.0, margin: float = 0.02,
                 clock=time.monotonic, sleep=time.sleep, assume_busy: bool = True,
                 max_margin: float = 0.3, max_wait_for_answer: float = 120.0) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be >= 1 and window > 0")
        self.limit, self.window, self.margin = int(limit), float(window), float(margin)
        self.max_margin = max(float(max_margin), self.margin)
        self.max_wait_for_answer = float(max_wait_for_answer)
        self._clock, self._sleep = clock, sleep
        self._slots: deque[Slot] = deque(maxlen=self.limit)
        if assume_busy:
            # Another client (the previous run, another process) may have filled the server's
            # window a moment ago: start as if it had, which costs at most one window.
            now = clock()
            for _ in range(self.limit):
                s = Slot(now)
                s.end = now
                self._slots.append(s)
        self._pause_until = 0.0
        self._cond = threading.Condition(threading.Lock())
        self.stats = LimiterStats()

    @property
    def rate(self) -> float:
        """Sustained requests per second this limiter allows against an instant server."""
        return self.limit / (self.window + self.margin)

    def acquire(self) -> Slot:
        """Block until one request may be sent; returns its slot (pass it to `done`)."""
        with self._cond:
            now = self._clock()
            if len(self._slots) == self.limit:
                oldest = self._slots[0]
                deadline = now + self.max_wait_for_answer
                # The request `limit` places back is still in flight: its stamp may be as late as
                # its answer, so wait for the answer (bounded: a lost `done` must not hang us).
                while oldest.end is None and self._slots and self._slots[0] is oldest:
                    left = deadline - self._clock()
                    if left <= 0:
                        oldest.end = oldest.start
                        break
                    self._cond.wait(min(left, 1.0))
                now = self._clock()
            t = max(now, self._pause_until)
            if len(self._slots) == self.limit:
                oldest = self._slots[0]
                t = max(t, (oldest.end if oldest.end is not None else oldest.start) + self.window + self.margin)
            if self._slots:
                t = max(t, self._slots[-1].start)  # keep reservations ordered
            slot = Slot(t)
            self._slots.append(slot)
            wait = t - now
            if wait > 0:
                self.stats.waits += 1
                self.stats.wait_seconds += wait
        if wait > 0:
            self._sleep(wait)
        return slot

    def done(self, slot: Slot | None) -> None:
        """The answer to `slot`'s request arrived (or the attempt ended): the server has counted it."""
        if slot is None or slot.end is not None:
            return
        with self._cond:
            slot.end = max(self._clock(), slot.start)
            self._cond.notify_all()

    def pause(self, seconds: float) -> None:
        """The server refused a request (429): send nothing for `seconds`, and widen the margin
        (×1.5, at least 50 ms, up to `max_margin`): someone else evidently shares the server's
        window (its scope is not documented), so our own arithmetic is not the whole story."""
        with self._cond:
            self._pause_until = max(self._pause_until, self._clock() + seconds)
            self.margin = min(self.max_margin, max(self.margin * 1.5, 0.05))
            self.stats.refusals += 1
