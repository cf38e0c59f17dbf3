"""Terse caption forms, the way animators type queries (data only; composed in :mod:`backend.library.captions`).

Per content and per style label a *training* pool and a disjoint *held-out* pool (evaluation queries only), like
the sentence pools of :mod:`backend.library.caption_vocab`. A terse caption is an action phrase alone or a
style word before it (``"elderly wave left hand"``); sides and directions stay spelled out. HDM05's terse
phrases live with its classes in :mod:`backend.library.hdm05`.
"""

from __future__ import annotations

__all__ = ["CONTENT_TERSE", "IDLE_TERSE", "STYLE_TERSE"]

Pools = tuple[tuple[str, ...], tuple[str, ...]]  # (training, held-out)


def _sided(side: str) -> dict[str, Pools]:
    return {
        f"walk-{side}": ((f"walk {side}", f"walk to the {side}", f"sidestep {side}"),
                         (f"{side}ward walk", f"step {side}")),
        f"walk-turn-{side}": ((f"walk turn {side}", f"walk and turn {side}", f"{side} turn"),
                              (f"turn {side} while walking", f"curve {side}")),
        f"wave-{side}-hand": ((f"wave {side} hand", f"{side} wave", f"waving {side} hand"),
                              (f"{side}-handed wave", f"wave with {side}")),
        f"raise-up-{side}-hand": ((f"raise {side} hand", f"{side} arm raise", f"raising {side} arm"),
                                  (f"{side} hand raised", f"lift {side} hand")),
    }  # fmt: skip


CONTENT_TERSE: dict[str, Pools] = {
    "walk": (("walk", "walk forward", "walking forward", "forward walk"), ("plain walk", "walk ahead")),
    "walk-back": (("walk backward", "backward walk", "walking backwards"), ("back up", "reverse steps")),
    **_sided("left"),
    **_sided("right"),
    "run": (("run", "running forward", "jog"), ("run forward", "quick run")),
    "dash": (("dash", "sprinting", "fast run"), ("full speed run", "sprint forward")),
    "bow": (("bow", "polite bow", "bowing down"), ("deep bow", "take a bow")),
    "bye": (("wave goodbye", "goodbye", "bye wave"), ("farewell wave", "bye bye")),
    "byebye": (("wave goodbye both hands", "two-handed goodbye"), ("big goodbye wave", "farewell both arms")),
    "guide": (("guide", "show the way", "point the way"), ("this way gesture", "direct someone")),
    "respond": (("raise hand to answer", "respond", "answer hand up"), ("reply gesture", "hand up to reply")),
    "call": (("call", "call out", "calling someone"), ("shout out", "yell to someone")),
    "punch": (("punch", "punches", "throw punch"), ("fist strike", "punch combo")),
    "kick": (("kick", "kicks", "kick forward"), ("leg kick", "kick attack")),
    "slash": (("sword slash", "slash", "sword swing"), ("blade cut", "slashing")),
    "dance-long": (("dance", "long dance", "dance routine"), ("extended dance", "dance sequence")),
    "dance-short": (("dance", "short dance", "quick dance"), ("brief dance", "dance move")),
    "wave-both-hands": (("wave both hands", "waving both hands", "both hands wave"),
                        ("two-handed wave", "wave both arms")),
    "raise-up-both-hands": (("raise both hands", "both arms up", "raising both arms"),
                            ("lift both arms", "arms overhead")),
}  # fmt: skip

#: style label (after ``caption_vocab.STYLE_ALIASES``) -> style words; "" = the bare action phrase
STYLE_TERSE: dict[str, Pools] = {
    "normal": (("", "normal", "neutral"), ("regular", "plain")),
    "happy": (("happy", "cheerful"), ("joyful", "glad")),
    "sad": (("sad", "gloomy"), ("sorrowful", "downcast")),
    "angry": (("angry", "furious"), ("enraged", "irate")),
    "proud": (("proud", "confident"), ("arrogant", "smug")),
    "not-confident": (("timid", "shy"), ("insecure", "unsure")),
    "masculinity": (("masculine", "manly"), ("butch", "brawny")),
    "feminine": (("feminine", "womanly"), ("ladylike", "dainty")),
    "childish": (("childish", "kid"), ("toddler", "childlike")),
    "youthful": (("youthful", "young"), ("adolescent", "teenage")),
    "old": (("elderly", "old"), ("senior", "aged")),
    "tired": (("tired", "exhausted"), ("weary", "worn out")),
    "active": (("active", "energetic"), ("lively", "peppy")),
    "musical": (("musical", "theatrical"), ("broadway", "showy")),
    "giant": (("giant", "heavy"), ("huge", "ogre")),
    "chimpira": (("thug", "punk"), ("hoodlum", "delinquent")),
}

IDLE_TERSE: Pools = (("idle", "standing idle", "idle stand", "wait in place"), ("loiter", "stand around"))
