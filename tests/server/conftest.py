"""Server fixtures: a real tiny checkpoint (random-init tiny ViT + the real MiniLM) and a real index built
from real BVH clips of the shared datasets, through the public ``backend.model`` / ``backend.index`` APIs.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

#: Bandai-Namco-1 clips (file stem) and captions written from their action/style labels
BANDAI_CLIPS: dict[str, str] = {
    "dataset-1_bow_active_001": "a person bows energetically",
    "dataset-1_byebye_normal_001": "someone waves goodbye with one hand",
    "dataset-1_dash_normal_001": "a person dashes forward",
    "dataset-1_walk-back_normal_001": "a man walks backwards",
    "dataset-1_kick_normal_001": "a person kicks",
    "dataset-1_walk-left_normal_001": "a person walks to the left",
}
#: a long CMU clip (cut into several index windows) with its KIT-ML-style description
CMU_CLIP = ("yuki-koyama/bvh11/resources/131_03.bvh", "a person starts, hops on one leg and stops")
EXTRA_CAPTIONS = ("a person raises the left hand", "a person sits down", "someone jumps in place")
WINDOW_FRAMES = 64


@dataclass
class TinySetup:
    """Paths of the built artefacts and what went into them."""

    checkpoint: Path
    index: Path
    clip_ids: list[str]
    captions: list[str]
    bvh_files: dict[str, Path]


def bandai_folder(bandai1: Path) -> Path:
    return bandai1 / "dataset/Bandai-Namco-Research-Motiondataset-1/data"


@pytest.fixture(scope="session")
def tiny_setup(tmp_path_factory: pytest.TempPathFactory, bandai1: Path, cmu_samples: Path) -> TinySetup:
    """Build (once per session) a tiny checkpoint and an fp16 index of 7 real clips + a caption bank."""
    import torch

    from backend.index.format import IndexHeader
    from backend.index.windows import default_stride
    from backend.index.writer import CaptionPart, IndexWriter, create_index
    from backend.model.config import PATCH_FRAMES, RetrievalConfig
    from backend.model.retrieval import MotionTextRetrieval
    from backend.motion.convert import bvh_to_clip
    from backend.motion.kinematics.features import compute_features
    from backend.motion.kinematics.normalize import fit_stats
    from backend.search.ingest import encode_captions, encode_clips

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("server-setup")
    folder = bandai_folder(bandai1)
    clips, files = [], {}
    for stem, caption in BANDAI_CLIPS.items():
        path = folder / f"{stem}.bvh"
        clip = bvh_to_clip(path, dataset="bandai-namco-1", source=str(path.relative_to(bandai1)))
        clip.meta.captions = [caption]
        clips.append(clip)
        files[clip.meta.id] = path
    cmu_path = cmu_samples / CMU_CLIP[0]
    clip = bvh_to_clip(cmu_path, dataset="cmu-bvh-samples", source=CMU_CLIP[0])
    clip.meta.captions = [CMU_CLIP[1]]
    clips.append(clip)
    files[clip.meta.id] = cmu_path

    torch.manual_seed(0)
    config = RetrievalConfig(vit_kwargs={"depth": 2, "embed_dim": 32, "num_heads": 2}, window_frames=WINDOW_FRAMES,
                             text_trainable_layers=1, embed_dim=64)  # fmt: skip
    model = MotionTextRetrieval.from_config(config).eval()
    model.set_feature_stats(fit_stats([compute_features(c.joints, config.representation) for c in clips],
                                      config.representation))  # fmt: skip
    ckpt = model.save_pretrained(root / "checkpoint")
    model = MotionTextRetrieval.from_pretrained(ckpt)

    index = root / "index"
    stride = default_stride(WINDOW_FRAMES)
    header = IndexHeader(model_checksum=model.checksum(), embed_dim=config.embed_dim, codec="fp16",
                         window_frames=WINDOW_FRAMES, stride=stride, n_time=WINDOW_FRAMES // PATCH_FRAMES,
                         model_name="tiny-test")  # fmt: skip
    create_index(index, header)
    captions = [c.meta.captions[0] for c in clips] + list(EXTRA_CAPTIONS)
    with IndexWriter(index) as writer:
        writer.add(list(encode_clips(model, clips, stride=stride)),
                   captions=CaptionPart(captions, encode_captions(model, captions)))  # fmt: skip
    return TinySetup(ckpt, index, [c.meta.id for c in clips], captions, files)


@pytest.fixture()
def index_copy(tiny_setup: TinySetup, tmp_path: Path) -> Path:
    """A private copy of the tiny index for tests that change it."""
    dst = tmp_path / "index"
    shutil.copytree(tiny_setup.index, dst)
    return dst


def make_settings(setup: TinySetup, tmp_path: Path, index: Path | None = None, **overrides: object):
    """ServerSettings for the tiny setup (isolated from MOTION_SEARCH_* variables of the environment)."""
    from backend.server.settings import ServerSettings

    values: dict[str, object] = {
        "index_dir": index or setup.index,
        "checkpoint_dir": setup.checkpoint,
        "preview_cache_dir": tmp_path / "previews",
        "api_token": None,
        "host": "127.0.0.1",
        "allow_remote": False,
        "allowed_hosts": ["testserver"],  # the Host header of Starlette's TestClient
    }
    values.update(overrides)
    return ServerSettings(**values)  # type: ignore[arg-type]


@pytest.fixture()
def settings_for(tiny_setup: TinySetup, tmp_path: Path):
    """``settings_for(index=None, **overrides) -> ServerSettings`` over the tiny setup."""

    def make(index: Path | None = None, **overrides: object):
        return make_settings(tiny_setup, tmp_path, index, **overrides)

    return make


@pytest.fixture(scope="session")
def session_app(tiny_setup: TinySetup, tmp_path_factory: pytest.TempPathFactory):
    """One read-only app over the tiny index, started once (its lifespan loads model + index)."""
    from fastapi.testclient import TestClient

    from backend.server.app import create_app

    app = create_app(make_settings(tiny_setup, tmp_path_factory.mktemp("previews")))
    with TestClient(app) as client:
        yield client


@pytest.fixture()
def client(session_app):
    """The shared TestClient (the index behind it is never modified)."""
    return session_app


@contextlib.contextmanager
def live_server(settings) -> Iterator[str]:
    """A real ``uvicorn.Server`` on 127.0.0.1 (port chosen by the OS) in a thread; yields its base URL."""
    import uvicorn

    from backend.server.app import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture(scope="session")
def serve_live():
    """:func:`live_server` as a fixture: ``with serve_live(settings) as url: ...``."""
    return live_server
