"""The server-side limiters do the arithmetic the real services do (a fake clock, no sleeping)."""

from sandbox.common.ratelimit import Blocker, LeakyBucket, OperatingBudget, SlidingWindow


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_leaky_bucket_allows_burst_then_drains_at_rate():
    clock = Clock()
    bucket = LeakyBucket(rate=2, capacity=50, clock=clock)
    assert all(bucket.try_acquire() for _ in range(50))
    assert not bucket.try_acquire()  # the 51st request of a burst is refused
    clock.t += 1.0  # two slots drain in one second
    assert bucket.try_acquire() and bucket.try_acquire()
    assert not bucket.try_acquire()
    clock.t += 100
    assert bucket.level == 0


def test_enterprise_bucket():
    clock = Clock()
    bucket = LeakyBucket(rate=5, capacity=250, clock=clock)
    assert sum(bucket.try_acquire() for _ in range(300)) == 250


def test_sliding_window_seven_per_second():
    clock = Clock()
    window = SlidingWindow(limit=7, window=1.0, clock=clock)
    assert [window.try_acquire() for _ in range(8)] == [True] * 7 + [False]
    clock.t += 0.999
    assert not window.try_acquire()
    clock.t += 0.002
    assert window.try_acquire()


def test_blocker_blocks_after_repeated_violations_and_expires():
    clock = Clock()
    blocker = Blocker(threshold=3, window=60, block_seconds=300, clock=clock)
    blocker.violation(); blocker.violation()
    assert not blocker.blocked
    blocker.violation()
    assert blocker.blocked
    clock.t += 299
    assert blocker.blocked
    clock.t += 2
    assert not blocker.blocked
    blocker.violation(); blocker.violation(); blocker.violation()
    blocker.unblock()
    assert not blocker.blocked


def test_blocker_forgets_old_violations():
    clock = Clock()
    blocker = Blocker(threshold=3, window=60, block_seconds=300, clock=clock)
    blocker.violation(); blocker.violation()
    clock.t += 61
    blocker.violation()
    assert not blocker.blocked


def test_operating_budget_per_method_ten_minute_window():
    clock = Clock(t=600.0 * 100)  # at a basket boundary
    budget = OperatingBudget(limit_seconds=480, clock=clock)
    for _ in range(9):
        budget.charge("crm.lead.list", 50)
        clock.t += 60
    assert budget.used("crm.lead.list") == 450
    assert budget.blocked_until("crm.lead.list") is None
    budget.charge("crm.lead.list", 40)  # 490 > 480
    reset_at = budget.blocked_until("crm.lead.list")
    assert reset_at is not None
    # Usable again once the first basket (50 s) leaves the window: ten minutes after it began.
    assert reset_at == 600.0 * 100 + 600
    assert budget.blocked_until("crm.deal.list") is None  # other methods keep working
    clock.t = reset_at
    assert budget.blocked_until("crm.lead.list") is None
    assert budget.used("crm.lead.list") == 440
