"""Storage codecs for patch embeddings: fp16, int8 (per-vector scale) and product quantisation.

Every codec turns ``(N, D)`` float32 vectors into a dict of named numpy arrays (written as ``<name>.npy``
files of a segment) and back. Rows are independent, so the encoded arrays of several segments can simply
be concatenated row-wise.

* ``fp16``: ``{"patches": (N, D) float16}``; ``2 D`` bytes per vector, relative error ~ 2**-11.
* ``int8``: ``{"patches": (N, D) int8, "scales": (N,) float32}`` with ``scale = max|x| / 127`` per vector
  and ``q = round(x / scale)``; ``D + 4`` bytes per vector, absolute error <= ``scale / 2`` per element.
* ``pq``: ``{"codes": (N, M) uint8}`` plus a codebook shared by the whole index (``(M, K, D / M)``
  float32 centroids, K <= 256, trained once at build time by k-means per sub-space with faiss, imported
  lazily). ``M`` bytes per vector. Because every stored embedding is L2-normalised, decoded PQ vectors
  are re-normalised to unit length. Encoding and decoding use torch/numpy only, so serving a PQ index
  does not need faiss.
"""

from __future__ import annotations

from typing import Literal, Protocol

import numpy as np

from backend.errors import ConfigError, IndexError_

__all__ = [
    "CODEC_NAMES",
    "Codec",
    "CodecName",
    "Fp16Codec",
    "Int8Codec",
    "PQCodec",
    "make_codec",
    "train_pq",
]

CodecName = Literal["fp16", "int8", "pq"]
CODEC_NAMES: tuple[str, ...] = ("fp16", "int8", "pq")


