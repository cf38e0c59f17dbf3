"""Instant search in real Blender: the hit list comes without alignments, the selected hit's alignment is
fetched on demand (``POST /alignment``) by a worker, off the UI thread, against a real backend on loopback.

* When the search result is delivered, the list is filled and no hit has an alignment yet; selecting the
  best hit has already submitted an ``alignment`` job (nothing waited for it), and its words are empty.
* Draining the queue (the timer body; timers never fire headless) lands that alignment on the hit's row
  only, equal to what the server answers for that (text, clip), and lists its words.
* Selecting another hit fetches its alignment the same way; re-selecting a fetched hit shows its words at
  once and sends no request; a selection superseded by a newer one before its answer arrived is dropped.
* Importing a hit whose alignment has not been fetched yet fetches it in the import's worker and colours.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from types import ModuleType

import bpy

ADDON_MODULE = "bl_ext.user_default.motion_search"
QUERY = "a person waves with the left hand"


def _mod() -> ModuleType:
    return sys.modules[ADDON_MODULE]


def _served_alignment(backend, text: str, clip_id: str) -> dict:
    req = urllib.request.Request(
        f"{backend.url}/alignment", data=json.dumps({"text": text, "id": clip_id}).encode(),
        headers={"Content-Type": "application/json"}, method="POST",
    )  # fmt: skip
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


def _search(st) -> None:
    st.query = QUERY
    assert bpy.ops.motion_search.search() == {"FINISHED"}
    queue = _mod().jobs.get_queue()
    while queue.busy("search"):  # drain one message at a time, so nothing after the search lands
        queue.drain(max_messages=1)
    assert not st.status_is_error, st.status


def test_hits_arrive_first_and_the_selected_alignment_follows(addon, scene, prefs, backend, drain) -> None:
    st = bpy.context.window_manager.motion_search
    queue = _mod().jobs.get_queue()
    _search(st)
    assert len(st.hits) == min(5, len(backend.clips)) and st.hit_index == 0
    assert all(h.alignment_json == "" for h in st.hits)  # /search answered without alignments
    assert queue.busy("alignment") and len(st.words) == 0  # the best hit's alignment is on its way
    drain(120)
    assert not st.status_is_error, st.status
    first = st.hits[0]
    served = _served_alignment(backend, QUERY, first.motion_id)["alignment"]
    stored = json.loads(first.alignment_json)
    assert stored["tokens"] == served["tokens"] and stored["joint_strength"] == served["joint_strength"]
    assert stored["joint_window_strength"] == served["joint_window_strength"]
    assert sorted(w.token for w in st.words) == sorted(served["tokens"])
    assert all(h.alignment_json == "" for h in list(st.hits)[1:])  # only the selected hit was explained
    assert queue.errors == []


def test_selecting_fetches_reselecting_reuses_newer_selection_wins(
    addon, scene, prefs, backend, drain
) -> None:
    st = bpy.context.window_manager.motion_search
    queue = _mod().jobs.get_queue()
    _search(st)
    drain(120)
    assert len(st.hits) >= 4
    st.hit_index = 2  # the update callback submits the fetch and returns; the words wait for it
    assert queue.busy("alignment") and st.hits[2].alignment_json == "" and len(st.words) == 0
    drain(120)
    third = st.hits[2]
    served = _served_alignment(backend, QUERY, third.motion_id)["alignment"]
    assert json.loads(third.alignment_json)["joint_strength"] == served["joint_strength"]
    assert sorted(w.token for w in st.words) == sorted(served["tokens"])
    st.hit_index = 0  # fetched before: words at once, no request
    assert not queue.busy("alignment") and len(st.words) > 0
    st.hit_index = 1
    st.hit_index = 3  # supersedes the fetch for hit 1 before its answer is delivered
    drain(120)
    assert st.hits[1].alignment_json == "" and st.hits[3].alignment_json != ""
    assert json.loads(st.hits[3].alignment_json)["tokens"] == served["tokens"]
    assert queue.errors == [] and not st.status_is_error, st.status


def test_import_before_the_alignment_arrived_still_colours(addon, scene, prefs, backend, drain) -> None:
    st = bpy.context.window_manager.motion_search
    _search(st)
    drain(120)
    st.hit_index = 1
    hit_id = st.hits[1].motion_id
    assert st.hits[1].alignment_json == ""
    _mod().jobs.get_queue().cancel("alignment")  # as if the import were pressed before the answer came
    assert bpy.ops.motion_search.import_selected() == {"FINISHED"}
    drain(120)
    assert not st.status_is_error, st.status
    obj = bpy.context.view_layer.objects.active
    served = _served_alignment(backend, QUERY, hit_id)["alignment"]
    assert hit_id in obj.animation_data.action.name and obj.motion_search.colouring
    assert json.loads(obj.motion_search.alignment_json)["joint_strength"] == served["joint_strength"]
    assert obj.data.bones["pelvis"].color.palette == "CUSTOM"
