"""Words that name body parts and sides, and function words: the one place the model's word lists live.

Used by the text encoder (function words left out of MaxSim when ``mask_function_words``), by the weak part
supervision of :mod:`backend.model.grounding_losses` (a caption word naming a side / limb / body part is pulled
towards that part's bands) and by the grounding metric of :mod:`backend.evaluation.grounding`.

Band indices are positions in :data:`backend.motion.kinematics.skeleton.BANDS` (looked up by band name, so
a reordering of the bands cannot silently break them).

Target bands of a word (:func:`word_band_targets`), in the context of its caption:

* a limb word (``hand``, ``arm``, ``leg``, ``foot``, ``knee``, ...) names that limb on the caption's side
  (the nearest ``left`` / ``right`` before it in the caption, else the nearest after it), both sides when the
  caption names none, or ``both hands`` / ``two arms``;
* a side word names the limb of the next limb word within three words (``left hand`` -> the left arm bands);
  without one it names a direction (``turns left``) and no body part;
* a torso word (``head``, ``hips``, ``waist``, ``torso``, ``spine``, ``chest``) names its centre bands.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "FUNCTION_WORDS",
    "LIMB_BANDS",
    "LIMB_WORDS",
    "SIDE_WORDS",
    "TORSO_WORDS",
    "band_index",
    "is_function_word",
    "limb_bands",
    "names_part",
    "word_band_targets",
]

#: words that name a side
SIDE_WORDS: frozenset[str] = frozenset({"left", "right"})

#: limb words -> limb kind (``arm`` or ``leg``)
LIMB_WORDS: dict[str, str] = {
    **dict.fromkeys(
        ("hand", "hands", "arm", "arms", "fist", "fists", "palm", "elbow", "elbows", "wrist"), "arm"
    ),
    **dict.fromkeys(("shoulder", "shoulders", "finger", "fingers"), "arm"),
    **dict.fromkeys(("leg", "legs", "foot", "feet", "knee", "knees", "toe", "toes", "ankle", "heel"), "leg"),
    **dict.fromkeys(("thigh", "shin", "hip"), "leg"),
}

#: band names of each (side, limb); "both" = the two sides together
LIMB_BANDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("left", "arm"): ("left_shoulder", "left_elbow"),
    ("right", "arm"): ("right_shoulder", "right_elbow"),
    ("left", "leg"): ("left_hip", "left_knee", "left_ankle"),
    ("right", "leg"): ("right_hip", "right_knee", "right_ankle"),
}

#: centre body-part words -> band names
TORSO_WORDS: dict[str, tuple[str, ...]] = {
    "head": ("neck",),
    "neck": ("neck",),
    "hips": ("pelvis",),
    "pelvis": ("pelvis",),
    "waist": ("pelvis", "lumbar"),
    "torso": ("lumbar",),
    "spine": ("lumbar",),
    "chest": ("lumbar",),
    "trunk": ("lumbar",),
}

#: words that carry no motion: articles, pronouns, neutral subjects, auxiliaries, prepositions, conjunctions
#: (not ``up`` / ``back`` / ``over``, which carry direction, nor ``man`` / ``woman``, which carry style)
FUNCTION_WORDS: frozenset[str] = frozenset((
    "a", "an", "the", "this", "that", "these", "those", "some", "any",
    "person", "someone", "somebody", "human", "individual", "character", "people", "subject",
    "he", "she", "it", "they", "his", "her", "its", "their", "them", "him", "hers", "theirs",
    "himself", "herself", "themselves",
    "is", "are", "was", "were", "be", "been", "being", "am", "does", "do", "did", "has", "have", "had",
    "and", "or", "but", "then", "while", "as", "so", "if", "than",
    "of", "to", "in", "on", "at", "by", "for", "with", "from", "into", "onto", "about",
    "very", "just", "really", "also", "too",
))  # fmt: skip

_BOTH = frozenset({"both", "two"})


def band_index(name: str) -> int:
    """Index of a band by name in ``BANDS`` (raises KeyError naming it for an unknown name).

    >>> band_index("root_position"), band_index("right_elbow")
    (0, 13)
    """
    from backend.motion.kinematics.skeleton import BAND_NAMES

    try:
        return BAND_NAMES.index(name)
    except ValueError:
        raise KeyError(f"unknown band {name!r}; bands: {list(BAND_NAMES)}") from None


def limb_bands(side: str, limb: str) -> frozenset[int]:
    """Band indices of a limb (``side`` = ``left`` / ``right`` / ``both``, ``limb`` = ``arm`` / ``leg``).

    >>> sorted(limb_bands("left", "arm")), sorted(limb_bands("both", "leg"))
    ([10, 12], [2, 3, 4, 5, 6, 7])
    """
    sides = ("left", "right") if side == "both" else (side,)
    return frozenset(band_index(b) for s in sides for b in LIMB_BANDS[(s, limb)])


def _norm(word: str) -> str:
    return word.lower().strip(".,;:!?'\"()")


def is_function_word(word: str) -> bool:
    """Whether ``word`` carries no motion (case and punctuation ignored; pure punctuation counts too).

    >>> is_function_word("The"), is_function_word("waves"), is_function_word(",")
    (True, False, True)
    """
    w = _norm(word)
    return not w or w in FUNCTION_WORDS


def names_part(word: str) -> bool:
    """Whether ``word`` names a side, a limb or a torso part.

    >>> names_part("Left"), names_part("hand"), names_part("waves")
    (True, True, False)
    """
    w = _norm(word)
    return w in SIDE_WORDS or w in LIMB_WORDS or w in TORSO_WORDS


def _side_for(words: Sequence[str], i: int) -> str:
    """The side a limb word at ``i`` belongs to: the nearest side word before it, else after it."""
    if i > 0 and words[i - 1] in _BOTH:
        return "both"
    for j in range(i - 1, -1, -1):
        if words[j] in SIDE_WORDS:
            return words[j]
        if words[j] in LIMB_WORDS:  # another limb in between: its side is not ours
            break
    for j in range(i + 1, min(len(words), i + 3)):
        if words[j] in SIDE_WORDS:
            return words[j]
    return "both"


def word_band_targets(words: Sequence[str]) -> list[frozenset[int]]:
    """Target bands of every word of a caption (empty for words that name no body part).

    Args:
        words: the caption's words in order (as the tokenizer split them).

    Returns:
        One frozenset of band indices per word.

    >>> t = word_band_targets(["a", "man", "waves", "his", "left", "hand"])
    >>> [sorted(x) for x in t[4:]], t[0]
    ([[10, 12], [10, 12]], frozenset())
    >>> [sorted(x) for x in word_band_targets(["kicks", "with", "the", "right", "leg"])[3:]]
    [[3, 5, 7], [3, 5, 7]]
    """
    low = [_norm(w) for w in words]
    out: list[frozenset[int]] = []
    for i, w in enumerate(low):
        if w in LIMB_WORDS:
            out.append(limb_bands(_side_for(low, i), LIMB_WORDS[w]))
        elif w in SIDE_WORDS:
            nxt = next((LIMB_WORDS[x] for x in low[i + 1 : i + 4] if x in LIMB_WORDS), None)
            out.append(limb_bands(w, nxt) if nxt is not None else frozenset())  # "turns left": a direction
        elif w in TORSO_WORDS:
            out.append(frozenset(band_index(b) for b in TORSO_WORDS[w]))
        else:
            out.append(frozenset())
    return out
