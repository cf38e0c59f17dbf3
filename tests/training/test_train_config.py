"""Contract of ``backend.training.config``: YAML experiment files, ``base:`` inheritance, dotted overrides.

* Every shipped config in ``configs/`` loads and validates.
* Each ablation config differs from ``paper.yaml`` in exactly the one setting it ablates.
* ``--set section.key=value`` overrides coerce to the field's type (``1e-5`` is a float).
* Unknown keys and bad values raise ``ConfigError`` naming the dotted key.
* The resolved config saved beside a run loads back to the same config.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.errors import ConfigError
from backend.training.config import TrainConfig, apply_overrides, load_train_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
ABLATIONS = {
    "pooled.yaml": ("scoring", "pooled"),
    "positions.yaml": ("representation", "positions"),
    "no_mlm.yaml": ("mlm_weight", 0.0),
    "masked.yaml": ("mask_padding_patches", True),
}


@pytest.mark.parametrize("name", ["default.yaml", "tiny.yaml", "paper.yaml", *ABLATIONS])
def test_shipped_configs_load(name: str) -> None:
    cfg = load_train_config(CONFIGS / name)
    assert isinstance(cfg, TrainConfig)
    assert cfg.model.window_frames % 16 == 0
    assert cfg.data.val_split != "test" and cfg.data.train_split != "test"


@pytest.mark.parametrize(("name", "change"), ABLATIONS.items())
def test_each_ablation_changes_one_model_setting(name: str, change: tuple[str, object]) -> None:
    paper = load_train_config(CONFIGS / "paper.yaml").to_dict()
    ablation = load_train_config(CONFIGS / name).to_dict()
    key, value = change
    assert ablation["model"][key] == value != paper["model"][key]
    different = {k for k in paper["model"] if paper["model"][k] != ablation["model"][k]}
    if key == "representation":  # the band layout follows the representation
        different.discard("band_channels")
    assert different == {key}
    assert {k: v for k, v in ablation.items() if k != "model"} == {
        k: v for k, v in paper.items() if k != "model"
    }


def test_paper_config_is_the_papers_method() -> None:
    m = load_train_config(CONFIGS / "paper.yaml").model
    assert (m.representation, m.scoring, m.mask_padding_patches) == ("angles", "maxsim", False)
    assert m.mlm_weight == pytest.approx(0.2) and m.temperature_init == pytest.approx(0.07)


def test_dotted_overrides_are_coerced_to_the_field_types() -> None:
    cfg = load_train_config(
        CONFIGS / "tiny.yaml",
        [
            "optim.lr_text=1e-5",
            "model.vit_kwargs.depth=3",
            "optim.max_steps=12",
            "amp=true",
            "data.root=/x/y",
        ],
    )
    assert cfg.optim.lr_text == 1e-5 and isinstance(cfg.optim.lr_text, float)
    assert cfg.model.vit_kwargs["depth"] == 3
    assert cfg.model.vit_kwargs["embed_dim"] == 32  # the rest of the mapping is kept
    assert cfg.optim.max_steps == 12 and cfg.amp is True and cfg.data.root == "/x/y"


def test_drop_path_goes_into_the_vit_kwargs() -> None:
    cfg = load_train_config(None, ["optim.drop_path=0.2"])
    assert cfg.model.vit_kwargs["drop_path_rate"] == pytest.approx(0.2)
    cfg = load_train_config(None, ["optim.drop_path=0.2", "model.vit_kwargs.drop_path_rate=0.05"])
    assert cfg.model.vit_kwargs["drop_path_rate"] == pytest.approx(0.05)


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("optim.lr_txt=1e-5", "'optim.lr_txt'"),
        ("model.embed_dimm=64", "'model.embed_dimm'"),
        ("nonsense=1", "'nonsense'"),
        ("optim.batch_size=many", "optim.batch_size"),
        ("optim.batch_size=1", "optim.batch_size"),
        ("data.dataset=amass", "data.dataset"),
        ("model.scoring=sum", "scoring"),
        ("model.window_frames=100", "window_frames"),
        ("select_metric=t2m/R@7", "select_metric"),
        ("optim", "section.key=value"),
    ],
)
def test_bad_overrides_name_the_key(override: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace("[", r"\[")):
        load_train_config(CONFIGS / "tiny.yaml", [override])


def test_bad_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_train_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("optim:\n  epochz: 3\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*optim\.epochz"):
        load_train_config(bad)
    loop = tmp_path / "loop.yaml"
    loop.write_text("base: loop.yaml\n")
    with pytest.raises(ConfigError, match="loops"):
        load_train_config(loop)


def test_resolved_config_round_trips(tmp_path: Path) -> None:
    cfg = load_train_config(CONFIGS / "masked.yaml", ["seed=7", "optim.lr_heads=5e-4"])
    cfg.save(tmp_path / "config.yaml")
    again = load_train_config(tmp_path / "config.yaml")
    assert again.to_dict() == cfg.to_dict()
    assert "base" not in (tmp_path / "config.yaml").read_text()


def test_apply_overrides_leaves_the_input_alone() -> None:
    raw = {"optim": {"epochs": 1}}
    out = apply_overrides(raw, ["optim.epochs=5", "model.vit_kwargs.depth=2"])
    assert raw == {"optim": {"epochs": 1}}
    assert out == {"optim": {"epochs": 5}, "model": {"vit_kwargs": {"depth": 2}}}
