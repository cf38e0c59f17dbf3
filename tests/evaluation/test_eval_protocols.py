"""Contract of ``backend.evaluation.protocols`` (and the caption similarity of the threshold protocol).

* Texts are unique after caption normalisation; ``membership[t, c]`` says text ``t`` describes clip ``c``.
* All: positives = identical caption; both directions; ``seen`` and ``heldout`` queries reported apart.
* Threshold: a clip also counts when one of its captions has similarity >= the threshold.
* Labels: a hit = same label values; a clip lacking the key matches only itself.
* Batches of 32: seeded, deterministic, averaged over batches, incomplete last batch dropped.
"""

from __future__ import annotations

import numpy as np
import pytest

from backend.errors import InvalidInputError
from backend.evaluation.protocols import (
    build_eval_set,
    label_positives,
    protocol_all,
    protocol_batches,
    protocol_labels,
    protocol_threshold,
    threshold_positives,
)


@pytest.fixture()
def ev():
    # clip a and clip b share the caption "a person walks"; clip c runs; held-out phrasings for a and c
    return build_eval_set(
        ["a", "b", "c"],
        [["A person walks.", "a man strolls"], ["a person walks"], ["a person runs"]],
        labels=[{"action": "walk", "style": "old"}, {"action": "walk", "style": "young"}, {"action": "run"}],
        heldout=[["someone ambles along"], [], ["somebody sprints"]],
    )


def test_eval_set_deduplicates_normalised_captions(ev) -> None:
    assert ev.texts == [
        "A person walks.",
        "a man strolls",
        "a person runs",
        "someone ambles along",
        "somebody sprints",
    ]
    assert ev.text_kinds == ["seen", "seen", "seen", "heldout", "heldout"]
    assert ev.membership.astype(int).tolist() == [[1, 1, 0], [1, 0, 0], [0, 0, 1], [1, 0, 0], [0, 0, 1]]
    assert ev.rows("heldout").tolist() == [3, 4]


def test_a_heldout_wording_that_is_also_a_template_counts_as_seen() -> None:
    ev = build_eval_set(["a", "b"], [["a person walks"], ["a person runs"]], heldout=[["a person runs"], []])
    assert ev.text_kinds == ["seen", "seen"]
    assert ev.membership.astype(int).tolist() == [[1, 0], [1, 1]]


def test_all_protocol_known_answers(ev) -> None:
    # scores: rows = texts, columns = clips a, b, c
    s = np.array(
        [
            [0.2, 0.9, 0.1],  # "a person walks": b is a positive too -> rank 1
            [0.5, 0.6, 0.1],  # "a man strolls": only a; b beats it -> rank 2
            [0.3, 0.2, 0.8],  # runs -> rank 1
            [0.1, 0.2, 0.3],  # held-out "ambles" -> a is last -> rank 3
            [0.4, 0.1, 0.5],  # held-out "sprints" -> rank 1
        ]
    )
    r = protocol_all(s, ev, ks=(1, 2))
    assert r["seen"]["t2m"]["R@1"] == pytest.approx(200 / 3)
    assert r["seen"]["t2m"]["R@2"] == 100.0
    assert r["heldout"]["t2m"]["R@1"] == 50.0 and r["heldout"]["t2m"]["MedR"] == 2.0
    assert r["all"]["t2m"]["n_queries"] == 5
    # motion-to-text over the held-out texts only: clip b has none, so 2 queries
    assert r["heldout"]["m2t"]["n_queries"] == 2
    # clip a vs held-out texts: "ambles" 0.1 < "sprints" 0.4 -> rank 2; clip c: 0.5 > 0.3 -> rank 1
    assert r["heldout"]["m2t"]["R@1"] == 50.0


