"""Caption-bank query expansion: the query searched together with the library caption it reads most like.

The model ranks template-worded captions well (the seen-caption action R@1 is above 95 %) and free wording
less well: a word the captions never used ("ambles", "hops about") was never pulled towards the motion patches
in training. The model's own text side still reads such a query close to the right captions (text-to-text
MaxSim of its token embeddings). So a search first finds the caption of the index's caption bank (the captions
``describe`` ranks: every library clip's, de-duplicated, plus extra caption files) whose tokens the query's
tokens match best, and then scores motions with the **query's tokens and that caption's tokens together**
(one token set: MaxSim's mean over tokens weighs the two about equally). The motion ranking stays the
model's: captions are not tied to clips here, only to the model's vocabulary, so a clip without captions (a
user's own file) is found the same way.

* ``caption`` / ``coverage``: the chosen caption and the query's text-to-text MaxSim with it (mean over the
  query's valid tokens of the best cosine over the caption's tokens; 1.0 for a query worded like a caption).
  A low coverage means no caption of the library reads like the query, which the hit confidence uses
  (:mod:`backend.model.confidence`, feature ``coverage``).
* Alignment strengths, words and colours stay the query's own: :func:`backend.search.attribution.align_many`
  is given the query's encoding, not the expanded one.
* ``captions = 0`` (or an index without a caption bank) searches the query alone.

How many captions to add (:data:`EXPANSION_CAPTIONS` = 1) was chosen on the val split's library phrasings
(held-out phrasings, seen captions and terse forms; action macro R@1 71.3 with none, 72.9 with one, 72.7 with
two, 72.4 with three), with the train split's captions as the bank (docs/benchmarks.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from backend.errors import InvalidInputError
from backend.model.outputs import TextEncoding

if TYPE_CHECKING:
    from backend.model.retrieval import MotionTextRetrieval

__all__ = ["EXPANSION_CAPTIONS", "CaptionExpander", "Expansion", "caption_key", "expand_encoding"]

#: bank captions searched with each query by default (chosen on val, module docstring)
EXPANSION_CAPTIONS = 1


def caption_key(text: str) -> str:
    """De-duplication key: whitespace-normalised, case-folded.

    >>> caption_key("  A man  walks. ") == caption_key("a man walks.")
    True
    """
    return " ".join(text.split()).casefold()


@dataclass(frozen=True)
class Expansion:
    """What a query was searched with.

    Attributes:
        captions: the bank captions added, best first (empty: the query alone).
        coverage: text-to-text MaxSim of the query with its best bank caption (NaN without a bank).
        tokens: ``(L', D)`` float32 valid tokens searched: the query's, then each added caption's.
    """

    captions: tuple[str, ...]
    coverage: float
    tokens: torch.Tensor


class CaptionExpander:
    """Finds the bank captions a query reads most like (thread-safe: read-only after construction).

    Args:
        texts: ``Nc`` captions.
        tokens: ``(sum L_i, D)`` valid token embeddings of the captions, caption after caption (float16 or 32).
        offsets: ``(Nc + 1,)`` token offsets (``tokens[offsets[i]:offsets[i + 1]]`` = caption ``i``).
        captions: captions added to each query (0 = none).

    Raises:
        InvalidInputError: inconsistent shapes or a caption without tokens, or ``captions`` < 0.
    """

    def __init__(
        self, texts: list[str], tokens: np.ndarray, offsets: np.ndarray, captions: int = EXPANSION_CAPTIONS
    ):
        offsets = np.asarray(offsets, dtype=np.int64)
        if not isinstance(captions, int) or captions < 0:
            raise InvalidInputError(f"expansion captions must be an integer >= 0, got {captions!r}")
        if offsets.shape != (len(texts) + 1,) or offsets[0] != 0 or offsets[-1] != len(tokens):
            raise InvalidInputError(f"caption offsets {offsets.shape} do not match {len(texts)} captions")
        if len(texts) and (np.diff(offsets) < 1).any():
            raise InvalidInputError("every bank caption needs at least one token")
        self.texts, self.captions = list(texts), captions
        self.offsets = offsets
        self.tokens = torch.from_numpy(np.ascontiguousarray(tokens, dtype=np.float32))
        self._lengths = torch.from_numpy(np.diff(offsets))

    def __len__(self) -> int:
        return len(self.texts)

    @classmethod
    def from_texts(
        cls,
        model: MotionTextRetrieval,
        texts: list[str],
        captions: int = EXPANSION_CAPTIONS,
        batch_size: int = 256,
    ) -> CaptionExpander:
        """A bank of ``texts`` encoded by ``model`` (de-duplicated like the index's bank; evaluation uses the
        train split's captions)."""
        unique = list({caption_key(t): t for t in texts if t.strip()}.values())
        toks: list[torch.Tensor] = []
        with torch.inference_mode():
            for a in range(0, len(unique), batch_size):
                enc = model.encode_text(unique[a : a + batch_size])
                toks += [enc.emb[i][enc.mask[i]].float().cpu() for i in range(len(enc))]
        keep = [i for i, t in enumerate(toks) if len(t)]
        lens = np.array([len(toks[i]) for i in keep], dtype=np.int64)
        dim = model.config.embed_dim
        flat = torch.cat([toks[i] for i in keep]).numpy() if keep else np.zeros((0, dim), np.float32)
        return cls([unique[i] for i in keep], flat, np.r_[0, np.cumsum(lens)], captions)

    @classmethod
    def empty(cls) -> CaptionExpander:
        """An expander without a bank: every query is searched alone (coverage NaN)."""
        return cls([], np.zeros((0, 1), dtype=np.float32), np.zeros(1, dtype=np.int64), 0)

    def caption_scores(self, q: torch.Tensor) -> np.ndarray:
        """``(Nc,)`` text-to-text MaxSim of valid query tokens ``q (L, D)`` with every bank caption (float32;
        a bfloat16 product was slower for this tall, thin shape on the benchmark CPU)."""
        if not len(self.texts):
            return np.zeros(0, dtype=np.float32)
        sims = self.tokens @ q.float().T  # (sum L_i, L): every caption token x query token
        best = torch.segment_reduce(sims, "max", lengths=self._lengths, axis=0)  # (Nc, L): best caption token
        return best.mean(dim=1).numpy()

    def expand(self, q: torch.Tensor) -> Expansion:
        """The expansion of valid query tokens ``q (L, D)`` (the query alone without a bank or captions)."""
        q = q.float()
        if not len(self.texts) or not len(q):
            return Expansion((), float("nan"), q)
        scores = self.caption_scores(q)
        n = min(self.captions, len(scores))
        top = np.argsort(-scores, kind="stable")[: max(n, 1)]
        coverage = float(scores[top[0]])
        if n == 0:
            return Expansion((), coverage, q)
        parts = [q] + [self.tokens[self.offsets[i] : self.offsets[i + 1]] for i in top[:n]]
        return Expansion(tuple(self.texts[i] for i in top[:n]), coverage, torch.cat(parts))


def expand_encoding(enc: TextEncoding, expansion: Expansion) -> TextEncoding:
    """A batch-of-one ``TextEncoding`` whose valid tokens are ``expansion.tokens`` (pooled = their normalised
    mean), for :meth:`backend.search.searcher.Searcher.search_encoded`; words and ids are the query's (the
    added tokens have none: they are never aligned or shown)."""
    t = expansion.tokens
    n = len(t)
    pooled = (
        torch.nn.functional.normalize(t.mean(dim=0, keepdim=True), dim=-1) if n else enc.pooled[:1].float()
    )
    return TextEncoding(
        emb=t[None],
        mask=torch.ones((1, n), dtype=torch.bool),
        input_ids=torch.zeros((1, n), dtype=torch.long),
        words=[list(enc.words[0])] if enc.words else [[]],
        word_index=torch.full((1, n), -1, dtype=torch.long),
        pooled=pooled,
    )
