"""Worker processes that survive what a case does to them.

Each worker runs cases under an address-space cap (a huge allocation becomes
a MemoryError, counted as a failure) and an in-process alarm; the parent
kills a worker that overruns the alarm by a grace period (stuck in C code)
or dies, records the case as a hang or a crash, and starts a new worker.
Workers import torch once, before taking work, so the import does not count
against any case's time.
"""
from __future__ import annotations

import multiprocessing as mp
import resource
import time
import warnings
from collections import deque
from multiprocessing.connection import wait
from typing import Callable, Iterable, Iterator, Optional

# seconds past the base alarm before the parent kills a worker: the worker's own alarm
# moves out with the case's size (check.SECONDS_PER_NODE), which the parent cannot see
GRACE = 60.0
START_FAILURES = 3  # workers dying before they are ready, in a row, before giving up
RECYCLE_AFTER = 2000  # cases per worker: its address space creeps up (allocator arenas)


def _address_space() -> int:
    """This process's virtual size in bytes (Linux), 0 where unknown."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _worker(conn, memory_bytes: Optional[int], warm: bool, execute: Callable) -> None:
    warnings.filterwarnings("ignore")  # torch's advice about odd-but-legal arguments
    if warm:
        import torch
        torch.set_num_threads(1)  # two workers on two cores: no oversubscription
    if memory_bytes:
        # torch alone reserves gigabytes of address space: the cap is headroom above that
        cap = _address_space() + memory_bytes
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    conn.send("ready")
    while True:
        task = conn.recv()
        if task is None:
            return
        conn.send(execute(task))


class _Slot:
    def __init__(self, pool: "WorkerPool"):
        self.pool = pool
        self.start()

    def start(self) -> None:
        parent, child = self.pool.context.Pipe()
        self.conn = parent
        self.process = self.pool.context.Process(
            target=_worker, args=(child, self.pool.memory_bytes, self.pool.warm, self.pool.execute), daemon=True)
        self.process.start()
        child.close()
        self.ready = False
        self.task = None
        self.deadline = 0.0
        self.served = 0

    def restart(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()
        self.start()


class WorkerPool:
    """``map`` tasks over workers; yields (task, result) as results arrive."""

    def __init__(self, execute: Callable, workers: int = 2, timeout: float = 10.0,
                 memory_bytes: Optional[int] = 4 << 30, warm: bool = True,
                 on_lost: Optional[Callable] = None):
        self.context = mp.get_context("spawn")  # a clean interpreter: no inherited torch threads
        self.execute = execute
        self.timeout = timeout
        self.memory_bytes = memory_bytes
        self.warm = warm
        self.on_lost = on_lost or (lambda task, why, status: {"status": status, "stage": "?", "etype": why,
                                                              "message": why, "frames": [], "where": ""})
        self.start_failures = 0
        self.slots = [_Slot(self) for _ in range(max(1, workers))]

    def close(self) -> None:
        for slot in self.slots:
            if slot.process.is_alive():
                slot.process.kill()
            slot.process.join(5)

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def map(self, tasks: Iterable) -> Iterator[tuple]:
        pending = deque(tasks)
        while pending or any(s.task is not None for s in self.slots):
            for slot in self.slots:
                if slot.ready and slot.task is None and slot.served >= RECYCLE_AFTER:
                    slot.restart()
                if slot.ready and slot.task is None and pending:
                    slot.task = pending.popleft()
                    slot.served += 1
                    slot.deadline = time.monotonic() + self.timeout + GRACE
                    slot.conn.send(slot.task)
            yield from self._collect()

    def _collect(self) -> Iterator[tuple]:
        busy = [s for s in self.slots if s.task is not None]
        waiting = [s for s in self.slots if not s.ready]
        deadlines = [s.deadline for s in busy]
        timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else 1.0
        ready = wait([s.conn for s in busy + waiting], timeout)
        for slot in self.slots:
            if slot.conn in ready:
                yield from self._receive(slot)
            elif slot.task is not None and time.monotonic() > slot.deadline:
                task, slot.task = slot.task, None
                slot.restart()
                yield task, self.on_lost(task, f"killed after {self.timeout + GRACE:.0f} s", "hang")

    def _receive(self, slot: _Slot) -> Iterator[tuple]:
        try:
            message = slot.conn.recv()
        except (EOFError, OSError):
            task, slot.task = slot.task, None
            slot.process.join(5)
            code = slot.process.exitcode
            if not slot.ready:
                self.start_failures += 1
                if self.start_failures >= START_FAILURES:
                    raise RuntimeError(f"fuzz workers die while starting (exit code {code}); "
                                       "see their stderr above, or try: python -c 'import netdsl, torch'")
            slot.restart()
            if task is not None:
                yield task, self.on_lost(task, f"worker died (exit code {code})", "other")
            return
        if message == "ready":
            slot.ready = True
            self.start_failures = 0
            return
        task, slot.task = slot.task, None
        yield task, message
