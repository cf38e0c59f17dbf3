"""Word lists behind the Bandai-Namco captions (data only; the logic is in :mod:`backend.library.captions`).

Every pool has a *training* part and a disjoint *held-out* part: held-out phrasings (other synonyms, word order
and detail) are reserved for test queries and never appear in a library's training captions.

Placeholders: ``{pos}`` is the subject's possessive pronoun (``his``/``her``/``their``).
Directions and sides are spelled out in every phrase of a content that has them (``left``/``right``,
``backward``, ``forward``/``ahead``), so a caption never contradicts its label.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BN1_CONTENTS",
    "BN1_STYLES",
    "BN2_CONTENTS",
    "BN2_STYLES",
    "CONTENTS",
    "STYLES",
    "STYLE_ALIASES",
    "ContentWords",
    "StyleWords",
]  # fmt: skip

Subject = tuple[str, str]  # (noun phrase, possessive pronoun)


@dataclass(frozen=True)
class StyleWords:
    """Words for one style label.

    Attributes:
        subjects / heldout_subjects: ``(noun phrase, possessive)`` pairs.
        move / heldout_move: manner phrases for locomotion (walk, run, turns).
        other / heldout_other: manner phrases for everything else (gestures, bows, fights, dances).
        walk_verbs / heldout_walk_verbs: style-specific verbs that replace "walks" (e.g. "shuffles").
    """

    subjects: tuple[Subject, ...]
    move: tuple[str, ...]
    other: tuple[str, ...]
    heldout_subjects: tuple[Subject, ...]
    heldout_move: tuple[str, ...]
    heldout_other: tuple[str, ...]
    walk_verbs: tuple[str, ...] = ()
    heldout_walk_verbs: tuple[str, ...] = ()


@dataclass(frozen=True)
class ContentWords:
    """Words for one content label.

    Attributes:
        kind: ``"walk"`` (walk-family: verb + direction), ``"move"`` (other locomotion) or ``"other"``.
        phrases / heldout: verb phrases (third person singular, with ``{pos}``).
        directions / heldout_directions: for ``kind == "walk"``: direction phrases appended to a walk verb.
    """

    kind: str
    phrases: tuple[str, ...]
    heldout: tuple[str, ...]
    directions: tuple[str, ...] = ()
    heldout_directions: tuple[str, ...] = ()


_P = "their"
STYLES: dict[str, StyleWords] = {
    "normal": StyleWords(
        subjects=(("a person", _P), ("someone", _P), ("a human", _P), ("the person", _P)),
        move=("", "", "normally", "naturally"),
        other=("", "normally", "in a neutral way", "casually"),
        heldout_subjects=(("an individual", _P), ("a character", _P)),
        heldout_move=("in an ordinary manner", "at an everyday pace"),
        heldout_other=("in an ordinary manner", "plainly"),
    ),
    "happy": StyleWords(
        subjects=(("a happy person", _P), ("a cheerful person", _P), ("someone in a good mood", _P)),
        move=("happily", "cheerfully", "with a bounce in {pos} step", "joyfully"),
        other=("happily", "cheerfully", "joyfully", "with bright, lively movements"),
        heldout_subjects=(("a joyful person", _P), ("a delighted character", _P)),
        heldout_move=("gleefully", "in high spirits"),
        heldout_other=("gleefully", "in high spirits"),
    ),
    "sad": StyleWords(
        subjects=(("a sad person", _P), ("an unhappy person", _P), ("someone who feels down", _P)),
        move=("sadly", "gloomily", "with {pos} head hanging low", "with slumped shoulders"),
        other=("sadly", "gloomily", "with slumped shoulders", "without energy"),
        heldout_subjects=(("a sorrowful person", _P), ("a depressed character", _P)),
        heldout_move=("dejectedly", "with a heavy heart"),
        heldout_other=("dejectedly", "with a heavy heart"),
    ),
    "angry": StyleWords(
        subjects=(("an angry person", _P), ("a furious person", _P), ("someone in a bad temper", _P)),
        move=("angrily", "aggressively", "with tense, forceful steps"),
        other=("angrily", "aggressively", "with sharp, tense movements"),
        heldout_subjects=(("an irritated person", _P), ("an enraged character", _P)),
        heldout_move=("furiously", "in a huff"),
        heldout_other=("furiously", "in a huff"),
        walk_verbs=("stomps",),
        heldout_walk_verbs=("storms",),
    ),
    "proud": StyleWords(
        subjects=(("a proud person", _P), ("a self-confident person", _P), ("someone full of pride", _P)),
        move=("proudly", "confidently", "with {pos} chest puffed out", "with {pos} chin held high"),
        other=("proudly", "confidently", "with {pos} chest puffed out", "with {pos} chin held high"),
        heldout_subjects=(("an arrogant person", _P), ("a haughty character", _P)),
        heldout_move=("haughtily", "with a self-assured air"),
        heldout_other=("haughtily", "with a self-assured air"),
        walk_verbs=("struts",),
        heldout_walk_verbs=("parades",),
    ),
    "not-confident": StyleWords(
        subjects=(("a timid person", _P), ("a shy person", _P), ("an insecure person", _P)),
        move=("timidly", "hesitantly", "nervously", "with hunched shoulders"),
        other=("timidly", "hesitantly", "nervously", "with hunched shoulders"),
        heldout_subjects=(("an unsure person", _P), ("a bashful character", _P)),
        heldout_move=("bashfully", "without any confidence"),
        heldout_other=("bashfully", "without any confidence"),
    ),
    "masculinity": StyleWords(
        subjects=(("a man", "his"), ("a manly guy", "his"), ("a masculine man", "his")),
        move=("in a masculine way", "powerfully", "with broad, heavy strides"),
        other=("in a masculine way", "powerfully", "with broad, strong movements"),
        heldout_subjects=(("a macho guy", "his"), ("a tough gentleman", "his")),
        heldout_move=("in a macho manner", "with a tough, wide gait"),
        heldout_other=("in a macho manner", "with a tough, broad posture"),
    ),
    "feminine": StyleWords(
        subjects=(("a woman", "her"), ("a lady", "her"), ("a feminine woman", "her")),
        move=("in a feminine way", "gracefully", "elegantly", "with small graceful steps"),
        other=("in a feminine way", "gracefully", "elegantly", "with soft, graceful movements"),
        heldout_subjects=(("a graceful girl", "her"), ("an elegant young woman", "her")),
        heldout_move=("daintily", "with a delicate, swaying gait"),
        heldout_other=("daintily", "with delicate gestures"),
    ),
    "childish": StyleWords(
        subjects=(("a child", _P), ("a kid", _P), ("a little child", _P)),
        move=("in a childish way", "playfully", "like a little kid", "with bouncy, restless steps"),
        other=("in a childish way", "playfully", "like a little kid", "with restless, bouncy movements"),
        heldout_subjects=(("a toddler", _P), ("a young kid", _P)),
        heldout_move=("childishly", "like a playful youngster"),
        heldout_other=("childishly", "like a playful youngster"),
    ),
    "youthful": StyleWords(
        subjects=(("a young person", _P), ("a youthful person", _P), ("a teenager", _P)),
        move=("energetically", "in a youthful way", "with light, springy steps"),
        other=("energetically", "in a youthful way", "with light, quick movements"),
        heldout_subjects=(("a young adult", _P), ("an adolescent", _P)),
        heldout_move=("with youthful vigour", "sprightly"),
        heldout_other=("with youthful vigour", "sprightly"),
    ),
    "old": StyleWords(
        subjects=(
            ("an elderly person", _P),
            ("an old man", "his"),
            ("a senior", _P),
            ("an old woman", "her"),
        ),
        move=("slowly", "with small careful steps", "with a stooped back", "stiffly"),
        other=("slowly", "stiffly", "with a slight stoop", "slowly and carefully"),
        heldout_subjects=(("an elderly man", "his"), ("a frail old lady", "her"), ("a grandfather", "his")),
        heldout_move=("feebly", "with a hunched back"),
        heldout_other=("feebly", "with a hunched back"),
        walk_verbs=("shuffles",),
        heldout_walk_verbs=("hobbles",),
    ),
    "tired": StyleWords(
        subjects=(("a tired person", _P), ("an exhausted person", _P), ("a weary person", _P)),
        move=("wearily", "sluggishly", "with drooping shoulders", "dragging {pos} feet"),
        other=("wearily", "sluggishly", "with drooping shoulders", "with a tired slump"),
        heldout_subjects=(("a worn-out person", _P), ("someone who is out of breath", _P)),
        heldout_move=("lethargically", "with heavy limbs"),
        heldout_other=("lethargically", "with heavy limbs"),
        walk_verbs=("trudges",),
        heldout_walk_verbs=("plods",),
    ),
    "active": StyleWords(
        subjects=(("an energetic person", _P), ("a lively person", _P), ("an active person", _P)),
        move=("energetically", "briskly", "with lots of energy", "vigorously"),
        other=("energetically", "briskly", "with lots of energy", "vigorously"),
        heldout_subjects=(("a dynamic person", _P), ("a peppy character", _P)),
        heldout_move=("with vigour", "in a spirited way"),
        heldout_other=("with vigour", "in a spirited way"),
    ),
    "musical": StyleWords(
        subjects=(("a performer", _P), ("a person", _P), ("a musical actor", _P)),
        move=("as if in a musical", "theatrically", "with exaggerated, dance-like movements"),
        other=("as if in a musical", "theatrically", "with exaggerated, dance-like movements"),
        heldout_subjects=(("a stage actor", _P), ("a showman", "his")),
        heldout_move=("like a Broadway performer", "with flamboyant flair"),
        heldout_other=("like a Broadway performer", "with flamboyant flair"),
    ),
    "giant": StyleWords(
        subjects=(("a giant", _P), ("a huge, heavy person", _P), ("a big lumbering person", _P)),
        move=("heavily", "with big heavy steps", "slowly and heavily"),
        other=("heavily", "with heavy, ponderous movements", "slowly and heavily"),
        heldout_subjects=(("an enormous ogre", _P), ("a colossal figure", _P)),
        heldout_move=("ponderously", "with massive, earth-shaking steps"),
        heldout_other=("ponderously", "with massive, weighty motions"),
        walk_verbs=("lumbers",),
        heldout_walk_verbs=("plods heavily",),
    ),
    "chimpira": StyleWords(
        subjects=(("a thug", _P), ("a street punk", _P), ("a delinquent", _P)),
        move=("with a rough attitude", "in a thuggish way", "menacingly", "with a cocky, slouching posture"),
        other=("in a thuggish way", "menacingly", "with a cocky, slouching posture"),
        heldout_subjects=(("a gangster", _P), ("a hoodlum", _P)),
        heldout_move=("like a tough guy", "with a threatening strut"),
        heldout_other=("like a tough guy", "in a delinquent manner"),
        walk_verbs=("swaggers",),
        heldout_walk_verbs=("strolls cockily",),
    ),
}

#: dataset-2 style names that share the words of a dataset-1 style
STYLE_ALIASES: dict[str, str] = {"elderly": "old", "exhausted": "tired", "masculine": "masculinity"}

_WALK = ("walks",)
_HWALK = ("paces", "treads")


def _walk(
    directions: tuple[str, ...], heldout_directions: tuple[str, ...], *, heldout: tuple[str, ...] = ()
) -> ContentWords:
    return ContentWords("walk", (), heldout, directions, heldout_directions)


def _side(side: str) -> dict[str, ContentWords]:
    return {
        f"walk-{side}": _walk(
            (
                f"to the {side}",
                f"toward the {side}",
                f"diagonally to the {side}",
                f"forward and to the {side}",
            ),
            (f"off to {{pos}} {side}", f"in a {side}ward direction"),
        ),
        f"walk-turn-{side}": _walk(
            (f"and turns {side}", f"forward, then turns to the {side}", f"in a curve to the {side}"),
            (f"and changes direction to the {side}", f"and swings around to the {side}"),
            heldout=(f"takes a {side} turn while walking",),
        ),
        f"wave-{side}-hand": ContentWords(
            "other",
            (
                f"waves {{pos}} {side} hand",
                f"waves with {{pos}} {side} hand",
                f"raises {{pos}} {side} hand and waves",
            ),
            (f"greets someone with {{pos}} {side} hand", f"gives a wave using {{pos}} {side} arm"),
        ),
        f"raise-up-{side}-hand": ContentWords(
            "other",
            (
                f"raises {{pos}} {side} hand",
                f"raises {{pos}} {side} arm",
                f"puts {{pos}} {side} hand up",
                f"lifts {{pos}} {side} hand up high",
            ),
            (f"lifts {{pos}} {side} arm above {{pos}} head", f"reaches upward with {{pos}} {side} arm"),
        ),
    }


CONTENTS: dict[str, ContentWords] = {
    "walk": _walk(("forward", "ahead", "straight ahead"), ("onward", "straight along a line")),
    "walk-back": _walk(("backward", "backwards"), ("backward step by step", "backwards in reverse")),
    **_side("left"),
    **_side("right"),
    "run": ContentWords(
        "move",
        ("runs forward", "runs ahead", "jogs forward", "is running forward"),
        ("breaks into a run", "runs along"),
    ),
    "dash": ContentWords(
        "move",
        ("dashes forward", "sprints forward", "runs fast", "sprints ahead at full speed"),
        ("races forward", "bolts ahead"),
    ),
    "bow": ContentWords(
        "other",
        ("bows", "bows politely", "bends forward in a bow", "takes a bow"),
        ("gives a respectful bow", "bows {pos} head and upper body"),
    ),
    "bye": ContentWords(
        "other",
        (
            "waves goodbye",
            "waves goodbye with one hand",
            "raises a hand and waves goodbye",
            "says goodbye with a wave of the hand",
        ),
        ("waves farewell", "bids farewell with a hand"),
    ),
    "byebye": ContentWords(
        "other",
        (
            "waves goodbye with both hands",
            "waves both arms to say goodbye",
            "raises both hands and waves goodbye",
        ),
        ("waves farewell with both arms above {pos} head", "bids farewell with both hands"),
    ),
    "guide": ContentWords(
        "other",
        (
            "gestures to show the way",
            "guides someone with an open hand",
            "points the way with {pos} hand",
            "motions with {pos} arm to show the direction",
        ),
        ("directs someone with a hand gesture", "shows someone where to go"),
    ),
    "respond": ContentWords(
        "other",
        ("raises a hand to respond", "puts up a hand to answer", "raises {pos} hand in reply"),
        ("lifts a hand to reply", "answers by putting a hand up"),
    ),
    "call": ContentWords(
        "other",
        ("calls out to someone", "calls someone over", "calls out to get someone's attention"),
        ("shouts to someone far away", "hails somebody"),
    ),
    "punch": ContentWords(
        "other",
        ("punches", "throws punches", "punches forward", "throws a punch"),
        ("strikes with {pos} fist", "jabs at an opponent"),
    ),
    "kick": ContentWords(
        "other",
        ("kicks", "kicks forward", "throws a kick", "kicks with {pos} leg"),
        ("delivers a kick", "kicks at an opponent"),
    ),
    "slash": ContentWords(
        "other",
        ("slashes with a sword", "swings a sword", "makes sword slashes", "cuts with a blade"),
        ("strikes with a two-handed sword", "slices through the air with a blade"),
    ),
    "dance-long": ContentWords(
        "other",
        ("dances", "performs a long dance", "does a long dance routine", "dances for a long time"),
        ("moves to music in an extended dance", "grooves through a lengthy routine"),
    ),
    "dance-short": ContentWords(
        "other",
        ("dances", "performs a short dance", "does a short dance routine", "dances briefly"),
        ("moves to music for a moment", "grooves through a quick routine"),
    ),
    "wave-both-hands": ContentWords(
        "other",
        ("waves both hands", "waves with both hands", "waves both arms in the air"),
        ("greets someone by waving both arms", "flaps both hands in a wave"),
    ),
    "raise-up-both-hands": ContentWords(
        "other",
        (
            "raises both hands",
            "lifts both arms up",
            "puts both hands up",
            "raises both hands above {pos} head",
        ),
        ("stretches both arms overhead", "reaches up high with both arms"),
    ),
}

WALK_VERBS: tuple[str, ...] = _WALK
HELDOUT_WALK_VERBS: tuple[str, ...] = _HWALK

BN1_CONTENTS = ("walk", "run", "dash", "walk-back", "walk-left", "walk-right", "bow", "bye", "guide", "byebye",
                "respond", "call", "punch", "kick", "slash", "dance-long", "dance-short")  # fmt: skip
BN1_STYLES = ("normal", "happy", "sad", "angry", "proud", "not-confident", "masculinity", "feminine", "childish",
              "old", "tired", "active", "musical", "giant", "chimpira")  # fmt: skip
BN2_CONTENTS = ("walk", "walk-turn-left", "walk-turn-right", "run", "wave-both-hands", "wave-left-hand",
                "wave-right-hand", "raise-up-both-hands", "raise-up-left-hand", "raise-up-right-hand")  # fmt: skip
BN2_STYLES = ("active", "elderly", "exhausted", "feminine", "masculine", "normal", "youthful")
