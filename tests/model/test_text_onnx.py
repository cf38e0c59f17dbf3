"""Query encoding through ONNX Runtime (backend.model.text_onnx): the same TextEncoding as the PyTorch path on
real captions (padding, word pieces, special tokens), for the shipped default model and a tiny model; runtime
selection and its errors."""

from __future__ import annotations

import pytest
import torch

from backend.errors import ConfigError, InvalidInputError
from backend.model.config import DEFAULT_MODEL_DIR
from backend.model.text_onnx import (
    MIN_TOKEN_COSINE,
    OnnxTextEncoder,
    check_quantized,
    make_query_encoder,
)

DEFAULT_MODEL = DEFAULT_MODEL_DIR


def _assert_same(a, b) -> None:
    torch.testing.assert_close(a.mask, b.mask, rtol=0, atol=0)
    torch.testing.assert_close(a.input_ids, b.input_ids, rtol=0, atol=0)
    torch.testing.assert_close(a.word_index, b.word_index, rtol=0, atol=0)
    assert a.words == b.words
    torch.testing.assert_close(a.emb.float(), b.emb.float(), rtol=0, atol=2e-5)
    torch.testing.assert_close(a.pooled.float(), b.pooled.float(), rtol=0, atol=2e-5)


@pytest.fixture(scope="module")
def default_model():
    from backend.model.retrieval import MotionTextRetrieval

    if not (DEFAULT_MODEL / "config.json").is_file():
        pytest.skip(f"needs the trained default model at {DEFAULT_MODEL}")
    return MotionTextRetrieval.from_pretrained(DEFAULT_MODEL).eval()


def test_onnx_matches_torch_on_real_captions(default_model, kit_captions: list[str]) -> None:
    onnx = OnnxTextEncoder(default_model)
    texts = ["an old man waves with his left hand", *kit_captions[:7]]  # mixed lengths: padding in a batch
    with torch.inference_mode():
        ref = default_model.encode_text(texts)
    _assert_same(onnx(texts), ref)
    for text in texts[:3]:  # one query at a time, as search encodes them
        with torch.inference_mode():
            one = default_model.encode_text([text])
        _assert_same(onnx([text]), one)
    assert onnx.onnx_bytes > 1_000_000  # the whole backbone went into the graph
    # exported from the eager attention (a graph ONNX Runtime fuses); the model keeps its own afterwards
    assert default_model.text_encoder.encoder.config._attn_implementation == "sdpa"


def test_onnx_tracks_the_weights_it_was_made_from(tiny_model, bandai_captions: dict[str, str]) -> None:
    texts = list(bandai_captions.values())
    onnx = OnnxTextEncoder(tiny_model)
    with torch.inference_mode():
        _assert_same(onnx(texts), tiny_model.encode_text(texts))
    with pytest.raises(InvalidInputError, match="empty"):
        onnx([])


def test_int8_graph_stays_close_to_the_float_one_on_real_captions(
    default_model, kit_captions: list[str]
) -> None:
    """The int8 graph: the same tokens and words, every valid token within the warning threshold of the float
    graph on 40 real KIT-ML captions, a quarter of the bytes; MaxSim against real token embeddings (the float
    encodings of other captions) keeps most of its order (not all of it: near ties move)."""
    f, q = OnnxTextEncoder(default_model), OnnxTextEncoder(default_model, quantize=True)
    assert q.quantized and not f.quantized and q.onnx_bytes < f.onnx_bytes * 0.3
    texts = kit_captions[:40]
    assert check_quantized(f, q, texts) >= MIN_TOKEN_COSINE
    a, b = f(texts), q(texts)
    assert a.words == b.words and torch.equal(a.input_ids, b.input_ids) and torch.equal(a.mask, b.mask)
    from backend.model.scoring import maxsim

    docs = f(kit_captions[40:80])
    sa = maxsim(a.emb.float(), a.mask, docs.emb.float(), docs.mask)
    sb = maxsim(b.emb.float(), b.mask, docs.emb.float(), docs.mask)
    top5 = [
        len(set(x.tolist()) & set(y.tolist())) / 5 for x, y in zip(sa.topk(5).indices, sb.topk(5).indices)
    ]
    assert sum(top5) / len(top5) >= 0.85 and float((sa.argmax(1) == sb.argmax(1)).float().mean()) >= 0.85


