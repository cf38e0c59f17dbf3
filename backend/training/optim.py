"""AdamW with three learning rates (motion encoder / text encoder / heads) and a warm-up + cosine schedule.

Parameter groups, decided by which sub-module owns a parameter:

* ``motion``: the timm ViT of the motion encoder (any module with a ``patch_embed`` and ``blocks``).
* ``text``: the Hugging Face text backbone (a ``transformers.PreTrainedModel``); a tied MLM decoder weight *is*
  the word-embedding matrix, so it follows the text group.
* ``heads``: everything else -- band projector, projections, MLM head (dense/norm/bias), logit scale.

Weight decay applies to weight matrices only: 1-D tensors (biases, norm gains, the logit scale), and the
ViT's position embedding / class / register tokens get none. Frozen parameters (``requires_grad=False``, e.g.
lower text layers) are not given to the optimiser at all.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch import nn

from backend.errors import ConfigError

__all__ = ["GROUPS", "build_optimizer", "build_scheduler", "lr_factor", "param_groups", "split_parameters"]

#: group names in the order they appear in the optimiser
GROUPS: tuple[str, ...] = ("motion", "text", "heads")
_NO_DECAY_NAMES = ("pos_embed", "cls_token", "reg_token", "dist_token", "position_embeddings")


def _backbones(model: nn.Module) -> tuple[set[int], set[int]]:
    """Parameter ids of the motion ViT(s) and of the text backbone(s) inside ``model``."""
    from transformers import PreTrainedModel

    motion: set[int] = set()
    text: set[int] = set()
    for module in model.modules():
        if isinstance(module, PreTrainedModel):
            text.update(id(p) for p in module.parameters())
        elif hasattr(module, "patch_embed") and hasattr(module, "blocks"):
            motion.update(id(p) for p in module.parameters())
    return motion, text


def split_parameters(model: nn.Module) -> Iterator[tuple[str, str, nn.Parameter]]:
    """Yield ``(group, name, parameter)`` for every trainable parameter (shared ones once).

    Args:
        model: the retrieval model (unwrapped from DDP).
    """
    motion, text = _backbones(model)
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        group = "motion" if id(p) in motion else "text" if id(p) in text else "heads"
        yield group, name, p


def _decays(name: str, p: nn.Parameter) -> bool:
    return p.ndim >= 2 and not any(key in name for key in _NO_DECAY_NAMES)


def param_groups(
    model: nn.Module, lr_motion: float, lr_text: float, lr_heads: float, weight_decay: float
) -> list[dict]:
    """Optimiser parameter groups (up to 6: three learning rates x decay / no decay).

    Args:
        model: the retrieval model.
        lr_motion: learning rate of the motion ViT.
        lr_text: learning rate of the trainable text layers.
        lr_heads: learning rate of everything else.
        weight_decay: decay of the weight matrices.

    Returns:
        ``[{"params", "lr", "weight_decay", "name"}, ...]``; empty groups left out. ``name`` is
        ``"<group>"`` or ``"<group>/no_decay"``.

    Raises:
        ConfigError: the model has no trainable parameter.
    """
    lrs = {"motion": lr_motion, "text": lr_text, "heads": lr_heads}
    buckets: dict[tuple[str, bool], list[nn.Parameter]] = {(g, d): [] for g in GROUPS for d in (True, False)}
    for group, name, p in split_parameters(model):
        buckets[(group, _decays(name, p))].append(p)
    out = []
    for (group, decay), params in buckets.items():
        if params:
            out.append(
                {
                    "params": params,
                    "lr": lrs[group],
                    "weight_decay": weight_decay if decay else 0.0,
                    "name": group if decay else f"{group}/no_decay",
                }
            )
    if not out:
        raise ConfigError("the model has no trainable parameters")
    return out


def build_optimizer(
    model: nn.Module, lr_motion: float, lr_text: float, lr_heads: float, weight_decay: float
) -> torch.optim.AdamW:
    """AdamW over :func:`param_groups` (betas 0.9/0.999, eps 1e-8)."""
    return torch.optim.AdamW(param_groups(model, lr_motion, lr_text, lr_heads, weight_decay))


def lr_factor(step: int, total_steps: int, warmup_steps: int, schedule: str, min_lr_ratio: float) -> float:
    """Multiplier of the peak learning rate at optimiser step ``step`` (0-based).

    Linear warm-up over ``warmup_steps`` (step 0 already gets ``1 / warmup_steps``), then ``constant`` or a
    half cosine from 1 down to ``min_lr_ratio`` at ``total_steps``.

    >>> [round(lr_factor(s, 10, 2, "cosine", 0.0), 3) for s in (0, 1, 2, 6, 10)]
    [0.5, 1.0, 1.0, 0.5, 0.0]
    """
    if schedule not in ("cosine", "constant"):
        raise ConfigError(f"optim.schedule must be 'cosine' or 'constant', got {schedule!r}")
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, max(0.0, (step - warmup_steps) / span))
    return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    total_steps: int,
    warmup_steps: int,
    schedule: str = "cosine",
    min_lr_ratio: float = 0.0,
) -> torch.optim.lr_scheduler.LambdaLR:
    """``LambdaLR`` applying :func:`lr_factor` to every group (step it once per optimiser step)."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total_steps, warmup_steps, schedule, min_lr_ratio)
    )
