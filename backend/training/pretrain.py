"""Self-supervised masked-patch pre-training of the motion encoder (issue 11).

The paper starts its motion ViT from ImageNet weights; none can be downloaded here, so this is the stand-in:
**masked feature modelling** on the library's own motion, after SimMIM / MaskFeat. For every training window a
random ``mask_ratio`` of its patches (each patch = one body part x 16 frames) is replaced by a learned mask
token right after the ViT's patch embedding; a linear head predicts, from the ViT's output token of each
masked patch, that patch's **z-scored joint-angle features** (16 frames x the band's channels, zero-padded to
the widest band). The target is the model's input, not the learned motion image, so the band projector cannot
make the task trivial; the loss is the mean squared error over masked patches of real frames and the bands'
real channels. Only motion is read: no caption takes part.

What it writes (``OUT/motion_init.safetensors``: the band projector's and the ViT's weights, keys as in
:class:`~backend.model.motion_encoder.MotionEncoder`) is what ``model.motion_init`` loads before contrastive
training; ``OUT/pretrain_log.jsonl`` holds the loss curve and ``OUT/pretrain.json`` what was run. Example::

    python -m backend pretrain --config configs/grounded.yaml --data-root data/library --out runs/mfm
    python -m backend train --config configs/grounded.yaml --data-root data/library --out runs/grounded-mfm \\
        --set model.motion_init=runs/mfm/motion_init.safetensors
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from backend.atomic import atomic_path, atomic_write_text
from backend.errors import InvalidInputError
from backend.evaluation.data import crop_bounds, load_split
from backend.model.config import PATCH_FRAMES
from backend.model.motion_encoder import MOTION_INIT_PREFIXES, MotionEncoder
from backend.training.collate import pad_motions

__all__ = ["MOTION_INIT_FILE", "MaskedPatchModel", "PretrainResult", "pretrain", "random_patch_mask"]

log = logging.getLogger(__name__)

#: file the pre-training writes in its output folder (loaded through ``model.motion_init``)
MOTION_INIT_FILE = "motion_init.safetensors"


def random_patch_mask(
    valid: torch.Tensor, ratio: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``(B, P)`` bool: about ``ratio`` of each window's valid patches (at least one) chosen to hide.

    >>> m = random_patch_mask(torch.ones(2, 10, dtype=torch.bool), 0.5, torch.Generator().manual_seed(0))
    >>> m.sum(dim=1).tolist()
    [5, 5]
    """
    if not 0.0 < ratio < 1.0:
        raise InvalidInputError(f"mask_ratio must be in (0, 1), got {ratio}")
    noise = torch.rand(valid.shape, generator=generator).to(valid.device)
    noise = noise.masked_fill(~valid, 2.0)  # padding patches sort last: never hidden
    n_hide = (valid.sum(dim=1).float() * ratio).round().clamp(min=1).long()
    rank = noise.argsort(dim=1).argsort(dim=1)
    return (rank < n_hide[:, None]) & valid


class MaskedPatchModel(nn.Module):
    """A :class:`MotionEncoder` with a mask token and a per-patch feature head (training only).

    Args:
        encoder: the motion encoder to pre-train (its projection head ``proj`` is not used).
    """

    def __init__(self, encoder: MotionEncoder) -> None:
        super().__init__()
        self.encoder = encoder
        vit = encoder.vit
        self.band_channels = encoder.band_projector.band_channels
        self.max_c = max(self.band_channels)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, int(vit.embed_dim)))
        nn.init.normal_(self.mask_token, std=0.02)
        width = int(getattr(vit, "num_features", 0) or vit.embed_dim)
        self.head = nn.Linear(width, PATCH_FRAMES * self.max_c)

    def targets(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, P, 16, max_c)`` per-patch features of padded ``x (B, T, C)`` and ``(P, 1, max_c)`` channel mask,
        patches in the encoder's row-major (band, window) order."""
        b, t, _ = x.shape
        n_w = t // PATCH_FRAMES
        bands, chans, start = [], [], 0
        for c in self.band_channels:
            part = x[:, :, start : start + c].reshape(b, n_w, PATCH_FRAMES, c)
            bands.append(F.pad(part, (0, self.max_c - c)))
            chans.append(torch.arange(self.max_c, device=x.device) < c)
            start += c
        target = torch.stack(bands, dim=1).reshape(b, len(bands) * n_w, PATCH_FRAMES, self.max_c)
        chan = torch.stack(chans).repeat_interleave(n_w, dim=0)[:, None, :]
        return target, chan

    def forward(self, x: torch.Tensor, frame_mask: torch.Tensor, hide: torch.Tensor | None = None,
                ratio: float = 0.5, generator: torch.Generator | None = None) -> torch.Tensor:  # fmt: skip
        """Masked-feature loss of a batch ``x (B, T, C)`` with ``frame_mask (B, T)`` (``hide (B, P)``: patches
        to mask; default a random ``ratio`` of the valid ones, drawn with ``generator``)."""
        enc, vit = self.encoder, self.encoder.vit
        x, frame_mask = enc._pad(x, frame_mask)
        image = enc.band_projector(x, frame_mask)
        tokens = vit.patch_embed(image)  # (B, P, E), row-major (band, window)
        frames = frame_mask.view(x.shape[0], -1, PATCH_FRAMES)  # (B, n_w, 16)
        valid = frames.any(dim=-1).repeat(1, len(self.band_channels))  # (B, P)
        if hide is None:
            hide = random_patch_mask(valid, ratio, generator)
        if hide.shape != valid.shape:
            raise InvalidInputError(f"hide must be {tuple(valid.shape)}, got {tuple(hide.shape)}")
        tokens = torch.where(hide[..., None], self.mask_token.to(tokens.dtype), tokens)
        h = vit.norm(vit.blocks(vit.norm_pre(vit.patch_drop(vit._pos_embed(tokens)))))
        pred = self.head(h[:, enc.num_prefix_tokens :]).view(*hide.shape, PATCH_FRAMES, self.max_c)
        target, chan = self.targets(x.float())
        weight = hide[..., None, None] & frames.repeat(1, len(self.band_channels), 1)[..., None] & chan[None]
        weight = weight.float()
        return ((pred.float() - target) ** 2 * weight).sum() / weight.sum().clamp(min=1.0)


