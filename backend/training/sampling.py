"""Which clips a training epoch draws: label-balanced sampling and hard-negative twins in one batch.

:class:`BalancedSampler` replaces the uniform shuffle when ``data.balance`` is ``action`` or
``action_style``. Each process draws ``len(dataset) // world_size`` indices per epoch, with replacement, from
``(seed, epoch, rank)``:

* ``action``: every action label (:func:`backend.evaluation.clip_labels.action_key`) is drawn about equally,
  whatever its clip count; clips of an action uniformly;
* ``action_style``: as ``action``, and within an action each style (:func:`~backend.evaluation.clip_labels.style_key`)
  equally;
* ``balance_power`` blends towards uniform clip sampling: weight = balanced ** p * uniform ** (1 - p) (1 = fully
  balanced, 0 = uniform).

``hard_negatives`` (the chance, per pair of batch slots, that the second slot is a *twin* of the first) puts
twins side by side -- the DataLoader cuts consecutive indices into batches, so with an even batch size a twin
always shares its anchor's batch, as an in-batch negative: a **side twin** (the action with ``left`` and
``right`` swapped, same style when there is one) or a **style twin** (same action, another style), each
half of the time when both exist.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from torch.utils.data import Dataset, DistributedSampler, Sampler

from backend.errors import ConfigError
from backend.evaluation.clip_labels import action_key, style_key

__all__ = ["BALANCE_MODES", "BalancedSampler", "balanced_weights", "build_train_sampler", "find_twins"]

#: ``data.balance`` values
BALANCE_MODES: tuple[str, ...] = ("none", "action", "action_style")


def balanced_weights(labels: Sequence[Mapping[str, str]], mode: str, power: float = 1.0) -> np.ndarray:
    """``(N,)`` sampling probabilities of the clips.

    >>> labs = [{"action": "a"}] * 3 + [{"action": "b"}]
    >>> balanced_weights(labs, "action").round(3).tolist()
    [0.167, 0.167, 0.167, 0.5]
    >>> balanced_weights(labs, "action", power=0.0).tolist()
    [0.25, 0.25, 0.25, 0.25]
    """
    if mode not in BALANCE_MODES:
        raise ConfigError(f"data.balance must be one of {list(BALANCE_MODES)}, got {mode!r}")
    n = len(labels)
    uniform = np.full(n, 1.0 / n)
    if mode == "none":
        return uniform
    actions = [action_key(lab, str(i)) for i, lab in enumerate(labels)]
    styles = [style_key(lab) if mode == "action_style" else "" for lab in labels]
    n_actions = len(set(actions))
    styles_of: dict[str, set[str]] = {}
    count: dict[tuple[str, str], int] = {}
    for a, s in zip(actions, styles, strict=True):
        styles_of.setdefault(a, set()).add(s)
        count[(a, s)] = count.get((a, s), 0) + 1
    bal = np.array(
        [1.0 / (n_actions * len(styles_of[a]) * count[(a, s)]) for a, s in zip(actions, styles, strict=True)]
    )
    w = bal**power * uniform ** (1.0 - power)
    return w / w.sum()


def _swap(action: str) -> str:
    return action.replace("left", "\0").replace("right", "left").replace("\0", "right")


def find_twins(labels: Sequence[Mapping[str, str]]) -> tuple[list[list[int]], list[list[int]]]:
    """Per clip, its side twins and its style twins (indices).

    >>> side, style = find_twins([{"action": "wave-left-hand", "style": "old"},
    ...                           {"action": "wave-right-hand", "style": "old"},
    ...                           {"action": "wave-left-hand", "style": "happy"}])
    >>> side, style
    ([[1], [0], [1]], [[2], [], [0]])
    """
    actions = [str(lab.get("action", "")) for lab in labels]
    styles = [style_key(lab) for lab in labels]
    by_action: dict[str, list[int]] = {}
    for i, a in enumerate(actions):
        if a:
            by_action.setdefault(a, []).append(i)
    side, style = [], []
    for i, a in enumerate(actions):
        mirror = by_action.get(_swap(a), []) if a and _swap(a) != a else []
        same_style = [j for j in mirror if styles[j] == styles[i]]
        side.append(same_style or mirror)
        style.append([j for j in by_action.get(a, []) if j != i and styles[j] != styles[i]] if a else [])
    return side, style


class BalancedSampler(Sampler[int]):
    """Label-balanced draws with optional twin pairs (see the module docstring).

    Args:
        labels: the dataset's label dicts (dataset order).
        mode: ``none`` | ``action`` | ``action_style``.
        power: blend towards uniform (1 = fully balanced).
        hard_negatives: chance per slot pair that the second slot is a twin of the first.
        num_replicas: processes; rank: this process.
        seed: base seed.
    """

    def __init__(
        self,
        labels: Sequence[Mapping[str, str]],
        mode: str = "action",
        power: float = 1.0,
        hard_negatives: float = 0.0,
        num_replicas: int = 1,
        rank: int = 0,
        seed: int = 0,
    ) -> None:
        if not labels:
            raise ConfigError("BalancedSampler needs at least one clip")
        if not 0.0 <= power <= 1.0 or not 0.0 <= hard_negatives <= 1.0:
            raise ConfigError(
                f"balance_power and hard_negatives must be in [0, 1], got {power}, {hard_negatives}"
            )
        self.weights = balanced_weights(labels, mode, power)
        self.side, self.style = find_twins(labels)
        self.hard_negatives = hard_negatives
        self.num_samples = len(labels) // num_replicas
        self.rank, self.seed, self.epoch = rank, seed, 0

    def set_epoch(self, epoch: int) -> None:
        """Select the draws of ``epoch``."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng((self.seed, self.epoch, self.rank))
        idx = rng.choice(len(self.weights), size=self.num_samples, replace=True, p=self.weights)
        if self.hard_negatives > 0:
            for k in range(0, self.num_samples - 1, 2):
                if rng.random() >= self.hard_negatives:
                    continue
                a = int(idx[k])
                kinds = [t for t in (self.side[a], self.style[a]) if t]
                if kinds:
                    pool = kinds[int(rng.integers(len(kinds)))]
                    idx[k + 1] = pool[int(rng.integers(len(pool)))]
        return iter(idx.tolist())


def build_train_sampler(
    dataset: Dataset, labels: Sequence[Mapping[str, str]], data: Any, world_size: int, rank: int, seed: int
) -> DistributedSampler | BalancedSampler:
    """The training sampler of a :class:`~backend.training.config.DataConfig`: the uniform distributed shuffle
    (``balance: none`` and no hard negatives) or a :class:`BalancedSampler`."""
    if data.balance == "none" and data.hard_negatives == 0:
        return DistributedSampler(
            dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed, drop_last=True
        )
    return BalancedSampler(
        labels,
        data.balance,
        data.balance_power,
        data.hard_negatives,
        num_replicas=world_size,
        rank=rank,
        seed=seed,
    )
