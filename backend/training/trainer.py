"""The training loop: data -> model -> AdamW steps, validation-split model selection, checkpoint / resume.

Run directory (written by rank 0 only)::

    run_dir/config.yaml      the resolved TrainConfig
    run_dir/log.jsonl        one JSON record per line: {"kind": "train", step, epoch, loss, contrastive, mlm,
                             logit_scale, grad_norm, lr/<group>, seconds_per_step} every ``log_every`` steps
                             and {"kind": "val", step, epochs_done, score, best, t2m/R@k, m2t/R@k, ...} per
                             validation
    run_dir/last.pt          resume state: trainable weights + buffers (frozen text layers reload from
                             text_model), optimizer, scheduler, step/epoch/batch, RNG states, best score
    run_dir/best/            the best checkpoint on the validation split (``save_pretrained``:
                             model.safetensors + config.json + feature_stats.json)

The test split is never read here; ``python -m backend evaluate`` is the only reader of test data.
On CUDA, the forward pass runs under bf16 autocast (``amp``); attention uses PyTorch SDPA (timm's fused
attention and the text model's ``attn_implementation="sdpa"``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from backend.errors import CheckpointError, ConfigError
from backend.evaluation.data import load_split
from backend.evaluation.run import EvalClip
from backend.training.checkpointing import (
    BEST_DIR,
    CONFIG_FILE,
    LAST_STATE,
    LOG_FILE,
    append_jsonl,
    atomic_torch_save,
    get_rng_state,
    load_trainable_state_dict,
    seed_everything,
    set_rng_state,
    trainable_state_dict,
)
from backend.training.collate import collate_motion_text
from backend.training.config import TrainConfig
from backend.training.datasets import (
    ResumableSampler,
    TextMotionDataset,
    featurize_records,
    fit_feature_stats,
)
from backend.training.distributed import (
    DistInfo,
    barrier,
    broadcast_object,
    cleanup_distributed,
    init_distributed,
)
from backend.training.optim import build_optimizer, build_scheduler
from backend.training.sampling import build_train_sampler
from backend.training.validation import validate

__all__ = ["CONFIG_FILE", "TrainResult", "train"]

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What a finished run reports.

    Attributes:
        run_dir: the run directory.
        steps: optimiser steps done in total (including those before a resume).
        best_metric: best validation ``select_metric``.
        best_step: step of the best checkpoint.
        best_dir: ``run_dir / "best"``.
        is_main: True in the process that wrote the run directory (rank 0).
    """

    run_dir: Path
    steps: int
    best_metric: float
    best_step: int
    best_dir: Path
    is_main: bool = True


