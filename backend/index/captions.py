"""The caption bank used by ``describe``: de-duplicated captions and their token embeddings.

Captions come from every library clip (``ClipMeta.captions``) plus optional extra caption files. Two
captions are duplicates when they are equal after whitespace normalisation and case folding (the text
encoder is uncased); the first spelling is kept. Each caption's valid token embeddings (specials and
padding excluded by the model's text mask) are stored as float16 in immutable caption parts
(``INDEX/captions/<part>/``, see :mod:`backend.index.format`).

Extra caption files: ``.txt`` (one caption per line, ``#`` comments skipped), ``.json`` (a list of
strings) or ``.jsonl`` (per line a string or an object with ``"caption"`` or ``"text"``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from backend.errors import IndexError_, InvalidInputError
from backend.index.format import CAPTIONS_DIR, crash_point, fsync_dir, save_npy
from backend.index.integrity import check_file, file_digest
from backend.model.expansion import caption_key

if TYPE_CHECKING:
    import torch

__all__ = [
    "CaptionBank",
    "check_caption_bank",
    "collect_captions",
    "load_caption_bank",
    "read_caption_file",
    "write_caption_part",
]


def read_caption_file(path: Path | str) -> list[str]:
    """Captions of one extra caption file (see module docstring for the formats).

    Raises:
        InvalidInputError: missing file, unknown extension or malformed content (names the file/line).
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"caption file not found: {path}")
    text = path.read_text(encoding="utf-8")
    out: list[str] = []
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InvalidInputError(f"{path}: invalid JSON ({exc})") from exc
        if not isinstance(data, list) or not all(isinstance(x, str) for x in data):
            raise InvalidInputError(f"{path}: expected a JSON list of strings")
        out = list(data)
    elif path.suffix == ".jsonl":
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError as exc:
                raise InvalidInputError(f"{path}:{n}: invalid JSON ({exc})") from exc
            if isinstance(item, dict):
                item = item.get("caption", item.get("text"))
            if not isinstance(item, str):
                raise InvalidInputError(f"{path}:{n}: expected a string or an object with 'caption'/'text'")
            out.append(item)
    elif path.suffix in (".txt", ""):
        out = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    else:
        raise InvalidInputError(
            f"{path}: unknown caption file type {path.suffix!r} (use .txt, .json or .jsonl)"
        )
    return [" ".join(c.split()) for c in out if c.strip()]


def collect_captions(captions: Iterable[str], known: Iterable[str] = ()) -> list[str]:
    """De-duplicate ``captions`` (order kept), dropping those whose key is in ``known``."""
    seen = {caption_key(c) for c in known}
    out = []
    for c in captions:
        k = caption_key(c)
        if k and k not in seen:
            seen.add(k)
            out.append(" ".join(c.split()))
    return out


def write_caption_part(
    captions_dir: Path, name: str, texts: list[str], tokens: list[np.ndarray]
) -> dict[str, dict[str, Any]]:
    """Write one immutable caption part (temp folder + rename).

    Returns:
        file name -> digest (:func:`backend.index.integrity.file_digest`) of the part's three files.
    """
    if len(texts) != len(tokens):
        raise InvalidInputError(f"caption part {name}: {len(texts)} texts but {len(tokens)} token arrays")
    tmp = captions_dir / f".tmp-{name}"
    tmp.mkdir(parents=True)
    lens = np.array([t.shape[0] for t in tokens], dtype=np.int64)
    with open(tmp / "texts.json", "w", encoding="utf-8") as f:
        f.write(json.dumps(texts))
        f.flush()
        os.fsync(f.fileno())
    digests = {"texts.json": file_digest(tmp / "texts.json")}
    digests["offsets.npy"] = save_npy(
        tmp / "offsets.npy", np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    )
    crash_point("captions-partial")
    digests["tokens.npy"] = save_npy(tmp / "tokens.npy", np.concatenate(tokens).astype(np.float16))
    fsync_dir(tmp)
    os.rename(tmp, captions_dir / name)
    fsync_dir(captions_dir)
    return digests