def test_runtime_selection(tiny_model) -> None:
    encode, runtime = make_query_encoder(tiny_model, "torch")
    assert runtime == "torch" and encode == tiny_model.encode_text
    encode, runtime = make_query_encoder(tiny_model, "onnx")
    assert runtime == "onnx" and isinstance(encode, OnnxTextEncoder) and not encode.quantized
    encode, runtime = make_query_encoder(tiny_model, "onnx-int8")
    assert runtime == "onnx-int8" and encode.quantized
    encode, runtime = make_query_encoder(tiny_model, "auto")  # int8 when it is close to the float graph
    worst = check_quantized(
        make_query_encoder(tiny_model, "onnx")[0], make_query_encoder(tiny_model, "onnx-int8")[0]
    )
    assert isinstance(encode, OnnxTextEncoder) and encode.quantized == (worst >= MIN_TOKEN_COSINE)
    assert runtime == ("onnx-int8" if worst >= MIN_TOKEN_COSINE else "onnx")
    with pytest.raises(ConfigError, match="auto, onnx, onnx-int8, torch"):
        make_query_encoder(tiny_model, "tensorrt")  # type: ignore[arg-type]
    assert "_query_encoders" not in vars(tiny_model)  # nothing memoised on the model: callers own the encoder


def test_onnx_export_failure_is_a_clear_error(tiny_model, monkeypatch: pytest.MonkeyPatch) -> None:
    """An encoder the exporter cannot handle gives a ConfigError naming the cause; ``auto`` falls back."""

    def broken_export(*args, **kwargs):
        raise RuntimeError("unsupported operator aten::foo")

    monkeypatch.setattr(torch.onnx, "export", broken_export)
    with pytest.raises(ConfigError, match="could not export the text encoder to ONNX.*aten::foo"):
        make_query_encoder(tiny_model, "onnx")
    encode, runtime = make_query_encoder(tiny_model, "auto")
    assert runtime == "torch" and encode == tiny_model.encode_text


def test_graph_is_traced_from_eager_attention(tiny_model, monkeypatch: pytest.MonkeyPatch) -> None:
    """The backbone is exported with its eager attention (the graph ONNX Runtime fuses), then given back its own."""
    seen: list[str] = []
    export = torch.onnx.export

    def recording_export(module, *args, **kwargs):
        seen.append(module.encoder.config._attn_implementation)
        return export(module, *args, **kwargs)

    own = tiny_model.text_encoder.encoder.config._attn_implementation
    monkeypatch.setattr(torch.onnx, "export", recording_export)
    onnx = OnnxTextEncoder(tiny_model)
    assert seen == ["eager"] and own != "eager"
    assert tiny_model.text_encoder.encoder.config._attn_implementation == own
    with torch.inference_mode():
        _assert_same(
            onnx(["a person waves with the left hand"]),
            tiny_model.encode_text(["a person waves with the left hand"]),
        )


def test_auto_takes_the_int8_graph_when_it_is_close_and_falls_back_otherwise(
    default_model, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``auto`` on CPU: the shipped model's int8 graph passes its check; a graph too far from the float one
    (the threshold raised above any cosine) or a quantiser that fails leaves the float graph, with the reason."""
    from backend.model import text_onnx

    encode, runtime = make_query_encoder(default_model, "auto")
    assert runtime == "onnx-int8" and isinstance(encode, OnnxTextEncoder) and encode.quantized
    monkeypatch.setattr(text_onnx, "MIN_TOKEN_COSINE", 1.01)
    encode, runtime = make_query_encoder(default_model, "auto")
    assert runtime == "onnx" and not encode.quantized
    encode, runtime = make_query_encoder(default_model, "onnx-int8")  # asked for: kept, with a warning
    assert runtime == "onnx-int8" and encode.quantized

    def broken(graph: bytes) -> bytes:
        raise ConfigError("could not quantise the text encoder to int8: no kernel")

    monkeypatch.setattr(text_onnx, "_quantize", broken)
    encode, runtime = make_query_encoder(default_model, "auto")
    assert runtime == "onnx" and not encode.quantized
    with pytest.raises(ConfigError, match="quantise.*no kernel"):
        make_query_encoder(default_model, "onnx-int8")
