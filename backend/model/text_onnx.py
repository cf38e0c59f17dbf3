"""Fast CPU query encoding: the text backbone exported to ONNX and run by ONNX Runtime.

Searching starts by encoding the query, and on CPU that is the largest single cost of a search: PyTorch
runs MiniLM's ~100 small operators one by one (about 11-16 ms for a 10-token query on 2 cores here), while
ONNX Runtime runs the same graph with fused attention / GELU / layer-norm kernels in 4-8 ms
(``docs/benchmarks.md``). Only the transformers backbone is exported; tokenisation, the projection, the L2
norm and the valid-token mask stay in :class:`~backend.model.text_encoder.TextEncoder`, so a
:class:`TextEncoding` from here differs from ``model.encode_text`` only by float rounding (max |diff| ~1e-6).

The export happens in memory when a :class:`OnnxTextEncoder` is made (about 1 s; nothing is written to disk)
from the weights the model holds, so it always matches the loaded checkpoint.
"""

from __future__ import annotations

import io
import logging
import threading
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Literal

import torch

from backend.errors import ConfigError
from backend.model.outputs import TextEncoding

__all__ = ["OnnxTextEncoder", "TextRuntime", "make_query_encoder", "query_encoder"]

log = logging.getLogger(__name__)
_MEMO_LOCK = threading.Lock()

TextRuntime = Literal["auto", "onnx", "torch"]


class _Backbone(torch.nn.Module):
    """``(input_ids, attention_mask) -> last hidden states`` of a transformers encoder (what is exported)."""

    def __init__(self, encoder: torch.nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


class OnnxTextEncoder:
    """Encode texts like ``model.encode_text`` with the backbone running in ONNX Runtime (thread-safe).

    Args:
        model: a :class:`~backend.model.retrieval.MotionTextRetrieval` (its text side is exported as it is).
        threads: ONNX Runtime intra-op threads (0 = its default, one per core).

    Raises:
        ConfigError: onnxruntime / onnx missing, or the export or session creation failed (the message says
            which; callers may fall back to the PyTorch path).
    """

    def __init__(self, model: Any, threads: int = 0) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise ConfigError("text runtime 'onnx' needs onnxruntime (pip install onnxruntime onnx)") from exc
        self.text = model.text_encoder
        was_training = self.text.training
        self.text.eval()
        sample = self.text.tokenize(["a person waves with the left hand"])
        buf = io.BytesIO()
        try:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # tracer warnings about python control flow in transformers
                torch.onnx.export(
                    _Backbone(self.text.encoder).eval(),
                    (sample.input_ids.cpu(), sample.attention_mask.cpu()),
                    buf,
                    input_names=["input_ids", "attention_mask"],
                    output_names=["hidden"],
                    dynamic_axes={
                        n: {0: "batch", 1: "tokens"} for n in ("input_ids", "attention_mask", "hidden")
                    },
                    opset_version=17,
                    dynamo=False,
                )
        except Exception as exc:  # any exporter failure: this encoder cannot be exported
            raise ConfigError(
                f"could not export the text encoder to ONNX: {type(exc).__name__}: {exc}"
            ) from exc
        finally:
            self.text.train(was_training)
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads)
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # no busy-waiting after a run: the search that follows needs the cores (spinning made it 4x slower)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(buf.getvalue(), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ConfigError(f"onnxruntime could not load the exported text encoder: {exc}") from exc
        self.onnx_bytes = len(buf.getvalue())

    def __call__(self, texts: Sequence[str]) -> TextEncoding:
        """Encode ``texts`` (same contract and errors as ``model.encode_text``)."""
        tokens = self.text.tokenize(texts)
        hidden = self.session.run(
            ["hidden"],
            {
                "input_ids": tokens.input_ids.cpu().numpy(),
                "attention_mask": tokens.attention_mask.cpu().numpy(),
            },
        )[0]
        device = self.text.proj.weight.device
        with torch.inference_mode():
            return self.text.project(torch.from_numpy(hidden).to(device), tokens)


def make_query_encoder(
    model: Any, runtime: TextRuntime = "auto", threads: int = 0
) -> tuple[Callable[[Sequence[str]], TextEncoding], str]:
    """The function that encodes query texts for search, and the runtime it uses.

    Args:
        model: the retrieval model.
        runtime: ``onnx`` (ONNX Runtime, error if unavailable), ``torch`` (``model.encode_text``) or ``auto``
            (``onnx`` on CPU when it can be set up, otherwise ``torch``, with the reason logged).
        threads: ONNX Runtime threads (0 = its default).

    Returns:
        ``(encode, "onnx" | "torch")``.

    Raises:
        ConfigError: unknown runtime, or ``onnx`` asked for and not available (names why).
    """
    if runtime not in ("auto", "onnx", "torch"):
        raise ConfigError(f"text runtime must be auto, onnx or torch, got {runtime!r}")
    on_cpu = model.device.type == "cpu"
    if runtime == "torch" or (runtime == "auto" and not on_cpu):
        return model.encode_text, "torch"
    if runtime == "onnx" and not on_cpu:
        raise ConfigError(f"text runtime 'onnx' runs on the CPU; the model is on {model.device}")
    try:
        return OnnxTextEncoder(model, threads), "onnx"
    except ConfigError as exc:
        if runtime == "onnx":
            raise
        log.warning("query encoding falls back to PyTorch: %s", exc)
        return model.encode_text, "torch"


def query_encoder(model: Any, runtime: TextRuntime = "auto") -> Callable[[Sequence[str]], TextEncoding]:
    """:func:`make_query_encoder`, made once per model object and runtime (the export costs about 1 s)."""
    with _MEMO_LOCK:
        memo = model.__dict__.setdefault("_query_encoders", {})
        if runtime not in memo:
            memo[runtime] = make_query_encoder(model, runtime)
            log.info("query encoding runtime: %s", memo[runtime][1])
        return memo[runtime][0]