@dataclass
class CaptionBank:
    """All caption parts of an index.

    Attributes:
        texts: ``Nc`` captions.
        tokens: ``(sum L_i, D)`` float16 valid token embeddings, caption after caption.
        offsets: ``(Nc + 1,)`` int64 token offsets.
    """

    texts: list[str]
    tokens: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.texts)

    def padded(self, dtype: torch.dtype | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``emb (Nc, Lmax, D)`` and ``mask (Nc, Lmax)`` bool tensors (zeros at padding)."""
        import torch

        n, dim = len(self.texts), self.tokens.shape[1] if self.tokens.ndim == 2 else 0
        lens = np.diff(self.offsets)
        lmax = int(lens.max()) if n else 0
        mask = torch.from_numpy(np.arange(lmax)[None, :] < lens[:, None])
        emb = torch.zeros((n, lmax, dim), dtype=dtype or torch.float32)
        emb[mask] = torch.from_numpy(np.asarray(self.tokens, dtype=np.float32)).to(emb.dtype)
        return emb, mask


def load_caption_bank(index_dir: Path, parts: list[str], dim: int) -> CaptionBank:
    """Concatenate the caption parts listed in the manifest.

    Raises:
        IndexError_: a part is missing or inconsistent (names the file).
    """
    texts: list[str] = []
    toks: list[np.ndarray] = []
    offs: list[np.ndarray] = [np.zeros(1, dtype=np.int64)]
    for name in parts:
        d = Path(index_dir) / CAPTIONS_DIR / name
        try:
            t = json.loads((d / "texts.json").read_text(encoding="utf-8"))
            o = np.load(d / "offsets.npy")
            k = np.load(d / "tokens.npy", mmap_mode="r")
        except (OSError, ValueError, EOFError) as exc:
            raise IndexError_(f"{d}: unreadable caption part ({type(exc).__name__}: {exc})") from exc
        if len(o) != len(t) + 1 or int(o[-1]) != k.shape[0] or (k.ndim == 2 and k.shape[1] != dim):
            raise IndexError_(
                f"{d}: caption part arrays disagree (texts={len(t)}, offsets={len(o)}, tokens={k.shape})"
            )
        texts.extend(t)
        toks.append(np.asarray(k))
        offs.append(o[1:] + offs[-1][-1])
    tokens = np.concatenate(toks) if toks else np.zeros((0, dim), dtype=np.float16)
    return CaptionBank(texts, tokens, np.concatenate(offs))


def check_caption_bank(
    index_dir: Path, parts: list[str], digests: dict[str, dict[str, Any]], dim: int
) -> str | None:
    """What is wrong with the caption bank, or ``None`` (cheap: sizes, sampled checksums, array headers).

    Args:
        index_dir: the index folder.
        parts: the manifest's caption parts.
        digests: the manifest's ``caption_files`` (parts written before checksums existed have none).
        dim: embedding size.

    Returns:
        The first problem found (naming the file), or ``None``.
    """
    for name in parts:
        d = Path(index_dir) / CAPTIONS_DIR / name
        for fname, digest in digests.get(name, {}).items():
            problem = check_file(d / fname, digest)
            if problem is not None:
                return problem
        try:
            n_texts = len(json.loads((d / "texts.json").read_text(encoding="utf-8")))
            o = np.load(d / "offsets.npy", mmap_mode="r")
            k = np.load(d / "tokens.npy", mmap_mode="r")
        except (OSError, ValueError, EOFError) as exc:
            return f"{d}: unreadable caption part ({type(exc).__name__}: {exc})"
        if len(o) != n_texts + 1 or int(o[-1]) != k.shape[0] or k.ndim != 2 or k.shape[1] != dim:
            return f"{d}: caption part arrays disagree (texts={n_texts}, offsets={len(o)}, tokens={k.shape})"
    return None
