"""Wall and CPU clocks for the synth benchmarks, the jsii Node kernel included.

A CDK app in Python runs in two processes: this Python process and the Node
process jsii starts (``node .../jsii-runtime.js``, which runs the kernel in a
child ``node``). Wall-clock time on a machine shared with other work also counts
the time both spend waiting for a CPU, so on a busy 2-core machine the same
synthesis takes 1x-2x as long from one run to the next. CPU time counts only
the work done: this process's (``time.process_time``) plus every descendant
process's, read from ``/proc/<pid>/task/<tid>/schedstat`` (nanoseconds on a
CPU, per thread; Node's worker threads live as long as the kernel).
"""

from __future__ import annotations

import os
import time
from typing import List, NamedTuple


class Clock(NamedTuple):
    wall: float
    python: float
    node: float

    @property
    def cpu(self) -> float:
        return self.python + self.node

    def __sub__(self, other: "Clock") -> "Clock":  # type: ignore[override]
        return Clock(self.wall - other.wall, self.python - other.python, self.node - other.node)


def _children(pid: int) -> List[int]:
    found: List[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                found += [int(p) for p in f.read().split()]
        except OSError:
            pass
    return found


def _descendants() -> List[int]:
    todo, seen = _children(os.getpid()), []
    while todo:
        pid = todo.pop()
        seen.append(pid)
        todo += _children(pid)
    return seen


def _cpu_of(pid: int) -> float:
    total = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total / 1e9


def available() -> bool:
    """Whether child CPU time can be read (Linux ``/proc`` with schedstat)."""
    return os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/schedstat")


def now() -> Clock:
    """Wall seconds, this process's CPU seconds and its descendants' (the Node kernel's) CPU seconds."""
    return Clock(time.perf_counter(), time.process_time(), sum(_cpu_of(p) for p in _descendants()))
