"""Readers of the official text-motion dataset layouts (HumanML3D, KIT-ML) into canonical clips.

They sit above ``motion.io`` (pure parsing) because they canonicalise with ``motion.kinematics``.
"""

from __future__ import annotations
