"""The action and style of a clip, whatever its source: the keys of macro averages and balanced sampling.

* Bandai-Namco and HDM05 clips carry an ``action`` label (HDM05's is derived from its class).
* ReActIdle clips carry ``idle`` (acted / genuine): one action, ``idle``, whose style is the category.
* CMU clips carry a trial ``description``: the action is the normalised description (lower case, single
  spaces), so ``walk`` trials of every rig share one action.
* Anything else is its own action ``clip:<id>`` (e.g. HumanML3D items, which have no labels).
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["action_key", "style_key"]


def action_key(labels: Mapping[str, str], clip_id: str = "") -> str:
    """The action of a clip from its labels.

    >>> action_key({"action": "walk", "style": "old"}), action_key({"idle": "acted"})
    ('walk', 'idle')
    >>> action_key({"description": "  Run/Jog "}), action_key({}, "x1")
    ('run/jog', 'clip:x1')
    """
    if labels.get("action"):
        return str(labels["action"])
    if labels.get("idle"):
        return "idle"
    if labels.get("description"):
        return " ".join(str(labels["description"]).lower().split())
    return f"clip:{clip_id}"


def style_key(labels: Mapping[str, str]) -> str:
    """The style of a clip within its action (``""`` when it has none).

    >>> style_key({"action": "walk", "style": "old"}), style_key({"idle": "genuine"}), style_key({})
    ('old', 'genuine', '')
    """
    return str(labels.get("style") or labels.get("idle") or "")
