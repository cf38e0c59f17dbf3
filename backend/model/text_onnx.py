"""Fast CPU query encoding: the text backbone exported to ONNX and run by ONNX Runtime.

Searching starts by encoding the query, and on CPU that is the largest single cost of a search: PyTorch
runs MiniLM's ~100 small operators one by one (about 11-16 ms for a 10-token query on 2 cores here), while
ONNX Runtime runs the same graph with fused attention / GELU / layer-norm kernels in 4-8 ms
(``docs/benchmarks.md``). Only the transformers backbone is exported; tokenisation, the projection, the L2
norm and the valid-token mask stay in :class:`~backend.model.text_encoder.TextEncoder`, so a
:class:`TextEncoding` from here differs from ``model.encode_text`` only by float rounding (max |diff| ~1e-6).

The export happens in memory when a :class:`OnnxTextEncoder` is made (about 1 s) from the weights the model
holds, so it always matches the loaded checkpoint.

**int8 (the default on CPU).** The exported graph is quantised dynamically by ONNX Runtime's
``quantize_dynamic`` (MatMul / Gemm weights stored as 7-bit int8 per output channel, activations quantised
on the fly; per tensor, the worst token of :data:`CHECK_TEXTS` fell to cosine 0.956, per channel it stays at
0.990; a temporary folder holds the file while it runs, about 2 s): the backbone's matrix products run in
int8, 1.6-3x faster than the float graph for a query on 2 cores (3x on a Xeon with VNNI, 1.6x on an AVX2
EPYC; a query is one short sequence: its cost is reading the weights, a quarter of the bytes in int8). It changes the token embeddings
slightly (:func:`check_quantized`: every valid token's cosine to the float one on :data:`CHECK_TEXTS`), which
reorders near-tied hits (the real library's top-10 shares about 0.85 of the float graph's) but finds as well
as the float graph on the real library's captions and the held-out query sets (``docs/benchmarks.md``, "The
int8 text graph on retrieval"). ``auto`` therefore takes the int8 graph when its check passes
(:data:`MIN_TOKEN_COSINE`), the float graph otherwise (with a warning), PyTorch when ONNX Runtime is missing.

**Threads.** Query encoders run one ONNX Runtime thread by default (:data:`QUERY_THREADS`): for one short
sequence a second thread costs more in hand-over than it saves (int8 2.7 against 3.5 ms a query here; float
the same either way), and the search that follows has the other core.
"""

from __future__ import annotations

import io
import logging
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import torch

from backend.errors import ConfigError
from backend.model.outputs import TextEncoding

if TYPE_CHECKING:
    from backend.model.retrieval import MotionTextRetrieval

__all__ = [
    "CHECK_TEXTS",
    "MIN_TOKEN_COSINE",
    "QUERY_THREADS",
    "TEXT_RUNTIMES",
    "OnnxTextEncoder",
    "QueryEncoder",
    "TextRuntime",
    "check_quantized",
    "make_query_encoder",
]

log = logging.getLogger(__name__)

TextRuntime = Literal["auto", "onnx", "onnx-int8", "torch"]
#: encodes query texts like ``model.encode_text``: ``texts -> TextEncoding``
QueryEncoder = Callable[[Sequence[str]], TextEncoding]
#: the values of :data:`TextRuntime`
TEXT_RUNTIMES: tuple[str, ...] = ("auto", "onnx", "onnx-int8", "torch")
#: below this cosine between a valid token's int8 and float embedding, ``onnx-int8`` warns and ``auto`` keeps
#: the float graph
MIN_TOKEN_COSINE = 0.98
#: ONNX Runtime threads of a query encoder (module docstring, "Threads")
QUERY_THREADS = 1
#: animator-style queries the int8 graph is checked on (lengths 3..14 words, sides, limbs, styles)
CHECK_TEXTS = (
    "a person waves with the left hand", "walk", "an old man walks slowly with a cane, then sits down",
    "someone kicks twice with the right leg and turns around to the left", "a happy person dances",
    "a person raises both arms above the head", "stumble and regain balance", "a proud walk",
)  # fmt: skip


