"""Shared fixtures: real data from ../shared/datasets, extracted once per machine into .cache/."""

from __future__ import annotations

import fcntl
import os
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATASETS = Path(os.environ.get("MOTION_SEARCH_MIRROR", REPO.parent / "shared" / "datasets"))
CACHE = REPO / ".cache" / "test-datasets"


def extract_archive(name: str) -> Path:
    """Extract ``<name>.tar.gz`` from the shared mirror into the test cache (once; process-safe).

    Returns the folder ``CACHE/<name>`` (the archive's top folder).
    """
    archive = SHARED_DATASETS / f"{name}.tar.gz"
    if not archive.exists():
        pytest.skip(f"shared dataset archive missing: {archive}")
    CACHE.mkdir(parents=True, exist_ok=True)
    target = CACHE / name
    done = CACHE / f".{name}.done"
    with open(CACHE / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            with tarfile.open(archive) as tar:
                tar.extractall(CACHE, filter="data")
            done.touch()
    return target


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """The read-only mirror folder with the tarballs and SHA256SUMS."""
    if not SHARED_DATASETS.exists():
        pytest.skip(f"no shared datasets at {SHARED_DATASETS}")
    return SHARED_DATASETS


@pytest.fixture(scope="session")
def bandai1() -> Path:
    """Extracted bandai-namco-1 archive root."""
    return extract_archive("bandai-namco-1")


@pytest.fixture(scope="session")
def bandai2() -> Path:
    """Extracted bandai-namco-2 archive root."""
    return extract_archive("bandai-namco-2")


@pytest.fixture(scope="session")
def cmu_samples() -> Path:
    """Extracted cmu-bvh-samples archive root."""
    return extract_archive("cmu-bvh-samples")


@pytest.fixture(scope="session")
def cmu_iclone() -> Path:
    """Extracted cmu-iclone archive root."""
    return extract_archive("cmu-iclone")


@pytest.fixture(scope="session")
def reactidle() -> Path:
    """Extracted reactidle archive root."""
    return extract_archive("reactidle")


@pytest.fixture(scope="session")
def kitml_annotations() -> Path:
    """Extracted kitml-annotations archive root."""
    return extract_archive("kitml-annotations")


@pytest.fixture(scope="session")
def cmu_index() -> Path:
    """Extracted cmu-index archive root."""
    return extract_archive("cmu-index")


@pytest.fixture(scope="session")
def hdm05() -> Path:
    """Extracted hdm05-cuts archive root (ASF/AMC)."""
    return extract_archive("hdm05-cuts")


@pytest.fixture(scope="session")
def cmu_cgspeed() -> Path:
    """Extracted cmu-cgspeed-s01-09 archive root."""
    return extract_archive("cmu-cgspeed-s01-09")


@pytest.fixture(scope="session")
def cmu_daz() -> Path:
    """Extracted cmu-daz-s02-16 archive root."""
    return extract_archive("cmu-daz-s02-16")


@pytest.fixture(scope="session")
def make_bandai2_library(bandai2: Path, tmp_path_factory: pytest.TempPathFactory):
    """``make(name, actions, styles, split_of_take) -> Path``: a library folder of real Bandai-Namco-2 clips
    (``<action>_<style>_<take>``), built as ``data build-library`` builds one (``bvh_to_clip`` +
    ``LibraryWriter``, the library's labels and captions) with the given split per take number."""

    def make(name: str, actions, styles, split_of_take: dict[int, str]) -> Path:
        from backend.library.captions import captions_for
        from backend.motion.convert import bvh_to_clip
        from backend.motion.io.library import LibraryWriter

        data = bandai2 / "dataset" / "Bandai-Namco-Research-Motiondataset-2" / "data"
        root = tmp_path_factory.mktemp(name) / "library"
        with LibraryWriter(root) as writer:
            for action in actions:
                for style in styles:
                    for take, split in split_of_take.items():
                        clip_id = f"bandai2_{action}_{style}_{take:03d}"
                        clip = bvh_to_clip(data / f"dataset-2_{action}_{style}_{take:03d}.bvh", clip_id=clip_id,
                                           dataset="bandai-namco-2", licence="CC BY-NC 4.0")  # fmt: skip
                        clip.meta.labels = {"action": action, "style": style, "take": f"{take:03d}"}
                        clip.meta.captions = captions_for(clip.meta.labels, clip_id)
                        clip.meta.split = split
                        writer.add(clip)
        return root

    return make
