"""Text encoder: a transformers encoder -> token states -> projection -> L2 norm, plus the MLM task.

Valid tokens are ``attention_mask & ~special_tokens_mask``: [CLS], [SEP] and [PAD] never take part in
scoring, whatever the batch's padding (the paper's batch-dependent [SEP] is a bug we do not copy). With
``mask_function_words`` the scored mask also drops function words (:mod:`backend.model.lexicon`), unless a text
has nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import torch
import torch.nn.functional as F
from torch import nn

from backend.errors import ConfigError, InvalidInputError
from backend.model.config import RetrievalConfig
from backend.model.lexicon import is_function_word
from backend.model.mlm import IGNORE_INDEX, MLMHead, mask_tokens
from backend.model.outputs import TextEncoding
from backend.model.scoring import mean_pool

if TYPE_CHECKING:
    from transformers import AutoModel, AutoModelForMaskedLM, PreTrainedModel

__all__ = ["TextEncoder", "TokenizedText"]

_MLM_ARCHITECTURES = ("ForMaskedLM", "ForPreTraining")


@dataclass
class TokenizedText:
    """A tokenized batch of captions.

    Attributes:
        input_ids: ``(B, L)`` long.
        attention_mask: ``(B, L)`` long (1 = real token incl. specials).
        valid: ``(B, L)`` bool, real and not special.
        word_index: ``(B, L)`` long word of each token, -1 for special/padding tokens.
        words: per text, its words in the original spelling.
        function: ``(B, L)`` bool, valid tokens of function words (:func:`~backend.model.lexicon.is_function_word`);
            all False when not computed.
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    valid: torch.Tensor
    word_index: torch.Tensor
    words: list[list[str]]
    function: torch.Tensor | None = None

    def to(self, device: torch.device | str) -> TokenizedText:
        """A copy with every tensor on ``device``."""
        return TokenizedText(
            self.input_ids.to(device),
            self.attention_mask.to(device),
            self.valid.to(device),
            self.word_index.to(device),
            self.words,
            self.function.to(device) if self.function is not None else None,
        )

    def scored_mask(self, drop_function_words: bool) -> torch.Tensor:
        """``(B, L)`` bool tokens MaxSim scores: ``valid``, minus function words when asked (a text made only of
        function words keeps them)."""
        if not drop_function_words or self.function is None:
            return self.valid
        content = self.valid & ~self.function
        keep_all = ~content.any(dim=1, keepdim=True)
        return torch.where(keep_all, self.valid, content)


def _load_pretrained(auto_cls: type[AutoModel | AutoModelForMaskedLM], path: str) -> PreTrainedModel:
    """``auto_cls.from_pretrained`` with SDPA attention when the architecture supports it."""
    try:
        return auto_cls.from_pretrained(path, attn_implementation="sdpa")
    except ValueError as exc:
        if "sdpa" not in str(exc).lower():
            raise
        return auto_cls.from_pretrained(path)


