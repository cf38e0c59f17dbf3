"""YAML config files and dotted overrides: ``base:`` inheritance, ``key=value`` parsing, type coercion.

Used by :mod:`backend.training.config`; kept apart so the dataclasses stay readable.
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from pathlib import Path
from typing import Any

from backend.errors import ConfigError

__all__ = ["apply_overrides", "coerce", "coerce_fields", "merge", "read_yaml"]


def read_yaml(path: Path, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a config file, resolving ``base: other.yaml`` (relative to the file) by a recursive merge."""
    import yaml

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a training config must be a YAML mapping")
    base = raw.pop("base", None)
    if base is None:
        return raw
    base_path = (path.parent / str(base)).resolve()
    if base_path in chain or base_path == path.resolve():
        raise ConfigError(f"{path}: 'base' chain loops back to {base_path}")
    return merge(read_yaml(base_path, (*chain, path.resolve())), raw)


def merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict merge: ``top`` wins; nested mappings are merged key by key.

    >>> merge({"optim": {"lr_text": 1, "epochs": 2}, "seed": 0}, {"optim": {"lr_text": 3}})
    {'optim': {'lr_text': 3, 'epochs': 2}, 'seed': 0}
    """
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Set dotted keys in a nested dict (a copy is returned).

    >>> apply_overrides({"optim": {"lr_text": 1.0}}, ["optim.lr_text=1e-5", "seed=3"])
    {'optim': {'lr_text': '1e-5'}, 'seed': 3}
    """
    import yaml

    out = copy.deepcopy(raw)
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key or any(not part for part in key.split(".")):
            raise ConfigError(f"override {item!r} must look like section.key=value")
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            value = text
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            nxt = node.get(part)
            if nxt is None:
                nxt = node[part] = {}
            if not isinstance(nxt, dict):
                raise ConfigError(f"override {key!r}: {part!r} is not a section")
            node = nxt
        node[parts[-1]] = value
    return out


def coerce_fields(
    cls: type, raw: dict[str, Any], prefix: str, skip: tuple[str, ...] = (), allow_extra: tuple[str, ...] = ()
) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.name not in skip]
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key in allow_extra:
            out[key] = value
            continue
        if key not in names:
            raise ConfigError(f"unknown config key {prefix + str(key)!r}; valid keys: {sorted(names)}")
        out[key] = coerce(value, hints[key], prefix + key)
    return out


def coerce(value: Any, tp: Any, key: str) -> Any:
    """Coerce a YAML value to the annotated type ``tp`` (ConfigError naming ``key`` when impossible)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(value, arg, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{key}: cannot use {value!r}")
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "on", "off", "1", "0"):
            return value.lower() in ("true", "yes", "on", "1")
        raise ConfigError(f"{key} must be true or false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                f = float(value)
            except ValueError:
                f = float("nan")
            if f.is_integer():
                return int(f)
        raise ConfigError(f"{key} must be an integer, got {value!r}")
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{key} must be a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{key} must be a string, got {value!r}")
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a mapping, got {value!r}")
        return dict(value)
    if origin in (tuple, list) or tp in (tuple, list):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{key} must be a list, got {value!r}")
        item_types = [a for a in typing.get_args(tp) if a is not Ellipsis]
        inner = item_types[0] if item_types else Any
        items = [coerce(v, inner, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple or tp is tuple else items
    return value
