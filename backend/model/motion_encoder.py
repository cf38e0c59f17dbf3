"""Motion encoder: features -> motion image -> timm ViT patch tokens -> projection -> L2 norm."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

import torch
import torch.nn.functional as F
from torch import nn

from backend.errors import CheckpointError, ConfigError, InvalidInputError
from backend.model.config import PATCH_FRAMES, RetrievalConfig
from backend.model.motion_image import BandProjector, patch_mask_from_frames
from backend.model.outputs import MotionEncoding
from backend.model.scoring import mean_pool

if TYPE_CHECKING:
    from timm.models.vision_transformer import VisionTransformer

__all__ = ["MOTION_INIT_PREFIXES", "MotionEncoder", "create_vit", "load_motion_init"]

#: the parameters a motion initialisation (``model.motion_init``, :mod:`backend.training.pretrain`) holds:
#: the band projector and the ViT; the projection head ``proj`` starts fresh
MOTION_INIT_PREFIXES = ("band_projector.", "vit.")


def create_vit(config: RetrievalConfig, load_checkpoint: bool = True) -> VisionTransformer:
    """Build the timm ViT of ``config`` for a ``(in_chans, 224, window_frames)`` image.

    Args:
        config: model configuration (``vit_name``, ``vit_kwargs``, ``vit_checkpoint``, ``window_frames``,
            ``in_chans``).
        load_checkpoint: load ``vit_checkpoint`` when set (False when the weights come from one of our
            own checkpoints anyway).

    Returns:
        A timm model without classifier and pooling (``num_classes=0, global_pool=''``).

    Raises:
        ConfigError: unknown model name (lists valid ``vit_*`` names), bad ``vit_kwargs``, or a model
            whose patches are not 16x16.
        CheckpointError: ``vit_checkpoint`` missing or unreadable.
    """
    import timm

    if not timm.is_model(config.vit_name):
        names = [n for n in timm.list_models("vit_*") if "patch16" in n][:8]
        raise ConfigError(f"vit_name={config.vit_name!r} is not a timm model; valid names include {names}")
    checkpoint = config.vit_checkpoint if load_checkpoint else None
    if checkpoint is not None and not Path(checkpoint).is_file():
        raise CheckpointError(f"vit_checkpoint file not found: {checkpoint}")
    try:
        model = timm.create_model(
            config.vit_name,
            pretrained=checkpoint is not None,
            pretrained_cfg_overlay={"file": str(checkpoint)} if checkpoint is not None else None,
            img_size=(224, config.window_frames),
            in_chans=config.in_chans,
            num_classes=0,
            global_pool="",
            **config.vit_kwargs,
        )
    except TypeError as exc:
        raise ConfigError(f"vit_kwargs={config.vit_kwargs!r} rejected by {config.vit_name}: {exc}") from exc
    except Exception as exc:  # timm/torch/safetensors raise many kinds on a bad file or option
        if checkpoint is not None:
            raise CheckpointError(f"cannot load vit_checkpoint {checkpoint}: {exc}") from exc
        raise ConfigError(
            f"cannot build {config.vit_name} with vit_kwargs={config.vit_kwargs!r}: {exc}"
        ) from exc
    patch_embed = getattr(model, "patch_embed", None)
    patch = tuple(getattr(patch_embed, "patch_size", ()) or ())
    if patch != (PATCH_FRAMES, PATCH_FRAMES) or not hasattr(model, "forward_features"):
        raise ConfigError(
            f"vit_name={config.vit_name!r} must be a ViT with {PATCH_FRAMES}x{PATCH_FRAMES} patches, got patch size {patch}"
        )
    # Typed as timm's VisionTransformer, the family every config uses; any timm ViT that passes the checks
    # above offers the same interface (forward_features, num_prefix_tokens, num_features, embed_dim).
    return cast("VisionTransformer", model)


def load_motion_init(encoder: nn.Module, path: str | Path) -> None:
    """Load a motion initialisation file (safetensors of the band projector's and the ViT's weights) into
    ``encoder``: every one of those parameters must be in the file with its shape, and nothing else.

    Raises:
        CheckpointError: missing / unreadable file, or keys / shapes that do not fit this encoder.
    """
    from safetensors.torch import load_file

    if not Path(path).is_file():
        raise CheckpointError(f"motion_init file not found: {path}")
    try:
        state = load_file(str(path))
    except Exception as exc:  # safetensors raises several kinds on a damaged file
        raise CheckpointError(f"cannot read motion_init {path}: {exc}") from exc
    own = {k: v for k, v in encoder.state_dict().items() if k.startswith(MOTION_INIT_PREFIXES)}
    missing, extra = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or extra or wrong:
        raise CheckpointError(
            f"motion_init {path} does not fit this model (another vit_name / vit_kwargs / representation?): "
            f"missing {missing[:3]}, unexpected {extra[:3]}, other shapes {wrong[:3]}"
        )
    encoder.load_state_dict(state, strict=False)


class MotionEncoder(nn.Module):
    """Band projector + ViT + projection head.

    Args:
        config: model configuration.
        load_checkpoint: load ``config.vit_checkpoint`` (see :func:`create_vit`) and ``config.motion_init``
            (:func:`load_motion_init`; False when the weights come from one of our own checkpoints anyway).
    """

    def __init__(self, config: RetrievalConfig, load_checkpoint: bool = True) -> None:
        super().__init__()
        self.window_frames = config.window_frames
        self.n_windows = config.n_windows
        self.mask_padding_patches = config.mask_padding_patches
        self.band_projector = BandProjector(config.band_channels or (), config.in_chans)
        self.vit = create_vit(config, load_checkpoint=load_checkpoint)
        self.num_prefix_tokens = int(getattr(self.vit, "num_prefix_tokens", 0))
        width = int(getattr(self.vit, "num_features", 0) or self.vit.embed_dim)
        self.proj = nn.Linear(width, config.embed_dim)
        if load_checkpoint and config.motion_init is not None:
            load_motion_init(self, config.motion_init)

    @property
    def feature_dim(self) -> int:
        """Feature channels ``C`` expected per frame."""
        return self.band_projector.feature_dim

    def _pad(self, x: torch.Tensor, frame_mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        if x.dim() != 3:
            raise InvalidInputError(f"motion features must be (B, T, C), got shape {tuple(x.shape)}")
        b, t, _ = x.shape
        if frame_mask is None:
            frame_mask = torch.ones(b, t, dtype=torch.bool, device=x.device)
        if frame_mask.shape != (b, t):
            raise InvalidInputError(f"frame_mask must be ({b}, {t}), got shape {tuple(frame_mask.shape)}")
        frame_mask = frame_mask.bool()
        if t > self.window_frames or t == 0:
            raise InvalidInputError(
                f"motion has {t} frames; the model takes 1..{self.window_frames} "
                f"(use prepare_motion_batch / index windows to crop)"
            )
        if t < self.window_frames:
            pad = self.window_frames - t
            x = F.pad(x, (0, 0, 0, pad))
            frame_mask = F.pad(frame_mask, (0, pad), value=False)
        return x, frame_mask

    def forward_features(self, x: torch.Tensor, frame_mask: torch.Tensor | None = None) -> torch.Tensor:
        """ViT patch tokens (prefix tokens dropped), before the projection.

        Args:
            x: ``(B, T, C)`` z-scored features, ``T <= window_frames`` (shorter input is zero-padded).
            frame_mask: ``(B, T)`` bool, True = real frame; None = all real.

        Returns:
            ``(B, 14 * n_windows, W)`` patch tokens in row-major (band, window) order.
        """
        x, frame_mask = self._pad(x, frame_mask)
        image = self.band_projector(x, frame_mask)
        tokens = self.vit.forward_features(image)
        return tokens[:, self.num_prefix_tokens :]

    def forward(self, x: torch.Tensor, frame_mask: torch.Tensor | None = None) -> MotionEncoding:
        """Encode motion windows.

        Args:
            x: ``(B, T, C)`` z-scored features, ``T <= window_frames``.
            frame_mask: ``(B, T)`` bool, True = real frame; None = all real.

        Returns:
            :class:`MotionEncoding` with ``emb (B, P, D)``, ``mask``/``valid (B, P)``, ``pooled (B, D)``.
        """
        x, frame_mask = self._pad(x, frame_mask)
        tokens = self.forward_features(x, frame_mask)
        emb = F.normalize(self.proj(tokens), dim=-1)
        valid = patch_mask_from_frames(frame_mask)
        mask = valid if self.mask_padding_patches else torch.ones_like(valid)
        return MotionEncoding(
            emb=emb, mask=mask, pooled=mean_pool(emb, mask), n_windows=self.n_windows, valid=valid
        )
