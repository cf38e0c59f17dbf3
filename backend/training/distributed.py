"""torchrun / DistributedDataParallel helpers: process group from the environment, rank-0 guard, samplers.

``torchrun --nproc-per-node N -m backend train ...`` sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR`` and ``MASTER_PORT``; :func:`init_distributed` reads them and joins the group (``nccl`` on
CUDA, ``gloo`` on CPU). Without those variables everything runs as a single process (rank 0 of 1).

Negatives of the contrastive loss are **per rank**: each process computes ``MotionTextRetrieval.forward`` on
its own batch, so with N processes of batch B every pair sees B-1 in-batch negatives (not N*B-1); DDP then
averages the gradients. No embedding crosses processes (gathering them would need the loss outside the
model's forward; it is not implemented). Scale ``optim.batch_size`` rather than the process count when more
negatives are wanted. Only rank 0 logs, validates, saves and writes files (:attr:`DistInfo.is_main`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from backend.errors import ConfigError

__all__ = [
    "DistInfo",
    "all_reduce_mean",
    "barrier",
    "broadcast_object",
    "cleanup_distributed",
    "init_distributed",
]


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in the job.

    Attributes:
        rank: global rank (0 = main process).
        world_size: number of processes.
        local_rank: rank on this node (selects the CUDA device).
        device: torch device of this process.
        backend: ``"nccl"``, ``"gloo"`` or ``""`` (single process, no group).
    """

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    backend: str = ""

    @property
    def is_main(self) -> bool:
        """True on the process that logs and writes files."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """True when a process group with more than one process is active."""
        return self.world_size > 1


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"environment variable {name} must be an integer, got {value!r}") from None


def _pick_device(device: str, local_rank: int) -> torch.device:
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device={device!r} but CUDA is not available")
        if device == "cuda":
            return torch.device("cuda", local_rank % max(1, torch.cuda.device_count()))
    return torch.device(device)


def init_distributed(device: str = "auto") -> DistInfo:
    """Join the process group described by the torchrun environment (or run single-process).

    Args:
        device: ``auto`` | ``cpu`` | ``cuda`` | ``cuda:N``; with ``cuda`` each process takes GPU
            ``LOCAL_RANK``.

    Returns:
        :class:`DistInfo` for this process.

    Raises:
        ConfigError: malformed environment variables or an unavailable device.
    """
    world = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    local = _env_int("LOCAL_RANK", rank)
    dev = _pick_device(device, local)
    if world <= 1:
        return DistInfo(0, 1, 0, dev, "")
    if not 0 <= rank < world:
        raise ConfigError(f"RANK={rank} is outside WORLD_SIZE={world}")
    backend = "nccl" if dev.type == "cuda" else "gloo"
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
    return DistInfo(rank, world, local, dev, backend)


def cleanup_distributed() -> None:
    """Leave the process group if one is active (safe to call always)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    """Wait for every process (no-op single-process)."""
    if info.distributed:
        dist.barrier()


def all_reduce_mean(value: float, info: DistInfo) -> float:
    """Mean of a python number over processes (the number itself single-process)."""
    if not info.distributed:
        return float(value)
    t = torch.tensor([float(value)], dtype=torch.float64, device=info.device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return float(t.item()) / info.world_size


def broadcast_object(obj: object, info: DistInfo, src: int = 0) -> object:
    """Send a picklable object from rank ``src`` to every process."""
    if not info.distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]
