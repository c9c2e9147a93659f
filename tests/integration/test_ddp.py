"""DDP on CPU: torchrun with 2 gloo processes trains both models in sync; rank 0
checkpoints."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_two_process_ddp_keeps_ranks_in_sync(tmp_path):
    worker = Path(__file__).with_name("ddp_worker.py")
    repo = Path(worker).parents[2]  # this checkout's code, whatever is installed
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(repo / "src"), str(repo)])}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc_per_node=2", str(worker), str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    ranks = [(tmp_path / f"rank{r}.txt").read_text().split() for r in (0, 1)]
    assert ranks[0][0] == ranks[1][0] == "2"
    # DDP all-reduced gradients: identical flow and (adversarial) autoencoder weights
    assert ranks[0][1:] == ranks[1][1:] and len(ranks[0]) == 3
    assert sorted(p.name for p in (tmp_path / "ckpt").glob("*.pt")) == ["step-0000003.pt",
                                                                         "step-0000006.pt"]
