"""The Monitor under DDP: 2 CPU processes on the gloo backend (tests/userland/ddp_worker.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch.distributed as dist

WORKER = Path(__file__).parent / "userland" / "ddp_worker.py"


@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="torch.distributed with gloo is not available")
def test_statistics_are_reduced_and_rank_0_decides(tmp_path):
    p = subprocess.run([sys.executable, str(WORKER), str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    r0, r1 = (json.loads((tmp_path / f"result{k}.json").read_text()) for k in (0, 1))
    assert r0["rows"] == r1["rows"] == 100
    assert r0["d_real"] == r1["d_real"] == [0.5] * 100  # rank 0 saw 0, rank 1 saw 1: averaged
    assert r0["grad_norm_g"] == r1["grad_norm_g"]  # DDP synchronised the gradients already
    assert r0["status"] == r1["status"] is not None  # rank 0's label, broadcast to every rank
    assert r0["should_stop"] == r1["should_stop"]
    assert (tmp_path / "rank0" / "telemetry.parquet").is_file()
    assert not (tmp_path / "rank1").exists()  # only rank 0 writes
