# SPDX-License-Identifier: GPL-3.0-or-later
"""Add a folder to the library: FBX / BVH files imported and sampled one by one, ASF/AMC uploaded as files.

:class:`FolderRun` does the work one file per :meth:`FolderRun.step` on the main thread: an ``.fbx`` /
``.bvh`` is imported with Blender's own importer into a clean temporary scene, each of its actions is
sampled, everything the import created is deleted (``anim/batch.py``), and the joints go to ``POST /library``
on a worker; an ``.amc`` goes up as a multipart upload with its ``.asf``. At most two uploads are in flight
while the next file is read. The operator drives the steps from a window-manager timer as a modal operator
(progress bar + status line; Esc or the panel's cancel button stops before the next file), or all at once
when run from a script (``EXEC_DEFAULT``). Timers never fire headless, so tests call :meth:`FolderRun.step`.
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import bpy

from . import jobs
from .client import BackendClient
from .errors import AddonError
from .folder import FolderItem, Outcome, scan_folder
from .library import ClipInfo, add_under_free_id
from .ops_library import clip_info, library_state, show_report
from .preferences import snapshot
from .results import make_client
from .rna import window_manager
from .state import set_status

if TYPE_CHECKING:
    from bpy.stub_internal.rna_enums import OperatorReturnItems

__all__ = [
    "MAX_IN_FLIGHT",
    "FolderRun",
    "MOTIONSEARCH_OT_library_add_folder",
    "MOTIONSEARCH_OT_library_cancel",
    "classes",
]

#: uploads that may be out before the next file is read: 1, so Blender's importer never runs while a worker
#: thread sends (bpy 4.2 segfaulted inside the BVH importer with an upload running on a worker, 2026-12-02);
#: the upload still runs on a worker, so the panel stays responsive
MAX_IN_FLIGHT = 1


class FolderRun:
    """One "add a folder" run: the files, what happened to each, and the uploads still out."""

    def __init__(self, client: BackendClient, folder: str, recursive: bool = True) -> None:
        self.client = client
        self.items, skipped = scan_folder(folder, recursive)
        self.outcomes: list[Outcome] = [Outcome(i.name) for i in self.items] + skipped
        self._by_name = {o.name: o for o in self.outcomes}
        self.pos = 0
        self.in_flight = 0
        self.cancelled = False
        self._kind = f"library-folder-{id(self)}-{time.monotonic_ns()}"

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def finished(self) -> bool:
        return (self.cancelled or self.pos >= len(self.items)) and self.in_flight == 0

    def cancel(self) -> None:
        """Read no further file; the uploads already out still report."""
        if not self.cancelled:
            self.cancelled = True
            for item in self.items[self.pos :]:
                self._by_name[item.name].reason = "not read: cancelled"

    def step(self, context: bpy.types.Context) -> bool:
        """Read and send the next file unless too many uploads are out; returns :attr:`finished`."""
        if self.cancelled or self.pos >= len(self.items) or self.in_flight >= MAX_IN_FLIGHT:
            return self.finished
        item = self.items[self.pos]
        self.pos += 1
        outcome = self._by_name[item.name]
        try:
            self._send(context, item, outcome)
        except AddonError as exc:
            outcome.reason = str(exc)
        return self.finished

    def _send(self, context: bpy.types.Context, item: FolderItem, outcome: Outcome) -> None:
        st = library_state(context)
        stem = Path(item.name).with_suffix("").as_posix().replace("/", "_")
        if item.kind == "amc":
            info = clip_info(st, stem, single=False)
            client, path, asf = self.client, item.path, item.asf
            send = partial(client.add_file, path, asf=asf)
            self._submit(outcome, lambda emit: ([add_under_free_id(send, info).id], []))
            return
        from .anim.batch import sample_file

        clips = sample_file(context, item.path, item.kind, stem)
        payload: list[tuple[ClipInfo, object]] = [
            (clip_info(st, c.name, single=False), c.motion) for c in clips
        ]
        client = self.client

        def work(emit):
            ids, errors = [], []
            for info, sampled in payload:
                try:
                    send = partial(client.add_joints, sampled.joints, sampled.fps)
                    ids.append(add_under_free_id(send, info).id)
                except AddonError as exc:
                    errors.append(f"{info.id}: {exc}" if len(payload) > 1 else str(exc))
            if errors and not ids:
                raise AddonError("; ".join(errors))
            return ids, errors

        self._submit(outcome, work)

    def _submit(self, outcome: Outcome, work) -> None:
        self.in_flight += 1

        def done(result: tuple[list[str], list[str]]) -> None:
            self.in_flight -= 1
            outcome.added += result[0]
            outcome.reason = "; ".join(result[1])

        def failed(exc: BaseException) -> None:
            self.in_flight -= 1
            outcome.reason = str(exc) if isinstance(exc, AddonError) else f"{type(exc).__name__}: {exc}"

        jobs.get_queue().submit(f"{self._kind}-{self.pos}", work, on_done=done, on_error=failed)

    def progress_text(self) -> str:
        current = self.items[self.pos - 1].name if 0 < self.pos <= len(self.items) else ""
        return f"adding {min(self.pos, self.total)}/{self.total}: {current}" if current else "adding ..."


_RUNS: dict[str, FolderRun] = {}


class MOTIONSEARCH_OT_library_add_folder(bpy.types.Operator):
    """Add every FBX, BVH and ASF/AMC file of a folder to the library (imported in a clean temporary scene,
    sampled, sent, and the temporary data deleted)"""

    bl_idname = "motion_search.library_add_folder"
    bl_label = "Add Folder to Library"
    bl_options = {"REGISTER"}  # noqa: RUF012 - Blender reads a set

    directory: bpy.props.StringProperty(name="Folder", subtype="DIR_PATH")  # type: ignore[valid-type]
    recursive: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Sub-folders", default=True, description="Also add the files of sub-folders"
    )
    filter_folder: bpy.props.BoolProperty(default=True, options={"HIDDEN", "SKIP_SAVE"})  # type: ignore[valid-type]
    interactive: bpy.props.BoolProperty(default=False, options={"HIDDEN", "SKIP_SAVE"})  # type: ignore[valid-type]

    _timer: bpy.types.Timer | None = None

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[OperatorReturnItems]:
        if library_state(context).busy:
            self.report({"WARNING"}, "a folder is being added already (Esc cancels it)")
            return {"CANCELLED"}
        self.interactive = True
        window_manager(context).fileselect_add(self)
        return {"RUNNING_MODAL"}

    def _start(self, context: bpy.types.Context) -> FolderRun | None:
        try:
            run = FolderRun(make_client(snapshot(context)), bpy.path.abspath(self.directory), self.recursive)
        except (AddonError, NotADirectoryError) as exc:
            self.report({"WARNING"}, str(exc))
            set_status(str(exc), error=True)
            return None
        st = library_state(context)
        st.busy, st.cancel_requested, st.progress = True, False, f"adding 0/{run.total}"
        st.reports.clear()
        return run

    def execute(self, context: bpy.types.Context) -> set[OperatorReturnItems]:
        run = self._start(context)
        if run is None:
            return {"CANCELLED"}
        if self.interactive and context.window is not None:
            _RUNS["current"] = run
            wm = window_manager(context)
            wm.progress_begin(0, max(run.total, 1))
            self._timer = wm.event_timer_add(0.05, window=context.window)
            wm.modal_handler_add(self)
            return {"RUNNING_MODAL"}
        while not run.finished:  # a script: all at once (uploads still on workers)
            run.step(context)
            jobs.get_queue().drain()
            if run.in_flight >= MAX_IN_FLIGHT or run.pos >= run.total:
                time.sleep(0.01)
        return self._finish(context, run)

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> set[OperatorReturnItems]:
        run = _RUNS.get("current")
        if run is None:
            return {"CANCELLED"}
        st = library_state(context)
        if event.type == "ESC" or st.cancel_requested:
            run.cancel()
        if event.type != "TIMER":
            return {"PASS_THROUGH"} if event.type != "ESC" else {"RUNNING_MODAL"}
        jobs.get_queue().drain()
        run.step(context)
        wm = window_manager(context)
        wm.progress_begin(0, max(run.total, 1))  # the sampler ends its own progress bar
        wm.progress_update(run.pos)
        st.progress = run.progress_text() + ("  (cancelling)" if run.cancelled else "  (Esc cancels)")
        if context.workspace is not None:
            context.workspace.status_text_set(f"Motion Search: {st.progress}")
        if not run.finished:
            return {"RUNNING_MODAL"}
        if self._timer is not None:
            wm.event_timer_remove(self._timer)
            self._timer = None
        wm.progress_end()
        if context.workspace is not None:
            context.workspace.status_text_set(None)
        _RUNS.pop("current", None)
        return self._finish(context, run)

    def _finish(self, context: bpy.types.Context, run: FolderRun) -> set[OperatorReturnItems]:
        st = library_state(context)
        st.busy, st.progress = False, ""
        summary = show_report(run.outcomes, run.cancelled)
        bad = [o for o in run.outcomes if not o.ok]
        self.report({"WARNING"} if bad else {"INFO"}, summary)
        for o in bad[:20]:
            self.report({"WARNING"}, o.line())
        return {"FINISHED"} if any(o.ok for o in run.outcomes) else {"CANCELLED"}


class MOTIONSEARCH_OT_library_cancel(bpy.types.Operator):
    """Stop adding the folder before the next file (uploads already sent still finish)"""

    bl_idname = "motion_search.library_cancel"
    bl_label = "Cancel Adding"
    bl_options = {"REGISTER", "INTERNAL"}  # noqa: RUF012 - Blender reads a set

    def execute(self, context: bpy.types.Context) -> set[OperatorReturnItems]:
        library_state(context).cancel_requested = True
        return {"FINISHED"}


classes = (MOTIONSEARCH_OT_library_add_folder, MOTIONSEARCH_OT_library_cancel)
