"""Finding in real Blender against a real backend on loopback: filter menus, filters, paging, favourites.

The session's backend holds 5 Bandai-Namco-1 clips (CC BY-NC: no commercial use); the ``own_clip`` fixture
adds one more through ``POST /library`` (a mirrored served clip as joints, dataset ``user``, tags ``mine`` /
``studio``, licence CC0, commercial use allowed) and removes it afterwards, so other tests see the 5 clips.

* **Menus**: *Refresh Filters* fills the dataset and tag menus from ``GET /library`` exactly as served
  (names, clip counts, commercial use), and the panel shows the library size.
* **Filters**: ticking a dataset, a tag, or *Commercial Use Only* lists exactly the clips that match (the
  own clip alone, or the 5 Bandai clips alone); each row carries the hit's licence, commercial flag and tags.
  A duration range lists exactly the clips whose duration lies inside it; a minimum above the maximum is
  refused before any request, with a message naming both fields.
* **More results**: pages of k append the next hits of the same ranking (equal to one search for all of
  them), keep the filters of the listed search even when the panel's filters changed since, and stop
  offering more when a page comes back short.
* **Favourites**: starring a hit stores it in the add-on preferences (id, caption, segment, query, backend)
  and marks its row, in later searches too; importing from the favourites downloads and colours it by the
  query that found it; unstarring or removing takes it out.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from types import ModuleType

import bpy
import numpy as np
import pytest

ADDON_MODULE = "bl_ext.user_default.motion_search"
OWN_ID = "studio_bow_mirrored"


def _mod() -> ModuleType:
    return sys.modules[ADDON_MODULE]


def _http(backend, method: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{backend.url}{path}", data=data, method=method,
                                 headers={"Content-Type": "application/json"} if data else {})  # fmt: skip
    with urllib.request.urlopen(req, timeout=120) as resp:
        return json.loads(resp.read())


def _search(drain, query: str = "a person bows politely") -> list:
    st = bpy.context.window_manager.motion_search
    st.query = query
    assert bpy.ops.motion_search.search() == {"FINISHED"}
    drain(120)
    assert not st.status_is_error, st.status
    return list(st.hits)


def _tick(rows, names: set[str]) -> None:
    for row in rows:
        row.use = row.name in names


@pytest.fixture()
def finding(scene, prefs):
    """Clean filter state and favourites before and after each test (the panel state is session-wide)."""
    st = bpy.context.window_manager.motion_search

    def reset() -> None:
        st.min_duration = st.max_duration = 0.0
        st.commercial_safe = False
        st.datasets.clear()
        st.tags.clear()
        st.library_size, st.searched_filters, st.more_available = -1, "", False
        prefs.favourites.clear()

    reset()
    yield st
    reset()


@pytest.fixture()
def own_clip(backend):
    """A clip of the user's own (dataset ``user``, tags, commercial licence), removed after the test."""
    bow = next(i for i, c in backend.clips.items() if "bows" in c)
    served = _http(backend, "GET", f"/motions/{bow}")
    joints = np.asarray(served["joints"], dtype=np.float64)
    joints[..., 0] *= -1.0  # a different motion than the library's bow (mirrored)
    added = _http(backend, "POST", "/library", {
        "joints": joints.round(5).tolist(), "fps": 20.0, "id": OWN_ID, "tags": ["mine", "studio"],
        "licence": "CC0-1.0", "commercial_use": True,
    })  # fmt: skip
    assert added["id"] == OWN_ID
    try:
        yield OWN_ID
    finally:
        _http(backend, "DELETE", f"/library/{OWN_ID}")


