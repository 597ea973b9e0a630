"""Data-parallel training under torchrun: one process per device, the global batch split over them.

`torchrun --standalone --nproc-per-node N -m lsw_core train ...` sets RANK / WORLD_SIZE / LOCAL_RANK /
MASTER_ADDR; `setup` joins the process group from them (NCCL on CUDA, gloo on CPU). Gradients are summed
over ranks explicitly after the local micro-batches (each rank weights its loss by its share of the
global batch), so no wrapper module and no `no_sync` are needed and one rank equals one process.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable

import attrs
import torch
import torch.distributed as dist

from lsw_core.errors import LswError
from lsw_core.outputs import is_main_process


@attrs.frozen
class Ranks:
    """This process's place among the training processes (rank 0 of 1 without torchrun)."""

    rank: int = 0
    world_size: int = 1
    #: True when `setup` created the process group (and `teardown` should destroy it).
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def setup(device: torch.device) -> Ranks:
    """Join the process group that torchrun's environment describes; a single process otherwise."""
    if dist.is_available() and dist.is_initialized():
        return Ranks(dist.get_rank(), dist.get_world_size())
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or not dist.is_available():
        return Ranks()
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Ranks(dist.get_rank(), dist.get_world_size(), owns_group=True)


def check_layout(batch_size: int) -> None:
    """Refuse, before any process group is joined, a torchrun layout that cannot split the batch:
    more processes than pairs, or a batch that is not a multiple of the processes."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    except ValueError:
        world = 1
    if world > 1 and batch_size % world:
        fits = max(world, -(-batch_size // world) * world)
        refusal = LswError(
            f"--batch-size {batch_size} cannot be split over the {world} training processes torchrun started: "
            f"it must be a multiple of {world} (e.g. --batch-size {fits}, or --nproc-per-node that divides it)"
        )
        refusal.every_rank = True  # every process finds it: rank 0 reports it, the others wait (`meet`)
        raise refusal


def teardown(ranks: Ranks) -> None:
    if ranks.owns_group and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def sum_over_ranks_(tensors: Iterable[torch.Tensor], ranks: Ranks) -> None:
    """In-place sum of each tensor over all ranks (a no-op in a single process)."""
    if not ranks.distributed:
        return
    for t in tensors:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)


def barrier(ranks: Ranks) -> None:
    if ranks.distributed:
        dist.barrier()


def meet(seconds: float = 60.0) -> None:
    """Before exiting on an error every process raised, let rank 0 report it: torchrun stops the other
    processes as soon as one exits, which could stop rank 0 before it has spoken. In a process group
    the ranks meet at a barrier; before one is joined, the other ranks wait (at most `seconds`) for
    torchrun to stop them, which it does once rank 0 has exited."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
    elif not is_main_process():
        time.sleep(seconds)
