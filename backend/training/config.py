"""``TrainConfig``: one experiment = one YAML file + dotted CLI overrides; the resolved config is saved.

Layout of a config file (every section and key optional; defaults below)::

    model:  {RetrievalConfig fields: vit_name, vit_kwargs, text_trainable_layers, scoring, ...}
    data:   {dataset, root, train_split, val_split, max_train_clips, max_val_clips, num_workers, mirror_prob,
             terse_prob, balance, balance_power, hard_negatives}
    optim:  {epochs, batch_size, lr_motion, lr_text, lr_heads, weight_decay, warmup_steps, schedule,
             min_lr_ratio, drop_path, grad_clip, max_steps}
    seed: 0
    device: auto
    amp: true
    ...

A file may start from another with ``base: other.yaml`` (path relative to the file; nested sections are
merged key by key, the file's own values win). Overrides use dotted keys, ``--set optim.lr_text=1e-5 --set model.vit_kwargs.depth=6``; values are parsed as
YAML and then coerced to the field's type (so ``1e-5`` is a float even though YAML 1.1 reads it as a string).
Unknown keys and ill-typed values raise :class:`~backend.errors.ConfigError` naming the dotted key.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backend.atomic import atomic_write_text
from backend.errors import ConfigError
from backend.evaluation.data import DATASETS
from backend.model.config import RetrievalConfig
from backend.training.overrides import apply_overrides, coerce, coerce_fields, read_yaml

__all__ = [
    "DATASETS",
    "SCHEDULES",
    "SELECT_METRICS",
    "DataConfig",
    "OptimConfig",
    "TrainConfig",
    "apply_overrides",  # re-exported from backend.training.overrides
    "load_train_config",
]

#: ``optim.schedule`` values.
SCHEDULES = ("cosine", "constant")
#: ``select_metric`` values: ``rsum`` = mean of R@1, R@5, R@10 over both directions; or one direction/metric.
SELECT_METRICS = ("rsum", "t2m/R@1", "t2m/R@5", "t2m/R@10", "m2t/R@1", "m2t/R@5", "m2t/R@10")


@dataclass
class DataConfig:
    """Which data to train and select on.

    Attributes:
        dataset: ``library`` (a built library folder), ``humanml3d`` or ``kitml`` (official layouts).
        root: the dataset / library folder.
        train_split: split trained on (z-score statistics are fit on it only).
        val_split: split used for model selection. The test split is never read by training.
        max_train_clips: budget: keep at most this many training clips (a seeded random subset); None = all.
        max_val_clips: same for the validation split.
        num_workers: DataLoader worker processes (features are cached in memory, so 0 is usually fastest).
        mirror_prob: chance that a training sample is its clip's left/right mirror with ``left`` / ``right``
            swapped in the caption (0 = off; teaches the sides from both directions of every clip).
        terse_prob: chance that a training sample's caption is one of its clip's terse keyword forms
            (:mod:`backend.training.caption_forms`) instead of a sentence (0 = off).
        balance: ``none`` (uniform shuffle), ``action`` or ``action_style`` (label-balanced draws,
            :mod:`backend.training.sampling`).
        balance_power: blend of balanced and uniform draws (1 = fully balanced).
        hard_negatives: chance, per pair of batch slots, that the second is a side / style twin of the first
            (> 0 switches to :class:`~backend.training.sampling.BalancedSampler` even with ``balance: none``).
    """

    dataset: str = "library"
    root: str = "data/library"
    train_split: str = "train"
    val_split: str = "val"
    max_train_clips: int | None = None
    max_val_clips: int | None = None
    num_workers: int = 0
    mirror_prob: float = 0.0
    terse_prob: float = 0.0
    balance: str = "none"
    balance_power: float = 1.0
    hard_negatives: float = 0.0


@dataclass
class OptimConfig:
    """Optimisation.

    Attributes:
        epochs: passes over the training set (an epoch = one random caption per clip).
        batch_size: clips per step *per process* (in-batch negatives are per process, see
            :mod:`backend.training.distributed`).
        lr_motion: learning rate of the motion encoder (bands + ViT).
        lr_text: learning rate of the trainable part of the text encoder.
        lr_heads: learning rate of the heads (projections, MLM head, logit scale, ...).
        weight_decay: AdamW decay of weight matrices (norms, biases, embeddings-like 1-D tensors: 0).
        warmup_steps: linear warm-up from 0 to the learning rates.
        schedule: ``cosine`` (decay to ``min_lr_ratio`` x lr at the last step) or ``constant``.
        min_lr_ratio: final learning rate as a fraction of the peak.
        drop_path: stochastic-depth rate of the ViT (passed as ``vit_kwargs.drop_path_rate`` unless the model
            section sets it).
        grad_clip: maximum global gradient norm; 0 disables clipping.
        max_steps: stop after this many optimiser steps (budgeted runs); None = ``epochs`` full passes.
    """

    epochs: int = 30
    batch_size: int = 64
    lr_motion: float = 3e-4
    lr_text: float = 2e-5
    lr_heads: float = 1e-3
    weight_decay: float = 0.05
    warmup_steps: int = 100
    schedule: str = "cosine"
    min_lr_ratio: float = 0.01
    drop_path: float = 0.1
    grad_clip: float = 1.0
    max_steps: int | None = None


@dataclass
class TrainConfig:
    """A full experiment.

    Attributes:
        model: the model's :class:`~backend.model.config.RetrievalConfig`.
        data: :class:`DataConfig`.
        optim: :class:`OptimConfig`.
        seed: seed of python / numpy / torch (each process adds its rank), the caption choice and cropping.
        device: ``auto`` (cuda when available), ``cpu``, ``cuda`` or ``cuda:N``.
        amp: bf16 autocast on CUDA (ignored on CPU).
        eval_every: validate every N optimiser steps; 0 = at the end of every epoch (and always at the end).
        eval_batch_size: clips / captions per encoding batch during validation.
        select_metric: validation metric that picks the best checkpoint (see :data:`SELECT_METRICS`).
        log_every: write a ``log.jsonl`` training record every N steps.
        threads: torch CPU threads (0 = leave torch's default).
    """

    model: RetrievalConfig = field(default_factory=RetrievalConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    eval_every: int = 0
    eval_batch_size: int = 128
    select_metric: str = "rsum"
    log_every: int = 10
    threads: int = 0

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (YAML/JSON-ready); the model section is ``RetrievalConfig.to_dict()``."""
        out: dict[str, Any] = {"model": self.model.to_dict()}
        out["data"] = dataclasses.asdict(self.data)
        out["optim"] = dataclasses.asdict(self.optim)
        for f in dataclasses.fields(self):
            if f.name not in ("model", "data", "optim"):
                out[f.name] = getattr(self, f.name)
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TrainConfig:
        """Build and validate a config from a nested dict (unknown keys / bad values raise ConfigError).

        Args:
            raw: nested dict as read from YAML.
        """
        if not isinstance(raw, dict):
            raise ConfigError(f"a training config must be a mapping, got {type(raw).__name__}")
        raw = dict(raw)
        model_raw = raw.pop("model", None) or {}
        data = _build(DataConfig, raw.pop("data", None) or {}, "data")
        optim = _build(OptimConfig, raw.pop("optim", None) or {}, "optim")
        top = coerce_fields(cls, raw, "", skip=("model", "data", "optim"))
        model = _build_model(model_raw, optim.drop_path)
        cfg = cls(model=model, data=data, optim=optim, **top)
        cfg.validate()
        return cfg

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the resolved config as YAML atomically (:func:`backend.atomic.atomic_write_text`)."""
        import yaml

        atomic_write_text(path, yaml.safe_dump(self.to_dict(), sort_keys=False))

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Check value ranges. Raises ConfigError naming the dotted key."""
        d, o = self.data, self.optim
        if d.dataset not in DATASETS:
            raise ConfigError(f"data.dataset must be one of {list(DATASETS)}, got {d.dataset!r}")
        for key in ("max_train_clips", "max_val_clips"):
            v = getattr(d, key)
            if v is not None and v < 1:
                raise ConfigError(f"data.{key} must be >= 1 or null, got {v}")
        _at_least("data.num_workers", d.num_workers, 0)
        for key in ("mirror_prob", "terse_prob", "balance_power", "hard_negatives"):
            if not 0.0 <= getattr(d, key) <= 1.0:
                raise ConfigError(f"data.{key} must be in [0, 1], got {getattr(d, key)}")
        if d.balance not in ("none", "action", "action_style"):  # = sampling.BALANCE_MODES
            raise ConfigError(
                f"data.balance must be one of ['none', 'action', 'action_style'], got {d.balance!r}"
            )
        _at_least("optim.epochs", o.epochs, 1)
        _at_least("optim.batch_size", o.batch_size, 2)
        for key in ("lr_motion", "lr_text", "lr_heads", "weight_decay", "grad_clip"):
            _at_least(f"optim.{key}", getattr(o, key), 0.0)
        _at_least("optim.warmup_steps", o.warmup_steps, 0)
        if o.schedule not in SCHEDULES:
            raise ConfigError(f"optim.schedule must be one of {list(SCHEDULES)}, got {o.schedule!r}")
        if not 0.0 <= o.min_lr_ratio <= 1.0:
            raise ConfigError(f"optim.min_lr_ratio must be in [0, 1], got {o.min_lr_ratio}")
        if not 0.0 <= o.drop_path < 1.0:
            raise ConfigError(f"optim.drop_path must be in [0, 1), got {o.drop_path}")
        if o.max_steps is not None and o.max_steps < 1:
            raise ConfigError(f"optim.max_steps must be >= 1 or null, got {o.max_steps}")
        if self.device != "auto" and not (self.device == "cpu" or self.device.startswith("cuda")):
            raise ConfigError(f"device must be auto, cpu, cuda or cuda:N, got {self.device!r}")
        _at_least("eval_every", self.eval_every, 0)
        _at_least("eval_batch_size", self.eval_batch_size, 1)
        _at_least("log_every", self.log_every, 1)
        _at_least("threads", self.threads, 0)
        if self.select_metric not in SELECT_METRICS:
            raise ConfigError(
                f"select_metric must be one of {list(SELECT_METRICS)}, got {self.select_metric!r}"
            )


def load_train_config(path: str | os.PathLike[str] | None, overrides: list[str] | None = None) -> TrainConfig:
    """Read a YAML config (or start from the defaults) and apply dotted ``key=value`` overrides.

    Args:
        path: YAML file, or None for the defaults.
        overrides: ``["optim.lr_text=1e-5", "model.vit_kwargs.depth=6", ...]``.

    Returns:
        The validated :class:`TrainConfig`.

    Raises:
        ConfigError: missing/unreadable file, unknown key, bad value (names the file or the key).
    """
    raw = read_yaml(Path(path)) if path is not None else {}
    raw = apply_overrides(raw, overrides or [])
    try:
        return TrainConfig.from_dict(raw)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}" if path is not None else str(exc)) from exc


# ---------------------------------------------------------------------- helpers
def _at_least(name: str, value: float, low: float) -> None:
    if value < low:
        raise ConfigError(f"{name} must be >= {low}, got {value}")


def _build(cls: type, raw: Any, prefix: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{prefix} must be a mapping, got {raw!r}")
    return cls(**coerce_fields(cls, raw, prefix + "."))


def _build_model(raw: Any, drop_path: float) -> RetrievalConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"model must be a mapping, got {raw!r}")
    values = coerce_fields(RetrievalConfig, raw, "model.", skip=(), allow_extra=("temperature_min",))
    if "temperature_min" in values:
        values["temperature_min"] = coerce(values["temperature_min"], float, "model.temperature_min")
    kwargs = dict(values.get("vit_kwargs") or {})
    if drop_path > 0 and "drop_path_rate" not in kwargs:
        kwargs["drop_path_rate"] = drop_path
    values["vit_kwargs"] = kwargs
    try:
        return RetrievalConfig.from_dict(values)
    except ConfigError as exc:
        raise ConfigError(f"model: {exc}") from exc
