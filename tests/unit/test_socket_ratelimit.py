"""The in-process moving window behind the socket limits is exact: a burst that straddles
a window boundary never lets more than the limit through in any 10 seconds."""

import pytest
from limits import parse, strategies

from ccr.realtime import ratelimit


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(ratelimit.time, "monotonic", lambda: now[0])
    return now


def hits(limiter, n, key="7"):
    return sum(limiter.hit(parse("30 per 10 seconds"), "socket", "send_message", key)
               for _ in range(n))  # fmt: skip


def test_the_31st_message_in_ten_seconds_is_refused_and_allowed_once_the_first_expires(clock):
    limiter = strategies.MovingWindowRateLimiter(ratelimit.LocalMovingWindow())
    assert hits(limiter, 30) == 30
    clock[0] += 9.99
    assert hits(limiter, 1) == 0
    clock[0] += 0.02
    assert hits(limiter, 31) == 30


def test_a_burst_across_a_window_boundary_gets_no_more_than_the_limit(clock):
    limiter = strategies.MovingWindowRateLimiter(ratelimit.LocalMovingWindow())
    assert hits(limiter, 15) == 15
    clock[0] += 5
    assert hits(limiter, 15) == 15
    clock[0] += 5.01  # the first 15 have left the window, the last 15 have not
    assert hits(limiter, 30) == 15


def test_users_are_limited_separately_and_idle_keys_are_swept(clock, monkeypatch):
    store = ratelimit.LocalMovingWindow()
    monkeypatch.setattr(store, "SWEEP_EVERY", 5)
    limiter = strategies.MovingWindowRateLimiter(store)
    assert hits(limiter, 30, key="1") == 30
    assert hits(limiter, 3, key="2") == 3
    clock[0] += 11
    assert hits(limiter, 2, key="3") == 2  # the 35th call sweeps the idle keys
    assert len(store._events) == 1  # only user 3's window is left
    assert hits(limiter, 30, key="1") == 30