class _Run:
    """One training run in one process (state shared by the loop's helpers)."""

    def __init__(self, cfg: TrainConfig, run_dir: Path, info: DistInfo, resume: bool) -> None:
        from backend.model.retrieval import MotionTextRetrieval

        self.cfg, self.run_dir, self.info = cfg, run_dir, info
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        seed_everything(cfg.seed + info.rank)
        d = cfg.data
        train_records = load_split(d.dataset, d.root, d.train_split, d.max_train_clips, cfg.seed)
        val_records = load_split(d.dataset, d.root, d.val_split, d.max_val_clips, cfg.seed)
        self.model = MotionTextRetrieval.from_config(cfg.model).to(info.device)
        self.model.set_feature_stats(fit_feature_stats(train_records, cfg.model.representation))
        items = featurize_records(train_records, self.model.featurize, mirror=d.mirror_prob > 0)
        if d.terse_prob > 0:
            from backend.training.caption_forms import attach_terse_captions

            attach_terse_captions(items)
        self.val_clips = [
            EvalClip(i.clip_id, i.features, i.captions, i.labels)
            for i in featurize_records(val_records, self.model.featurize)
        ]
        self.dataset = TextMotionDataset(
            items,
            cfg.model.window_frames,
            train=True,
            seed=cfg.seed,
            mirror_prob=d.mirror_prob,
            terse_prob=d.terse_prob,
        )
        per_rank = len(items) // info.world_size
        self.batch_size = min(cfg.optim.batch_size, per_rank)
        if self.batch_size < 2:
            raise ConfigError(
                f"data: {len(items)} training clips over {info.world_size} process(es) cannot fill a batch of 2"
            )
        if self.batch_size < cfg.optim.batch_size:
            log.warning(
                "optim.batch_size=%d exceeds the %d clips per process; using %d",
                cfg.optim.batch_size,
                per_rank,
                self.batch_size,
            )
        self.sampler = ResumableSampler(
            build_train_sampler(
                self.dataset, [it.labels for it in items], d, info.world_size, info.rank, cfg.seed
            )
        )
        self.loader = DataLoader(
            self.dataset,
            batch_size=self.batch_size,
            sampler=self.sampler,
            generator=torch.Generator().manual_seed(cfg.seed),  # keeps the global RNG out of data loading
            collate_fn=partial(collate_motion_text),
            num_workers=d.num_workers,
            drop_last=True,
            pin_memory=info.device.type == "cuda",
        )
        o = cfg.optim
        self.steps_per_epoch = len(self.loader)
        full = o.epochs * self.steps_per_epoch
        self.total_steps = min(full, o.max_steps) if o.max_steps else full
        self.optimizer = build_optimizer(self.model, o.lr_motion, o.lr_text, o.lr_heads, o.weight_decay)
        self.scheduler = build_scheduler(
            self.optimizer, self.total_steps, o.warmup_steps, o.schedule, o.min_lr_ratio
        )
        self.step, self.epoch, self.batch_in_epoch = 0, 0, 0
        self.best_metric, self.best_step, self.last_val_step = -1.0, -1, -1
        if resume:
            self._load_state()
        self.net: torch.nn.Module = self.model
        if info.distributed:
            from torch.nn.parallel import DistributedDataParallel

            ids = [info.device.index] if info.device.type == "cuda" else None
            self.net = DistributedDataParallel(self.model, device_ids=ids)

    # ------------------------------------------------------------------ state
    def _state(self) -> dict[str, Any]:
        return {
            "model": trainable_state_dict(self.model),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "step": self.step,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "best_metric": self.best_metric,
            "best_step": self.best_step,
            "last_val_step": self.last_val_step,
            "rng": get_rng_state(),
        }

    def _load_state(self) -> None:
        path = self.run_dir / LAST_STATE
        if not path.is_file():
            raise CheckpointError(f"--resume: no resume state at {path}")
        try:
            state = torch.load(path, map_location="cpu", weights_only=False)
            load_trainable_state_dict(self.model, state["model"], path)
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            self.step, self.epoch = int(state["step"]), int(state["epoch"])
            self.batch_in_epoch = int(state["batch_in_epoch"])
            self.best_metric, self.best_step = float(state["best_metric"]), int(state["best_step"])
            self.last_val_step = int(state["last_val_step"])
            set_rng_state(state["rng"])
        except (OSError, RuntimeError, KeyError, ValueError, TypeError) as exc:
            raise CheckpointError(f"{path}: cannot resume from it ({exc})") from exc
        log.info(
            "resumed %s at step %d (epoch %d, batch %d)", path, self.step, self.epoch, self.batch_in_epoch
        )

    # ------------------------------------------------------------------ steps
    def _autocast(self) -> Any:
        if self.cfg.amp and self.info.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _train_step(self, batch: Any) -> dict[str, float]:
        gen = torch.Generator(device=self.info.device)
        gen.manual_seed(self.cfg.seed * 1_000_003 + self.step * self.info.world_size + self.info.rank)
        with self._autocast():
            out = self.net(batch.to(self.info.device).as_model_input(), generator=gen)
        self.optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        grad_norm = float("nan")
        if self.cfg.optim.grad_clip > 0:
            params = [p for g in self.optimizer.param_groups for p in g["params"]]
            grad_norm = float(torch.nn.utils.clip_grad_norm_(params, self.cfg.optim.grad_clip))
        self.optimizer.step()
        self.scheduler.step()
        return {
            "loss": float(out.loss.detach()),
            "contrastive": float(out.contrastive_loss.detach()),
            "mlm": float(out.mlm_loss.detach()),
            "logit_scale": float(out.logit_scale.detach()),
            "grad_norm": grad_norm,
            **{name: float(v.detach()) for name, v in out.aux_losses.items()},
        }

    def _validate(self) -> None:
        """Rank 0: score the validation split, keep the best checkpoint, write the resume state."""
        self.last_val_step = self.step
        if self.info.is_main:
            t0 = time.time()
            score, rows = validate(
                self.model,
                self.val_clips,
                self.cfg.select_metric,
                batch_size=self.cfg.eval_batch_size,
                seed=self.cfg.seed,
                amp=self.cfg.amp,
            )
            improved = score > self.best_metric
            if improved:
                self.best_metric, self.best_step = score, self.step
                self.model.save_pretrained(self.run_dir / BEST_DIR)
            append_jsonl(
                self.run_dir / LOG_FILE,
                {
                    "kind": "val",
                    "step": self.step,
                    "epochs_done": self.epoch + self.batch_in_epoch / self.steps_per_epoch,
                    "select_metric": self.cfg.select_metric,
                    "score": score,
                    "best": self.best_metric,
                    "best_step": self.best_step,
                    "improved": improved,
                    "seconds": round(time.time() - t0, 3),
                    **rows,
                },
            )
            log.info(
                "step %d: val %s = %.2f (best %.2f at step %d)",
                self.step,
                self.cfg.select_metric,
                score,
                self.best_metric,
                self.best_step,
            )
            atomic_torch_save(self._state(), self.run_dir / LAST_STATE)
        barrier(self.info)

    # ------------------------------------------------------------------ loop
    def fit(self) -> TrainResult:
        from tqdm import tqdm

        cfg = self.cfg
        self.model.train()
        bar = tqdm(
            total=self.total_steps,
            initial=self.step,
            disable=not self.info.is_main,
            desc="train",
            dynamic_ncols=True,
        )
        step_seconds, n_timed = 0.0, 0
        while self.step < self.total_steps and self.epoch < cfg.optim.epochs:
            self.sampler.set_epoch(self.epoch, skip=self.batch_in_epoch * self.batch_size)
            self.dataset.set_epoch(self.epoch)
            for i, batch in enumerate(self.loader, start=self.batch_in_epoch):
                t0 = time.perf_counter()
                stats = self._train_step(batch)
                step_seconds, n_timed = step_seconds + time.perf_counter() - t0, n_timed + 1
                self.step += 1
                self.batch_in_epoch = i + 1
                bar.update(1)
                bar.set_postfix(loss=f"{stats['loss']:.3f}")
                if self.info.is_main and (self.step % cfg.log_every == 0 or self.step == 1):
                    lrs = {f"lr/{g['name']}": g["lr"] for g in self.optimizer.param_groups}
                    append_jsonl(
                        self.run_dir / LOG_FILE,
                        {
                            "kind": "train",
                            "step": self.step,
                            "epoch": self.epoch,
                            **stats,
                            **lrs,
                            "seconds_per_step": round(step_seconds / n_timed, 4),  # training only
                        },
                    )
                    step_seconds, n_timed = 0.0, 0
                if cfg.eval_every and self.step % cfg.eval_every == 0:
                    self._validate()
                if self.step >= self.total_steps:
                    break
            else:
                self.epoch += 1
                self.batch_in_epoch = 0
                if not cfg.eval_every and self.last_val_step != self.step:
                    self._validate()
                continue
            break
        bar.close()
        if self.last_val_step != self.step:
            self._validate()
        return TrainResult(
            self.run_dir,
            self.step,
            self.best_metric,
            self.best_step,
            self.run_dir / BEST_DIR,
            self.info.is_main,
        )