def test_threshold_protocol_adds_near_duplicate_captions(ev) -> None:
    sim = np.eye(5)
    sim[1, 0] = sim[0, 1] = 0.97  # "a man strolls" ~ "a person walks"
    pos = threshold_positives(sim, ev.membership, 0.95)
    assert pos[1].tolist() == [True, True, False]  # b becomes a positive of "a man strolls"
    s = np.array([[0.2, 0.9, 0.1], [0.5, 0.6, 0.1], [0.3, 0.2, 0.8], [0.1, 0.2, 0.3], [0.4, 0.1, 0.5]])
    assert protocol_threshold(s, ev, sim, 0.95, ks=(1,))["seen"]["t2m"]["R@1"] == 100.0
    assert protocol_all(s, ev, ks=(1,))["seen"]["t2m"]["R@1"] < 100.0
    with pytest.raises(InvalidInputError, match="text_similarity"):
        threshold_positives(np.eye(2), ev.membership, 0.95)


def test_label_positives_action_and_action_style(ev) -> None:
    by_action = label_positives(ev, ["action"])
    assert by_action[1].tolist() == [True, True, False]  # "a man strolls" (clip a, walk) -> a and b
    both = label_positives(ev, ["action", "style"])
    assert both[1].tolist() == [True, False, False]
    # clip c lacks a style: with (action, style) it matches only itself
    assert both[2].tolist() == [False, False, True]
    s = np.array([[0.2, 0.9, 0.1], [0.5, 0.6, 0.1], [0.3, 0.2, 0.8], [0.1, 0.2, 0.3], [0.4, 0.1, 0.5]])
    assert protocol_labels(s, ev, ["action"], ks=(1,))["seen"]["t2m"]["R@1"] == 100.0


def test_batches_protocol_is_seeded_and_drops_the_remainder() -> None:
    n = 70
    ev = build_eval_set(
        [f"c{i}" for i in range(n)], [[f"caption number {i}", f"other {i}"] for i in range(n)]
    )
    rng = np.random.default_rng(0)
    s = rng.normal(size=(len(ev.texts), n))
    a = protocol_batches(s, ev, batch_size=32, seed=3)
    b = protocol_batches(s, ev, batch_size=32, seed=3)
    c = protocol_batches(s, ev, batch_size=32, seed=4)
    assert a == b
    assert a != c
    assert a["all"]["t2m"]["n_batches"] == 2 and a["all"]["t2m"]["n_queries"] == 64
    # a perfect model is perfect in every batch
    perfect = ev.membership.astype(float)
    assert protocol_batches(perfect, ev, 32, seed=0)["all"]["m2t"]["R@1"] == 100.0


def test_batches_protocol_with_fewer_clips_than_a_batch_uses_one_batch(ev) -> None:
    r = protocol_batches(ev.membership.astype(float), ev, batch_size=32)
    assert r["all"]["t2m"]["n_batches"] == 1 and r["all"]["t2m"]["n_queries"] == 3
    assert r["heldout"]["t2m"]["n_queries"] == 2


def test_bad_eval_sets_raise() -> None:
    with pytest.raises(InvalidInputError, match="duplicates"):
        build_eval_set(["a", "a"], [["x"], ["y"]])
    with pytest.raises(InvalidInputError, match="captions has 1"):
        build_eval_set(["a", "b"], [["x"]])
    with pytest.raises(InvalidInputError, match="no captions"):
        build_eval_set(["a"], [[" "]])
    ev = build_eval_set(["a"], [["x"]])
    with pytest.raises(InvalidInputError, match="scores shape"):
        protocol_all(np.zeros((2, 1)), ev)


def test_caption_similarity_with_the_real_minilm() -> None:
    from backend.evaluation.text_similarity import caption_similarity
    from backend.model.config import RetrievalConfig

    texts = ["a person walks forward", "A person walks forward.", "someone waves their left hand"]
    sim = caption_similarity(texts, RetrievalConfig().text_model_path)
    assert sim.shape == (3, 3)
    assert np.allclose(np.diag(sim), 1.0, atol=1e-5)
    assert sim[0, 1] >= 0.95  # same words, different case / punctuation
    assert sim[0, 2] < 0.95
