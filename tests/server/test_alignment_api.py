"""Instant search and on-demand alignment (docs/api.md, ``POST /search`` ``alignment``, ``POST /alignment``).

Contract, over the real tiny index of real clips:

* ``/search`` without ``alignment`` answers hits whose ``alignment`` is ``null``, in the same order and with
  the same scores and segments as ``alignment: "all"``;
* ``"top"`` explains the best hit only, ``"all"`` every hit;
* ``POST /alignment {text, id}`` explains one clip: the window and score a search hit reports for that clip,
  and exactly the alignment ``/search`` attaches to that hit (asked before or after the search);
* bad input (unknown id, blank text, a mode that does not exist, missing fields) is a 4xx naming the field.
"""

from __future__ import annotations

import pytest

from backend.motion.kinematics.skeleton import SMPL_JOINT_NAMES

QUERY = "someone waves goodbye with the left hand"
LONG = "131_03"


def _search(client, text: str = QUERY, **body) -> list[dict]:
    r = client.post("/search", json={"text": text, "k": 100, **body})
    assert r.status_code == 200, r.text
    return r.json()["results"]


def _align(client, text: str, clip_id: str) -> dict:
    r = client.post("/alignment", json={"text": text, "id": clip_id})
    assert r.status_code == 200, r.text
    return r.json()


def _same_alignment(a: dict, b: dict) -> None:
    assert a["tokens"] == b["tokens"] and a["windows"] == b["windows"]
    for key in ("part_strength", "joint_strength"):
        assert a[key] == pytest.approx(b[key], abs=1e-5), key
    assert a["window_strength"] == pytest.approx(b["window_strength"], abs=1e-5)
    assert a["token_scores"] == pytest.approx(b["token_scores"], abs=1e-5)


def test_search_answers_without_alignment_by_default(client, tiny_setup) -> None:
    plain, full = _search(client), _search(client, alignment="all")
    assert len(plain) == len(tiny_setup.clip_ids)
    assert all(h["alignment"] is None for h in plain)
    assert all(h["alignment"] is not None for h in full)
    strip = lambda hits: [(h["id"], round(h["score"], 6), h["segment"]) for h in hits]
    assert strip(plain) == strip(full)


def test_top_aligns_the_best_hit_only(client) -> None:
    hits = _search(client, "a person kicks", alignment="top")
    assert hits[0]["alignment"] is not None and all(h["alignment"] is None for h in hits[1:])
    assert [t.lower() for t in hits[0]["alignment"]["tokens"]] == ["a", "person", "kicks"]


def test_alignment_endpoint_explains_each_hit_as_search_does(client, tiny_setup) -> None:
    text = "a person hops on one leg"
    before = _align(client, text, LONG)  # asked before any search: computed on its own
    hits = _search(client, text, alignment="all")
    by_id = {h["id"]: h for h in hits}
    assert before["id"] == LONG and by_id[LONG]["segment"] == before["segment"]
    assert before["score"] == pytest.approx(by_id[LONG]["score"], abs=1e-5)
    _same_alignment(before["alignment"], by_id[LONG]["alignment"])
    for clip_id in tiny_setup.clip_ids:
        a = _align(client, text, clip_id)
        assert a["segment"] == by_id[clip_id]["segment"]
        _same_alignment(a["alignment"], by_id[clip_id]["alignment"])
        assert set(a["alignment"]["joint_strength"]) == set(SMPL_JOINT_NAMES)
        assert max(a["alignment"]["joint_strength"].values()) == pytest.approx(1.0)
    # the long clip (several index windows): the explained window lies inside the clip, one window long
    seg = before["segment"]
    assert 0.0 <= seg["start"] < seg["end"] <= by_id[LONG]["duration"] + 1e-6
    assert seg["end"] - seg["start"] <= 64 / 20 + 1e-6
    assert before["alignment"]["windows"][0]["start"] == pytest.approx(seg["start"])


def test_alignment_of_a_different_text_differs(client) -> None:
    wave = _align(client, QUERY, "dataset-1_byebye_normal_001")
    kick = _align(client, "a person kicks", "dataset-1_byebye_normal_001")
    assert len(wave["alignment"]["tokens"]) == 7 and len(kick["alignment"]["tokens"]) == 3
    assert wave["score"] != pytest.approx(kick["score"], abs=1e-6)


@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [
        ("/alignment", {"text": "walk", "id": "no_such_clip"}, 404, ["no_such_clip"]),
        ("/alignment", {"text": "   ", "id": "131_03"}, 422, ["text", "empty"]),
        ("/alignment", {"text": "walk " * 1000, "id": "131_03"}, 422, ["text", "tokens"]),
        ("/alignment", {"id": "131_03"}, 422, ["text", "required"]),
        ("/alignment", {"text": "walk"}, 422, ["id", "required"]),
        ("/alignment", {"text": "walk", "id": ""}, 422, ["id"]),
        ("/alignment", {"text": "walk", "id": "x" * 129}, 422, ["id"]),
        ("/alignment", {"text": "walk", "id": 7}, 422, ["id"]),
        ("/alignment", '{"text": "walk", "id": "clip\\ud800"}', 422, ["id", "unicode string"]),
        ("/alignment", '{"text": "walk \\udfff", "id": "131_03"}', 422, ["text", "Unicode", "surrogate"]),
        ("/search", {"text": "walk", "alignment": "some"}, 422, ["alignment", "none", "top", "all"]),
        ("/search", {"text": "walk", "alignment": True}, 422, ["alignment"]),
    ],
)
def test_bad_alignment_requests_get_a_4xx_naming_the_field(client, path, body, status, words) -> None:
    if isinstance(
        body, str
    ):  # raw JSON: escapes (lone surrogates) that a client library would refuse to send
        r = client.post(path, content=body.encode(), headers={"content-type": "application/json"})
    else:
        r = client.post(path, json=body)
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    for w in words:
        assert w in detail, detail
