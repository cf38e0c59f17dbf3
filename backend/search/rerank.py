"""The re-rank's compact copies of an index's patches: an approximate first pass, and int8 for large indexes.

**The approximate pass** (the default where the float cache exists and the CPU multiplies int8 fast,
:func:`int8_products_fast`): the candidates are scored from a compact
copy of the cache, and only the windows that can still reach the top ``k`` are re-scored from the exact
cache (:func:`near_top`, with a bound on the copy's error): the hits and their scores are those of the exact
re-rank. Two copies: **int8** (:meth:`Int8Patches.from_cache`, the default: a quarter of the float32 bytes
read per window and integer products, ``torch._int_mm``, that run on the CPU's int8 dot-product units;
bound: :meth:`Int8Patches.bound`, from each window's largest rounding residual) and **bfloat16**
(:class:`Bf16Patches`, half the bytes; :data:`BF16_BOUND`). On a Xeon with AVX512-BF16 and VNNI (no AMX)
PyTorch's bfloat16 products were no faster than float32 ones, the int8 products 3x faster; on an AVX2-only
AMD EPYC both were 10x slower than float32, so there ``auto`` keeps the exact re-rank alone
(docs/benchmarks.md, "Faster text and re-rank").

**int8 for large indexes** (:class:`Int8Patches`, opt-in):

Two-stage search re-scores a few hundred candidate windows exactly, and what that costs is reading their
patches: ``P x D`` float32 = 114 KB per window of 112 patches. When the whole index fits the searcher's
float32 budget, the patches are kept as float32 and read from memory; above twice that budget the re-rank
used to decode every candidate from the memory-mapped codec arrays on each query (about 100 us per window at
100k clips, most of a query). :class:`Int8Patches` keeps instead ``D`` int8 codes plus one float32 scale per
patch (``D + 4`` bytes, a quarter of float32), laid out ``(N, P, D)`` so that a block of candidate windows is
one gather; a block is converted to float32 in the CPU cache and scored by one matrix product:

    ``score(q, w) = mean_t max_p scale[w, p] * (q_t . code[w, p])``

With an int8 index (``codec = "int8"``, symmetric with one scale per patch, :class:`~backend.index.codecs.
Int8Codec`) the codes are the stored ones, so these scores equal exact MaxSim up to float rounding
(:attr:`exact`). From an fp16 index they are within the int8 rounding of exact (``|error| <= max|q| * scale / 2``
per dot product); the searcher then re-scores its best windows exactly (``Searcher(rescore=...)``).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from typing import Literal

import numpy as np
import torch

from backend.errors import InvalidInputError
from backend.index.codecs import Int8Codec
from backend.index.store import MotionIndex
from backend.search.hits import best_per_clip

__all__ = [
    "APPROX_RERANKS",
    "BF16_BOUND",
    "ApproxRerank",
    "Bf16Patches",
    "Int8Patches",
    "index_int8_scores",
    "int8_maxsim",
    "near_top",
    "patch_caches",
]

#: bound of ``|bf16 MaxSim - exact MaxSim|`` per unit of ``max |q_t| * max |x_p|``: rounding each factor to
#: bfloat16 moves it by at most 2^-9 relatively, so a dot product (at most ``|q| |x|``) moves by at most
#: ``2^-8 |q| |x|`` (products and sums are accumulated in float32), and rounding the product's bfloat16 result
#: by at most ``2^-9 |q| |x|`` more; a max over patches and a mean over tokens keep that bound
#: (:meth:`Bf16Patches.bound` scales it by the norms; 0.0059 for unit vectors).
BF16_BOUND = 2.0**-8 + 2.0**-9
#: the approximate first pass of the re-rank: ``auto`` (int8 where :func:`int8_products_fast`, else off),
#: ``int8``, ``bf16`` or ``off``
ApproxRerank = Literal["auto", "int8", "bf16", "off"]
#: the values of :data:`ApproxRerank`
APPROX_RERANKS: tuple[str, ...] = ("auto", "int8", "bf16", "off")
#: absolute slack of the int8 bound for float32 rounding of the scores (both the approximate and the exact
#: ones: a few 1e-7 for unit vectors)
_FLOAT_SLACK = 1e-5


def near_top(approx: np.ndarray, clips: np.ndarray, k: int, bound: float | np.ndarray) -> np.ndarray:
    """Positions of the windows whose exact score can still place their clip among the ``k`` best clips.

    Every exact score lies within ``bound`` of the approximate one (a number, or one per window). A clip then
    scores at least ``L_c``, the best ``approx - bound`` of its windows, exactly; with ``T`` the ``k``-th best
    ``L_c``, ``k`` clips score at least ``T``, so the best window of a clip of the exact top ``k`` scores at
    least ``T`` exactly and ``approx + bound >= T``: re-scoring exactly the windows that pass that test gives
    the exact top ``k`` and their exact scores (fewer than ``k`` clips: every window). With one bound for
    every window the test is ``approx >= T' - 2 bound``, ``T'`` the ``k``-th best clip's approximate score.

    >>> near_top(np.array([0.9, 0.5, 0.895, 0.7]), np.array([0, 1, 2, 3]), 2, 0.01).tolist()
    [0, 2]
    >>> near_top(np.array([0.9, 0.5, 0.895, 0.7]), np.array([0, 1, 2, 3]), 2, np.array([0.01, 0.01, 0.01, 0.2])).tolist()
    [0, 2, 3]
    """
    lower = approx - bound
    best = best_per_clip(lower, clips, k)
    if len(best) < k:
        return np.arange(len(approx))
    return np.nonzero(approx + bound >= lower[best[-1]])[0]


class Int8Patches:
    """``(N, P, D)`` int8 codes, ``(N, P)`` float32 scales (0 at padding patches) and ``(N, P)`` masks.

    Args:
        codes: ``(N, P, D)`` int8.
        scales: ``(N, P)`` float32.
        masks: ``(N, P)`` bool scoring mask.
        exact: whether the codes are the index's own (int8 codec): scores are then exact MaxSim.
    """

    def __init__(
        self, codes: torch.Tensor, scales: torch.Tensor, masks: torch.Tensor, exact: bool,
        residual: torch.Tensor | None = None, digits: int = 3,
    ) -> None:  # fmt: skip
        if codes.dtype != torch.int8 or codes.dim() != 3 or scales.shape != codes.shape[:2]:
            raise InvalidInputError(f"codes must be (N, P, D) int8 and scales (N, P); got {tuple(codes.shape)} "
                                    f"{codes.dtype} and {tuple(scales.shape)}")  # fmt: skip
        if digits not in (2, 3):
            raise InvalidInputError(f"digits must be 2 or 3, got {digits!r}")
        self.codes, self.scales, self.masks, self.exact = codes, scales.float(), masks.bool(), exact
        self.all_valid = bool(self.masks.all())
        self.digits = digits
        #: ``(N,)`` per window, the largest ``|x_p - scale_p code_p|`` of its valid patches (0 when exact)
        self.residual = torch.zeros(len(codes)) if residual is None else residual.float()
        #: the largest norm of a decoded valid patch (``scale_p |code_p|``)
        self.max_decoded = 0.0

    @classmethod
    def from_cache(cls, cache: torch.Tensor, masks: torch.Tensor, block: int = 1024) -> Int8Patches:
        """The approximate pass's copy of a float cache ``(N, P, D)``: per-patch symmetric int8 (the index's
        int8 scheme), each window's largest rounding residual, queries multiplied in two int8 digits."""
        n, p, d = cache.shape
        codes = torch.empty((n, p, d), dtype=torch.int8)
        scales, residual = torch.zeros((n, p)), torch.zeros(n)
        max_decoded = 0.0
        for a in range(0, n, block):
            x, m = cache[a : a + block].float(), masks[a : a + block].bool()
            sc = x.abs().amax(dim=-1) / 127.0
            c = torch.round(x / torch.where(sc > 0, sc, 1.0)[..., None]).clamp_(-127, 127)
            decoded = c * sc[..., None]
            codes[a : a + block] = c.to(torch.int8)
            scales[a : a + block] = torch.where(m, sc, 0.0)
            residual[a : a + block] = torch.where(m, (x - decoded).norm(dim=-1), 0.0).amax(dim=-1)
            if m.any():
                max_decoded = max(max_decoded, float(decoded.norm(dim=-1)[m].max()))
        out = cls(codes, scales, masks, exact=False, residual=residual, digits=2)
        out.max_decoded = max_decoded
        return out

    def bound(self, q_valid: torch.Tensor, rows: np.ndarray) -> np.ndarray:
        """``(len(rows),)`` bounds of ``|score - exact MaxSim|`` of :meth:`score` for this query, per window.

        Per token ``t`` and patch ``p``: ``q.x - q'.x' = q.(x - x') + (q - q').x'`` (``x'`` the decoded patch,
        ``q'`` the query's int8 digits), so ``|error| <= |q_t| r_w + |q_t - q'_t| X`` (``r_w`` the window's
        largest residual, ``X`` :attr:`max_decoded`, Cauchy-Schwarz; the last digit is rounded, so each element
        of ``q_t - q'_t`` is at most half its unit, ``s / 2 / 128^(digits - 1)``, with ``s = max|q| / 127``); a
        max over patches and a mean over tokens keep it; plus :data:`_FLOAT_SLACK` for float32 rounding.
        """
        q = q_valid.float()
        unit = float(q.abs().max()) / 127.0 / _DIGIT_BASE ** (self.digits - 1)
        q_err = 0.5 * unit * q.shape[1] ** 0.5 * self.max_decoded
        r = self.residual.numpy()[np.asarray(rows, dtype=np.int64)].astype(np.float64)
        return (float(q.norm(dim=-1).max()) * r + q_err) * 1.001 + _FLOAT_SLACK

    @classmethod
    def build(
        cls,
        blocks: Iterable[tuple[int, np.ndarray, np.ndarray]],
        num_windows: int,
        num_patches: int,
        dim: int,
        *,
        exact: bool,
    ) -> Int8Patches:
        """Quantise decoded blocks ``(first row, emb (n, P, D) float32, mask (n, P))`` (``iter_decoded``)."""
        codes = torch.zeros((num_windows, num_patches, dim), dtype=torch.int8)
        scales = torch.zeros((num_windows, num_patches), dtype=torch.float32)
        masks = torch.zeros((num_windows, num_patches), dtype=torch.bool)
        codec = Int8Codec()  # the index's own int8 scheme: its codes come back unchanged from an int8 index
        for a, emb, mask in blocks:
            enc = codec.encode(np.asarray(emb, dtype=np.float32).reshape(-1, dim))
            codes[a : a + len(emb)] = torch.from_numpy(enc["patches"].reshape(len(emb), num_patches, dim))
            s = enc["scales"].reshape(len(emb), num_patches)
            scales[a : a + len(emb)] = torch.from_numpy(np.where(mask, s, 0.0).astype(np.float32))
            masks[a : a + len(emb)] = torch.from_numpy(np.asarray(mask, dtype=bool))
        return cls(codes, scales, masks, exact)

    @property
    def nbytes(self) -> int:
        """Bytes held (codes + scales + masks)."""
        return int(self.codes.numel() + self.scales.numel() * 4 + self.masks.numel())

    def score(self, q_valid: torch.Tensor, rows: np.ndarray, block: int = 256) -> np.ndarray:
        """MaxSim of one query's valid tokens ``(Lv, D)`` against windows ``rows`` -> ``(n,)`` float32.

        A window without a valid patch scores ``-inf`` (as :func:`backend.model.scoring.maxsim_one_query`).
        """
        idx = torch.from_numpy(np.asarray(rows, dtype=np.int64))
        out = np.empty(len(idx), dtype=np.float32)
        for a in range(0, len(idx), block):
            r = idx[a : a + block]
            masks = None if self.all_valid else self.masks.index_select(0, r)
            out[a : a + block] = int8_maxsim(q_valid, self.codes.index_select(0, r), self.scales.index_select(0, r),
                                             masks, self.digits)  # fmt: skip
        return out


