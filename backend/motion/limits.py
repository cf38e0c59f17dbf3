"""Clip and request limits, defined once: every reader, converter and server route imports them from here.

Plain constants plus tiny helpers, so a reader can refuse a file from its header (frame count, frame
time) before it allocates anything, and the server can refuse a body from its size before it parses it.

* A clip is at most :data:`MAX_CLIP_SECONDS` long (10 minutes) at a source rate of
  :data:`MIN_FPS` .. :data:`MAX_FPS`; hence at most :data:`MAX_SOURCE_FRAMES` source frames and
  :data:`MAX_CANONICAL_FRAMES` frames at the canonical 20 fps.
* A motion table holds at most :data:`MAX_MOTION_VALUES` numbers (frames x channels).
* A motion file (upload or path) is at most :data:`MAX_FILE_BYTES`; a ``/describe`` body at most
  :data:`MAX_DESCRIBE_BODY_BYTES`; any other JSON body at most :data:`MAX_JSON_BODY_BYTES`, nested at
  most :data:`MAX_JSON_DEPTH` deep; a text in a URL has at most :data:`MAX_URL_TEXT_CHARS` characters and a
  clip id at most :data:`MAX_ID_CHARS`.
"""

from __future__ import annotations

import math

from backend.motion.clip import CANONICAL_FPS

__all__ = [
    "ASF_SUFFIX",
    "MAX_CANONICAL_FRAMES",
    "MAX_CLIP_SECONDS",
    "MAX_DESCRIBE_BODY_BYTES",
    "MAX_FILE_BYTES",
    "MAX_FPS",
    "MAX_ID_CHARS",
    "MAX_JSON_BODY_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_MOTION_VALUES",
    "MAX_SOURCE_FRAMES",
    "MAX_URL_TEXT_CHARS",
    "MIN_FPS",
    "MOTION_FILE_SUFFIXES",
    "clip_length_problem",
    "max_frames_at",
]

#: Longest clip accepted anywhere (library adds, ``/describe``, readers): 10 minutes.
MAX_CLIP_SECONDS = 600.0
#: Accepted source frame rates (frames per second).
MIN_FPS = 1.0
MAX_FPS = 1000.0
#: Most frames a source file may declare: 10 minutes at the highest accepted rate.
MAX_SOURCE_FRAMES = int(MAX_CLIP_SECONDS * MAX_FPS)
#: Most frames of a canonical clip (10 minutes at 20 fps).
MAX_CANONICAL_FRAMES = int(MAX_CLIP_SECONDS * CANONICAL_FPS)
#: Most numbers in one motion table (frames x channels; 160 MB as float64).
MAX_MOTION_VALUES = 20_000_000
#: Largest motion file accepted (upload or a path under a library root).
MAX_FILE_BYTES = 64 * 1024 * 1024
#: Largest ``POST /describe`` body (about 10 minutes of joints at 100 fps as JSON text).
MAX_DESCRIBE_BODY_BYTES = 64 * 1024 * 1024
#: Largest body of every other JSON request.
MAX_JSON_BODY_BYTES = 1024 * 1024
#: Deepest nesting of arrays / objects in a JSON body (``/describe`` joints need 4).
MAX_JSON_DEPTH = 16
#: Most characters of a text sent in a URL (``GET /explain.png?text=``): fully percent-encoded it stays far
#: below the 16 KiB an HTTP request head may have.
MAX_URL_TEXT_CHARS = 1000
#: Most characters of a clip id in a URL path or query.
MAX_ID_CHARS = 256
#: File name suffixes the library accepts (lower case), in one place for uploads and path mode.
MOTION_FILE_SUFFIXES: tuple[str, ...] = (".bvh", ".amc")
#: Suffix of the Acclaim skeleton file an ``.amc`` motion needs beside it (or named).
ASF_SUFFIX = ".asf"


def max_frames_at(fps: float) -> int:
    """Most frames a clip may have at ``fps`` (:data:`MAX_CLIP_SECONDS` long).

    >>> max_frames_at(20.0), max_frames_at(120.0)
    (12000, 72000)
    """
    return math.floor(MAX_CLIP_SECONDS * float(fps) + 1e-9)


def clip_length_problem(frames: int, fps: float) -> str | None:
    """Why ``frames`` at ``fps`` is too long, or ``None`` when it is within the limits.

    >>> clip_length_problem(12000, 20.0) is None
    True
    >>> clip_length_problem(3000, 1.0)
    '3000 frames at 1 fps = 3000.0 s; the limit is 600 s (600 frames at this fps)'
    """
    limit = min(max_frames_at(fps), MAX_SOURCE_FRAMES)
    if frames <= limit:
        return None
    return (
        f"{frames} frames at {fps:g} fps = {frames / fps:.1f} s; the limit is {MAX_CLIP_SECONDS:g} s "
        f"({limit} frames at this fps)"
    )
