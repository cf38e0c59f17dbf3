"""Contract of backend.index.codecs: fp16 / int8 / PQ round trips stay within their error bounds on real
patch embeddings (tiny model on real clips), and each codec stores the documented bytes per patch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from backend.errors import ConfigError
from backend.index.codecs import Fp16Codec, Int8Codec, PQCodec, make_codec, train_pq
from backend.index.store import MotionIndex


@pytest.fixture(scope="module")
def real_patches(built_index: Path) -> np.ndarray:
    """All valid patch embeddings of the fp16 test index, (N, D) float32 unit vectors."""
    index = MotionIndex.open(built_index)
    emb, mask = index.window_patches(np.arange(index.num_windows))
    return emb[mask]


def test_fp16_error_bound(real_patches: np.ndarray) -> None:
    c = Fp16Codec()
    enc = c.encode(real_patches)
    assert enc["patches"].dtype == np.float16
    err = np.abs(c.decode(enc) - real_patches)
    assert err.max() <= 2.0**-11 * np.abs(real_patches).max() + 1e-7


def test_int8_error_bound(real_patches: np.ndarray) -> None:
    c = Int8Codec()
    enc = c.encode(real_patches)
    assert enc["patches"].dtype == np.int8 and enc["scales"].shape == (len(real_patches),)
    err = np.abs(c.decode(enc) - real_patches).max(axis=1)
    bound = np.abs(real_patches).max(axis=1) / 254.0
    assert np.all(err <= bound * (1 + 1e-5) + 1e-8)
    zero = c.decode(c.encode(np.zeros((2, 8), np.float32)))
    assert np.all(zero == 0)


def test_pq_round_trip(real_patches: np.ndarray) -> None:
    dim = real_patches.shape[1]
    fine = PQCodec(train_pq(real_patches, dim // 2))
    coarse = PQCodec(train_pq(real_patches, dim // 16))
    assert fine.encode(real_patches)["codes"].shape == (len(real_patches), dim // 2)
    cos = {}
    for name, c in (("fine", fine), ("coarse", coarse)):
        dec = c.decode(c.encode(real_patches))
        np.testing.assert_allclose(np.linalg.norm(dec, axis=1), 1.0, atol=1e-5)
        cos[name] = float(np.mean(np.sum(dec * real_patches, axis=1)))
    assert cos["fine"] > cos["coarse"]
    assert cos["fine"] > 0.9
    # a vector assembled from codebook entries is reproduced exactly (up to normalisation)
    cent = fine.centroids
    exact = np.concatenate([cent[m, (3 * m) % cent.shape[1]] for m in range(cent.shape[0])])[None]
    dec = fine.decode(fine.encode(exact))
    np.testing.assert_allclose(dec, exact / np.linalg.norm(exact), atol=1e-5)


def test_codec_errors_name_the_problem() -> None:
    with pytest.raises(ConfigError, match="unknown codec 'zip'"):
        make_codec("zip")
    with pytest.raises(ConfigError, match="codebook"):
        make_codec("pq")
    with pytest.raises(ConfigError, match="pq_m must divide"):
        train_pq(np.ones((10, 64), np.float32), 7)


@pytest.mark.parametrize("codec", ["fp16", "int8", "pq"])
def test_bytes_per_clip_on_disk(
    tmp_path: Path, library_dir: Path, checkpoint_dir: Path, model, codec: str
) -> None:
    from backend.index.maintenance import index_info
    from backend.search.build import build_index

    index = build_index(
        library_dir, checkpoint_dir, tmp_path / codec, codec=codec, progress=False, model=model
    )
    h = index.header
    n_patches = sum(s.num_patches for s in h.segments)
    disk = index.disk_bytes()
    header_bytes = 128  # .npy header
    if codec == "fp16":
        assert disk["patches"] == header_bytes + n_patches * 2 * h.embed_dim
    elif codec == "int8":
        assert disk["patches"] == header_bytes + n_patches * h.embed_dim
        assert disk["scales"] == header_bytes + n_patches * 4
    else:
        assert h.pq_m == h.embed_dim // 4
        assert disk["codes"] == header_bytes + n_patches * h.pq_m
    info = index_info(index.path)
    per_clip = info["bytes_per_clip_embeddings"]
    assert per_clip == pytest.approx(sum(v for k, v in disk.items() if k != "joints") / len(index))
    index.verify()


def test_decode_into_out_matches_and_fp16_is_exact(real_patches: np.ndarray) -> None:
    half = real_patches.astype(np.float16)
    np.testing.assert_array_equal(Fp16Codec().decode({"patches": half}), half.astype(np.float32))  # exact
    for c in (Fp16Codec(), Int8Codec(), PQCodec(train_pq(real_patches, real_patches.shape[1] // 4))):
        enc = c.encode(real_patches)
        out = np.full(real_patches.shape, np.nan, dtype=np.float32)
        assert c.decode(enc, out=out) is out
        np.testing.assert_array_equal(out, c.decode(enc))


def test_window_codes_are_the_stored_arrays(built_index: Path, tmp_path: Path) -> None:
    from backend.index.transcode import transcode_index

    index = transcode_index(built_index, tmp_path / "int8", "int8", segment_clips=7)  # several segments
    assert len(index.header.segments) > 1
    rows = np.random.default_rng(0).permutation(index.num_windows)  # unsorted, across segments
    arrays, mask = index.window_codes(rows)
    emb, want_mask = index.window_patches(rows)
    np.testing.assert_array_equal(mask, want_mask)
    assert not mask.all(), "the tiny index has windows with padding patches"
    assert arrays["patches"].dtype == np.int8 and arrays["patches"].shape == emb.shape
    assert np.all(arrays["patches"][~mask] == 0) and np.all(arrays["scales"][~mask] == 0)
    dec = Int8Codec().decode({"patches": arrays["patches"][mask], "scales": arrays["scales"][mask]})
    np.testing.assert_array_equal(dec, emb[mask])
    order = np.argsort(rows)  # sorted rows take the in-place path: the same arrays
    sorted_arrays, _ = index.window_codes(rows[order])
    np.testing.assert_array_equal(sorted_arrays["patches"], arrays["patches"][order])
    np.testing.assert_array_equal(sorted_arrays["scales"], arrays["scales"][order])
