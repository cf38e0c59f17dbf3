# SPDX-License-Identifier: GPL-3.0-or-later
"""Checked reading of the backend's JSON answers (pure): a field of the right type, a list of strings or
numbers, or a :class:`BadResponseError` naming the field (``results[2].alignment.tokens``)."""

from __future__ import annotations

from typing import Any

from .errors import BadResponseError

__all__ = ["floats", "optional", "req", "strings"]


def req(d: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """``d[key]`` checked to be of ``kind`` (ints count as floats; bools never count as numbers)."""
    if not isinstance(d, dict):
        raise BadResponseError(f"{where or 'response'} must be a JSON object; got {type(d).__name__}")
    if key not in d:
        raise BadResponseError(f"{where + '.' if where else ''}{key} is missing from the backend's answer")
    v = d[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if float in kinds and isinstance(v, int) and not isinstance(v, bool):
        return float(v)
    if not isinstance(v, kinds) or (isinstance(v, bool) and bool not in kinds):
        names = "/".join(k.__name__ for k in kinds)
        raise BadResponseError(f"{where + '.' if where else ''}{key} must be {names}; got {type(v).__name__}")
    return v


def strings(values: Any, where: str) -> tuple[str, ...]:
    """A list of strings."""
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise BadResponseError(f"{where} must be a list of strings; got {values!r:.80}")
    return tuple(values)


def floats(values: Any, where: str, allow_none: bool = False) -> list:
    """A list of numbers (or ``None`` when allowed)."""
    if not isinstance(values, list):
        raise BadResponseError(f"{where} must be a list; got {type(values).__name__}")
    out: list[float | None] = []
    for i, v in enumerate(values):
        if v is None and allow_none:
            out.append(None)
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out.append(float(v))
        else:
            raise BadResponseError(f"{where}[{i}] must be a number; got {v!r}")
    return out


def optional(d: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """:func:`req` of ``d[key]``, or ``None`` when the key is absent or null (fields newer servers add)."""
    return None if not isinstance(d, dict) or d.get(key) is None else req(d, key, kind, where)
