"""Typed errors. Every message names the file, value or field that is wrong."""

from __future__ import annotations

__all__ = [
    "MotionSearchError",
    "BvhError",
    "RigMappingError",
    "MotionDataError",
    "DatasetError",
    "FetchError",
    "ConfigError",
    "CheckpointError",
    "IndexError_",
    "IndexMismatchError",
    "NotFoundError",
    "InvalidInputError",
]


class MotionSearchError(Exception):
    """Base class of every error the project raises on purpose."""


class BvhError(MotionSearchError):
    """A BVH file is malformed, truncated, or uses unsupported channels."""


class RigMappingError(MotionSearchError):
    """A skeleton cannot be mapped onto the 22 SMPL joints (names the missing joints)."""


class MotionDataError(MotionSearchError):
    """Motion values are unusable: zero frames, NaN/inf, absurd frame rate, wrong shape."""


class DatasetError(MotionSearchError):
    """A dataset folder does not have the expected layout."""


class FetchError(MotionSearchError):
    """A data source could not be fetched or failed its checksum."""


class ConfigError(MotionSearchError):
    """A configuration value is invalid (names the field)."""


class CheckpointError(MotionSearchError):
    """A model checkpoint is missing, incomplete or inconsistent."""


class IndexError_(MotionSearchError):  # noqa: N801 - avoid shadowing the builtin IndexError
    """An index folder is missing or corrupt."""


class IndexMismatchError(IndexError_):
    """An index was built by a different checkpoint than the one being served."""


class NotFoundError(MotionSearchError):
    """A requested clip / item does not exist."""


class InvalidInputError(MotionSearchError):
    """A request or argument is invalid (names the field and the problem)."""
