# SPDX-License-Identifier: GPL-3.0-or-later
"""Typed errors of the add-on (pure: no bpy). Every message names the URL, field or value at fault.

The add-on shares no code with the backend (the contract is HTTP only), so it has its own small error
tree. Operators catch :class:`AddonError` and show its message in the panel's status line.
"""

from __future__ import annotations

__all__ = [
    "RUN_COMMAND",
    "AddonError",
    "BackendError",
    "BackendHTTPError",
    "BackendTimeoutError",
    "BackendUnreachableError",
    "BadResponseError",
    "MotionDataError",
    "OnlineAccessError",
    "RigMapError",
]

#: How the README tells users to start the backend (quoted in "not reachable" messages).
RUN_COMMAND = "bash scripts/run.sh"


class AddonError(Exception):
    """Base class of every error the add-on raises on purpose."""


class BackendError(AddonError):
    """Talking to the backend failed."""


class BackendUnreachableError(BackendError):
    """Nothing answers at the backend URL (connection refused, unknown host, ...)."""

    def __init__(self, url: str, reason: str = "") -> None:
        self.url = url
        self.reason = reason
        extra = f" ({reason})" if reason else ""
        super().__init__(f"backend not reachable at {url}{extra}: start it with `{RUN_COMMAND}`")


class BackendTimeoutError(BackendError):
    """The backend did not answer within the configured timeout."""

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        super().__init__(
            f"backend at {url} did not answer within {timeout:g} s "
            "(raise the timeout in the add-on preferences or check the server log)"
        )


class BackendHTTPError(BackendError):
    """The backend answered with a 4xx/5xx status; ``detail`` is the server's message."""

    def __init__(self, url: str, status: int, detail: str) -> None:
        self.url = url
        self.status = status
        self.detail = detail
        super().__init__(f"backend error {status} at {url}: {detail}")


class BadResponseError(BackendError):
    """The backend answered, but not with what the HTTP contract promises (names the field)."""


class OnlineAccessError(AddonError):
    """A non-loopback backend URL while Blender's online access is disabled."""

    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(
            f"online access is disabled, so the add-on may not contact {url}: allow it in "
            "Preferences > System > Network > Allow Online Access, or use a backend on 127.0.0.1"
        )


class RigMapError(AddonError):
    """An armature's bones cannot be mapped to the joints that are needed (lists the missing joints)."""


class MotionDataError(AddonError):
    """Joint data has the wrong shape or unusable values (names the shape / value)."""
