"""A worker thread with its own database connection that runs jobs for the event loop.

Why not `run_in_executor` or anyio's thread pool: with the GIL, a thread doing a job
while the loop serves other requests makes two runnable Python threads. Each SQLite
call releases the GIL and must win it back from the loop, and each of the loop's
callbacks wakes the waiting thread; on two cores that ping-pong nearly doubled the CPU
per answer (730 µs instead of 450) and lost a third of the answers per second.

So jobs go in batches: the requests the loop takes up in one round put their jobs
aside; at the end of the round the loop hands them to the thread at once and waits,
with the GIL released, up to LOOP_WAIT (a normal read or write takes well under 1 ms)
for all of them, so one Python thread runs at a time and a round costs one hand-over.
A job that takes longer (a lock held by another process, a slow disk) goes on in the
thread while the loop serves others and tells the loop when done; while a job has been
running longer than LOOP_WAIT, the loop does not wait for the lane at all. The loop is
never held longer than LOOP_WAIT.

The thread opens its connection on its first job (a sqlite3 connection must not be
used by two threads at once) and closes it when the lane stops, or when the lane's
owner is garbage-collected.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any, Generic, TypeVar

from rsvp.web.stores import DatabaseBusyError, RequestStore, is_busy

T = TypeVar("T")
# Seconds the loop waits for a round's jobs before serving others meanwhile.
LOOP_WAIT = 0.005


class _Job(Generic[T]):
    """One request's work, its outcome, and how the loop learns of it."""

    __slots__ = ("deadline", "done", "error", "future", "late", "mutex", "ready", "result",
                 "work")

    def __init__(self, work: Callable[[RequestStore], T], deadline: float | None,
                 future: asyncio.Future[None]) -> None:
        self.work, self.deadline, self.future = work, deadline, future
        self.done = self.late = False
        self.result: T | None = None
        self.error: BaseException | None = None
        # Held until the job is done: the loop's short wait acquires it.
        self.ready = threading.Lock()
        self.ready.acquire()
        # Guards `done` against `late` (the loop stopped waiting: tell it when done).
        self.mutex = threading.Lock()

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]  # set when error is None


class Lane:
    """One thread running jobs in order on a connection `opener` makes; a job with a
    deadline waits for a lock held elsewhere only until then (`wait` at most)."""

    def __init__(self, name: str, opener: Callable[[], RequestStore], wait: float) -> None:
        self._name, self._opener, self._wait = name, opener, wait
        self._jobs: SimpleQueue[_Job[Any] | None] = SimpleQueue()
        self._thread: threading.Thread | None = None
        # When the job in hand started (0.0: none), written by the thread.
        self._since = [0.0]
        # Jobs of the loop's current round, per loop (tests run several, one at a time).
        self._rounds: dict[asyncio.AbstractEventLoop, list[_Job[Any]]] = {}
        # Stop the thread once nobody holds the lane, as ThreadPoolExecutor does.
        self._finalizer = weakref.finalize(self, self._jobs.put, None)

    async def run(self, work: Callable[[RequestStore], T], deadline: float | None = None) -> T:
        """Run `work(store)` in the lane's thread and return its result."""
        if not self._finalizer.alive:
            raise RuntimeError(f"{self._name} is stopped")
        if self._thread is None:
            self._thread = threading.Thread(
                target=_serve, name=self._name, daemon=True,
                args=(self._jobs, self._opener, self._wait, self._since))
            self._thread.start()
        loop = asyncio.get_running_loop()
        job = _Job(work, deadline, loop.create_future())
        pending = self._rounds.get(loop)
        if pending is None:
            pending = self._rounds[loop] = []
            loop.call_soon(self._hand_over, loop)
        pending.append(job)
        await job.future
        return job.outcome()

    def stop(self) -> None:
        """Let the queued jobs finish, then end the thread and close its connection."""
        self._finalizer()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        """Give the round's jobs to the thread, wait for them a little, settle the done."""
        jobs = self._rounds.pop(loop)
        for job in jobs:
            self._jobs.put(job)
        since = self._since[0]
        if not (since and time.monotonic() - since > LOOP_WAIT):
            jobs[-1].ready.acquire(timeout=LOOP_WAIT)  # in order: the last is done last
        for job in jobs:
            with job.mutex:
                job.late = not job.done
            if not job.late:
                _settle(job.future)


def _serve(jobs: SimpleQueue[_Job[Any] | None], opener: Callable[[], RequestStore],
           wait: float, since: list[float]) -> None:
    """Run jobs until the sentinel None; the thread's connection lives in this frame."""
    store: RequestStore | None = None
    full_ms = waiting_ms = int(wait * 1000)
    try:
        while (job := jobs.get()) is not None:
            since[0] = time.monotonic()
            try:
                if store is None:
                    store = opener()
                if job.deadline is not None:
                    # Shorten the lock wait by the time the job queued behind others (and
                    # give it back after), so a write answers within `wait` of its arrival.
                    # A few milliseconds of queueing is normal: not worth a statement.
                    wanted = max(0, min(full_ms, int((job.deadline - time.monotonic()) * 1000)))
                    if abs(wanted - waiting_ms) > 50:
                        store.set_wait(wanted / 1000)
                        waiting_ms = wanted
                job.result = job.work(store)
            except BaseException as error:  # noqa: BLE001 - raised in the awaiting request
                if isinstance(error, sqlite3.OperationalError) and is_busy(error):
                    busy = DatabaseBusyError()
                    busy.__cause__ = error
                    error = busy
                job.error = error
            finally:
                # Never hand the next job a transaction left open (a failed COMMIT).
                if store is not None and store.conn.in_transaction:
                    store.conn.rollback()
            since[0] = 0.0
            with job.mutex:
                job.done = True
                late = job.late
            job.ready.release()
            if late:
                job.future.get_loop().call_soon_threadsafe(_settle, job.future)
    finally:
        if store is not None:
            store.close()


def _settle(future: asyncio.Future[None]) -> None:
    if not future.cancelled():  # the client went away meanwhile
        future.set_result(None)
