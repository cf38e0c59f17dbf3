"""Evaluation protocols over one split: which gallery, which queries, what counts as a positive (numpy only).

An :class:`EvalSet` holds the clips of a split and the *unique* texts describing them (captions are compared
after :func:`normalise_caption` -- lower case, punctuation dropped, whitespace collapsed; the same rule as the
loss's duplicate-caption filter -- so "A person walks." and "a person walks" are one text). ``membership[t, c]``
is ``True`` when text ``t`` is one of clip ``c``'s captions. Every text carries a *kind*: ``"seen"`` (a
caption-template wording also used for training clips), ``"heldout"`` (a phrasing never used in training) or
``"terse"`` (a held-out terse keyword form, ``captions_for(..., form="terse", heldout=True)``); a wording present
in several lists counts as the first of them.

Given the ``(Nt, Nc)`` text x clip score matrix of a model, the protocols are:

* **All** (:func:`protocol_all`): the full gallery; positives = identical (normalised) caption, i.e.
  ``membership``. Text-to-motion queries are the unique texts; motion-to-text queries are the clips, over the
  gallery of unique texts.
* **Threshold** (:func:`protocol_threshold`): as All, but a clip is also a positive for text ``t`` when one of
  its captions has a caption-similarity ``>= threshold`` (0.95) with ``t``.
* **Batches of 32** (:func:`protocol_batches`): one text per clip (seeded choice), pairs shuffled with a fixed
  seed and cut into batches of 32 pairs (an incomplete last batch is dropped unless it is the only one);
  positives inside a batch = ``membership``; the metrics are averaged over batches.
* **Labels** (:func:`protocol_labels`): a hit is a clip with the same label values (e.g. ``action``, or
  ``action`` + ``style``) as a clip the text describes. Clips lacking a key match only themselves.

Each protocol reports both directions for the query subsets ``all``, ``seen`` and ``heldout`` (motion-to-text
uses only the subset's texts as its gallery; clips with no text in the subset are left out as queries).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from backend.errors import InvalidInputError
from backend.evaluation.metrics import RECALL_KS, average_metrics, bidirectional_metrics
from backend.model.losses import normalise_caption

__all__ = [
    "TEXT_KINDS",
    "EvalSet",
    "build_eval_set",
    "label_positives",
    "protocol_all",
    "protocol_batches",
    "protocol_labels",
    "protocol_threshold",
    "threshold_positives",
]

#: Query subsets reported separately.
TEXT_KINDS: tuple[str, ...] = ("seen", "heldout", "terse")


@dataclass
class EvalSet:
    """The clips of a split and their unique texts.

    Attributes:
        clip_ids: ``Nc`` clip ids (gallery order).
        clip_labels: ``Nc`` label dicts (may be empty dicts).
        texts: ``Nt`` unique texts (first wording seen of each normalised caption).
        text_kinds: ``Nt`` entries of :data:`TEXT_KINDS`.
        membership: ``(Nt, Nc)`` bool, text ``t`` is a caption of clip ``c``.
    """

    clip_ids: list[str]
    clip_labels: list[dict[str, str]]
    texts: list[str]
    text_kinds: list[str]
    membership: np.ndarray

    def rows(self, kind: str) -> np.ndarray:
        """Indices ``(n,)`` of the texts of one kind (``"all"`` for every text)."""
        if kind == "all":
            return np.arange(len(self.texts))
        return np.flatnonzero(np.asarray(self.text_kinds) == kind)


def build_eval_set(
    clip_ids: Sequence[str],
    captions: Sequence[Iterable[str]],
    labels: Sequence[dict[str, str]] | None = None,
    heldout: Sequence[Iterable[str]] | None = None,
    terse: Sequence[Iterable[str]] | None = None,
) -> EvalSet:
    """Collect the unique texts of a split and which clip each describes.

    Args:
        clip_ids: ``Nc`` clip ids.
        captions: per clip, its seen-template captions.
        labels: per clip, its label dict (default: none).
        heldout: per clip, held-out phrasings (default: none).
        terse: per clip, held-out terse forms (default: none).

    Returns:
        The :class:`EvalSet`.

    Raises:
        InvalidInputError: lengths disagree, duplicate clip ids, or no caption at all.

    >>> ev = build_eval_set(["a", "b"], [["A person walks.", "a person walks"], ["a person runs"]],
    ...                     heldout=[["someone strolls"], ["a person walks"]])
    >>> ev.texts, ev.text_kinds
    (['A person walks.', 'a person runs', 'someone strolls'], ['seen', 'seen', 'heldout'])
    >>> ev.membership.astype(int).tolist()
    [[1, 1], [0, 1], [1, 0]]
    """
    n = len(clip_ids)
    if len(set(clip_ids)) != n:
        raise InvalidInputError("clip_ids contains duplicates")
    if len(captions) != n:
        raise InvalidInputError(f"captions has {len(captions)} entries for {n} clips")
    if labels is not None and len(labels) != n:
        raise InvalidInputError(f"labels has {len(labels)} entries for {n} clips")
    for name, extra in (("heldout", heldout), ("terse", terse)):
        if extra is not None and len(extra) != n:
            raise InvalidInputError(f"{name} has {len(extra)} entries for {n} clips")
    index: dict[str, int] = {}
    texts: list[str] = []
    kinds: list[str] = []
    pairs: list[tuple[int, int]] = []
    sources = [("seen", captions)] + [
        (k, v) for k, v in (("heldout", heldout), ("terse", terse)) if v is not None
    ]
    for kind, per_clip in sources:
        for c, caps in enumerate(per_clip):
            for text in caps:
                key = normalise_caption(text)
                if not key:
                    continue
                if key not in index:
                    index[key] = len(texts)
                    texts.append(text.strip())
                    kinds.append(kind)
                pairs.append((index[key], c))
    if not texts:
        raise InvalidInputError("no captions in the evaluation split")
    membership = np.zeros((len(texts), n), dtype=bool)
    rows, cols = zip(*pairs, strict=True)
    membership[list(rows), list(cols)] = True
    return EvalSet(
        clip_ids=list(clip_ids),
        clip_labels=[dict(x) for x in labels] if labels is not None else [{} for _ in range(n)],
        texts=texts,
        text_kinds=kinds,
        membership=membership,
    )


def _check_scores(scores: np.ndarray, ev: EvalSet) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    want = (len(ev.texts), len(ev.clip_ids))
    if scores.shape != want:
        raise InvalidInputError(f"scores shape {scores.shape} != (texts, clips) {want}")
    return scores


def _by_kind(
    scores: np.ndarray, positives: np.ndarray, ev: EvalSet, ks: Sequence[int]
) -> dict[str, dict[str, dict[str, float]]]:
    """Bidirectional metrics for the query subsets ``all`` / ``seen`` / ``heldout`` (empty ones skipped)."""
    out = {"all": bidirectional_metrics(scores, positives, ks)}
    for kind in TEXT_KINDS:
        rows = ev.rows(kind)
        if rows.size == len(ev.texts):  # only one kind present: the subset is the whole set
            out[kind] = out["all"]
        elif rows.size:
            out[kind] = bidirectional_metrics(scores[rows], positives[rows], ks)
    return out


def protocol_all(
    scores: np.ndarray, ev: EvalSet, ks: Sequence[int] = RECALL_KS
) -> dict[str, dict[str, dict[str, float]]]:
    """The All protocol: full gallery, positives = identical caption.

    Args:
        scores: ``(Nt, Nc)`` text x clip scores.
        ev: the evaluation set.
        ks: recall cut-offs.

    Returns:
        ``{subset: {"t2m": metrics, "m2t": metrics}}`` for subsets ``all`` / ``seen`` / ``heldout``.

    >>> ev = build_eval_set(["a", "b"], [["walk"], ["run"]])
    >>> protocol_all(np.array([[1.0, 0.0], [1.0, 0.5]]), ev, ks=(1,))["all"]["t2m"]["R@1"]
    50.0
    """
    return _by_kind(_check_scores(scores, ev), ev.membership, ev, ks)


def threshold_positives(text_similarity: np.ndarray, membership: np.ndarray, threshold: float) -> np.ndarray:
    """Positives of the threshold protocol.

    Args:
        text_similarity: ``(Nt, Nt)`` caption-caption similarity (cosine).
        membership: ``(Nt, Nc)`` bool.
        threshold: a clip is a positive of text ``t`` if one of its captions ``v`` has
            ``text_similarity[t, v] >= threshold`` (``v == t`` always qualifies).

    Returns:
        ``(Nt, Nc)`` bool.

    >>> sim = np.array([[1.0, 0.96], [0.96, 1.0]])
    >>> threshold_positives(sim, np.eye(2, dtype=bool), 0.95).all()
    np.True_
    """
    sim = np.asarray(text_similarity, dtype=np.float64)
    nt = membership.shape[0]
    if sim.shape != (nt, nt):
        raise InvalidInputError(f"text_similarity shape {sim.shape} != ({nt}, {nt})")
    close = (sim >= threshold).astype(np.float64)
    return ((close @ membership.astype(np.float64)) > 0) | membership


def protocol_threshold(
    scores: np.ndarray,
    ev: EvalSet,
    text_similarity: np.ndarray,
    threshold: float = 0.95,
    ks: Sequence[int] = RECALL_KS,
) -> dict[str, dict[str, dict[str, float]]]:
    """The threshold protocol: caption-similarity ``>= threshold`` counts as a positive.

    Args:
        scores: ``(Nt, Nc)`` text x clip scores.
        ev: the evaluation set.
        text_similarity: ``(Nt, Nt)`` similarity of ``ev.texts`` (see
            :func:`backend.evaluation.text_similarity.caption_similarity`).
        threshold: similarity threshold.
        ks: recall cut-offs.

    Returns:
        Same layout as :func:`protocol_all`.
    """
    positives = threshold_positives(text_similarity, ev.membership, threshold)
    return _by_kind(_check_scores(scores, ev), positives, ev, ks)


def label_positives(ev: EvalSet, keys: Sequence[str]) -> np.ndarray:
    """Label-level positives: clip ``c`` answers text ``t`` if its labels ``keys`` equal those of a clip ``t``
    describes. A clip lacking one of the keys only matches itself.

    Args:
        ev: the evaluation set.
        keys: label keys compared (e.g. ``("action",)`` or ``("action", "style")``).

    Returns:
        ``(Nt, Nc)`` bool.

    >>> ev = build_eval_set(["a", "b", "c"], [["walk"], ["walk fast"], ["run"]],
    ...                     labels=[{"action": "walk"}, {"action": "walk"}, {}])
    >>> label_positives(ev, ["action"]).astype(int).tolist()
    [[1, 1, 0], [1, 1, 0], [0, 0, 1]]
    """
    values: list[tuple[str, ...]] = []
    for c, labels in enumerate(ev.clip_labels):
        if all(labels.get(k) for k in keys):
            values.append(tuple(str(labels[k]) for k in keys))
        else:
            values.append(("\0clip", str(c)))
    codes = {v: i for i, v in enumerate(dict.fromkeys(values))}
    clip_code = np.array([codes[v] for v in values])
    same = clip_code[:, None] == clip_code[None, :]  # (Nc, Nc)
    return (ev.membership.astype(np.float64) @ same.astype(np.float64)) > 0


def protocol_labels(
    scores: np.ndarray, ev: EvalSet, keys: Sequence[str], ks: Sequence[int] = RECALL_KS
) -> dict[str, dict[str, dict[str, float]]]:
    """Label-level metrics (a hit = same label values for ``keys``); layout of :func:`protocol_all`."""
    return _by_kind(_check_scores(scores, ev), label_positives(ev, keys), ev, ks)


def protocol_batches(
    scores: np.ndarray,
    ev: EvalSet,
    batch_size: int = 32,
    seed: int = 0,
    ks: Sequence[int] = RECALL_KS,
) -> dict[str, dict[str, dict[str, float]]]:
    """Small-batch protocol: random batches of ``batch_size`` (text, clip) pairs, metrics averaged.

    For each subset, every clip with at least one text of that subset contributes one pair (its text chosen
    with ``seed``); the pairs are shuffled with ``seed`` and cut into batches.

    Args:
        scores: ``(Nt, Nc)`` text x clip scores.
        ev: the evaluation set.
        batch_size: pairs per batch (32 in the literature).
        seed: fixed seed of the text choice and the shuffle.
        ks: recall cut-offs.

    Returns:
        ``{subset: {"t2m": averaged metrics, "m2t": averaged metrics}}`` (``n_batches`` added).

    >>> ev = build_eval_set([str(i) for i in range(4)], [[f"t{i}"] for i in range(4)])
    >>> r = protocol_batches(np.eye(4), ev, batch_size=2, ks=(1,))
    >>> r["all"]["t2m"]["R@1"], r["all"]["t2m"]["n_batches"]
    (100.0, 2)
    """
    if batch_size < 2:
        raise InvalidInputError(f"batch_size must be >= 2, got {batch_size}")
    scores = _check_scores(scores, ev)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for kind in ("all", *TEXT_KINDS):
        rows = ev.rows(kind)
        if rows.size == 0:
            continue
        rng = np.random.default_rng(seed)
        sub = ev.membership[rows]  # (n, Nc)
        clips = np.flatnonzero(sub.any(axis=0))
        pair_text = np.array([rows[rng.choice(np.flatnonzero(sub[:, c]))] for c in clips])
        order = rng.permutation(clips.size)
        clips, pair_text = clips[order], pair_text[order]
        n_batches = max(1, clips.size // batch_size)
        t2m, m2t = [], []
        for b in range(n_batches):
            sl = slice(b * batch_size, (b + 1) * batch_size)
            t, c = pair_text[sl], clips[sl]
            res = bidirectional_metrics(scores[np.ix_(t, c)], ev.membership[np.ix_(t, c)], ks)
            t2m.append(res["t2m"])
            m2t.append(res["m2t"])
        out[kind] = {"t2m": average_metrics(t2m), "m2t": average_metrics(m2t)}
    return out
