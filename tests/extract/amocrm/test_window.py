"""The amoCRM sliding window counts a slot from the *answer* of the request `limit` places back,
so a server that stamps requests late (queueing) can never see more than `limit` in a window."""

from __future__ import annotations

import threading

from extract.common.window import SlidingWindowLimiter


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


def test_next_slot_waits_for_the_answer_not_the_send():
    clock = FakeClock()
    lim = SlidingWindowLimiter(3, 1.0, margin=0.01, clock=clock, sleep=clock.sleep, assume_busy=False)
    slots = [lim.acquire() for _ in range(3)]
    assert [s.start for s in slots] == [100.0] * 3
    clock.t = 100.4  # the server took 0.4 s to answer the first request
    for s in slots:
        lim.done(s)
    fourth = lim.acquire()
    assert abs(fourth.start - (100.4 + 1.0 + 0.01)) < 1e-9  # not 101.01: the first may be stamped at 100.4


def test_server_stamps_anywhere_between_send_and_answer_never_exceed_limit():
    """Simulate a server that counts each request at a random moment inside [send, answer]."""
    import random

    rng = random.Random(5)
    clock = FakeClock()
    lim = SlidingWindowLimiter(7, 1.0, margin=0.0, clock=clock, sleep=clock.sleep, assume_busy=False)
    stamps = []
    for _ in range(300):
        slot = lim.acquire()
        latency = rng.choice([0.01, 0.05, 0.3, 0.9])
        stamps.append(slot.start + rng.random() * latency)
        clock.t = slot.start + latency
        lim.done(slot)
    stamps.sort()
    assert all(b - a >= 1.0 - 1e-9 for a, b in zip(stamps, stamps[7:]))


def test_in_flight_oldest_blocks_until_answered():
    lim = SlidingWindowLimiter(2, 0.05, margin=0.0, assume_busy=False)
    first, second = lim.acquire(), lim.acquire()
    got = []
    t = threading.Thread(target=lambda: got.append(lim.acquire()))
    t.start()
    t.join(0.2)
    assert not got  # the first request is still in flight
    lim.done(first)
    lim.done(second)
    t.join(2)
    assert got and got[0].start >= first.end + 0.05


def test_pause_after_429_widens_margin():
    lim = SlidingWindowLimiter(7, 1.0, margin=0.02, assume_busy=False)
    lim.pause(0.0)
    assert lim.margin >= 0.05 and lim.stats.refusals == 1
