# SPDX-License-Identifier: GPL-3.0-or-later
"""bpy helpers that turn joints into armatures and actions, and back (imported lazily by the operators)."""

from __future__ import annotations

__all__: list[str] = []
