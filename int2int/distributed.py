"""Data-parallel training: one process per GPU (or CPU process with gloo), launched by torchrun or submitit.

Every rank draws the same global batch from the same seeded source and trains on its slice, so a
run on N ranks computes the gradients of single-process training on the same global batch, and a
checkpoint written by rank 0 resumes every rank. Rank 0 alone evaluates and writes files.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

log = logging.getLogger(__name__)


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def all_sum(self, value: int) -> int:
        if not self.active:
            return value
        t = torch.tensor([value], dtype=torch.long)
        if dist.get_backend() == "nccl":
            t = t.cuda()
        dist.all_reduce(t)
        return int(t.item())


def setup_distributed(device_type: str) -> Dist:
    """Join the process group described by the environment (torchrun's, or submitit's on Slurm)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 and int(os.environ.get("SLURM_NTASKS", "1")) > 1:
        try:  # a submitit job with tasks_per_node > 1: export MASTER_ADDR, RANK, WORLD_SIZE...
            import submitit

            submitit.helpers.TorchDistributedEnvironment().export()
        except (ImportError, RuntimeError):
            pass
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
    d = Dist(rank=dist.get_rank(), world=dist.get_world_size(), local_rank=int(os.environ.get("LOCAL_RANK", "0")))
    log.info("data-parallel rank %d of %d", d.rank, d.world)
    return d
