"""Parse a ``POST /describe`` body without turning its joints into Python lists.

``json.loads`` makes a Python float (24 bytes) and a list slot (8 bytes) of every number, plus a list object
per ``[x, y, z]``: about 25 times the body's size in memory. Here the ``joints`` array is matched against the
exact JSON grammar of a ``[T][22][3]`` array of numbers (a regular expression with possessive repeats: one pass,
no backtracking) and converted by numpy in one step; only the rest of the body (``fps``, ``k``) goes through
``json.loads``. Peak memory is a few times the body. A body whose joints are not such an array (``null``,
ragged, strings) takes the ordinary JSON path if it is small, so the answer names the problem as usual, and
is refused with a ``422`` if it is large.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
from fastapi.exceptions import RequestValidationError

from backend.errors import InvalidInputError

__all__ = ["GENERIC_PARSE_BYTES", "decode_json", "parse_describe_body"]

#: Bodies up to this size whose joints are not a plain numeric array are parsed by ``json.loads``.
GENERIC_PARSE_BYTES = 1 << 20

_WS = rb"[ \t\n\r]*"
_NUM = rb"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
_TRIPLE = rb"\[" + _WS + _NUM + (_WS + rb"," + _WS + _NUM) * 2 + _WS + rb"\]"
_FRAME = rb"\[" + _WS + _TRIPLE + rb"(?:" + _WS + rb"," + _WS + _TRIPLE + rb"){21}+" + _WS + rb"\]"
_ARRAY = re.compile(rb"\[" + _WS + _FRAME + rb"(?:" + _WS + rb"," + _WS + _FRAME + rb")*+" + _WS + rb"\]")
_KEY = re.compile(rb'"joints"' + _WS + rb":" + _WS + rb"(?=\[)")
_SEPARATORS = bytes.maketrans(b"[],", b"   ")


def decode_json(raw: bytes) -> Any:
    """``json.loads`` with FastAPI's ``422`` for invalid JSON (and ``400``-style errors for deep nesting).

    Raises:
        RequestValidationError: not valid JSON (names the position).
        InvalidInputError: nested too deeply for the decoder.
    """
    try:
        return json.loads(raw)
    except RecursionError:
        raise InvalidInputError("request body is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body", getattr(exc, "pos", 0)),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": str(exc)},
                }
            ]
        ) from None


def parse_describe_body(raw: bytes) -> Any:
    """The decoded body, with ``joints`` as a ``(T, 22, 3)`` float64 array when it is a plain numeric array.

    Args:
        raw: the request body (already capped in size by the request guard).

    Returns:
        What ``json.loads`` would return, except that ``joints`` may be an ndarray.

    Raises:
        RequestValidationError: invalid JSON.
        InvalidInputError: a large body whose joints are not a ``[T][22][3]`` array of JSON numbers.

    >>> d = parse_describe_body(b'{"fps": 20, "joints": [' + b",".join([b"[" + b",".join([b"[0,1.5,-2e1]"] * 22) + b"]"] * 2) + b"]}")
    >>> d["fps"], d["joints"].shape, float(d["joints"][1, 21, 2])
    (20, (2, 22, 3), -20.0)
    """
    key = _KEY.search(raw)
    if key is not None:
        match = _ARRAY.match(raw, key.end())
        if match is not None:
            rest = decode_json(raw[: match.start()] + b"null" + raw[match.end() :])
            if isinstance(rest, dict) and "joints" in rest and rest["joints"] is None:
                text = raw[match.start() : match.end()].translate(_SEPARATORS)
                rest["joints"] = _numbers(text).reshape(-1, 22, 3)
                return rest
    if len(raw) > GENERIC_PARSE_BYTES:
        raise InvalidInputError(
            f"joints must be a [T][22][3] array of JSON numbers (a body over {GENERIC_PARSE_BYTES} bytes is only "
            "read that way)"
        )
    return decode_json(raw)


def _numbers(text: bytes) -> np.ndarray:
    """The whitespace-separated numbers of ``text`` (already checked against the JSON grammar)."""
    return np.fromstring(text, dtype=np.float64, sep=" ")  # text mode (sep given): one C pass, not deprecated
