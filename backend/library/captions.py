"""Labels -> several natural captions per clip (training) plus held-out phrasings (test queries only).

* Bandai-Namco: content x style labels -> sentences composed from a subject that carries the style ("an
  elderly person", "a woman"), a verb phrase that carries the content and its direction or side ("waves her
  left hand", "walks backward"; style verbs such as "shuffles" for old walks), and a style manner ("with small
  careful steps"), in varying word order. Word pools: :mod:`backend.library.caption_vocab`.
* CMU: the trial description rewritten as a sentence ("walk" -> "a person walks"), the original kept too, plus
  KIT-ML sentences of the same trial.
* ReActIdle: the idle category (acted / genuine) -> idle-standing phrasings.
* HDM05: the class -> phrasings of :mod:`backend.library.hdm05`.

``form="terse"`` gives the keyword forms animators type instead (``"elderly wave left hand"``, ``"squat"``;
pools in :mod:`backend.library.terse_vocab` and :mod:`backend.library.hdm05`, with their own held-out pools;
a CMU trial's terse form is its description). The library builder writes sentences only (the default), so a
built library does not change; training adds terse forms on the fly (``data.terse_prob``).

Everything is deterministic: the choice of phrasings is seeded by the clip id. ``heldout=True`` draws from
disjoint pools; those phrasings are for evaluation queries and never go into a library's captions.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence

from backend.errors import InvalidInputError
from backend.library import caption_vocab as vocab
from backend.library import terse_vocab
from backend.library.cmu_text import rewrite_cmu_description
from backend.library.hdm05 import hdm05_captions, hdm05_terse

__all__ = [
    "CAPTION_FORMS",
    "DEFAULT_NUM_CAPTIONS",
    "IDLE_CATEGORIES",
    "bandai_captions",
    "captions_for",
    "cmu_captions",
    "idle_captions",
    "terse_captions",
]

DEFAULT_NUM_CAPTIONS = 6
#: caption forms of :func:`captions_for`
CAPTION_FORMS = ("sentence", "terse")

_IDLE_COMMON = (
    "a person stands idle, shifting weight and looking around",
    "someone waits in place, breathing and swaying slightly",
    "a person stands still and looks around as if waiting",
    "a person stands on the spot and shifts their weight from foot to foot",
)
_IDLE: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # category -> (training phrasings, held-out phrasings)
    "acted": (
        _IDLE_COMMON
        + (
            "an actor performs an idle standing pose, fidgeting a little",
            "a person acts out waiting, standing and glancing around",
            "someone pretends to wait around, standing in one place",
        ),
        ("a performer mimes killing time while standing", "a bored-looking actor loiters on the spot"),
    ),
    "genuine": (
        _IDLE_COMMON
        + (
            "a person stands at rest, breathing calmly",
            "someone idles naturally, occasionally shifting their weight",
            "a person waits around without doing anything in particular",
        ),
        (
            "an individual loiters in one place, swaying a little",
            "somebody hangs around on the spot, at ease",
        ),
    ),
}
IDLE_CATEGORIES: tuple[str, ...] = tuple(_IDLE)


def _rng(clip_id: str, heldout: bool) -> random.Random:
    seed = hashlib.sha256(f"{clip_id}|{'heldout' if heldout else 'train'}".encode()).digest()
    return random.Random(int.from_bytes(seed[:8], "big"))


def _style_words(style: str) -> vocab.StyleWords:
    key = vocab.STYLE_ALIASES.get(style, style)
    if key not in vocab.STYLES:
        valid = sorted({*vocab.STYLES, *vocab.STYLE_ALIASES})
        raise InvalidInputError(f"unknown Bandai-Namco style label {style!r}; known: {', '.join(valid)}")
    return vocab.STYLES[key]


def _content_words(action: str) -> vocab.ContentWords:
    if action not in vocab.CONTENTS:
        raise InvalidInputError(
            f"unknown Bandai-Namco content label {action!r}; known: {', '.join(sorted(vocab.CONTENTS))}"
        )
    return vocab.CONTENTS[action]


def _pools(action: str, style: str, heldout: bool) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    """(subjects, verb phrases, manners) for a label pair; held-out pools are disjoint from training ones."""
    s, c = _style_words(style), _content_words(action)
    subjects = list(s.heldout_subjects if heldout else s.subjects)
    if c.kind == "walk":
        verbs = list(vocab.HELDOUT_WALK_VERBS if heldout else vocab.WALK_VERBS)
        style_verbs = list(s.heldout_walk_verbs if heldout else s.walk_verbs)
        verbs += style_verbs * 2  # style verbs ("shuffles") are the most telling: weight them up
        directions = c.heldout_directions if heldout else c.directions
        phrases = [f"{v} {d}" for v in verbs for d in directions]
        phrases += list(c.heldout if heldout else c.phrases)
    else:
        phrases = list(c.heldout if heldout else c.phrases)
    if c.kind in ("walk", "move"):
        manners = list(s.heldout_move if heldout else s.move)
    else:
        manners = list(s.heldout_other if heldout else s.other)
    return subjects, phrases, manners


def _compose(subject: str, pos: str, phrase: str, manner: str, adverb_first: bool) -> str:
    phrase, manner = phrase.format(pos=pos), manner.format(pos=pos)
    if not manner:
        return f"{subject} {phrase}"
    if adverb_first and " " not in manner and manner.endswith("ly") and not phrase.startswith("is "):
        return f"{subject} {manner} {phrase}"
    return f"{subject} {phrase} {manner}"


def bandai_captions(
    action: str, style: str, clip_id: str, *, heldout: bool = False, n: int = DEFAULT_NUM_CAPTIONS
) -> list[str]:
    """Distinct natural captions for a Bandai-Namco content x style label pair.

    Args:
        action: content label (e.g. ``"wave-left-hand"``).
        style: style label of either dataset (e.g. ``"elderly"``).
        clip_id: seeds the choice, so a clip always gets the same captions.
        heldout: draw from the held-out pools (evaluation queries only).
        n: number of captions (fewer if the pools cannot make that many distinct ones).

    Returns:
        ``n`` lowercase sentences, e.g. ``"an old man shuffles ahead with small careful steps"``.

    Raises:
        InvalidInputError: unknown label (names it and lists the known ones).

    >>> bandai_captions("wave-left-hand", "feminine", "x", n=2)[0].count("left")
    1
    """
    subjects, phrases, manners = _pools(action, style, heldout)
    rng = _rng(clip_id, heldout)
    combos = [
        (a, b, c) for a in range(len(subjects)) for b in range(len(phrases)) for c in range(len(manners))
    ]
    rng.shuffle(combos)
    used: tuple[dict[int, int], dict[int, int], dict[int, int]] = (
        {},
        {},
        {},
    )  # how often each subject / phrase / manner was used: prefer fresh words
    out: list[str] = []
    seen: set[str] = set()
    target = 0  # accept the first (shuffled) combination whose words were used at most `target` times
    while len(out) < n and combos:
        pick = next(
            (k for k, co in enumerate(combos) if sum(u.get(x, 0) for u, x in zip(used, co)) <= target), None
        )
        if pick is None:
            target += 1
            continue
        a, b, c = combos.pop(pick)
        (subject, pos), phrase, manner = subjects[a], phrases[b], manners[c]
        text = _compose(subject, pos, phrase, manner, adverb_first=rng.random() < 0.5)
        if text in seen:
            continue
        seen.add(text)
        out.append(text)
        for u, x in zip(used, (a, b, c)):
            u[x] = u.get(x, 0) + 1
    return out


def cmu_captions(
    description: str, clip_id: str, *, kit_sentences: Sequence[str] = (), heldout: bool = False
) -> list[str]:
    """Captions of a CMU trial: the original description, sentence rewrites, and KIT-ML sentences.

    Args:
        description: the CMU index description (``"playground - forward jumps, turn around"``).
        clip_id: seeds the order of the rewrites.
        kit_sentences: KIT-ML sentences annotated on the same trial (kept verbatim, training only).
        heldout: held-out rewrites ("the subject ...") instead.

    Returns:
        Distinct captions (case-insensitive); never empty (``"a person moves"`` for unknown trials).
    """
    sentences = rewrite_cmu_description(description)
    if heldout:
        actions = [s.removeprefix("a person ") for s in sentences if s.startswith("a person ")]
        out = [f"the subject {a}" for a in actions] + [f"a recording of someone who {a}" for a in actions[:1]]
        return _dedupe(out) or ["the subject moves around"]
    original = description.strip()
    rewrites = list(sentences)
    _rng(clip_id, heldout).shuffle(rewrites)
    known = original and original.lower() not in ("unknown", "")
    out = ([original] if known else []) + rewrites + [s.strip() for s in kit_sentences if s.strip()]
    return _dedupe(out) or ["a person moves"]


def idle_captions(category: str, clip_id: str, *, heldout: bool = False, n: int = 5) -> list[str]:
    """Idle-standing captions for a ReActIdle clip (``category``: ``"acted"`` or ``"genuine"``).

    Raises:
        InvalidInputError: unknown category.
    """
    if category not in _IDLE:
        raise InvalidInputError(f"unknown idle category {category!r}; known: {', '.join(IDLE_CATEGORIES)}")
    pool = list(_IDLE[category][1 if heldout else 0])
    _rng(clip_id, heldout).shuffle(pool)
    return pool[:n]


def _dedupe(texts: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for t in texts:
        key = " ".join(t.lower().split()).rstrip(".")
        if key and key not in seen:
            seen.add(key)
            out.append(t)
    return out


def _pick(pool: Sequence[str], clip_id: str, heldout: bool, n: int) -> list[str]:
    out = _dedupe([" ".join(t.split()) for t in pool if t.strip()])
    _rng(clip_id + "|terse", heldout).shuffle(out)
    return out[:n]


def terse_captions(
    labels: Mapping[str, str], clip_id: str, *, heldout: bool = False, n: int = DEFAULT_NUM_CAPTIONS
) -> list[str]:
    """Terse keyword captions for a clip (an action phrase, or a style word before it), seeded by ``clip_id``.

    Args:
        labels: as for :func:`captions_for`.
        clip_id: seeds the choice.
        heldout: the held-out pools (evaluation queries only).
        n: at most this many.

    Returns:
        Distinct short phrases; a CMU trial gives its description (none when ``heldout``).

    Raises:
        InvalidInputError: labels of no known kind, or unknown label values.

    >>> terse_captions({"action": "wave-left-hand", "style": "elderly"}, "x", n=3)[0].count("left")
    1
    """
    if "hdm05" in labels:
        return hdm05_terse(labels["hdm05"], clip_id, heldout=heldout, n=n)
    if "action" in labels and "style" in labels:
        _content_words(labels["action"])
        key = vocab.STYLE_ALIASES.get(labels["style"], labels["style"])
        _style_words(key)
        actions = terse_vocab.CONTENT_TERSE[labels["action"]][1 if heldout else 0]
        styles = terse_vocab.STYLE_TERSE[key][1 if heldout else 0]
        return _pick([f"{s} {a}" for s in styles for a in actions], clip_id, heldout, n)
    if "idle" in labels:
        if labels["idle"] not in _IDLE:
            raise InvalidInputError(
                f"unknown idle category {labels['idle']!r}; known: {', '.join(IDLE_CATEGORIES)}"
            )
        return _pick(terse_vocab.IDLE_TERSE[1 if heldout else 0], clip_id, heldout, n)
    if "description" in labels:
        desc = " ".join(str(labels["description"]).lower().split())
        return [] if heldout or desc in ("", "unknown") else [desc]
    raise InvalidInputError(
        f"clip {clip_id!r}: labels {sorted(labels)} have none of 'action'+'style', 'hdm05', 'idle' or 'description'"
    )


def captions_for(
    labels: Mapping[str, str],
    clip_id: str,
    heldout: bool = False,
    *,
    kit_sentences: Sequence[str] = (),
    n: int = DEFAULT_NUM_CAPTIONS,
    form: str = "sentence",
) -> list[str]:
    """Captions for a clip from its labels (dispatches on the label keys).

    Args:
        labels: ``{"action", "style"}`` (Bandai-Namco), ``{"description"}`` (CMU), ``{"idle"}`` (ReActIdle)
            or ``{"hdm05"}`` (HDM05 class).
        clip_id: seeds the choice of phrasings.
        heldout: held-out phrasings for test queries (never used in training).
        kit_sentences: KIT-ML sentences of a CMU trial.
        n: captions per Bandai-Namco clip.
        form: ``sentence`` (what the library stores) or ``terse`` (:func:`terse_captions`).

    Raises:
        InvalidInputError: labels of no known kind, unknown label values or an unknown form.
    """
    if form not in CAPTION_FORMS:
        raise InvalidInputError(f"unknown caption form {form!r}; known: {', '.join(CAPTION_FORMS)}")
    if form == "terse":
        return terse_captions(labels, clip_id, heldout=heldout, n=n)
    if "hdm05" in labels:
        return hdm05_captions(labels["hdm05"], clip_id, heldout=heldout, n=n)
    if "action" in labels and "style" in labels:
        return bandai_captions(labels["action"], labels["style"], clip_id, heldout=heldout, n=n)
    if "idle" in labels:
        return idle_captions(labels["idle"], clip_id, heldout=heldout, n=min(n, 5))
    if "description" in labels:
        return cmu_captions(labels["description"], clip_id, kit_sentences=kit_sentences, heldout=heldout)
    raise InvalidInputError(
        f"clip {clip_id!r}: labels {sorted(labels)} have none of 'action'+'style', 'hdm05', 'idle' or 'description'"
    )