class TextEncoder(nn.Module):
    """Tokenizer + transformers backbone + projection (+ MLM head when ``mlm_weight > 0``).

    Args:
        config: model configuration (``text_model``, ``text_trainable_layers``, ``embed_dim``,
            ``max_text_len``, ``mlm_weight``, ``mlm_probability``).

    Raises:
        ConfigError: the text model cannot be loaded, has no fast tokenizer, or has fewer layers than
            ``text_trainable_layers``.
    """

    replacement_ids: torch.Tensor  # buffer: the vocabulary ids MLM may substitute (non-special tokens)

    def __init__(self, config: RetrievalConfig) -> None:
        super().__init__()
        from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM, AutoTokenizer

        path = config.text_model_path
        try:
            hf_config = AutoConfig.from_pretrained(path)
            self.tokenizer = AutoTokenizer.from_pretrained(path)
            archs = tuple(hf_config.architectures or ())
            self.own_mlm_head = config.mlm_weight > 0 and any(a.endswith(_MLM_ARCHITECTURES) for a in archs)
            auto_cls = AutoModelForMaskedLM if self.own_mlm_head else AutoModel
            self.backbone = _load_pretrained(auto_cls, path)
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(f"text_model={config.text_model!r}: cannot load it ({exc})") from exc
        if not getattr(self.tokenizer, "is_fast", False):
            raise ConfigError(f"text_model={config.text_model!r} needs a fast tokenizer (word alignment)")
        if self.tokenizer.mask_token_id is None and config.mlm_weight > 0:
            raise ConfigError(f"text_model={config.text_model!r} has no [MASK] token; set mlm_weight=0")
        self.max_text_len = config.max_text_len
        self.mlm_probability = config.mlm_probability
        self.mask_function_words = bool(config.mask_function_words)
        hidden = int(self.encoder.config.hidden_size)
        self.proj = nn.Linear(hidden, config.embed_dim)
        self.mlm_head: nn.Module | None = None
        embeddings = self.encoder.get_input_embeddings()
        if config.mlm_weight > 0 and not self.own_mlm_head:
            if not isinstance(embeddings, nn.Embedding):  # the MLM head ties its decoder to these weights
                raise ConfigError(
                    f"text_model={config.text_model!r}: input embeddings are {type(embeddings).__name__}, "
                    "not nn.Embedding; set mlm_weight=0"
                )
            self.mlm_head = MLMHead(embeddings, getattr(self.encoder.config, "layer_norm_eps", 1e-12))
        vocab = int(embeddings.get_parameter("weight").shape[0])
        special = set(self.tokenizer.all_special_ids)
        normal = [i for i in range(vocab) if i not in special]
        self.register_buffer("replacement_ids", torch.tensor(normal, dtype=torch.long), persistent=False)
        self._frozen = self._freeze(config.text_trainable_layers)

    # ------------------------------------------------------------------ structure
    @property
    def encoder(self) -> PreTrainedModel:
        """The bare transformer (``base_model`` of an MLM checkpoint)."""
        # base_model is typed nn.Module, but a PreTrainedModel's base model is itself a PreTrainedModel.
        return cast("PreTrainedModel", self.backbone.base_model) if self.own_mlm_head else self.backbone

    def _layers(self) -> nn.ModuleList:
        n = int(getattr(self.encoder.config, "num_hidden_layers", -1))
        for _, module in self.encoder.named_modules():
            if isinstance(module, nn.ModuleList) and len(module) == n:
                return module
        raise ConfigError(f"cannot find the {n} transformer layers of {type(self.encoder).__name__}")

    def _freeze(self, trainable_layers: int) -> frozenset[str]:
        """Freeze embeddings + lower layers (+ the unused pooler); returns the frozen parameter names."""
        frozen: set[int] = set()
        pooler = getattr(self.encoder, "pooler", None)
        if isinstance(pooler, nn.Module):  # unused by token-level retrieval
            frozen |= {id(p) for p in pooler.parameters()}
        if trainable_layers >= 0:
            layers = self._layers()
            if trainable_layers > len(layers):
                raise ConfigError(
                    f"text_trainable_layers={trainable_layers} exceeds the {len(layers)} layers of the text model"
                )
            emb = getattr(self.encoder, "embeddings", None)
            if not isinstance(emb, nn.Module):
                emb = self.encoder.get_input_embeddings()
            frozen |= {id(p) for p in emb.parameters()}
            for layer in layers[: len(layers) - trainable_layers]:
                frozen |= {id(p) for p in layer.parameters()}
        names = set()
        for name, p in self.named_parameters():
            if id(p) in frozen:
                p.requires_grad_(False)
                names.add(name)
        return frozenset(names)

    def frozen_parameter_names(self) -> frozenset[str]:
        """Names (relative to this module) of the parameters that never train; they load from ``text_model``."""
        return self._frozen

    # ------------------------------------------------------------------ tokenization
    def tokenize(self, texts: Sequence[str]) -> TokenizedText:
        """Tokenize captions (padding to the longest, truncating to ``max_text_len``).

        Args:
            texts: ``B`` strings.

        Returns:
            :class:`TokenizedText` on the encoder's device.
        """
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise InvalidInputError("texts must be a list of strings")
        if len(texts) == 0:
            raise InvalidInputError("texts is empty")
        enc = self.tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=self.max_text_len,
            return_special_tokens_mask=True,
            return_tensors="pt",
        )
        attention = enc["attention_mask"]
        valid = attention.bool() & ~enc["special_tokens_mask"].bool()
        rows: list[list[int]] = []  # per text, the word of each token (-1: special / padding)
        fn_rows: list[list[bool]] = []  # per text, whether each token belongs to a function word
        words: list[list[str]] = []
        for i, (text, ok) in enumerate(zip(texts, valid.tolist(), strict=True)):
            row = [w if (w is not None and v) else -1 for w, v in zip(enc.word_ids(i), ok, strict=True)]
            n_words = max(row) + 1 if row else 0
            spans = [enc.word_to_chars(i, w) for w in range(n_words)]
            ws = [text[s.start : s.end] if s is not None else "" for s in spans]
            fw = [is_function_word(w) for w in ws]
            rows.append(row)
            fn_rows.append([w >= 0 and fw[w] for w in row])
            words.append(ws)
        word_index = torch.tensor(rows, dtype=torch.long).view_as(enc["input_ids"])
        function = torch.tensor(fn_rows, dtype=torch.bool).view_as(valid)
        device = self.proj.weight.device
        return TokenizedText(enc["input_ids"], attention, valid, word_index, words, function).to(device)

    # ------------------------------------------------------------------ encoding
    def forward_features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Last hidden states of the backbone.

        Args:
            input_ids: ``(B, L)``; attention_mask: ``(B, L)``.

        Returns:
            ``(B, L, H)``.
        """
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    def project(self, hidden: torch.Tensor, tokens: TokenizedText) -> TextEncoding:
        """Projection + L2 norm of backbone states.

        Args:
            hidden: ``(B, L, H)`` from :meth:`forward_features`.
            tokens: the batch ``hidden`` was computed from.

        Returns:
            :class:`TextEncoding`.
        """
        emb = F.normalize(self.proj(hidden), dim=-1)
        mask = tokens.scored_mask(self.mask_function_words)
        return TextEncoding(
            emb=emb,
            mask=mask,
            input_ids=tokens.input_ids,
            words=tokens.words,
            word_index=tokens.word_index,
            pooled=mean_pool(emb, mask),
        )

    def forward(self, tokens: TokenizedText) -> TextEncoding:
        """Encode a tokenized batch (see :meth:`tokenize`)."""
        return self.project(self.forward_features(tokens.input_ids, tokens.attention_mask), tokens)

    # ------------------------------------------------------------------ MLM
    @property
    def has_mlm(self) -> bool:
        """Whether an MLM head exists (``mlm_weight > 0``)."""
        return self.own_mlm_head or self.mlm_head is not None

    def mlm_loss(self, tokens: TokenizedText, generator: torch.Generator | None = None) -> torch.Tensor:
        """Masked-LM cross-entropy on a freshly masked copy of ``tokens``.

        Args:
            tokens: tokenized captions.
            generator: optional RNG for the masking.

        Returns:
            0-dim loss (mean over the masked tokens).
        """
        if not self.has_mlm:
            raise ConfigError("mlm_loss needs mlm_weight > 0 in the config")
        masked, labels = mask_tokens(
            tokens.input_ids,
            tokens.valid,
            int(self.tokenizer.mask_token_id),
            self.replacement_ids,
            self.mlm_probability,
            generator,
        )
        if self.own_mlm_head:
            return self.backbone(input_ids=masked, attention_mask=tokens.attention_mask, labels=labels).loss
        hidden = self.forward_features(masked, tokens.attention_mask)
        selected = labels != IGNORE_INDEX
        assert self.mlm_head is not None  # has_mlm without its own head: __init__ built mlm_head
        logits = self.mlm_head(hidden[selected])  # (M, V): only the masked positions reach the decoder
        return F.cross_entropy(logits.float(), labels[selected])
