"""The idle collector runs the full garbage collection between bursts, not during one."""

from ccr.idle_gc import IdleCollector


class _Process:
    """A process whose CPU clock, collector counts and collections the test drives."""

    def __init__(self) -> None:
        self.cpu = 0.0
        self.younger = 0  # generation-1 collections since the last full one
        self.collections = 0

    def collect(self) -> None:
        self.collections += 1
        self.younger = 0
        self.cpu += 0.1  # a full collection with many sockets costs about 100 ms

    def collector(self) -> IdleCollector:
        return IdleCollector(
            cpu=lambda: self.cpu,
            collect=self.collect,
            counts=lambda: (0, 0, self.younger),
            thresholds=lambda: (700, 10, 100),
        )


def test_a_busy_second_never_collects_even_when_the_collection_is_due():
    p = _Process()
    collector = p.collector()
    p.younger = 99
    for _ in range(10):
        p.cpu += 0.6  # a burst: 60% of a core
        assert collector.tick(1.0) is False
    assert p.collections == 0


def test_an_idle_second_collects_once_the_automatic_collection_is_half_way_due():
    p = _Process()
    collector = p.collector()
    p.younger = 49
    p.cpu += 0.01
    assert collector.tick(1.0) is False  # not due enough: idle collections stay rare
    p.younger = 50
    p.cpu += 0.01
    assert collector.tick(1.0) is True
    assert p.collections == 1
    # Its own 100 ms is not counted as load, and nothing is due any more.
    p.cpu += 0.01
    assert collector.tick(1.0) is False
    assert p.collections == 1


def test_the_collector_waits_for_the_burst_to_end():
    p = _Process()
    collector = p.collector()
    p.younger = 80
    p.cpu += 0.5
    assert collector.tick(1.0) is False
    p.cpu += 0.02  # the next second is quiet
    assert collector.tick(1.0) is True
