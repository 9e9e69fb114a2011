"""Data parallelism: 2 gloo processes compute the gradients of single-process training on the same global batch."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import numpy as np
import torch
import torch.multiprocessing as mp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from int2int.config import Config, HardwareConfig  # noqa: E402
from int2int.data.tensors import to_tensors  # noqa: E402
from int2int.distributed import Dist, setup_distributed  # noqa: E402
from int2int.encodings.positional import PositionalConfig  # noqa: E402
from int2int.models import build_model  # noqa: E402
from int2int.models.layers import TransformerConfig  # noqa: E402
from int2int.optim import AdamConfig, ScheduleConfig  # noqa: E402
from int2int.stepper import Stepper  # noqa: E402
from int2int.tasks import build_task  # noqa: E402
from int2int.tasks.gcd import GcdConfig  # noqa: E402

GLOBAL_BATCH = 64


def tiny_config() -> Config:
    return Config(task=GcdConfig(), encoding=PositionalConfig(base=10),
                  architecture=TransformerConfig(enc_emb_dim=32, dec_emb_dim=32, n_enc_heads=2, n_dec_heads=2),
                  optimizer=AdamConfig(clip_grad_norm=0.0), schedule=ScheduleConfig(batch_size=GLOBAL_BATCH),
                  hardware=HardwareConfig(device="cpu", num_threads=1))


def gradients(d: Dist) -> list[torch.Tensor]:
    """One step on this rank's share of a fixed global batch; the gradients it leaves."""
    cfg = tiny_config()
    task = build_task(cfg)
    torch.manual_seed(0)
    model = build_model(cfg.architecture, len(task.vocab))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    batch = task.generate(np.random.default_rng(0), GLOBAL_BATCH)
    share = batch.take(slice(d.rank * GLOBAL_BATCH // d.world, (d.rank + 1) * GLOBAL_BATCH // d.world))
    Stepper(cfg, model, optimizer, torch.device("cpu"), d)([to_tensors(share, torch.device("cpu"))], 0.0)
    return [p.grad.clone() for p in model.parameters()]


def worker(rank: int, port: int, out: str) -> None:
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2",
                      LOCAL_RANK=str(rank))
    d = setup_distributed("cpu")
    assert d.world == 2 and d.rank == rank
    grads = gradients(d)
    torch.save(grads, f"{out}/grads{rank}.pt")
    torch.distributed.destroy_process_group()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_gloo_gradients_match_single_process(tmp_path):
    mp.spawn(worker, args=(free_port(), str(tmp_path)), nprocs=2, join=True)
    single = gradients(Dist())
    for rank in (0, 1):
        ranked = torch.load(tmp_path / f"grads{rank}.pt", weights_only=True)
        assert len(ranked) == len(single)
        for a, b in zip(ranked, single):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
