# SPDX-License-Identifier: GPL-3.0-or-later
"""Operators for finding: the dataset / tag filter menus (``GET /library``) and "more results" paging.

The filters themselves (duration range, datasets, tags, commercial-safe) are panel properties that
``MOTIONSEARCH_OT_search`` sends with the query (``state.search_filters``). "More results" asks the
same query with the same filters for the next page (``offset`` = hits listed so far) and appends it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import bpy

from . import jobs
from .client import BackendClient
from .errors import AddonError
from .payloads import MAX_RANK, LibraryInfo
from .preferences import snapshot
from .results import make_client, show_error, show_page
from .state import set_status, state

if TYPE_CHECKING:
    from bpy.stub_internal.rna_enums import OperatorReturnItems

__all__ = [
    "MOTIONSEARCH_OT_library_refresh",
    "MOTIONSEARCH_OT_more_results",
    "classes",
    "fetch_library",
    "show_library",
]


def show_library(info: LibraryInfo) -> None:
    """``GET /library`` callback: fill the dataset and tag menus (ticks of entries still present are kept)."""
    st = state()
    for rows, entries in ((st.datasets, info.datasets), (st.tags, info.tags)):
        ticked = {r.name for r in rows if r.use}
        rows.clear()
        for e in entries:
            row = rows.add()
            row.name, row.clips = e.name, e.clips
            row.commercial_use = bool(getattr(e, "commercial_use", False))
            row.use = e.name in ticked
    st.library_size = info.size
    set_status(st.status, st.status_is_error)  # redraw


def fetch_library(client: BackendClient, *, quiet: bool = False) -> None:
    """Ask ``GET /library`` on a worker; ``quiet`` keeps a failure off the status line (automatic fetches)."""

    def failed(exc: BaseException) -> None:
        if not quiet:
            show_error(exc)

    jobs.get_queue().submit(
        "library", lambda emit: client.library_info(), on_done=show_library, on_error=failed
    )


class MOTIONSEARCH_OT_library_refresh(bpy.types.Operator):
    """Load the served library's datasets and tags into the filter menus (GET /library)"""

    bl_idname = "motion_search.library_refresh"
    bl_label = "Refresh Filters"
    bl_options = {"REGISTER"}  # noqa: RUF012 - Blender reads a set

    def execute(self, context: bpy.types.Context) -> set[OperatorReturnItems]:
        try:
            client = make_client(snapshot(context))
        except AddonError as exc:
            show_error(exc)
            return {"CANCELLED"}
        set_status(f"loading the library's datasets and tags from {client.url} ...")

        def done(info: LibraryInfo) -> None:
            show_library(info)
            set_status(f"library: {info.size} clips, {len(info.datasets)} datasets, {len(info.tags)} tags")

        jobs.get_queue().submit(
            "library", lambda emit: client.library_info(), on_done=done, on_error=show_error
        )
        return {"FINISHED"}


class MOTIONSEARCH_OT_more_results(bpy.types.Operator):
    """Fetch the next page of results for the listed search (same text and filters)"""

    bl_idname = "motion_search.more_results"
    bl_label = "More Results"
    bl_options = {"REGISTER"}  # noqa: RUF012 - Blender reads a set

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        st = state(context)
        return bool(st.searched_text) and st.more_available and len(st.hits) < MAX_RANK

    def execute(self, context: bpy.types.Context) -> set[OperatorReturnItems]:
        st = state(context)
        text, offset = st.searched_text, len(st.hits)
        prefs = snapshot(context)
        k = min(prefs.k, MAX_RANK - offset)
        if not text or k <= 0:
            set_status(f"no more results: a search lists at most {MAX_RANK} hits", error=True)
            return {"CANCELLED"}
        try:
            client = make_client(prefs)
            filters = json.loads(st.searched_filters) if st.searched_filters else {}
        except (AddonError, ValueError) as exc:
            show_error(exc if isinstance(exc, AddonError) else AddonError(f"stored search filters: {exc}"))
            return {"CANCELLED"}
        set_status(f'fetching results {offset + 1}-{offset + k} for "{text}" ...')
        jobs.get_queue().submit(
            "search", lambda emit: client.search_page(text, k, offset=offset, **filters),
            on_done=lambda page: show_page(text, page, prefs, offset=offset, k=k), on_error=show_error,
        )  # fmt: skip
        return {"FINISHED"}


classes = (MOTIONSEARCH_OT_library_refresh, MOTIONSEARCH_OT_more_results)
