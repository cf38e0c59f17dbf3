"""RetrievalConfig: documented defaults, JSON round-trip, and validation errors that name the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.errors import ConfigError
from backend.model.config import DEFAULT_TEXT_MODEL, RetrievalConfig
from backend.motion.kinematics.features import band_channels


def test_defaults_follow_the_paper() -> None:
    cfg = RetrievalConfig()
    assert cfg.vit_name == "vit_tiny_patch16_224"
    assert (cfg.embed_dim, cfg.window_frames, cfg.n_windows, cfg.num_patches) == (256, 160, 10, 140)
    assert cfg.band_channels == band_channels("angles") and cfg.feature_dim == 29
    assert (cfg.temperature_init, cfg.max_logit_scale, cfg.temperature_min) == (0.07, 100.0, 0.01)
    assert (cfg.mlm_weight, cfg.mlm_probability) == (0.2, 0.15)
    assert Path(cfg.text_model, "config.json").is_file()  # the package's model folder


def test_positions_representation_derives_its_bands() -> None:
    cfg = RetrievalConfig(representation="positions")
    assert cfg.band_channels == band_channels("positions") and cfg.feature_dim == 69


def test_json_round_trip_is_portable(tmp_path: Path) -> None:
    cfg = RetrievalConfig(
        vit_kwargs={"depth": 2, "drop_path_rate": 0.1},
        window_frames=48,
        scoring="pooled",
        filter_captions_threshold=0.95,
        text_trainable_layers=2,
    )
    path = tmp_path / "config.json"
    cfg.save(path)
    stored = json.loads(path.read_text())
    assert stored["text_model"] == DEFAULT_TEXT_MODEL  # no machine-specific site-packages path on disk
    assert RetrievalConfig.load(path) == cfg
    assert RetrievalConfig.from_dict(cfg.to_dict()) == cfg


def test_other_text_models_are_kept_verbatim() -> None:
    cfg = RetrievalConfig(text_model="bert-base-uncased")
    assert cfg.to_dict()["text_model"] == "bert-base-uncased"


def test_temperature_min_alias() -> None:
    cfg = RetrievalConfig.from_dict({"temperature_min": 0.02})
    assert cfg.max_logit_scale == pytest.approx(50.0)
    with pytest.raises(ConfigError, match="temperature_min"):
        RetrievalConfig.from_dict({"temperature_min": 0.02, "max_logit_scale": 50})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("window_frames", 40),
        ("window_frames", 0),
        ("embed_dim", 0),
        ("scoring", "colbert"),
        ("representation", "quaternions"),
        ("text_trainable_layers", -2),
        ("mlm_probability", 1.5),
        ("mlm_weight", -0.1),
        ("temperature_init", 0.001),  # below 1 / max_logit_scale
        ("filter_captions_threshold", 1.5),
        ("band_channels", (3,) * 13),
        ("band_channels", (1,) * 14),  # does not match the angle layout
        ("mask_padding_patches", "yes"),
        ("vit_kwargs", {"img_size": 64}),
        ("max_text_len", 2),
    ],
)
def test_invalid_values_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field if field != "temperature_init" else "temperature"):
        RetrievalConfig(**{field: value})


def test_window_frames_message_says_multiple_of_16() -> None:
    with pytest.raises(ConfigError, match="window_frames must be a positive multiple of 16, got 40"):
        RetrievalConfig(window_frames=40)


def test_unknown_fields_and_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="vit_nmae"):
        RetrievalConfig.from_dict({"vit_nmae": "x"})
    with pytest.raises(ConfigError, match="not found"):
        RetrievalConfig.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="bad.json"):
        RetrievalConfig.load(bad)
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"window_frames": 17}))
    with pytest.raises(ConfigError, match=r"wrong\.json.*window_frames"):
        RetrievalConfig.load(wrong)