def test_filter_menus_come_from_get_library(addon, finding, backend, own_clip, drain) -> None:
    st = finding
    assert bpy.ops.motion_search.library_refresh() == {"FINISHED"}
    drain(60)
    assert not st.status_is_error, st.status
    served = _http(backend, "GET", "/library")
    assert st.library_size == served["size"] == len(backend.clips) + 1
    assert [(d.name, d.clips, d.commercial_use) for d in st.datasets] == [
        (d["name"], d["clips"], d["commercial_use"]) for d in served["datasets"]
    ]
    assert {d.name: (d.clips, d.commercial_use) for d in st.datasets} == {
        "bandai-namco-1": (5, False), "user": (1, True),
    }  # fmt: skip
    assert sorted((t.name, t.clips) for t in st.tags) == [("mine", 1), ("studio", 1)]
    assert f"{served['size']} clips" in st.status


def test_dataset_tag_and_commercial_filters(addon, finding, backend, own_clip, drain) -> None:
    st = finding
    assert bpy.ops.motion_search.library_refresh() == {"FINISHED"}
    drain(60)
    _tick(st.datasets, {"user"})
    hits = _search(drain)
    assert [h.motion_id for h in hits] == [OWN_ID]
    own = hits[0]
    assert (own.dataset, own.licence, own.commercial_use, own.tags) == (
        "user",
        "CC0-1.0",
        True,
        "mine, studio",
    )
    _tick(st.datasets, {"bandai-namco-1"})
    hits = _search(drain)
    assert sorted(h.motion_id for h in hits) == sorted(backend.clips)
    assert all(h.dataset == "bandai-namco-1" and not h.commercial_use for h in hits)
    _tick(st.datasets, set())
    _tick(st.tags, {"studio"})
    assert [h.motion_id for h in _search(drain)] == [OWN_ID]
    _tick(st.tags, {"studio", "mine"})
    assert [h.motion_id for h in _search(drain)] == [OWN_ID]
    _tick(st.tags, set())
    st.commercial_safe = True
    assert [h.motion_id for h in _search(drain, "a person kicks with the right leg")] == [OWN_ID]
    st.commercial_safe = False
    assert len(_search(drain)) == 5 and OWN_ID in {h.motion_id for h in st.hits}  # k = 5 of 6 clips


def test_duration_range(addon, finding, backend, drain) -> None:
    st = finding
    durations = {h.motion_id: h.duration for h in _search(drain)}
    assert len(durations) == len(backend.clips)
    ordered = sorted(durations.values())
    st.min_duration, st.max_duration = ordered[1] - 0.01, ordered[-2] + 0.01
    hits = _search(drain)
    want = {i for i, d in durations.items() if st.min_duration <= d <= st.max_duration}
    assert {h.motion_id for h in hits} == want and 0 < len(want) < len(durations)
    st.min_duration, st.max_duration = 5.0, 2.0
    st.query = "a person bows politely"
    assert bpy.ops.motion_search.search() == {"CANCELLED"}
    assert st.status_is_error and "Min Duration (5 s)" in st.status and "Max Duration (2 s)" in st.status


def test_more_results_pages_through_the_same_ranking(addon, finding, backend, prefs, drain) -> None:
    st = finding
    query = "a person waves goodbye with one hand"
    ranking = [h["id"] for h in _http(backend, "POST", "/search", {"text": query, "k": 5})["results"]]
    prefs.result_count = 2
    _search(drain, query)
    assert [h.motion_id for h in st.hits] == ranking[:2] and st.more_available
    st.commercial_safe = True  # changed after the search: paging keeps the listed search's filters
    assert bpy.ops.motion_search.more_results() == {"FINISHED"}
    drain(120)
    assert not st.status_is_error, st.status
    assert [h.motion_id for h in st.hits] == ranking[:4] and st.more_available
    assert st.hit_index == 0  # the selection stays where it was
    assert bpy.ops.motion_search.more_results() == {"FINISHED"}
    drain(120)
    assert [h.motion_id for h in st.hits] == ranking and not st.more_available  # a short page: the end
    assert not bpy.ops.motion_search.more_results.poll()
    pv = _mod().previews
    assert all(pv.has(pv.key_for_preview(i)) for i in ranking)  # thumbnails of the appended pages too


