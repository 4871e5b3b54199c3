"""A user's DDP GAN loop (2 CPU processes, gloo) with ganlint's Monitor, for tests/test_monitor_ddp.py."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP


def worker(rank: int, world: int, folder: str) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    import ganlint

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{folder}/store", rank=rank, world_size=world)
    torch.manual_seed(0)  # same initial weights on every rank
    G = DDP(nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1)))
    D = DDP(nn.Sequential(nn.Linear(1, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1)))
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-3)
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-3)
    mon = ganlint.Monitor(G, D, opt_g, opt_d, outputs="probabilities", flush_every=10, diagnose_every=50, min_steps=50)
    torch.manual_seed(100 + rank)  # each rank its own data
    bce = nn.BCEWithLogitsLoss()
    for _ in range(100):
        real = 4 + torch.randn(32, 1)
        fake = G(torch.randn(32, 4))
        loss_d = bce(D(real), torch.ones(32, 1)) + bce(D(fake.detach()), torch.zeros(32, 1))
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = bce(D(fake), torch.ones(32, 1))
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        # d_real: 0 on rank 0 and 1 on rank 1, so the reduced value (0.5) proves the averaging
        mon.step(loss_d=loss_d, loss_g=loss_g, d_real=torch.full((32,), float(rank)), fake=fake)
    tel = mon.telemetry
    mon.save(f"{folder}/rank{rank}")
    with open(f"{folder}/result{rank}.json", "w") as f:
        json.dump({"status": mon.status, "should_stop": mon.should_stop, "d_real": tel["d_real"].tolist(),
                   "grad_norm_g": tel["grad_norm_g"].tolist(), "rows": len(tel)}, f)
    dist.destroy_process_group()


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.multiprocessing.spawn(worker, args=(2, sys.argv[1]), nprocs=2, join=True)
