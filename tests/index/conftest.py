"""Fixtures of the index tests: real Bandai-Namco clips in a real library folder, a tiny random-init model
(real MiniLM text encoder) saved with ``save_pretrained``, and an index built from them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from backend.model.config import RetrievalConfig

#: real Bandai-Namco-1 clips (file stem) and captions written from their labels
CLIP_CAPTIONS: dict[str, list[str]] = {
    "dataset-1_bow_active_001": ["a person bows energetically"],
    "dataset-1_byebye_normal_001": ["someone waves goodbye with one hand", "a person waves"],
    "dataset-1_dash_normal_001": ["a person dashes forward"],
    "dataset-1_walk-back_normal_001": ["a man walks backwards"],
    "dataset-1_kick_normal_001": ["a person kicks", "A person  kicks"],  # duplicate after normalisation
    "dataset-1_walk-left_normal_001": ["a person walks to the left"],
    "dataset-1_punch_normal_001": ["a person punches"],
    "dataset-1_guide_normal_001": ["someone shows the way with the right arm"],
}
#: clips kept out of the library, used by add tests
EXTRA_CLIPS = ("dataset-1_bye_normal_001", "dataset-1_call_normal_001")


def tiny_config(**overrides: object) -> RetrievalConfig:
    """2-block 32-wide ViT, 32-frame window (2 time columns, 28 patches), 64-d embeddings."""
    base: dict[str, object] = {
        "vit_kwargs": {"depth": 2, "embed_dim": 32, "num_heads": 2},
        "window_frames": 32,
        "text_trainable_layers": 1,
        "embed_dim": 64,
    }
    base.update(overrides)
    return RetrievalConfig(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="session", autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def bandai_folder(bandai1: Path) -> Path:
    return bandai1 / "dataset/Bandai-Namco-Research-Motiondataset-1/data"


@pytest.fixture(scope="session")
def library_clips(bandai_folder: Path) -> list:
    """Canonical clips (real BVH -> bvh_to_clip) with captions."""
    from backend.motion.convert import bvh_to_clip

    out = []
    for stem, caps in CLIP_CAPTIONS.items():
        clip = bvh_to_clip(bandai_folder / f"{stem}.bvh", dataset="bandai-namco-1", licence="CC BY-NC 4.0")
        clip.meta.captions = list(caps)
        clip.meta.labels = {"action": stem.split("_")[1]}
        out.append(clip)
    return out


@pytest.fixture(scope="session")
def library_dir(tmp_path_factory: pytest.TempPathFactory, library_clips: list) -> Path:
    """A real library folder written with LibraryWriter."""
    from backend.motion.io.library import LibraryWriter

    root = tmp_path_factory.mktemp("library") / "lib"
    with LibraryWriter(root) as w:
        for c in library_clips:
            w.add(c)
    return root


def _save_tiny(directory: Path, clips: list, seed: int) -> Path:
    from backend.model.retrieval import MotionTextRetrieval
    from backend.motion.kinematics.features import compute_features
    from backend.motion.kinematics.normalize import fit_stats

    torch.manual_seed(seed)
    model = MotionTextRetrieval.from_config(tiny_config())
    model.set_feature_stats(fit_stats([compute_features(c.joints) for c in clips]))
    model.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def checkpoint_dir(tmp_path_factory: pytest.TempPathFactory, library_clips: list) -> Path:
    """A tiny random-init checkpoint folder (save_pretrained)."""
    return _save_tiny(tmp_path_factory.mktemp("ckpt") / "tiny", library_clips, seed=0)


@pytest.fixture(scope="session")
def other_checkpoint_dir(tmp_path_factory: pytest.TempPathFactory, library_clips: list) -> Path:
    """A second tiny checkpoint with different weights (different checksum)."""
    return _save_tiny(tmp_path_factory.mktemp("ckpt2") / "tiny2", library_clips, seed=1)


@pytest.fixture(scope="session")
def model(checkpoint_dir: Path):
    """The tiny model loaded back with from_pretrained (shared, read-only)."""
    from backend.search.build import load_model

    return load_model(checkpoint_dir)


@pytest.fixture(scope="session")
def extra_captions_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("captions") / "extra.txt"
    path.write_text(
        "# extra captions\na person jumps in place\na person bows energetically\n\n", encoding="utf-8"
    )
    return path


@pytest.fixture(scope="session")
def built_index(
    tmp_path_factory: pytest.TempPathFactory,
    library_dir: Path,
    checkpoint_dir: Path,
    model,
    extra_captions_file: Path,
) -> Path:
    """An fp16 index of the library (session-wide; copy it before changing it)."""
    from backend.search.build import build_index

    out = tmp_path_factory.mktemp("index") / "idx"
    build_index(
        library_dir, checkpoint_dir, out, extra_captions=[extra_captions_file], progress=False, model=model
    )
    return out


@pytest.fixture
def index_copy(tmp_path: Path, built_index: Path) -> Path:
    """A private copy of :func:`built_index` a test may modify."""
    dst = tmp_path / "idx"
    shutil.copytree(built_index, dst)
    return dst


@pytest.fixture(scope="session")
def extra_bvh(bandai_folder: Path) -> list[Path]:
    """Real BVH files not in the library."""
    return [bandai_folder / f"{s}.bvh" for s in EXTRA_CLIPS]