def index_int8_scores(index: MotionIndex, q_valid: torch.Tensor, rows: np.ndarray) -> np.ndarray:
    """MaxSim of windows ``rows`` of an int8 index straight from its memory-mapped codes (:func:`int8_maxsim`)."""
    if not len(rows):
        return np.zeros(0, dtype=np.float32)
    arrays, masks = index.window_codes(rows)
    m = None if masks.all() else torch.from_numpy(masks)
    return int8_maxsim(q_valid, torch.from_numpy(arrays["patches"]), torch.from_numpy(arrays["scales"]), m)


#: the query's int8 digits (``q ~ s (d1 + d2 / 128 + d3 / 128^2)``) and each digit's weight
_DIGITS = 3
_DIGIT_BASE = 128.0


def _query_digits(q: torch.Tensor, n_digits: int = _DIGITS) -> tuple[torch.Tensor, float]:
    """``(D, 8 ceil(n L / 8))`` int8 digits of ``q (L, D)`` (columns: digit-major; zero padding) and ``s``."""
    s = float(q.abs().max()) / 127.0 or 1.0
    r, digits = q / s, []
    for _ in range(n_digits):
        d = torch.round(r)
        digits.append(d)
        r = (r - d) * _DIGIT_BASE
    cols = torch.cat(digits).T  # (D, n L)
    pad = -cols.shape[1] % 8  # torch._int_mm takes multiples of 8
    return torch.nn.functional.pad(cols, (0, pad)).to(torch.int8).contiguous(), s


