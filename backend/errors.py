"""Typed errors. Every message names the file, value or field that is wrong."""

from __future__ import annotations

__all__ = [
    "AsfAmcError",
    "BvhError",
    "CheckpointError",
    "ConfigError",
    "DatasetError",
    "FetchError",
    "IndexError_",
    "IndexMismatchError",
    "InvalidInputError",
    "MotionDataError",
    "MotionSearchError",
    "NotFoundError",
    "RigMappingError",
]


class MotionSearchError(Exception):
    """Base class of every error the project raises on purpose."""


class BvhError(MotionSearchError):
    """A BVH file is malformed, truncated, or uses unsupported channels."""


class AsfAmcError(BvhError):
    """An Acclaim ASF/AMC file is malformed (a motion-file error, handled like :class:`BvhError`)."""


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


class IndexError_(MotionSearchError):
    """An index folder is missing or corrupt."""


class IndexMismatchError(IndexError_):
    """An index was built by a different checkpoint than the one being served."""


class NotFoundError(MotionSearchError):
    """A requested clip / item does not exist."""


class InvalidInputError(MotionSearchError):
    """A request or argument is invalid (names the field and the problem)."""
