# SPDX-License-Identifier: GPL-3.0-or-later
"""Main-thread callbacks that show backend answers in the panel: results, thumbnails, alignments, captions.

The operators (:mod:`.ops_search`, :mod:`.ops_find`, ...) hand these to :mod:`.jobs` as ``on_done`` /
``on_error``; the update callbacks of the result and caption lists (:mod:`.updates`) call
:func:`on_hit_selected` / :func:`on_caption_selected`.

Search is instant: ``/search`` answers without alignments, the list shows at once, and selecting a hit (the
best one is selected when the results arrive) fetches that hit's alignment with ``POST /alignment`` on a
worker (job kind ``"alignment"``; a newer selection supersedes it). The answer is kept on the hit's row, so
re-selecting it, importing it or colouring by it needs no second request.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict

import bpy

from . import jobs, previews
from .client import BackendClient
from .errors import AddonError, OnlineAccessError
from .heat import matched_words
from .payloads import MAX_RANK, Alignment, AlignmentResult, DescribeResult, SearchHit, SearchPage
from .preferences import favourite_ids, online_access, snapshot
from .prefs import Prefs
from .rna import scene
from .state import bone_map_dict, object_state, set_status, state
from .urls import is_loopback

__all__ = [
    "PREVIEWS_PER_TICK",
    "alignment_to_json",
    "make_client",
    "on_caption_selected",
    "on_hit_selected",
    "show_alignment",
    "show_description",
    "show_error",
    "show_hits",
    "show_page",
    "show_words",
]


#: thumbnails handed to the main thread per timer interval at most (keeps each timer tick short)
PREVIEWS_PER_TICK = 8

#: number of the latest thumbnail download (an older worker stops when it sees a newer one)
_PREVIEW_RUN = [0]

#: explain picture / alignment currently being downloaded (no second request when the selection is set twice)
_PENDING: dict[str, str] = {}


def make_client(prefs: Prefs) -> BackendClient:
    """A client for the configured backend; refuses non-loopback URLs while online access is off."""
    if not online_access() and not is_loopback(prefs.url):
        raise OnlineAccessError(prefs.url)
    return BackendClient(prefs.url, prefs.timeout, prefs.token, online_access())


def show_error(exc: BaseException) -> None:
    """Job error callback: a clear status line, never a traceback in the UI."""
    if isinstance(exc, AddonError):
        set_status(str(exc), error=True)
    else:
        set_status(f"unexpected error: {type(exc).__name__}: {exc}", error=True)


def alignment_to_json(alignment: Alignment) -> str:
    """Alignment -> compact JSON (the grid is dropped: the add-on only needs the strengths)."""
    d = asdict(alignment)
    d["grid"] = []
    return json.dumps(d, separators=(",", ":"))


def show_words(alignment: Alignment | None) -> None:
    """Fill the matched-words list of the panel."""
    st = state()
    st.words.clear()
    if alignment is None:
        return
    for w in matched_words(alignment):
        row = st.words.add()
        row.token, row.score, row.part, row.start, row.end = w.token, w.score, w.part, w.start, w.end


def _fetch_previews(prefs: Prefs, ids: list[str]) -> None:
    """Download thumbnails one by one on a worker; each is shown as soon as it arrives.

    Storing one costs the main thread about half a millisecond, so the worker hands over at most
    :data:`PREVIEWS_PER_TICK` per timer interval: 100 thumbnails from a warm server cache would otherwise
    land in one timer tick and freeze the UI for tens of milliseconds (``scripts/bench_addon_hits.py``).
    """
    client = make_client(prefs)
    _PREVIEW_RUN[0] += 1
    run = _PREVIEW_RUN[0]

    def work(emit):
        start = time.monotonic()
        for i, motion_id in enumerate(ids):
            if _PREVIEW_RUN[0] != run:
                break  # a newer list took over: stop downloading for this one
            try:
                png = client.preview_png(motion_id)
            except AddonError:
                continue  # a missing thumbnail is not worth an error line
            due = start + (i // PREVIEWS_PER_TICK) * jobs.TIMER_INTERVAL
            time.sleep(max(0.0, due - time.monotonic()))
            emit((motion_id, png))
        return len(ids)

    def on_item(item: tuple[str, bytes]) -> None:
        previews.store(previews.key_for_preview(item[0]), item[1])
        set_status(state().status, state().status_is_error)  # redraw

    jobs.get_queue().submit(
        "previews", work, on_done=lambda n: None, on_error=lambda e: None, on_item=on_item
    )


def show_page(text: str, page: SearchPage, prefs: Prefs, *, offset: int = 0, k: int | None = None) -> None:
    """Search callback for a :class:`SearchPage`: remember the "no close match" verdict (of the first page;
    later pages keep it), then :func:`show_hits`."""
    if offset == 0:
        state().no_close_match = bool(page.no_close_match)
        state().searched_as = page.expanded_with[0] if page.expanded_with else ""
    show_hits(text, page.results, prefs, offset=offset, k=k)


def show_hits(
    text: str, hits: list[SearchHit], prefs: Prefs, *, offset: int = 0, k: int | None = None
) -> None:
    """Search callback: fill the result list (or append a page), start the thumbnails, select the best hit.

    Args:
        text: the searched text.
        hits: the answer, best first.
        prefs: the preference snapshot of the search.
        offset: rank of ``hits[0]``; 0 replaces the list, more appends to it ("more results").
        k: hits asked for (a full page means more may follow).
    """
    st = state()
    if offset == 0:
        st.hits.clear()
    st.searched_text = text
    stars = favourite_ids()
    known = {row.motion_id for row in st.hits} if offset else set()
    new = [h for h in hits if h.id not in known]
    for h in new:
        row = st.hits.add()
        row.name = h.id
        row.motion_id, row.caption, row.score, row.duration = h.id, h.caption, h.score, h.duration
        row.dataset, row.source = h.dataset, h.source
        row.segment_start, row.segment_end = h.segment.start, h.segment.end
        row.alignment_json = alignment_to_json(h.alignment) if h.alignment is not None else ""
        row.licence, row.commercial_use, row.tags = h.licence, h.commercial_use, ", ".join(h.tags)
        row.favourite = h.id in stars
        row.confidence = -1.0 if h.confidence is None else h.confidence
    asked = prefs.k if k is None else k
    st.more_available = len(hits) >= asked and offset + len(hits) < MAX_RANK
    total = len(st.hits)
    if offset:
        set_status(
            f'{total} results for "{text}" ({len(new)} more)' if new else f'no more results for "{text}"'
        )
    else:
        set_status(
            f'{total} result{"s" if total != 1 else ""} for "{text}"' if hits else f'no results for "{text}"'
        )
    missing = [row.motion_id for row in st.hits if not previews.has(previews.key_for_preview(row.motion_id))]
    if missing:  # a page appended while thumbnails were still coming: this job fetches the rest of them too
        _fetch_previews(prefs, missing)
    if hits and offset == 0:
        st.hit_index = 0
        on_hit_selected(bpy.context)


def show_alignment(text: str, result: AlignmentResult) -> None:
    """Alignment callback: keep it on its hit's row; show its words if that hit is still selected."""
    st = state()
    if st.searched_text != text:
        return  # a new search replaced the list meanwhile
    for i, row in enumerate(st.hits):
        if row.motion_id == result.id:
            row.alignment_json = alignment_to_json(result.alignment)
            if i == st.hit_index:
                show_words(result.alignment)
    set_status(st.status, st.status_is_error)  # redraw


