# SPDX-License-Identifier: GPL-3.0-or-later
"""The one threading module: worker threads, a result queue, and the timer that drains it.

Blender's data may only be touched on the main thread, and the UI must never wait for HTTP. So:

* :meth:`JobQueue.submit` runs ``work(emit)`` on a daemon thread. ``work`` must not touch bpy: it gets
  plain values (a :class:`~.prefs.Prefs` snapshot, numpy arrays) and returns plain values.
* The thread puts its result (or exception) on a :class:`queue.Queue`; ``emit(item)`` puts partial results
  (e.g. one thumbnail at a time).
* :meth:`JobQueue.drain` runs on the main thread and calls the job's callbacks. In Blender it is called by
  :func:`timer_tick`, registered with ``bpy.app.timers``; timers never fire in a headless ``bpy`` session,
  so tests call :func:`timer_tick` (or :meth:`JobQueue.wait`) directly.

Each job has a *kind*; a new job of the same kind supersedes the old one, whose late results are dropped
(a second search while the first one is running shows only the second one's results).

This module imports bpy only inside :func:`start_timer` / :func:`stop_timer`, so it is testable without
Blender.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["TIMER_INTERVAL", "JobQueue", "get_queue", "start_timer", "stop_timer", "timer_tick"]

#: Seconds between two drains of the result queue while Blender runs.
TIMER_INTERVAL = 0.1

Work = Callable[[Callable[[Any], None]], Any]


@dataclass
class _Message:
    token: int
    kind: str
    final: bool
    value: Any
    error: BaseException | None


@dataclass
class _Job:
    on_done: Callable[[Any], None]
    on_error: Callable[[BaseException], None] | None
    on_item: Callable[[Any], None] | None


class JobQueue:
    """Run blocking work on threads; deliver results on the thread that calls :meth:`drain`."""

    def __init__(self) -> None:
        self._messages: queue.Queue[_Message] = queue.Queue()
        self._jobs: dict[int, _Job] = {}
        self._latest: dict[str, int] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.errors: list[str] = []  # exceptions raised by callbacks (kept for the status line / tests)

    def submit(
        self,
        kind: str,
        work: Work,
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None] | None = None,
        on_item: Callable[[Any], None] | None = None,
    ) -> int:
        """Start ``work(emit)`` on a daemon thread.

        Args:
            kind: job kind; a newer job of the same kind makes this one's results stale.
            work: blocking function (no bpy!) taking ``emit``; its return value goes to ``on_done``.
            on_done: main-thread callback with the result.
            on_error: main-thread callback with the exception ``work`` raised.
            on_item: main-thread callback for each ``emit(item)``.

        Returns:
            The job's token.
        """
        with self._lock:
            token = next(self._ids)
            self._latest[kind] = token
            self._jobs[token] = _Job(on_done, on_error, on_item)

        def emit(item: Any) -> None:
            self._messages.put(_Message(token, kind, False, item, None))

        def run() -> None:
            try:
                value = work(emit)
            except BaseException as exc:  # noqa: BLE001 - handed to the main thread, never lost
                self._messages.put(_Message(token, kind, True, None, exc))
            else:
                self._messages.put(_Message(token, kind, True, value, None))

        threading.Thread(target=run, name=f"motion-search-{kind}-{token}", daemon=True).start()
        return token

    def busy(self, kind: str | None = None) -> bool:
        """Whether a job (of ``kind``) is still waiting to deliver its result."""
        with self._lock:
            if kind is None:
                return bool(self._jobs)
            token = self._latest.get(kind)
            return token is not None and token in self._jobs

    def cancel(self, kind: str | None = None) -> None:
        """Forget pending jobs (of ``kind``): their results will be dropped when they arrive."""
        with self._lock:
            if kind is None:
                self._latest.clear()
                self._jobs.clear()
            elif kind in self._latest:
                self._jobs.pop(self._latest.pop(kind), None)

    def drain(self, max_messages: int = 100) -> int:
        """Deliver queued results to their callbacks (call on the main thread).

        Args:
            max_messages: stop after this many (keeps one timer tick short).

        Returns:
            Number of messages handled (stale ones included).
        """
        handled = 0
        while handled < max_messages:
            try:
                msg = self._messages.get_nowait()
            except queue.Empty:
                break
            handled += 1
            with self._lock:
                job = self._jobs.get(msg.token)
                stale = job is None or self._latest.get(msg.kind) != msg.token
                if msg.final:
                    self._jobs.pop(msg.token, None)
                    if self._latest.get(msg.kind) == msg.token:
                        del self._latest[msg.kind]
            if stale or job is None:
                continue
            try:
                if not msg.final:
                    if job.on_item is not None:
                        job.on_item(msg.value)
                elif msg.error is not None:
                    if job.on_error is not None:
                        job.on_error(msg.error)
                    else:
                        self.errors.append(f"{msg.kind}: {msg.error}")
                else:
                    job.on_done(msg.value)
            except Exception as exc:  # noqa: BLE001 - a failing callback must not kill the timer
                self.errors.append(f"{msg.kind} callback failed: {type(exc).__name__}: {exc}")
        return handled

    def wait(self, timeout: float = 30.0, kind: str | None = None) -> bool:
        """Drain until no job (of ``kind``) is pending or ``timeout`` seconds pass (tests, scripts).

        Returns:
            True when everything was delivered in time.
        """
        deadline = time.monotonic() + timeout
        while True:
            self.drain()
            if not self.busy(kind):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)


_STATE: dict[str, JobQueue] = {}


def get_queue() -> JobQueue:
    """The add-on's job queue (created on first use)."""
    if "queue" not in _STATE:
        _STATE["queue"] = JobQueue()
    return _STATE["queue"]


def timer_tick() -> float:
    """``bpy.app.timers`` callback: drain the queue; returns the delay until the next call."""
    get_queue().drain()
    return TIMER_INTERVAL


def start_timer() -> None:
    """Register :func:`timer_tick` with Blender (idempotent)."""
    import bpy

    if not bpy.app.timers.is_registered(timer_tick):
        bpy.app.timers.register(timer_tick, first_interval=TIMER_INTERVAL, persistent=True)


def stop_timer() -> None:
    """Unregister :func:`timer_tick` and forget pending jobs."""
    import bpy

    if bpy.app.timers.is_registered(timer_tick):
        bpy.app.timers.unregister(timer_tick)
    get_queue().cancel()