@dataclass
class PretrainResult:
    """What a pre-training run reports: the weights file, steps, first and last logged loss."""

    path: Path
    steps: int
    first_loss: float
    last_loss: float
    seconds: float


def _batches(items: list[np.ndarray], window: int, batch: int, rng: np.random.Generator):
    """Endless random batches: ``(B, window, C)`` random crops (zero-padded) and ``(B, window)`` frame masks."""
    while True:
        crops = []
        for i in rng.integers(len(items), size=batch):
            start, end = crop_bounds(len(items[i]), window, rng)
            crops.append(items[i][start:end])
        yield pad_motions(crops, pad_to=window)


def pretrain(
    model_config, data_root: str | Path, out: str | Path, *, dataset: str = "library", split: str = "train",
    steps: int = 400, batch_size: int = 64, mask_ratio: float = 0.5, lr: float = 1e-3, weight_decay: float = 0.05,
    warmup_steps: int = 20, seed: int = 0, log_every: int = 20,
) -> PretrainResult:  # fmt: skip
    """Pre-train the motion encoder of ``model_config`` on the ``split`` clips' motion; write its weights.

    Feature statistics are fitted on the same clips, as :func:`backend.training.trainer.train` fits them on
    its train split (same clips: the same statistics). Raises :class:`InvalidInputError` on bad numbers.
    """
    from backend.model.retrieval import MotionTextRetrieval
    from backend.training.datasets import fit_feature_stats

    if steps < 1 or batch_size < 2 or lr <= 0 or warmup_steps < 0:
        raise InvalidInputError(f"need steps >= 1, batch_size >= 2, lr > 0, warmup_steps >= 0; got {steps}, "
                                f"{batch_size}, {lr}, {warmup_steps}")  # fmt: skip
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    records = load_split(dataset, str(data_root), split, None, seed)
    model = MotionTextRetrieval.from_config(model_config)
    model.set_feature_stats(fit_feature_stats(records, model_config.representation))
    items = [np.ascontiguousarray(model.featurize(r.joints), dtype=np.float32) for r in records]
    net = MaskedPatchModel(model.motion_encoder).train()
    params = [p for n, p in net.named_parameters() if not n.startswith("encoder.proj.")]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: (s + 1) / max(1, warmup_steps) if s < warmup_steps
        else 0.5 * (1 + math.cos(math.pi * (s - warmup_steps) / max(1, steps - warmup_steps))),
    )  # fmt: skip
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng, gen = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    data = _batches(items, model_config.window_frames, batch_size, rng)
    log_lines, first, last = [], float("nan"), float("nan")
    for step in range(1, steps + 1):
        x, m = next(data)
        loss = net(x, m, ratio=mask_ratio, generator=gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        if step == 1 or step % log_every == 0 or step == steps:
            last = float(loss.detach())
            if step == 1:
                first = last
            log_lines.append(json.dumps({"step": step, "loss": last, "lr": sched.get_last_lr()[0],
                                         "seconds": round(time.perf_counter() - t0, 1)}))  # fmt: skip
            log.info("pretrain step %d/%d: loss %.4f", step, steps, last)
    from safetensors.torch import save_file

    state = {k: v.detach().contiguous() for k, v in model.motion_encoder.state_dict().items()
             if k.startswith(MOTION_INIT_PREFIXES)}  # fmt: skip
    path = out / MOTION_INIT_FILE
    with atomic_path(path) as tmp:
        save_file(state, str(tmp))
    seconds = time.perf_counter() - t0
    atomic_write_text(out / "pretrain_log.jsonl", "\n".join(log_lines) + "\n")
    atomic_write_text(out / "pretrain.json", json.dumps({
        "clips": len(items), "split": split, "steps": steps, "batch_size": batch_size, "mask_ratio": mask_ratio,
        "lr": lr, "seed": seed, "first_loss": first, "last_loss": last, "seconds": round(seconds, 1),
        "model": model_config.to_dict(),
    }, indent=1) + "\n")  # fmt: skip
    return PretrainResult(path, steps, first, last, seconds)