class _Backbone(torch.nn.Module):
    """``(input_ids, attention_mask) -> last hidden states`` of a transformers encoder (what is exported)."""

    def __init__(self, encoder: torch.nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def _set_attention(encoder: torch.nn.Module, kind: str | None) -> str | None:
    """Switch a transformers model's attention implementation; returns the previous one (None: not one).

    The graph is exported from the ``eager`` attention: the ``sdpa`` path traces into ~350 nodes (shape and
    mask arithmetic, ``IsNaN`` / ``Where`` guards) that ONNX Runtime cannot fuse, the eager one into a graph
    whose attention blocks ONNX Runtime fuses (2.5 against 3.0 ms per 10-token query on 2 cores; the hidden
    states agree to 2e-6, docs/benchmarks.md "Faster text and re-rank").
    """
    config = getattr(encoder, "config", None)
    previous = getattr(config, "_attn_implementation", None)
    if config is None or previous is None or kind is None:
        return previous
    setter = getattr(encoder, "set_attn_implementation", None)
    if callable(setter):
        setter(kind)
    else:  # older transformers read the attribute at forward time
        config._attn_implementation = kind
    return previous


def export_backbone(model: MotionTextRetrieval) -> bytes:
    """The float ONNX graph of ``model``'s text backbone (``(input_ids, attention_mask) -> hidden``), in memory.

    Raises:
        ConfigError: the exporter failed (the message names the cause).
    """
    text = model.text_encoder
    was_training = text.training
    text.eval()
    sample = text.tokenize(["a person waves with the left hand"])
    buf = io.BytesIO()
    attention = _set_attention(text.encoder, "eager")
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about python control flow in transformers
            torch.onnx.export(
                _Backbone(text.encoder).eval(),
                (sample.input_ids.cpu(), sample.attention_mask.cpu()),
                buf,  # type: ignore[arg-type]  # typed as a path; torch still takes a BytesIO
                input_names=["input_ids", "attention_mask"],
                output_names=["hidden"],
                dynamic_axes={
                    n: {0: "batch", 1: "tokens"} for n in ("input_ids", "attention_mask", "hidden")
                },
                opset_version=17,
                dynamo=False,
            )
    except Exception as exc:  # any exporter failure: this encoder cannot be exported
        raise ConfigError(f"could not export the text encoder to ONNX: {type(exc).__name__}: {exc}") from exc
    finally:
        _set_attention(text.encoder, attention)
        text.train(was_training)
    return buf.getvalue()


class OnnxTextEncoder:
    """Encode texts like ``model.encode_text`` with the backbone running in ONNX Runtime (thread-safe).

    Args:
        model: the retrieval model (its text side is exported as it is).
        threads: ONNX Runtime intra-op threads (0 = its default, one per core).
        quantize: run the int8 (dynamically quantised) graph instead of the float one (module docstring).
        graph: the float graph of ``model`` (:func:`export_backbone`), when the caller already has it.

    Raises:
        ConfigError: onnxruntime / onnx missing, or the export, the quantisation or session creation failed
            (the message says which; callers may fall back to the PyTorch path).
    """

    def __init__(
        self, model: MotionTextRetrieval, threads: int = QUERY_THREADS, *, quantize: bool = False,
        graph: bytes | None = None,
    ) -> None:  # fmt: skip
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise ConfigError("text runtime 'onnx' needs onnxruntime (pip install onnxruntime onnx)") from exc
        self.text = model.text_encoder
        graph = export_backbone(model) if graph is None else graph
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads)
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # no busy-waiting after a run: the search that follows needs the cores (spinning made it 4x slower)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        graph = _quantize(graph) if quantize else graph
        try:
            self.session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ConfigError(f"onnxruntime could not load the exported text encoder: {exc}") from exc
        self.onnx_bytes, self.quantized = len(graph), quantize

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


def _drop_preprocess_advice(record: logging.LogRecord) -> bool:
    """Root-logger filter: the quantiser's advice to pre-process the graph first (it is not needed here)."""
    return "pre-processing before quantization" not in record.getMessage()


def _quantize(graph: bytes) -> bytes:
    """The int8 (dynamically quantised) version of an exported float graph."""
    try:
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise ConfigError(f"int8 text encoding needs onnx and onnxruntime.quantization ({exc})") from exc
    with tempfile.TemporaryDirectory(prefix="motion-search-onnx-") as tmp:
        out = Path(tmp) / "text-int8.onnx"
        try:
            root = logging.getLogger()
            root.addFilter(_drop_preprocess_advice)
            try:
                quantize_dynamic(onnx.load_from_string(graph), out, weight_type=QuantType.QInt8,
                                 per_channel=True, reduce_range=True)  # fmt: skip
            finally:
                root.removeFilter(_drop_preprocess_advice)
        except Exception as exc:  # the quantiser raises whatever its graph passes raise
            raise ConfigError(
                f"could not quantise the text encoder to int8: {type(exc).__name__}: {exc}"
            ) from exc
        return out.read_bytes()


