"""Full garbage collections while a server process is idle, not in the middle of a burst.

A full (generation 2) collection walks every object the process holds that was not frozen at
start-up (gunicorn.conf.py `_tune_gc`): with 400 chat sockets connected it took 84-105 ms of
CPU, during which no socket of the process is served. The automatic one comes due after a
number of younger collections, that is under load, and a burst's messages waited behind it
(docs/performance.md#full-collections-while-idle). Once a second the process looks at its
own CPU time: when the last second used less than IDLE_CPU of a core and the automatic full
collection is at least half-way due, it runs that collection now. The automatic trigger
stays as it is, for a process that is never idle.
"""

import gc
import time
from collections.abc import Callable

CHECK_EVERY = 1.0  # seconds
IDLE_CPU = 0.05  # of one core, over the last CHECK_EVERY
DUE = 0.5  # of the younger collections after which the automatic full collection runs


class IdleCollector:
    """Decides, once per `tick`, whether to run a full collection now."""

    def __init__(
        self,
        cpu: Callable[[], float] = time.process_time,
        collect: Callable[[], object] = gc.collect,
        counts: Callable[[], tuple[int, int, int]] = gc.get_count,
        thresholds: Callable[[], tuple[int, ...]] = gc.get_threshold,
    ) -> None:
        self._cpu, self._collect = cpu, collect
        self._counts, self._thresholds = counts, thresholds
        self._last = cpu()

    def tick(self, elapsed: float) -> bool:
        """`elapsed`: seconds since the last tick. True when it collected."""
        now = self._cpu()
        used, self._last = now - self._last, now
        younger = self._counts()[2]  # generation-1 collections since the last full one
        if used > IDLE_CPU * elapsed or younger < DUE * self._thresholds()[2]:
            return False
        self._collect()
        self._last = self._cpu()  # the collection's own CPU is not load
        return True


def run_forever(sleep: Callable[[float], object]) -> None:
    """The background task; `sleep` yields to the server's other work (socketio.sleep)."""
    collector = IdleCollector()
    while True:
        sleep(CHECK_EVERY)
        collector.tick(CHECK_EVERY)
