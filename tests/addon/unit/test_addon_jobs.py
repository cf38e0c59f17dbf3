"""Contract of ``addon/jobs.py`` with real threads (no bpy needed: the timer only calls ``drain``).

* Work runs on another thread; callbacks run only inside ``drain`` on the calling (main) thread.
* A newer job of the same kind makes the older one's results stale (dropped); other kinds are unaffected.
* Exceptions of the work reach ``on_error``; ``emit`` items arrive in order before ``on_done``.
* A failing callback is recorded and does not stop the queue; ``timer_tick`` drains and reschedules.
"""

from __future__ import annotations

import threading
import time

from addon import jobs


def test_results_are_delivered_on_the_draining_thread() -> None:
    q = jobs.JobQueue()
    seen: list[tuple[str, object]] = []
    release = threading.Event()

    def work(emit):
        release.wait(5)
        return threading.get_ident()

    q.submit("search", work, on_done=lambda worker: seen.append(("done", worker)))
    assert q.busy("search") and q.drain() == 0 and seen == []
    release.set()
    assert q.wait(5)
    assert seen[0][0] == "done" and seen[0][1] != threading.get_ident()
    assert not q.busy()


def test_newer_job_supersedes_older_of_same_kind() -> None:
    q = jobs.JobQueue()
    got: list[str] = []
    gate = threading.Event()

    def slow(emit):
        gate.wait(5)
        return "old"

    q.submit("search", slow, on_done=got.append)
    q.submit("search", lambda emit: "new", on_done=got.append)
    q.submit("health", lambda emit: "other kind", on_done=got.append)
    gate.set()
    assert q.wait(5)
    time.sleep(0.05)
    q.drain()
    assert sorted(got) == ["new", "other kind"]


def test_errors_items_and_failing_callbacks() -> None:
    q = jobs.JobQueue()
    events: list[object] = []

    def work(emit):
        for i in range(3):
            emit(i)
        raise ValueError("backend said no")

    q.submit(
        "previews",
        work,
        on_done=events.append,
        on_error=lambda e: events.append(str(e)),
        on_item=events.append,
    )
    assert q.wait(5)
    assert events == [0, 1, 2, "backend said no"]

    def boom(value: object) -> None:
        raise RuntimeError("callback bug")

    q.submit("a", lambda emit: 1, on_done=boom)
    q.submit("b", lambda emit: 2, on_done=events.append)
    assert q.wait(5)
    assert events[-1] == 2 and any("callback bug" in e for e in q.errors)


def test_cancel_and_timer_tick() -> None:
    q = jobs.get_queue()
    got: list[int] = []
    gate = threading.Event()
    q.submit("import", lambda emit: gate.wait(5) and 1, on_done=got.append)
    q.cancel("import")
    gate.set()
    time.sleep(0.1)
    assert jobs.timer_tick() == jobs.TIMER_INTERVAL
    assert got == [] and not q.busy("import")
    q.submit("import", lambda emit: 7, on_done=got.append)
    deadline = time.monotonic() + 5
    while not got and time.monotonic() < deadline:
        jobs.timer_tick()
        time.sleep(0.01)
    assert got == [7]