def _median_ms(fn: Callable[[], object], reps: int = 5) -> float:
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return sorted(times)[reps // 2] * 1e3


@functools.cache
def int8_products_fast() -> bool:
    """Whether ``torch._int_mm`` beats converting int8 codes to float32 and a float32 product on this CPU.

    Measured once per process on 4,096 rows (at most ~0.2 s): where the CPU has int8 dot-product instructions
    (VNNI; the Xeon of docs/benchmarks.md) the integer product of 256 windows took 0.64 ms against 1.6 ms in
    float32; on an AVX2-only CPU (an AMD EPYC, also measured) 100 ms against 11 ms, as PyTorch has no fast
    int8 kernel there. :func:`int8_maxsim` and the ``auto`` approximate pass follow the answer.
    """
    g = torch.Generator().manual_seed(0)
    codes = torch.randint(-127, 128, (4096, 256), dtype=torch.int8, generator=g)
    cols = torch.randint(-127, 128, (256, 24), dtype=torch.int8, generator=g)
    q = cols[:, :12].T.float().contiguous()
    try:
        integer = _median_ms(lambda: torch._int_mm(codes, cols))
    except RuntimeError:  # no int8 matmul kernel in this build
        return False
    return integer < _median_ms(lambda: codes.float() @ q.T)


def int8_maxsim(
    q_valid: torch.Tensor, codes: torch.Tensor, scales: torch.Tensor, masks: torch.Tensor | None,
    digits: int = _DIGITS, integer: bool | None = None,
) -> np.ndarray:  # fmt: skip
    """MaxSim of one query ``(Lv, D)`` against int8 windows: ``codes (n, P, D)``, ``scales (n, P)`` -> ``(n,)``.

    ``score = mean_t max_p scale[p] * (q_t . code[p])``, ``-inf`` for a window without a valid patch
    (``masks (n, P)``, None = all valid). The codes are multiplied as they are stored, in integers: the query
    is written as int8 digits per element (three: ``q = s (d1 + d2 / 128 + d3 / 128^2)``, within ``s / 2^15``;
    two: within ``s / 2^8``, for the approximate pass, whose bound counts it) and one ``torch._int_mm`` (exact
    int32 sums) gives every digit's dot product, so with three digits the scores are float32 MaxSim's to a few
    1e-6 (``q`` and the patches unit vectors) without converting the codes to float (about 3x less time than
    converting them and a float32 product on a CPU with VNNI, docs/benchmarks.md). ``integer``: None = where
    :func:`int8_products_fast`, else the codes converted to float32 and one float32 product (same scores to
    float rounding; ``digits`` then does not matter).
    """
    q = q_valid.float()
    n, p, d = codes.shape
    if q.dim() != 2 or q.shape[0] < 1 or q.shape[1] != d:
        raise InvalidInputError(f"q_valid must be (Lv >= 1, {d}); got {tuple(q.shape)}")
    lv = len(q)
    if integer is None:
        integer = int8_products_fast()
    if integer and n * p > 16 and d % 8 == 0:  # torch._int_mm's shape rules
        cols, s = _query_digits(q, digits)
        c = torch._int_mm(codes.reshape(n * p, d), cols)
        # the first two digits joined in int32 (|d1 code| <= 127 * 127 * D: no overflow below D = 1024)
        sim = c[:, :lv].mul(int(_DIGIT_BASE)).add_(c[:, lv : 2 * lv]).float()
        if digits == 3:
            sim.add_(c[:, 2 * lv : 3 * lv].float(), alpha=1 / _DIGIT_BASE)
        sim.mul_(scales.float().reshape(n * p, 1) * (s / _DIGIT_BASE))
        sim = sim.view(n, p, lv)
    else:
        sim = (codes.reshape(n * p, d).float() @ q.T).view(n, p, lv)
        sim.mul_(scales.float()[:, :, None])
    if masks is not None:
        sim.masked_fill_(~masks.bool()[:, :, None], float("-inf"))
    return sim.amax(dim=1).mean(dim=1).numpy()


class Bf16Patches:
    """A bfloat16 copy of the patch cache for the approximate pass of the re-rank (within :meth:`bound`).

    Half the bytes of float32 per re-ranked window (``approx_rerank="bf16"``; its products need AVX512-BF16 /
    AMX to be fast): the searcher scores its candidates here, then re-scores exactly, from its exact cache,
    only the windows :func:`near_top` names, so the hits and their scores stay exact.

    Args:
        patches: ``(N, P, D)`` bfloat16.
        masks: ``(N, P)`` bool scoring mask.
        max_norm: the largest patch norm (the error bound scales with it).
    """

    def __init__(self, patches: torch.Tensor, masks: torch.Tensor, max_norm: float) -> None:
        if patches.dtype != torch.bfloat16 or patches.dim() != 3 or masks.shape != patches.shape[:2]:
            raise InvalidInputError(f"patches must be (N, P, D) bfloat16 and masks (N, P); got "
                                    f"{tuple(patches.shape)} {patches.dtype} and {tuple(masks.shape)}")  # fmt: skip
        self.patches, self.masks, self.max_norm = patches, masks.bool(), float(max_norm)
        self.all_valid = bool(self.masks.all())

    @classmethod
    def from_cache(cls, cache: torch.Tensor, masks: torch.Tensor, block: int = 1024) -> Bf16Patches:
        """Convert a float cache ``(N, P, D)`` block by block (no float32 temporary of the whole cache)."""
        out = torch.empty(cache.shape, dtype=torch.bfloat16)
        max_norm = 0.0
        for a in range(0, len(cache), block):
            x = cache[a : a + block].float()
            out[a : a + block] = x
            max_norm = max(max_norm, float(x.norm(dim=-1).max())) if len(x) else max_norm
        return cls(out, masks, max_norm)

    def bound(self, q_valid: torch.Tensor, rows: np.ndarray | None = None) -> float:
        """Bound of ``|score - exact MaxSim|`` of :meth:`score` for this query (:data:`BF16_BOUND`, by the norms;
        1e-3 relative on top for the float32 sums; the same for any ``rows``)."""
        return BF16_BOUND * self.max_norm * float(q_valid.float().norm(dim=-1).max()) * 1.001

    @property
    def nbytes(self) -> int:
        """Bytes held (patches; the masks are the searcher's)."""
        return int(self.patches.numel() * 2)

    def score(self, q_valid: torch.Tensor, rows: np.ndarray, block: int = 256) -> np.ndarray:
        """Approximate MaxSim of one query's valid tokens ``(Lv, D)`` against windows ``rows`` -> ``(n,)``.

        ``-inf`` for a window without a valid patch (as :func:`backend.model.scoring.maxsim_one_query`).
        """
        p, d = self.patches.shape[1], self.patches.shape[2]
        if q_valid.dim() != 2 or q_valid.shape[0] < 1 or q_valid.shape[1] != d:
            raise InvalidInputError(f"q_valid must be (Lv >= 1, {d}); got {tuple(q_valid.shape)}")
        q_t = q_valid.to(torch.bfloat16).T.contiguous()  # (D, Lv): patches x tokens, one product per block
        idx = torch.from_numpy(np.asarray(rows, dtype=np.int64))
        out = torch.empty(len(idx), dtype=torch.float32)
        for a in range(0, len(idx), block):
            r = idx[a : a + block]
            sim = (self.patches.index_select(0, r).view(-1, d) @ q_t).float().view(len(r), p, -1)
            if not self.all_valid:
                sim.masked_fill_(~self.masks.index_select(0, r)[:, :, None], float("-inf"))
            out[a : a + block] = sim.amax(dim=1).mean(dim=1)
        return out.numpy()


def patch_caches(
    index: MotionIndex, masks: torch.Tensor, cache_bytes: int, *, int8: bool, approx: ApproxRerank = "auto"
) -> tuple[torch.Tensor | None, Int8Patches | None, Int8Patches | Bf16Patches | None]:
    """The searcher's in-memory patches: ``(float cache, int8 copy, approximate-pass copy)``, each None when
    absent.

    Float cache ``(N, P, D)``: float16 for an fp16 index (its values exactly, half the bytes), else float32
    when that fits ``cache_bytes`` and float16 within twice it. Without one (a larger index), the int8 copy
    when ``int8`` and it fits in twice ``cache_bytes``. With one, the approximate pass's copy (``approx``:
    ``int8`` = :meth:`Int8Patches.from_cache`, ``auto`` = the same where :func:`int8_products_fast` and none
    elsewhere, ``bf16`` = :class:`Bf16Patches`, ``off`` = none) when it fits ``cache_bytes``.
    """
    if approx not in APPROX_RERANKS:
        raise InvalidInputError(f"approx_rerank must be one of {', '.join(APPROX_RERANKS)}, got {approx!r}")
    h, n = index.header, index.num_windows
    nbytes = n * h.num_patches * h.embed_dim * 4
    dtype = (
        torch.float16 if h.codec == "fp16" and nbytes <= 2 * cache_bytes
        else torch.float32 if nbytes <= cache_bytes
        else torch.float16 if nbytes <= 2 * cache_bytes
        else None
    )  # fmt: skip
    if dtype is None:
        int8_bytes = n * h.num_patches * (h.embed_dim + 5)
        if not (int8 and n and int8_bytes <= 2 * cache_bytes):
            return None, None, None
        codes = Int8Patches.build(
            index.iter_decoded(), n, h.num_patches, h.embed_dim, exact=h.codec == "int8"
        )
        return None, codes, None
    cache = torch.empty((n, h.num_patches, h.embed_dim), dtype=dtype)
    for a, emb, _ in index.iter_decoded():
        cache[a : a + len(emb)] = torch.from_numpy(emb).to(dtype)
    copy: Int8Patches | Bf16Patches | None = None
    if approx == "auto":
        approx = "int8" if int8_products_fast() else "off"
    if approx == "int8" and n and nbytes // 4 <= cache_bytes:
        copy = Int8Patches.from_cache(cache, masks)
    elif approx == "bf16" and n and nbytes // 2 <= cache_bytes:
        copy = Bf16Patches.from_cache(cache, masks)
    return cache, None, copy
