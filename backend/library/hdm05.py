"""HDM05 cut clips: file names -> class, actor and take; class -> action label and captions.

File layout (``hdm05-cuts``): ``<train|test>/<class number>/HDM_<actor>_<class>_<take>_120.amc`` with the actor's
skeleton ``HDM_<actor>.asf`` beside it. The eleven classes are HDM05's own names; :data:`CLASSES` gives each an
action label (the ``action`` label of the library, like Bandai-Namco's contents) and two disjoint pools of verb
phrases: training phrasings go into the library's captions, held-out ones are for evaluation queries only.
Sides are spelled out where the class names one (``kickLFront`` = a kick with the left leg, ``depositFloorR``
and ``grabHighR`` = the right hand), so a caption never contradicts its motion.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from typing import NamedTuple

from backend.errors import DatasetError, InvalidInputError

__all__ = ["CLASSES", "TERSE", "Hdm05Class", "HdmName", "hdm05_captions", "hdm05_terse", "parse_hdm05_name"]

_NAME = re.compile(r"^HDM_(?P<actor>[a-z]{2})_(?P<cls>[A-Za-z0-9]+)_(?P<take>\d{3})_(?P<fps>\d+)$")


@dataclass(frozen=True)
class Hdm05Class:
    """One HDM05 class: its action label and verb phrases (third person, ``{pos}`` = possessive)."""

    action: str
    phrases: tuple[str, ...]
    heldout: tuple[str, ...]


CLASSES: dict[str, Hdm05Class] = {
    "depositFloorR": Hdm05Class(
        "put-down-floor-right-hand",
        (
            "bends down and puts something on the floor with {pos} right hand",
            "places an object on the ground with the right hand",
            "crouches and sets something down on the floor using {pos} right hand",
            "reaches down to the floor and leaves an object there with the right hand",
            "puts an item down on the ground",
            "lowers something to the floor with {pos} right hand",
        ),
        (
            "stoops to deposit a thing on the ground, right-handed",
            "sets an object onto the floor, right hand doing the work",
        ),
    ),
    "elbowToKnee1RepsLelbowStart": Hdm05Class(
        "elbow-to-knee",
        (
            "touches {pos} left elbow to {pos} right knee, then the other side",
            "does an elbow-to-knee exercise, twisting the torso",
            "brings the left elbow down to the right knee and alternates",
            "performs a standing crunch, elbow to opposite knee",
            "twists and lifts a knee to meet the opposite elbow",
            "does alternating elbow to knee touches",
        ),
        (
            "crosses an elbow to the opposite raised knee in a workout move",
            "exercises by meeting knee and contralateral elbow",
        ),
    ),
    "grabHighR": Hdm05Class(
        "grab-high-right-hand",
        (
            "reaches up high and grabs something with {pos} right hand",
            "stretches the right arm up to take an object from a high shelf",
            "grabs something above {pos} head with the right hand",
            "reaches overhead with {pos} right hand and takes hold of something",
            "lifts the right hand high to grab an object",
            "stretches up to reach something high with the right hand",
        ),
        (
            "takes an item down from up high, right-handed",
            "extends the right arm upward to seize a thing overhead",
        ),
    ),
    "hopBothLegs1hops": Hdm05Class(
        "hop-both-legs",
        (
            "hops once on both feet",
            "does a small jump with both legs together",
            "jumps up on the spot with feet together",
            "makes a single two-footed hop",
            "hops in place with both legs",
            "jumps once with both feet",
        ),
        (
            "bounces off the ground once, feet side by side",
            "performs one little two-legged leap",
        ),
    ),
    "jogLeftCircle4StepsRstart": Hdm05Class(
        "jog-circle-left",
        (
            "jogs in a circle to the left",
            "runs slowly around in a small circle, turning left",
            "jogs a few steps in a curve to the left",
            "jogs in a loop, turning counterclockwise",
            "does a short jog around a left-hand circle",
            "trots around in a circle to {pos} left",
        ),
        (
            "runs lightly along a leftward curve",
            "goes round in a circle at a jogging pace, bearing left",
        ),
    ),
    "kickLFront1Reps": Hdm05Class(
        "kick-left-leg",
        (
            "kicks forward with {pos} left leg",
            "does a front kick with the left foot",
            "kicks straight ahead with the left leg",
            "swings the left leg up in a forward kick",
            "kicks something in front with {pos} left foot",
            "performs a front kick using the left leg",
        ),
        (
            "delivers a forward kick, left-footed",
            "snaps the left leg out ahead in a kick",
        ),
    ),
    "lieDownFloor": Hdm05Class(
        "lie-down",
        (
            "lies down on the floor",
            "gets down and lies flat on the ground",
            "sits down and then lies on {pos} back on the floor",
            "lowers {pos} body to the ground and lies down",
            "lies down on the ground",
            "goes from standing to lying on the floor",
        ),
        (
            "stretches out flat on the ground",
            "reclines onto the floor until lying",
        ),
    ),
    "rotateArmsBothBackward1Reps": Hdm05Class(
        "arm-circles-backward",
        (
            "circles both arms backwards",
            "rotates both arms backward in big circles",
            "does backward arm circles with both arms",
            "swings both arms around backwards",
            "makes a full backward circle with both arms",
            "windmills both arms to the back",
        ),
        (
            "turns both arms round in reverse circles",
            "loosens the shoulders with rearward arm rotations",
        ),
    ),
    "sneak2StepsLStart": Hdm05Class(
        "sneak",
        (
            "sneaks forward a couple of steps",
            "tiptoes quietly ahead",
            "creeps forward carefully, trying not to be heard",
            "sneaks ahead on {pos} toes",
            "walks stealthily forward",
            "takes a few sneaky steps",
        ),
        (
            "moves ahead furtively with cautious steps",
            "slinks forward like a burglar",
        ),
    ),
    "squat1Reps": Hdm05Class(
        "squat",
        (
            "does a squat",
            "squats down and stands back up",
            "bends {pos} knees into a deep squat and rises",
            "performs one squat",
            "crouches down low and comes back up",
            "does a single knee bend",
        ),
        (
            "sinks into a squat then straightens",
            "lowers the hips to a squat position and returns",
        ),
    ),
    "throwBasketball": Hdm05Class(
        "throw-basketball",
        (
            "throws a basketball",
            "shoots a basketball toward the hoop",
            "throws a ball forward with both hands",
            "tosses a basketball overhead",
            "makes a basketball shot",
            "throws a ball up and ahead",
        ),
        (
            "launches a basketball at the basket",
            "takes a shot at the hoop",
        ),
    ),
}

#: terse keyword forms per class: (training, held-out), disjoint like the sentence pools
TERSE: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "depositFloorR": (("put down", "place on ground right hand", "deposit on floor"),
                      ("drop off item", "set down right-handed")),
    "elbowToKnee1RepsLelbowStart": (("elbow to knee", "elbow knee touch", "crunch twist"),
                                    ("opposite elbow knee", "twist crunch")),
    "grabHighR": (("grab high", "reach high right hand", "grab overhead"), ("high grab right-handed", "top shelf grab")),
    "hopBothLegs1hops": (("hop both legs", "two foot hop", "jump in place"), ("feet together hop", "small bounce")),
    "jogLeftCircle4StepsRstart": (("jog circle left", "jog left circle", "circle jog"),
                                  ("jog around left", "left loop jog")),
    "kickLFront1Reps": (("left front kick", "kick left leg", "left leg kick forward"),
                        ("left foot kick", "kick with left")),
    "lieDownFloor": (("lie down floor", "lying down", "lie flat"), ("recline", "lie on ground")),
    "rotateArmsBothBackward1Reps": (("arm circles backward", "backward arm circles", "rotate arms back"),
                                    ("reverse arm rotation", "arm windmill back")),
    "sneak2StepsLStart": (("sneak", "sneak forward", "tiptoe walk"), ("stealthy steps", "creep forward")),
    "squat1Reps": (("squat", "one squat", "squat down"), ("knee bend", "squat and rise")),
    "throwBasketball": (("throw basketball", "basketball throw", "shoot basketball"),
                        ("basketball toss", "shoot the ball")),
}  # fmt: skip

_SUBJECTS = ("a person", "someone", "a man", "the person", "a human")
_HELDOUT_SUBJECTS = ("an individual", "a character")


class HdmName(NamedTuple):
    """Parts of an HDM05 cut file stem ``HDM_<actor>_<class>_<take>_<fps>``."""

    actor: str
    cls: str
    take: int
    fps: int


def parse_hdm05_name(stem: str) -> HdmName:
    """Parse an HDM05 cut file stem.

    >>> parse_hdm05_name("HDM_bd_kickLFront1Reps_001_120")
    HdmName(actor='bd', cls='kickLFront1Reps', take=1, fps=120)

    Raises:
        DatasetError: not ``HDM_<actor>_<class>_<take>_<fps>``, or a class :data:`CLASSES` does not know.
    """
    m = _NAME.match(stem)
    if not m:
        raise DatasetError(f"{stem}: not an HDM05 clip name (HDM_<actor>_<class>_<take>_<fps>)")
    if m["cls"] not in CLASSES:
        raise DatasetError(f"{stem}: unknown HDM05 class {m['cls']!r}; known: {', '.join(CLASSES)}")
    return HdmName(m["actor"], m["cls"], int(m["take"]), int(m["fps"]))


def hdm05_captions(cls: str, clip_id: str, *, heldout: bool = False, n: int = 6) -> list[str]:
    """Distinct captions for a clip of HDM05 class ``cls``, chosen deterministically by ``clip_id``.

    Args:
        cls: HDM05 class name (a key of :data:`CLASSES`).
        clip_id: seeds the choice, so a clip always gets the same captions.
        heldout: draw from the held-out pools (evaluation queries only; never in a library).
        n: number of captions (fewer when the pools are smaller).

    Raises:
        InvalidInputError: unknown class (lists the known ones).

    >>> hdm05_captions("kickLFront1Reps", "x", n=2)[0].count("left")
    1
    """
    if cls not in CLASSES:
        raise InvalidInputError(f"unknown HDM05 class {cls!r}; known: {', '.join(CLASSES)}")
    entry = CLASSES[cls]
    phrases = entry.heldout if heldout else entry.phrases
    subjects = _HELDOUT_SUBJECTS if heldout else _SUBJECTS
    seed = hashlib.sha256(f"{clip_id}|hdm05|{'heldout' if heldout else 'train'}".encode()).digest()
    rng = random.Random(int.from_bytes(seed[:8], "big"))
    order = list(phrases)
    rng.shuffle(order)
    out = []
    for k, phrase in enumerate(order[:n]):
        subject = subjects[(k + rng.randrange(len(subjects))) % len(subjects)]
        pos = "his" if subject == "a man" else "their"
        out.append(f"{subject} {phrase.format(pos=pos)}")
    return out


def hdm05_terse(cls: str, clip_id: str, *, heldout: bool = False, n: int = 6) -> list[str]:
    """Terse keyword captions of HDM05 class ``cls`` (:data:`TERSE`), shuffled by ``clip_id``.

    Raises:
        InvalidInputError: unknown class.

    >>> sorted(hdm05_terse("squat1Reps", "x", heldout=True))
    ['knee bend', 'squat and rise']
    """
    if cls not in TERSE:
        raise InvalidInputError(f"unknown HDM05 class {cls!r}; known: {', '.join(TERSE)}")
    order = list(TERSE[cls][1 if heldout else 0])
    seed = hashlib.sha256(f"{clip_id}|hdm05-terse|{'heldout' if heldout else 'train'}".encode()).digest()
    random.Random(int.from_bytes(seed[:8], "big")).shuffle(order)
    return order[:n]