class Codec(Protocol):
    """What every codec offers."""

    name: str

    def encode(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """``(N, D)`` float -> named arrays with ``N`` rows each."""
        ...

    def decode(self, arrays: dict[str, np.ndarray], out: np.ndarray | None = None) -> np.ndarray:
        """Named arrays (rows selected by the caller) -> ``(N, D)`` float32 (written into ``out`` if given)."""
        ...

    def array_names(self) -> tuple[str, ...]:
        """Names of the per-segment arrays this codec writes."""
        ...

    def bytes_per_vector(self, dim: int) -> int:
        """Stored bytes of one vector (segment arrays only, not the shared codebook)."""
        ...


def _as_2d(x: np.ndarray, what: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2:
        raise IndexError_(f"{what}: expected a (N, D) array, got shape {x.shape}")
    return x


class Fp16Codec:
    """Half precision: ``2 D`` bytes per vector.

    >>> c = Fp16Codec(); a = np.ones((2, 4), np.float32) / 2
    >>> bool(np.allclose(c.decode(c.encode(a)), a))
    True
    """

    name = "fp16"

    def encode(self, x: np.ndarray) -> dict[str, np.ndarray]:
        return {"patches": _as_2d(x, "fp16 encode").astype(np.float16)}

    def decode(self, arrays: dict[str, np.ndarray], out: np.ndarray | None = None) -> np.ndarray:
        import torch  # ~9x numpy's float16 -> float32 conversion (F16C), measured in docs/benchmarks.md

        half = torch.from_numpy(np.ascontiguousarray(arrays["patches"], dtype=np.float16))
        out = np.empty(tuple(half.shape), dtype=np.float32) if out is None else out
        torch.from_numpy(out).copy_(half)
        return out

    def array_names(self) -> tuple[str, ...]:
        return ("patches",)

    def bytes_per_vector(self, dim: int) -> int:
        return 2 * dim


class Int8Codec:
    """Symmetric int8 with one float32 scale per vector: ``D + 4`` bytes per vector.

    >>> c = Int8Codec(); a = np.array([[0.5, -0.25, 0.0, 1.0]], np.float32)
    >>> enc = c.encode(a); enc["patches"].dtype.name, float(np.abs(c.decode(enc) - a).max()) <= 1 / 254
    ('int8', True)
    """

    name = "int8"

    def encode(self, x: np.ndarray) -> dict[str, np.ndarray]:
        x = _as_2d(x, "int8 encode").astype(np.float32)
        scales = np.abs(x).max(axis=1) / 127.0
        safe = np.where(scales > 0, scales, 1.0)
        q = np.clip(np.rint(x / safe[:, None]), -127, 127).astype(np.int8)
        return {"patches": q, "scales": scales.astype(np.float32)}

    def decode(self, arrays: dict[str, np.ndarray], out: np.ndarray | None = None) -> np.ndarray:
        import torch  # ~3x numpy's mixed int8 x float32 multiply (vectorised conversion), docs/benchmarks.md

        codes = torch.from_numpy(np.ascontiguousarray(arrays["patches"], dtype=np.int8))
        scales = torch.from_numpy(np.ascontiguousarray(arrays["scales"], dtype=np.float32))
        out = np.empty(tuple(codes.shape), dtype=np.float32) if out is None else out
        torch.from_numpy(out).copy_(codes).mul_(scales[:, None])
        return out

    def array_names(self) -> tuple[str, ...]:
        return ("patches", "scales")

    def bytes_per_vector(self, dim: int) -> int:
        return dim + 4


class PQCodec:
    """Product quantisation with a trained codebook ``(M, K, D / M)``; ``M`` bytes per vector.

    Args:
        centroids: ``(M, K, dsub)`` float32 codebook from :func:`train_pq`.
    """

    name = "pq"

    def __init__(self, centroids: np.ndarray) -> None:
        c = np.asarray(centroids, dtype=np.float32)
        if c.ndim != 3 or c.shape[1] > 256 or c.shape[1] < 1:
            raise IndexError_(f"PQ codebook must have shape (M, K<=256, dsub), got {c.shape}")
        self.centroids = np.ascontiguousarray(c)

    @property
    def m(self) -> int:
        return int(self.centroids.shape[0])

    @property
    def dim(self) -> int:
        return int(self.centroids.shape[0] * self.centroids.shape[2])

    def encode(self, x: np.ndarray) -> dict[str, np.ndarray]:
        import torch

        x = _as_2d(x, "pq encode").astype(np.float32)
        if x.shape[1] != self.dim:
            raise IndexError_(f"pq encode: vectors have dim {x.shape[1]}, codebook expects {self.dim}")
        m, _, dsub = self.centroids.shape
        sub = torch.from_numpy(x).view(x.shape[0], m, dsub).transpose(0, 1)  # (M, N, dsub)
        cent = torch.from_numpy(self.centroids)  # (M, K, dsub)
        codes = torch.empty((m, x.shape[0]), dtype=torch.uint8)
        step = 65536
        for s in range(0, x.shape[0], step):
            d = torch.cdist(sub[:, s : s + step], cent)  # (M, n, K)
            codes[:, s : s + step] = d.argmin(dim=2).to(torch.uint8)
        return {"codes": codes.T.contiguous().numpy()}

    def decode(self, arrays: dict[str, np.ndarray], out: np.ndarray | None = None) -> np.ndarray:
        codes = np.asarray(arrays["codes"]).astype(np.int64)
        m = self.m
        if codes.ndim != 2 or codes.shape[1] != m:
            raise IndexError_(f"pq decode: codes must have shape (N, {m}), got {codes.shape}")
        parts = self.centroids[np.arange(m)[None, :], codes]  # (N, M, dsub)
        vec = parts.reshape(codes.shape[0], -1)
        norms = np.linalg.norm(vec, axis=1, keepdims=True)
        if out is None:
            return (vec / np.maximum(norms, 1e-12)).astype(np.float32)
        np.divide(vec, np.maximum(norms, 1e-12), out=out)
        return out

    def array_names(self) -> tuple[str, ...]:
        return ("codes",)

    def bytes_per_vector(self, dim: int) -> int:
        return self.m


def train_pq(sample: np.ndarray, m: int | None = None, *, iters: int = 20, seed: int = 0) -> np.ndarray:
    """Train a PQ codebook by k-means in each of ``m`` sub-spaces (faiss, imported lazily).

    Args:
        sample: ``(N, D)`` training vectors (a few thousand or more; fewer give ``K = N`` centroids).
        m: number of sub-quantisers (bytes per vector); must divide ``D``. Default ``D // 8``.
        iters: k-means iterations.
        seed: k-means seed.

    Returns:
        ``(M, K, D / M)`` float32 centroids with ``K = min(256, max(2, N // 39))`` (faiss wants >= 39
        training points per centroid), capped at ``N``.
    """
    sample = _as_2d(sample, "pq training sample").astype(np.float32)
    n, dim = sample.shape
    m = max(1, dim // 8) if m is None else int(m)
    if m < 1 or dim % m:
        raise ConfigError(f"pq_m must divide the embedding dim {dim}, got {m}")
    if n < 1:
        raise ConfigError("pq training needs at least one vector")
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - faiss-cpu is in the project venv
        raise ConfigError("codec 'pq' needs faiss (pip install faiss-cpu)") from exc
    k = min(256, max(2, n // 39), n)
    dsub = dim // m
    out = np.empty((m, k, dsub), dtype=np.float32)
    for j in range(m):
        sub = np.ascontiguousarray(sample[:, j * dsub : (j + 1) * dsub])
        km = faiss.Kmeans(dsub, k, niter=iters, seed=seed + j, verbose=False, max_points_per_centroid=256)
        km.train(sub)
        out[j] = km.centroids
    return out


def make_codec(name: str, centroids: np.ndarray | None = None) -> Codec:
    """Codec by name.

    Args:
        name: one of :data:`CODEC_NAMES`.
        centroids: the PQ codebook (required for ``pq``).

    Raises:
        ConfigError: unknown name, or ``pq`` without a codebook.
    """
    if name == "fp16":
        return Fp16Codec()
    if name == "int8":
        return Int8Codec()
    if name == "pq":
        if centroids is None:
            raise ConfigError("codec 'pq' needs a trained codebook (train_pq)")
        return PQCodec(centroids)
    raise ConfigError(f"unknown codec {name!r}; valid: {', '.join(CODEC_NAMES)}")
