"""Multi-process data-parallel training under torchrun (gloo on CPU, nccl on GPU).

`torchrun --nproc_per_node N -m lidtool.bin.train ...` sets RANK / WORLD_SIZE / LOCAL_RANK;
`init()` then joins the process group. Gradients are averaged explicitly after each
backward (`average_gradients`) instead of wrapping the model in DistributedDataParallel:
the strategies run several forward/backward passes per step on different sub-modules
(WADCL's frozen-backbone branch, DCL's classifier re-training), which DDP's one-forward /
one-backward hooks do not fit. BatchNorm running statistics are averaged over ranks after
every step (`average_buffers`), so all ranks hold identical models (checked by the DDP test).
Only rank 0 logs, shows progress and writes files.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init(device: torch.device) -> DistInfo:
    """Join the torchrun process group if WORLD_SIZE > 1; else a single-process DistInfo."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    info = DistInfo(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
    return info


def pick_device(name: str | None, info_local_rank: int = 0) -> torch.device:
    """`auto`/None: cuda:<local_rank> when CUDA is available, else cpu."""
    if name in (None, "", "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda", info_local_rank % torch.cuda.device_count())
        return torch.device("cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", info_local_rank % torch.cuda.device_count())
    return dev


def _flat_allreduce(tensors: list[torch.Tensor], world: int) -> None:
    if not tensors:
        return
    flat = torch.cat([t.reshape(-1) for t in tensors])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for t in tensors:
        n = t.numel()
        t.copy_(flat[offset:offset + n].view_as(t))
        offset += n


def average_gradients(params, info: DistInfo) -> None:
    """Average .grad over ranks for every parameter that has one (same set on all ranks)."""
    if not info.enabled:
        return
    _flat_allreduce([p.grad for p in params if p.grad is not None], info.world_size)


@torch.no_grad()
def average_buffers(module: torch.nn.Module, info: DistInfo) -> None:
    """Average floating-point buffers (BatchNorm statistics) over ranks."""
    if not info.enabled:
        return
    _flat_allreduce([b for b in module.buffers() if b.is_floating_point()], info.world_size)


@torch.no_grad()
def broadcast_module(module: torch.nn.Module, info: DistInfo) -> None:
    """Make every rank start from rank 0's parameters and buffers."""
    if not info.enabled:
        return
    for t in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(t.data, src=0)


def average_scalars(values: dict[str, float], info: DistInfo, device) -> dict[str, float]:
    """Mean of each metric over ranks (for logging)."""
    if not info.enabled or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    t /= info.world_size
    return dict(zip(keys, t.tolist()))


@torch.no_grad()
def max_rank_difference(modules, info: DistInfo) -> float:
    """Largest difference of any parameter/buffer value between ranks (0.0 when in sync)."""
    if not info.enabled:
        return 0.0
    tensors = [t for m in modules for t in list(m.parameters()) + list(m.buffers())
               if t.is_floating_point()]
    flat = torch.cat([t.detach().reshape(-1).double() for t in tensors])
    hi, lo = flat.clone(), flat.clone()
    dist.all_reduce(hi, op=dist.ReduceOp.MAX)
    dist.all_reduce(lo, op=dist.ReduceOp.MIN)
    return float((hi - lo).abs().max())


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def finish(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