def train(cfg: TrainConfig, run_dir: str | os.PathLike[str], resume: bool = False) -> TrainResult:
    """Train a model as configured; rank 0 writes the run directory.

    Works single-process and under ``torchrun`` (or any launcher that sets ``RANK``/``WORLD_SIZE``/
    ``MASTER_ADDR``/``MASTER_PORT``); the process group is left at the end.

    Args:
        cfg: the resolved configuration.
        run_dir: output folder (created).
        resume: continue from ``run_dir/last.pt``.

    Returns:
        :class:`TrainResult` (on every rank; ``best_metric`` is rank 0's, broadcast).
    """
    run_dir = Path(run_dir)
    info = init_distributed(cfg.device)
    try:
        if info.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
            if not resume:  # a fresh run: nothing of an earlier run in this folder may pass for ours
                (run_dir / LOG_FILE).unlink(missing_ok=True)
                (run_dir / LAST_STATE).unlink(missing_ok=True)
                if (run_dir / BEST_DIR).is_dir():
                    log.info("removing the previous run's %s", run_dir / BEST_DIR)
                    shutil.rmtree(run_dir / BEST_DIR)
            cfg.save(run_dir / CONFIG_FILE)
        barrier(info)
        run = _Run(cfg, run_dir, info, resume)
        result = run.fit()
        best = broadcast_object((result.best_metric, result.best_step), info)
        result.best_metric, result.best_step = best  # type: ignore[misc]
        return result
    finally:
        cleanup_distributed()