def _fetch_alignment(client: BackendClient, text: str, motion_id: str) -> None:
    """Ask ``POST /alignment`` for the selected hit on a worker (a newer selection supersedes it)."""
    queue = jobs.get_queue()
    key = f"{motion_id}\0{text}"
    if _PENDING.get("alignment") == key and queue.busy("alignment"):
        return  # already on its way
    _PENDING["alignment"] = key
    queue.submit(
        "alignment", lambda emit: client.alignment(text, motion_id),
        on_done=lambda result: show_alignment(text, result), on_error=show_error,
    )  # fmt: skip


def on_hit_selected(context: bpy.types.Context) -> None:
    """Selection changed: show its matched words (fetching its alignment first if needed) and its picture."""
    st = state(context)
    if not (0 <= st.hit_index < len(st.hits)):
        show_words(None)
        return
    hit = st.hits[st.hit_index]
    text = st.searched_text or st.query
    show_words(Alignment.from_json(json.loads(hit.alignment_json)) if hit.alignment_json else None)
    key = previews.key_for_explain(hit.motion_id, text)
    if hit.alignment_json and previews.has(key):
        st.explain_key = key
        return
    try:
        client = make_client(snapshot(context))
    except AddonError as exc:
        show_error(exc)
        return
    motion_id = hit.motion_id
    if not hit.alignment_json:
        _fetch_alignment(client, text, motion_id)
    if previews.has(key):
        st.explain_key = key
        return
    queue = jobs.get_queue()
    if _PENDING.get("explain") == key and queue.busy("explain"):
        return  # already on its way (selection set twice)
    _PENDING["explain"] = key

    def done(png: bytes) -> None:
        previews.store(key, png)
        state().explain_key = key
        set_status(state().status, state().status_is_error)

    queue.submit(
        "explain", lambda emit: client.explain_png(text, motion_id), on_done=done, on_error=show_error
    )