def test_favourites_star_list_import_and_remove(addon, finding, backend, prefs, drain) -> None:
    st = finding
    query = "a person kicks with the right leg"
    hits = _search(drain, query)
    fav_id = hits[1].motion_id
    assert bpy.ops.motion_search.favourite_toggle(index=1) == {"FINISHED"}
    assert [f.motion_id for f in prefs.favourites] == [fav_id] and st.hits[1].favourite
    fav = prefs.favourites[0]
    assert (fav.caption, fav.text, fav.backend_url) == (backend.clips[fav_id], query, backend.url)
    assert (fav.segment_start, fav.segment_end) == (hits[1].segment_start, hits[1].segment_end)
    assert sum(h.favourite for h in st.hits) == 1
    _search(drain, "a person walks backwards")  # a later search marks the favourite again
    assert [h.favourite for h in st.hits] == [h.motion_id == fav_id for h in st.hits]
    st.hits.clear()  # importing needs no result list
    prefs.favourite_index = 0
    assert bpy.ops.motion_search.favourite_import() == {"FINISHED"}
    drain(120)
    assert not st.status_is_error, st.status
    obj = bpy.context.view_layer.objects.active
    assert obj.type == "ARMATURE" and fav_id in obj.animation_data.action.name
    served = _http(backend, "POST", "/alignment", {"text": query, "id": fav_id})["alignment"]
    assert obj.motion_search.colouring and obj.motion_search.text == query
    assert json.loads(obj.motion_search.alignment_json)["joint_strength"] == served["joint_strength"]
    _search(drain, query)
    row = next(i for i, h in enumerate(st.hits) if h.motion_id == fav_id)
    assert bpy.ops.motion_search.favourite_toggle(index=row) == {"FINISHED"}  # unstar
    assert len(prefs.favourites) == 0 and not st.hits[row].favourite
    assert bpy.ops.motion_search.favourite_toggle(index=0) == {"FINISHED"}
    prefs.favourite_index = 0
    assert bpy.ops.motion_search.favourite_remove() == {"FINISHED"}
    assert len(prefs.favourites) == 0 and not st.hits[0].favourite
    assert bpy.ops.motion_search.favourite_toggle(index=99) == {"CANCELLED"}
    assert st.status_is_error and "no result 100" in st.status


class _Layout:
    """Records what a panel's ``draw`` puts on screen (headless Blender has no UI to draw into)."""

    def __init__(self, labels: list[str]) -> None:
        self.labels = labels

    def label(self, text: str = "", **_kw) -> None:
        self.labels.append(text)

    def __getattr__(self, name: str):
        return lambda *a, **kw: _Layout(
            self.labels
        )  # row(), column(), prop(), operator(), template_list() ...


def _panel_labels() -> list[str]:
    labels: list[str] = []
    panel = sys.modules[f"{ADDON_MODULE}.panels"]

    class _Self:
        layout = _Layout(labels)

    panel.VIEW3D_PT_motion_search.draw(_Self(), bpy.context)
    return labels


def test_no_close_match_is_said_and_hits_still_listed(addon, finding, backend, drain) -> None:
    st = bpy.context.window_manager.motion_search
    panel = sys.modules[f"{ADDON_MODULE}.panels"]
    hits = _search(drain, "someone waves goodbye")
    conf = [h.confidence for h in hits]
    assert hits[0].motion_id == "dataset-1_byebye_normal_001" and all(0.0 <= c <= 1.0 for c in conf)
    assert conf == sorted(conf, reverse=True) and not st.no_close_match
    assert panel.NO_CLOSE_MATCH not in _panel_labels()
    # the library caption the query was searched together with is shown (server's "expanded_with")
    assert st.searched_as and any(t.startswith(panel.SEARCHED_WITH) for t in _panel_labels())
    hits = _search(drain, "a woman juggles three balls")  # no source holds juggling
    assert len(hits) == 5 and st.no_close_match
    assert panel.NO_CLOSE_MATCH in _panel_labels()
