from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kameng.kit.throttle import AttemptThrottle

T0 = datetime(2026, 11, 25, tzinfo=UTC)


def test_blocks_at_the_limit_and_forgets_after_the_window() -> None:
    throttle = AttemptThrottle(limit=3, window=timedelta(minutes=15))
    for i in range(3):
        assert not throttle.blocked("a", T0 + timedelta(minutes=i))
        throttle.failed("a", T0 + timedelta(minutes=i))
    assert throttle.blocked("a", T0 + timedelta(minutes=3))
    assert not throttle.blocked("b", T0 + timedelta(minutes=3))
    # The first failure leaves the window at T0 + 15 min: one slot free again.
    assert not throttle.blocked("a", T0 + timedelta(minutes=15))


def test_memory_is_bounded() -> None:
    throttle = AttemptThrottle(limit=1, window=timedelta(hours=1), max_keys=2)
    for key in ("a", "b", "c"):
        throttle.failed(key, T0)
    assert not throttle.blocked("a", T0)  # evicted
    assert throttle.blocked("b", T0) and throttle.blocked("c", T0)