def on_caption_selected(context: bpy.types.Context) -> None:
    """A describe caption was picked: show its words and colour the described armature by it."""
    st = state(context)
    if not (0 <= st.caption_index < len(st.captions)):
        return
    cap = st.captions[st.caption_index]
    alignment = Alignment.from_json(json.loads(cap.alignment_json))
    show_words(alignment)
    obj = context.active_object
    if obj is None or obj.type != "ARMATURE" or not object_state(obj).alignment_json:
        return
    ost = object_state(obj)
    if ost.text == cap.text and ost.alignment_json == cap.alignment_json:
        return
    from .anim.colouring import apply_colouring
    from .anim.motion import scene_fps

    ost.text, ost.alignment_json = cap.text, cap.alignment_json
    if ost.colouring:
        apply_colouring(
            obj, alignment, bone_map_dict(obj), ost.frame_start, scene_fps(scene(context)), text=cap.text
        )


def show_description(obj_name: str, frame_start: int, result: DescribeResult, colour: bool = True) -> None:
    """Describe callback: list the captions and colour the armature by the best one."""
    st = state()
    st.captions.clear()
    st.similar.clear()
    for h in result.similar_motions:
        row = st.similar.add()
        row.name = h.id
        row.motion_id, row.caption, row.score, row.duration, row.dataset = (
            h.id,
            h.caption,
            h.score,
            h.duration,
            h.dataset,
        )
    for c in result.captions:
        row = st.captions.add()
        row.name = c.text[:60]
        row.text, row.score, row.alignment_json = c.text, c.score, alignment_to_json(c.alignment)
    if not result.captions:
        set_status("the backend proposed no caption")
        return
    best = result.captions[0]
    show_words(best.alignment)
    obj = bpy.data.objects.get(obj_name)
    if obj is not None:
        ost = object_state(obj)
        ost.text, ost.alignment_json, ost.frame_start = (
            best.text,
            st.captions[0].alignment_json,
            float(frame_start),
        )
        if colour:
            from .anim.colouring import apply_colouring
            from .anim.motion import scene_fps

            apply_colouring(
                obj,
                best.alignment,
                bone_map_dict(obj),
                frame_start,
                scene_fps(bpy.context.scene),
                text=best.text,
            )
    st.caption_index = 0
    set_status(f'best description: "{best.text}" ({best.score:.3f})')