def check_quantized(
    reference: Callable[[Sequence[str]], TextEncoding],
    candidate: Callable[[Sequence[str]], TextEncoding],
    texts: Sequence[str] = CHECK_TEXTS,
) -> float:
    """Smallest cosine between the two encoders' embeddings of any valid token of ``texts``.

    Raises:
        ConfigError: the encoders disagree on which tokens are valid (they would not be the same model).
    """
    worst = 1.0
    for text in texts:
        a, b = reference([text]), candidate([text])
        if not torch.equal(a.mask, b.mask):
            raise ConfigError(f"the int8 text encoder keeps other tokens than the float one for {text!r}")
        cos = torch.nn.functional.cosine_similarity(a.emb[a.mask].float(), b.emb[b.mask].float(), dim=-1)
        worst = min(worst, float(cos.min()))
    return worst


def make_query_encoder(
    model: MotionTextRetrieval, runtime: TextRuntime = "auto", threads: int = QUERY_THREADS
) -> tuple[QueryEncoder, str]:
    """The function that encodes query texts for search, and the runtime it uses.

    Each call sets up a new encoder (the ONNX export costs about 1 s, the int8 quantisation about 2 s more):
    make one and pass it to every :class:`~backend.search.searcher.Searcher` that should share it (the server
    does).

    Args:
        model: the retrieval model.
        runtime: ``onnx`` (the float graph in ONNX Runtime, error if unavailable), ``onnx-int8`` (the int8
            graph, error if unavailable; its distance to the float graph is checked and logged), ``torch``
            (``model.encode_text``) or ``auto`` (on CPU the int8 graph when its check passes, else the float
            graph, else ``torch``, each fallback's reason logged; on another device ``torch``).
        threads: ONNX Runtime threads (0 = its default, one per core).

    Returns:
        ``(encode, "onnx-int8" | "onnx" | "torch")``.

    Raises:
        ConfigError: unknown runtime, or ``onnx`` / ``onnx-int8`` asked for and not available (names why).
    """
    if runtime not in TEXT_RUNTIMES:
        raise ConfigError(f"text runtime must be one of {', '.join(TEXT_RUNTIMES)}, got {runtime!r}")
    on_cpu = model.device.type == "cpu"
    if runtime == "torch" or (runtime == "auto" and not on_cpu):
        return model.encode_text, "torch"
    if not on_cpu:
        raise ConfigError(f"text runtime {runtime!r} runs on the CPU; the model is on {model.device}")
    try:
        graph = export_backbone(model)
        floating = OnnxTextEncoder(model, threads, graph=graph)
    except ConfigError as exc:
        if runtime != "auto":
            raise
        log.warning("query encoding falls back to PyTorch: %s", exc)
        return model.encode_text, "torch"
    if runtime == "onnx":
        return floating, "onnx"
    try:
        encoder = OnnxTextEncoder(model, threads, quantize=True, graph=graph)
    except ConfigError as exc:
        if runtime == "onnx-int8":
            raise
        log.warning("query encoding uses the float graph: %s", exc)
        return floating, "onnx"
    worst = check_quantized(floating, encoder)
    log.info("int8 query encoding: worst token cosine to the float graph %.4f on %d check texts",
             worst, len(CHECK_TEXTS))  # fmt: skip
    if worst >= MIN_TOKEN_COSINE:
        return encoder, "onnx-int8"
    if runtime == "auto":
        log.warning("query encoding uses the float graph: the int8 one is too far from it (token cosine %.4f "
                    "< %.2f)", worst, MIN_TOKEN_COSINE)  # fmt: skip
        return floating, "onnx"
    log.warning("the int8 text graph is far from the float one (token cosine %.4f < %.2f); rankings "
                "will differ from text_runtime='onnx'", worst, MIN_TOKEN_COSINE)  # fmt: skip
    return encoder, runtime
