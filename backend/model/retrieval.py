"""``MotionTextRetrieval``: the late-interaction text <-> motion model (encoders injected), its training
forward pass, scoring, featurisation and checkpoint folder (``from_pretrained`` / ``save_pretrained``)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from torch import nn

from backend.digest import sha256_file
from backend.errors import CheckpointError, ConfigError, InvalidInputError
from backend.model import checkpoint as ckpt
from backend.model.config import RetrievalConfig
from backend.model.grounding_losses import grounding_terms
from backend.model.losses import LogitScale, caption_duplicate_mask, info_nce
from backend.model.motion_encoder import MotionEncoder
from backend.model.outputs import MotionEncoding, RetrievalOutput, TextEncoding
from backend.model.scoring import maxsim, mean_pool, pooled_scores
from backend.model.text_encoder import TextEncoder

if TYPE_CHECKING:
    from backend.motion.kinematics.normalize import FeatureStats

__all__ = ["MotionTextRetrieval", "export_fp16"]

TextEncoderMode = Literal["trainable-only", "full"]


class MotionTextRetrieval(nn.Module):
    """Text <-> motion retrieval by MaxSim between text tokens and (body part x time window) patches.

    Args:
        config: model configuration.
        motion_encoder: builds :class:`MotionEncoding` from ``(B, T, C)`` features.
        text_encoder: builds :class:`TextEncoding` from captions (and the MLM loss).
        feature_stats: optional z-score statistics of the features (train split).
    """

    # buffers (registered in __init__): z-score statistics of the features, and whether they were set
    feature_mean: torch.Tensor
    feature_std: torch.Tensor
    feature_stats_set: torch.Tensor

    def __init__(
        self,
        config: RetrievalConfig,
        motion_encoder: MotionEncoder,
        text_encoder: TextEncoder,
        feature_stats: FeatureStats | None = None,
    ) -> None:
        super().__init__()
        if motion_encoder.feature_dim != config.feature_dim:
            raise ConfigError(
                f"band_channels: motion encoder takes {motion_encoder.feature_dim} channels, config {config.feature_dim}"
            )
        self.config = config
        self.motion_encoder = motion_encoder
        self.text_encoder = text_encoder
        self.logit_scale = LogitScale(config.temperature_init, config.max_logit_scale)
        c = config.feature_dim
        self.register_buffer("feature_mean", torch.zeros(c))
        self.register_buffer("feature_std", torch.ones(c))
        self.register_buffer("feature_stats_set", torch.tensor(False))
        self._feature_stats: FeatureStats | None = None
        self._checksum: str | None = None
        if feature_stats is not None:
            self.set_feature_stats(feature_stats)

    @classmethod
    def from_config(
        cls,
        config: RetrievalConfig,
        load_vit_checkpoint: bool = True,
        feature_stats: FeatureStats | None = None,
    ) -> MotionTextRetrieval:
        """Build both encoders from ``config`` (text weights from ``text_model``, ViT from ``vit_checkpoint``)."""
        return cls(
            config,
            MotionEncoder(config, load_checkpoint=load_vit_checkpoint),
            TextEncoder(config),
            feature_stats,
        )

    @property
    def device(self) -> torch.device:
        """Device of the parameters."""
        return self.logit_scale.log_scale.device

    # ------------------------------------------------------------------ features
    @property
    def feature_stats(self) -> FeatureStats | None:
        """The z-score statistics, or None when not set."""
        return self._feature_stats

    def set_feature_stats(self, stats: FeatureStats) -> None:
        """Store z-score statistics (also as buffers, so the weights file is self-contained).

        Raises:
            ConfigError: their representation or channel count does not match the config.
        """
        if (
            stats.representation != self.config.representation
            or stats.num_channels != self.config.feature_dim
        ):
            raise ConfigError(
                f"feature stats are for {stats.representation!r} with {stats.num_channels} channels; the model "
                f"takes {self.config.representation!r} with {self.config.feature_dim}"
            )
        self._feature_stats = stats
        with torch.no_grad():
            self.feature_mean.copy_(torch.as_tensor(stats.mean))
            self.feature_std.copy_(torch.as_tensor(stats.std))
            self.feature_stats_set.fill_(True)

    def featurize(self, joints: np.ndarray) -> np.ndarray:
        """Canonical joints to z-scored model features.

        Args:
            joints: ``(T, 22, 3)`` canonical SMPL-22 positions (20 fps).

        Returns:
            ``(T, C)`` float32.

        Raises:
            ConfigError: no feature statistics set.
            MotionDataError: unusable joints.
        """
        from backend.motion.kinematics.features import compute_features

        if self._feature_stats is None:
            raise ConfigError("feature statistics are not set: call set_feature_stats() or load a checkpoint")
        return self._feature_stats.apply(compute_features(joints, self.config.representation))

    def prepare_motion_batch(
        self, features: Sequence[np.ndarray], crop: Literal["start", "center"] = "start"
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Crop / zero-pad feature arrays to ``window_frames`` and stack them.

        Args:
            features: ``B`` arrays ``(T_i, C)`` (e.g. from :meth:`featurize`).
            crop: which ``window_frames`` of a longer clip to keep.

        Returns:
            ``(features (B, W, C) float32, frame_mask (B, W) bool)`` on the model's device.

        Raises:
            InvalidInputError: empty list, wrong shape, zero frames or non-finite values (names the index).
        """
        w, c = self.config.window_frames, self.config.feature_dim
        if crop not in ("start", "center"):
            raise InvalidInputError(f"crop must be 'start' or 'center', got {crop!r}")
        if len(features) == 0:
            raise InvalidInputError("prepare_motion_batch: no motions given")
        out = np.zeros((len(features), w, c), dtype=np.float32)
        mask = np.zeros((len(features), w), dtype=bool)
        for i, x in enumerate(features):
            a = np.asarray(x, dtype=np.float32)
            if a.ndim != 2 or a.shape[1] != c or a.shape[0] == 0:
                raise InvalidInputError(f"features[{i}] must be (T, {c}) with T >= 1, got shape {a.shape}")
            if not np.all(np.isfinite(a)):
                raise InvalidInputError(f"features[{i}] contains NaN/inf")
            start = (a.shape[0] - w) // 2 if crop == "center" and a.shape[0] > w else 0
            a = a[start : start + w]
            out[i, : a.shape[0]] = a
            mask[i, : a.shape[0]] = True
        return torch.from_numpy(out).to(self.device), torch.from_numpy(mask).to(self.device)

    # ------------------------------------------------------------------ encoding and scoring
    def encode_text(self, texts: Sequence[str]) -> TextEncoding:
        """Encode captions / queries (see :class:`TextEncoding`); wrap in ``torch.inference_mode()`` to search."""
        return self.text_encoder(self.text_encoder.tokenize(texts))

    def encode_motion(self, x: torch.Tensor, frame_mask: torch.Tensor | None = None) -> MotionEncoding:
        """Encode z-scored motion features ``(B, T, C)``, ``T <= window_frames``, with ``frame_mask (B, T)``."""
        dtype = self.motion_encoder.proj.weight.dtype
        mask = frame_mask.to(self.device) if frame_mask is not None else None
        return self.motion_encoder(torch.as_tensor(x).to(self.device, dtype), mask)

    def score(self, text: TextEncoding, motion: MotionEncoding) -> torch.Tensor:
        """Similarity of every text with every motion.

        ``maxsim``: MaxSim over the motion's valid patches (all patches, padding included, when
        ``mask_padding_patches`` is False). ``pooled``: cosine of mean-pooled text tokens and patches.

        Args:
            text: ``Nq`` encoded texts.
            motion: ``Nd`` encoded motions.

        Returns:
            ``(Nq, Nd)``; motion -> text retrieval uses its transpose.
        """
        if self.config.scoring == "pooled":
            return pooled_scores(text.pooled, motion.pooled)
        d_mask = motion.valid if self.config.mask_padding_patches else torch.ones_like(motion.valid)
        return maxsim(text.emb, text.mask, motion.emb, d_mask, chunk_size=self.config.score_chunk_size)

    def forward(self, batch: Mapping[str, Any], generator: torch.Generator | None = None) -> RetrievalOutput:
        """Training / validation pass over ``B`` aligned (caption, motion) pairs.

        Args:
            batch: ``features`` ``(B, T, C)`` float, ``frame_mask`` ``(B, T)`` bool, ``texts`` list of ``B``
                str; optional ``group_ids`` ``(B,)`` long (equal ids are never negatives of each other).
            generator: optional RNG for the MLM masking.

        Returns:
            :class:`RetrievalOutput`.
        """
        for key in ("features", "frame_mask", "texts"):
            if key not in batch:
                raise InvalidInputError(f"batch is missing {key!r}")
        texts = list(batch["texts"])
        motion = self.encode_motion(batch["features"], batch["frame_mask"])
        if len(texts) != len(motion):
            raise InvalidInputError(f"batch has {len(texts)} texts but {len(motion)} motions")
        tokens = self.text_encoder.tokenize(texts)
        hidden = self.text_encoder.forward_features(tokens.input_ids, tokens.attention_mask)
        text = self.text_encoder.project(hidden, tokens)
        scores = self.score(text, motion)
        exclude = None
        threshold = self.config.filter_captions_threshold
        if threshold is not None:
            sentence = mean_pool(hidden.detach().float(), tokens.attention_mask.bool())
            exclude = caption_duplicate_mask(texts, sentence, threshold)
        if batch.get("group_ids") is not None:
            g = torch.as_tensor(batch["group_ids"], device=scores.device)
            same = (g[:, None] == g[None, :]) & ~torch.eye(len(texts), dtype=torch.bool, device=scores.device)
            exclude = same if exclude is None else exclude | same
        scale = self.logit_scale()
        contrastive = info_nce(scores.float(), scale, exclude)
        if self.config.mlm_weight > 0:
            mlm = self.text_encoder.mlm_loss(tokens, generator)
        else:
            mlm = torch.zeros((), device=scores.device)
        loss = contrastive + self.config.mlm_weight * mlm
        extra, aux = grounding_terms(self.config, text, motion, tokens.words, tokens.word_index)
        return RetrievalOutput(loss + extra, contrastive, mlm, scores, scale, aux)

    # ------------------------------------------------------------------ checkpoints
    def _frozen_keys(self) -> set[str]:
        """State-dict keys that ``trainable-only`` checkpoints leave out (they load from ``text_model``)."""
        params = dict(self.named_parameters(remove_duplicate=False))
        keys = {f"text_encoder.{n}" for n in self.text_encoder.frozen_parameter_names()}
        # persistent buffers of the backbone (e.g. position ids) come with text_model as well
        keys |= {k for k in self.state_dict() if k.startswith("text_encoder.backbone.") and k not in params}
        return keys

    def _frozen_fingerprint(self) -> str:
        params = dict(self.named_parameters())
        names = {f"text_encoder.{n}" for n in self.text_encoder.frozen_parameter_names()}
        return ckpt.tensor_fingerprint((k, params[k]) for k in names if k in params)

    def _weights_bytes(self, fp16: bool, text_encoder: TextEncoderMode) -> bytes:
        if text_encoder not in ckpt.TEXT_ENCODER_MODES:
            raise InvalidInputError(
                f"text_encoder must be one of {list(ckpt.TEXT_ENCODER_MODES)}, got {text_encoder!r}"
            )
        state = ckpt.dedupe_tied(self.state_dict())
        meta = {"format": "pt", "text_encoder": text_encoder, "dtype": "float16" if fp16 else "float32"}
        if text_encoder == "trainable-only":
            frozen = self._frozen_keys()
            state = {k: v for k, v in state.items() if k not in frozen}
            meta["text_frozen_sha256"] = self._frozen_fingerprint()
        return ckpt.serialize_state(state, fp16, meta)

    def save_pretrained(
        self,
        directory: str | os.PathLike[str],
        fp16: bool = False,
        text_encoder: TextEncoderMode = "trainable-only",
    ) -> Path:
        """Write ``config.json``, ``model.safetensors`` and (when set) ``feature_stats.json`` atomically.

        Args:
            directory: target folder (created; other files in it are kept).
            fp16: store floating weights as float16 (for shipping).
            text_encoder: ``"trainable-only"`` leaves out the frozen text weights (reloaded from
                ``text_model``, verified by fingerprint); ``"full"`` stores everything.

        Returns:
            The folder.
        """
        weights = self._weights_bytes(fp16, text_encoder)
        files = {ckpt.WEIGHTS_NAME: weights, ckpt.CONFIG_NAME: self.config.to_json().encode()}
        if self._feature_stats is not None:
            files[ckpt.STATS_NAME] = (json.dumps(self._feature_stats.to_dict(), indent=1) + "\n").encode()
        out = ckpt.write_folder(directory, files)
        self._checksum = sha256_file(out / ckpt.WEIGHTS_NAME)
        return out

    @classmethod
    def from_pretrained(
        cls,
        directory: str | os.PathLike[str],
        device: str | torch.device = "cpu",
        dtype: torch.dtype | None = None,
    ) -> MotionTextRetrieval:
        """Load a folder written by :meth:`save_pretrained` (in eval mode).

        Args:
            directory: checkpoint folder.
            device: where to put the model.
            dtype: optional floating dtype (e.g. ``torch.float16``); default float32.

        Raises:
            CheckpointError: a missing/corrupt file or inconsistent weights (names the path).
        """
        from backend.motion.kinematics.normalize import FeatureStats

        directory = Path(directory)
        config_path = directory / ckpt.CONFIG_NAME
        if not config_path.is_file():
            raise CheckpointError(f"checkpoint config not found: {config_path}")
        try:
            config = RetrievalConfig.load(config_path)
        except ConfigError as exc:
            raise CheckpointError(f"invalid checkpoint config {config_path}: {exc}") from exc
        state, meta, sha = ckpt.read_weights(directory / ckpt.WEIGHTS_NAME)
        model = cls.from_config(config, load_vit_checkpoint=False)
        model._load_state(state, meta, directory / ckpt.WEIGHTS_NAME)
        stats_path = directory / ckpt.STATS_NAME
        if stats_path.exists():
            model.set_feature_stats(FeatureStats.load(stats_path))
        elif bool(model.feature_stats_set):
            model.set_feature_stats(
                FeatureStats(
                    model.feature_mean.double().numpy(),
                    model.feature_std.double().numpy(),
                    config.representation,
                )
            )
        model._checksum = sha
        return model.to(device=device, dtype=dtype).eval() if dtype is not None else model.to(device).eval()

    def _load_state(self, state: dict[str, torch.Tensor], meta: Mapping[str, str], path: Path) -> None:
        own = self.state_dict()
        aliases = set(own) - set(ckpt.dedupe_tied(own))
        allowed = set(aliases)
        mode = meta.get("text_encoder", "full")
        if mode == "trainable-only":
            allowed |= self._frozen_keys()
            expected = meta.get("text_frozen_sha256")
            if expected and expected != self._frozen_fingerprint():
                raise CheckpointError(
                    f"{path}: the frozen text weights of {self.config.text_model!r} differ from those it was trained with"
                )
        missing = sorted(set(own) - set(state) - allowed)
        unexpected = sorted(set(state) - set(own))
        if missing or unexpected:
            raise CheckpointError(f"{path}: missing keys {missing[:5]} / unexpected keys {unexpected[:5]}")
        with torch.no_grad():
            for key, value in state.items():
                if own[key].shape != value.shape:
                    raise CheckpointError(
                        f"{path}: {key} has shape {tuple(value.shape)}, the model expects {tuple(own[key].shape)}"
                    )
                own[key].copy_(value)

    def checksum(self) -> str:
        """SHA-256 of the ``model.safetensors`` this model was loaded from or last saved to.

        A model never saved or loaded hashes the bytes ``save_pretrained(fp16=False)`` would write.
        """
        if self._checksum is None:
            import hashlib

            return hashlib.sha256(self._weights_bytes(False, "trainable-only")).hexdigest()
        return self._checksum


def export_fp16(src_dir: str | os.PathLike[str], dst_dir: str | os.PathLike[str]) -> Path:
    """Re-save a checkpoint for shipping: float16 weights, only the fine-tuned part of the text encoder.

    Args:
        src_dir: a folder written by :meth:`MotionTextRetrieval.save_pretrained`.
        dst_dir: the target folder.

    Returns:
        ``dst_dir``.
    """
    return MotionTextRetrieval.from_pretrained(src_dir).save_pretrained(
        dst_dir, fp16=True, text_encoder="trainable-only"
    )
