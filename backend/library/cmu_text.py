"""CMU trial descriptions -> sentences ("walk" -> "a person walks").

CMU descriptions are terse: ``"walk"``, ``"run/jog"``, ``"slow walk"``, ``"Start Walk Stop"``, or
``"<topic> - <action>, <action>, ..."`` (``"playground - climb, sit, dangle legs, jump down"``). The rewrite
puts the leading verb of each action in the third person (``"turn around"`` -> ``"turns around"``), turns
adjective + verb into verb + adverb (``"slow walk"`` -> ``"walks slowly"``), verb sequences into a list
(``"start walk stop"`` -> ``"starts, walks and stops"``), and noun phrases into ``"does <noun phrase>"``; known
topics add context (``"on a playground"``).
"""

from __future__ import annotations

import re

__all__ = ["join_phrases", "rewrite_cmu_description", "third_person"]

_VERBS = frozenset(
    """
    walk run jog jump hop skip climb hang swing sit stand dangle descend rock lower drop lean pull
    push go bend scoop rise lift punch strike kick wash dance turn balance stretch throw catch carry
    pick put place reach step march shuffle sneak crawl roll fall get lie kneel squat spin twirl
    wave point look shake nod bow clap play dribble shoot pass swim box fight stumble trip limp sway
    tiptoe slide skate ski flip bounce wander navigate stop start pause wait rest sweep mop open
    close drink eat sing talk laugh cry yawn scratch salute gesture flex fold raise drag hit chop
    saw hammer paint read write type answer call pour stir vacuum move leap dive duck dodge block
    chase race sprint stroll pace shove grab hold hug kiss push-up lunge crouch tumble
    cartwheel somersault brush comb dress sneeze cough walk-run wipe stomp swat slap spar mime
    direct conduct act pretend show tap ride drive steer row paddle fish golf bat clean hurt explain
    shovel sit-up jump-rope flap waddle slither gallop trot prance
    """.split()  # noqa: SIM905 - a word list reads best as text
)
_PARTICLES = frozenset(
    """
    over up down around back off out in on under away forward backward backwards sideways through
    across along to from with into onto at
    """.split()  # noqa: SIM905 - a word list reads best as text
)
_ADVERBS = {
    "slow": "slowly", "fast": "fast", "quick": "quickly", "brisk": "briskly", "careful": "carefully",
    "casual": "casually", "normal": "normally", "sad": "sadly", "happy": "happily", "angry": "angrily",
    "quiet": "quietly", "heavy": "heavily", "light": "lightly", "lazy": "lazily", "proud": "proudly",
}  # fmt: skip
_IRREGULAR = {"be": "is", "have": "has", "do": "does", "go": "goes"}
_TOPICS = {
    # topic -> (verb phrase, context phrase)
    "playground": ("plays on a playground", "on a playground"),
    "basketball": ("plays basketball", "while playing basketball"),
    "dance": ("dances", "while dancing"),
    "soccer": ("plays soccer", "while playing soccer"),
    "boxing": ("boxes", "while boxing"),
    "golf": ("plays golf", "while playing golf"),
    "salsa": ("dances salsa", "while dancing salsa"),
    "swordplay": ("does swordplay", "while sword fighting"),
    "story": ("acts out a story", "while acting out a story"),
}


def third_person(verb: str) -> str:
    """Third person singular of a base-form verb.

    >>> [third_person(v) for v in ("walk", "punch", "carry", "go", "play")]
    ['walks', 'punches', 'carries', 'goes', 'plays']
    """
    if verb in _IRREGULAR:
        return _IRREGULAR[verb]
    if verb.endswith(("s", "sh", "ch", "x", "z")):
        return verb + "es"
    if verb.endswith("y") and len(verb) > 1 and verb[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def join_phrases(phrases: list[str]) -> str:
    """``["a"]`` -> ``"a"``; ``["a", "b", "c"]`` -> ``"a, b and c"``."""
    if len(phrases) <= 1:
        return "".join(phrases)
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]


def _is_verb(word: str) -> bool:
    return word in _VERBS or ("/" in word and all(w in _VERBS for w in word.split("/") if w))


def _conjugate(word: str) -> str:
    """``"run/jog"`` -> ``"runs or jogs"``; ``"walk"`` -> ``"walks"``."""
    return " or ".join(third_person(w) for w in word.split("/") if w)


def _action(text: str) -> str:
    """One action of a description -> a third-person verb phrase."""
    words = ["themselves" if w == "self" else w for w in text.lower().split()]
    if not words:
        return ""
    for k in range(1, len(words) - 1):  # "walk sideways and turn" -> two actions
        if words[k] == "and" and _is_verb(words[k + 1]):
            return join_phrases([_action(" ".join(words[:k])), _action(" ".join(words[k + 1 :]))])
    if len(words) > 1 and all(_is_verb(w) for w in words) and not any(w in _PARTICLES for w in words):
        return join_phrases([_conjugate(w) for w in words])  # "start walk stop"
    if _is_verb(words[0]):
        return " ".join([_conjugate(words[0]), *words[1:]])
    if len(words) > 1 and words[0] in _ADVERBS and _is_verb(words[1]):
        return " ".join([_conjugate(words[1]), _ADVERBS[words[0]], *words[2:]])  # "slow walk"
    if words[0].endswith("ing") and len(words[0]) > 4:
        return "is " + " ".join(words)
    return "does " + " ".join(words)


def rewrite_cmu_description(description: str) -> list[str]:
    """Sentences for a CMU description (empty for ``"Unknown"`` / blank ones).

    Args:
        description: e.g. ``"playground - forward jumps, turn around"``.

    Returns:
        One or two lowercase sentences starting with ``"a person "``.

    >>> rewrite_cmu_description("walk")
    ['a person walks']
    >>> rewrite_cmu_description("playground - forward jumps, turn around")
    ['a person does forward jumps and turns around on a playground', 'a person plays on a playground: forward jumps, turn around']
    """
    text = re.sub(r"\([^)]*\)", " ", description.replace("\u201c", "").replace("\u201d", ""))
    text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text)  # "StartRun" -> "Start Run"
    text = " ".join(text.split()).strip(" .")
    if not text or text.lower() in ("unknown", "none"):
        return []
    topic = ""
    if " - " in text:
        topic, text = (part.strip() for part in text.split(" - ", 1))
    parts = [p.strip() for chunk in text.split(";") for p in chunk.split(",") if p.strip()]
    actions = [a for a in (_action(p) for p in parts) if a]
    out = []
    topic_key = topic.lower()
    if actions:
        sentence = "a person " + join_phrases(actions)
        if topic_key in _TOPICS:
            sentence += " " + _TOPICS[topic_key][1]
        elif topic:
            sentence = f"{topic.lower()}: {sentence}"
        out.append(sentence)
    if topic:
        verb_phrase = _TOPICS.get(topic_key, (f"does {topic_key}", ""))[0]
        out.append(f"a person {verb_phrase}: {text.lower()}" if text else f"a person {verb_phrase}")
    return out
