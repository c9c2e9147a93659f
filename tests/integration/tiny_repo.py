"""A tiny DVC repository with the real pipeline's stage names, for the Prefect flows.

Each stage is ``python -m stage NAME OUT DEPS...``: a real command that DVC runs, which
writes a small JSON (its inputs' digest, the profile, the process count it saw) and appends
to attempts.log. A failure is injected by a file ``fail/NAME`` holding how many attempts
must fail (or ``always``); the stage then exits 1 with a message on stderr (``params``:
exits 2, a params error). ``register``
also writes production.txt, standing for the registry's ``production`` alias.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]

STAGE_PY = '''
import hashlib, json, os, sys
from pathlib import Path

name, out, deps = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
if name in ("autoencoder", "velocity"):
    from pipeline.launch import relaunch_under_torchrun
    relaunch_under_torchrun("stage")
rank = int(os.environ.get("RANK", "0"))
with open("attempts.log", "a") as fh:
    fh.write(f"{name} rank={rank}\\n")
fail = Path("fail") / name
if rank == 0 and fail.exists():
    left = fail.read_text().strip()
    if left == "params":
        print(f"{name}: error: params.{name}: unknown keys ['lrr']", file=sys.stderr)
        sys.exit(2)
    if left == "always" or int(left) > 0:
        if left != "always":
            fail.write_text(str(int(left) - 1))
        print(f"{name}: starting", flush=True)
        print(f"Traceback: RuntimeError: injected failure in {name}", file=sys.stderr)
        sys.exit(1)
if rank != 0:
    sys.exit(0)
import yaml
digest = hashlib.sha256(b"".join(Path(d).read_bytes() for d in deps)).hexdigest()[:12]
record = {"stage": name, "inputs": digest, "cwd": os.getcwd(),
          "profile": yaml.safe_load(Path("params.yaml").read_text())["profile"],
          "nproc": os.environ.get("MEDSHIFT_NPROC"),
          "world_size": int(os.environ.get("WORLD_SIZE", "1")),
          "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")}
out.parent.mkdir(parents=True, exist_ok=True)
out.write_text(json.dumps(record))
if name == "register":
    Path("production.txt").write_text(digest)
'''

REGISTRY_PY = '''"""Stand-in for pipeline.registry (issue 15's registry half): records its call."""
import json, os, sys
from pathlib import Path

root = Path(__file__).resolve().parents[1]
(root / "reevaluated.json").write_text(json.dumps({"argv": sys.argv[1:], "cwd": os.getcwd()}))
'''

# (name, deps, out, metrics-style uncached out)
STAGES = [
    ("ingest", ["raw.txt"], "data/interim/manifest.txt", False),
    ("split", ["data/interim/manifest.txt"], "data/processed/splits.txt", False),
    ("classifier", ["data/processed/splits.txt"], "models/classifier.txt", False),
    ("autoencoder", ["data/processed/splits.txt"], "models/autoencoder.txt", False),
    ("autoencoder_report", ["models/autoencoder.txt", "models/classifier.txt"],
     "reports/autoencoder.json", True),
    ("velocity", ["models/autoencoder.txt"], "models/medshift.txt", False),
    ("translate", ["models/medshift.txt"], "data/processed/translations.txt", False),
    ("evaluate", ["data/processed/translations.txt", "models/classifier.txt"],
     "reports/metrics.json", True),
    ("register", ["models/medshift.txt", "reports/metrics.json"], "reports/registry.json",
     True),
]


def _dvc_yaml() -> dict:
    stages = {}
    for name, deps, out, uncached in STAGES:
        stages[name] = {"cmd": f"python -m stage {name} {out} {' '.join(deps)}",
                        "deps": ["stage.py", *deps],
                        "outs": [{out: {"cache": False}} if uncached else out]}
    stages["ingest"]["params"] = ["profile"]
    return {"stages": stages}


def make_tiny_repo(root: Path) -> Path:
    """Write, git-init and dvc-init the tiny repository at ``root`` (local remote
    ``root``/../remote as default), with a copy of the pipeline package (flows imported from
    that copy resolve ``root`` from their own file; stages import pipeline.launch from it)."""
    root.mkdir(parents=True)
    (root / "stage.py").write_text(STAGE_PY)
    (root / "raw.txt").write_text("raw data v1\n")
    (root / "fail").mkdir()
    params = {"profile": "cpu",
              "orchestration": {"retries": 1, "retry_delay_s": 0.0, "timeout_s": 60.0,
                                "stderr_lines": 5, "remote": None}}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (root / "profiles").mkdir()
    (root / "profiles/gpu.yaml").write_text("orchestration:\n  timeout_s: 120.0\n")
    (root / "dvc.yaml").write_text(yaml.safe_dump(_dvc_yaml(), sort_keys=False))
    shutil.copytree(REPO / "pipeline", root / "pipeline",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (root / "pipeline/registry.py").write_text(REGISTRY_PY)
    run = dict(cwd=root, check=True, capture_output=True)
    subprocess.run(["git", "init", "-q"], **run)
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], **run)
    subprocess.run([sys.executable, "-m", "dvc", "config", "core.analytics", "false"], **run)
    subprocess.run([sys.executable, "-m", "dvc", "remote", "add", "-d", "default",
                    "../remote"], **run)  # relative: a copied repository pushes beside itself
    return root
