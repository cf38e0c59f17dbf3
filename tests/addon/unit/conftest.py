"""Fixtures of the add-on's bpy-free unit tests (plain pytest in the main venv).

``addon/__init__.py`` registers Blender classes, so the pure modules are imported through a stub ``addon``
package whose ``__path__`` is the real folder (the same trick ``tests/test_architecture.py`` uses); the
stub is installed when this conftest is loaded, before the test modules are collected.

Real clips come from the shared datasets through the backend's own converter (tests may use the backend;
the add-on itself never imports it).
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[3]


def _install_stub_package() -> None:
    """Make ``import addon.<pure module>`` work without bpy (no-op when ``addon`` is already imported)."""
    if "addon" not in sys.modules:
        pkg = types.ModuleType("addon")
        pkg.__path__ = [str(REPO / "addon")]
        sys.modules["addon"] = pkg


_install_stub_package()

BANDAI1_DATA = "dataset/Bandai-Namco-Research-Motiondataset-1/data"
CMU_131 = "yuki-koyama/bvh11/resources/131_03.bvh"


@pytest.fixture(scope="session")
def bandai_wave(bandai1: Path):
    """A real canonical clip (Bandai-Namco-1 'byebye'): ``backend.motion.clip.Clip``."""
    from backend.motion.convert import bvh_to_clip

    return bvh_to_clip(bandai1 / BANDAI1_DATA / "dataset-1_byebye_normal_001.bvh", dataset="bandai-namco-1")


@pytest.fixture(scope="session")
def cmu_hop(cmu_samples: Path):
    """A real canonical CMU clip whose joints are interpolated between source bones (varying lengths)."""
    from backend.motion.convert import bvh_to_clip

    return bvh_to_clip(cmu_samples / CMU_131, dataset="cmu-bvh-samples")


@pytest.fixture(scope="session")
def bvh_rigs(bandai1: Path, cmu_samples: Path) -> dict[str, tuple[list[str], list[int]]]:
    """Joint names and parents of real BVH rigs from the shared datasets."""
    from backend.motion.io.bvh import read_bvh

    out = {}
    for key, path in (
        ("bandai", bandai1 / BANDAI1_DATA / "dataset-1_bow_normal_001.bvh"),
        ("cmu", cmu_samples / CMU_131),
    ):
        data = read_bvh(path)
        out[key] = (list(data.names), list(data.parents))
    return out


@pytest.fixture(scope="session")
def wave_zup(bandai_wave) -> np.ndarray:
    """``(T, 22, 3)`` float64 joints of :func:`bandai_wave` in Blender space (Z up)."""
    from addon.skeleton import yup_to_zup

    return yup_to_zup(np.asarray(bandai_wave.joints, dtype=np.float64))


@pytest.fixture(scope="session")
def hop_zup(cmu_hop) -> np.ndarray:
    """``(T, 22, 3)`` float64 joints of :func:`cmu_hop` in Blender space (Z up)."""
    from addon.skeleton import yup_to_zup

    return yup_to_zup(np.asarray(cmu_hop.joints, dtype=np.float64))
