"""DVC stage `register`: log models/medshift as an MLflow pyfunc, register it, and move the
``production`` alias to it only if it is sane and passes the gate (params.register).

    python -m pipeline.register [paths...]

The candidate is scored on the gate's slice of the test split (``evaluation.gate``); under
the registry lock the version is logged and registered, its served pyfunc is checked (finite,
shape, two identical calls equal, equal to the library's translation), and the current
production version is re-scored on the same slice. The decision, both versions' scores and
the reasons go to reports/registry.json.
"""

from __future__ import annotations

import argparse
import os
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from medshift.config.base import load_section
from medshift.config.evaluate import EvaluateConfig
from medshift.config.ingest import IngestConfig
from medshift.config.register import RegisterConfig
from medshift.config.translate import TranslateConfig
from medshift.data.datasets import load_split
from medshift.evaluation.gate import (
    GateScores,
    GateSet,
    floor_reasons,
    gate_reasons,
    gate_set,
    sanity_reasons,
    score,
    translations,
)
from medshift.evaluation.reference import ReferenceStats
from medshift.evaluation.truth import load_truth
from medshift.io import write_json
from medshift.models.classifier import DomainClassifier, load_classifier
from medshift.models.export import MedShiftModel, load_medshift
from medshift.precision import use_bf16
from medshift.translation.translate import TranslationRequest, translate
from pipeline import store
from pipeline.common import run_stage, stage_parser
from pipeline.medshift_model import PARAM_TYPES
from pipeline.tracking import EXPERIMENT, REPO, git_commit

CODE = Path(__file__).with_name("medshift_model.py")
LOCKED_OUTS = ("data/interim/manifest.parquet", "data/interim/images",
               "data/processed/splits.parquet", "models/medshift")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = stage_parser(__doc__.splitlines()[0])
    p.add_argument("--simulated", type=Path, default=Path("data/raw/simulated"))
    p.add_argument("--reference", type=Path, default=Path("data/processed/reference.npz"))
    p.add_argument("--classifier", type=Path, default=Path("models/classifier"))
    p.add_argument("--model", type=Path, default=Path("models/medshift"))
    p.add_argument("--metrics", type=Path, default=Path("reports/metrics.json"))
    p.add_argument("--lock", type=Path, default=Path("dvc.lock"),
                   help="read for the data and model hashes (tags), not a dependency")
    p.add_argument("--out", type=Path, default=Path("reports/registry.json"))
    return p.parse_args(argv)


@dataclass(frozen=True)
class Scorer:
    """Scores any model version on one fixed gate slice with one request."""

    gs: GateSet
    classifier: DomainClassifier
    reference: ReferenceStats
    request: TranslationRequest
    judge_bf16: bool

    def __call__(self, model: MedShiftModel) -> GateScores:
        return score(translations(model, self.gs, self.request), self.gs, self.classifier,
                     self.reference, self.judge_bf16)


def load_scorer(args: argparse.Namespace) -> tuple[Scorer, RegisterConfig, TranslateConfig]:
    """The gate slice of the test split with its judge, reference and request."""
    cfg = RegisterConfig.from_params(load_section(args.params, "register"))
    tcfg = TranslateConfig.from_params(load_section(args.params, "translate"))
    ingest = IngestConfig.from_params(load_section(args.params, "ingest"))
    ecfg = EvaluateConfig.from_params(load_section(args.params, "evaluate"))
    test = load_split(pd.read_parquet(args.manifest), pd.read_parquet(args.splits),
                      args.images, "test")
    fields = load_truth(test.rows, args.simulated, ingest.size).fields
    gs = gate_set(test.rows, test.images, fields, {c.id: c.domain for c in ingest.classes},
                  cfg.source_domain, cfg.target_domain, cfg.images_per_class)
    request = TranslationRequest(tau=tcfg.tau, nfe=tcfg.nfe, solver=tcfg.solver,
                                 guidance=tcfg.guidance, seed=tcfg.seed,
                                 batch_size=tcfg.batch_size, bf16=tcfg.bf16)
    classifier, _ = load_classifier(args.classifier)
    scorer = Scorer(gs, classifier, ReferenceStats.load(args.reference), request,
                    use_bf16(ecfg.bf16, torch.device("cpu")))  # as the reference stage
    return scorer, cfg, tcfg


def served_params(cfg: RegisterConfig, tcfg: TranslateConfig) -> dict:
    """The signature's param defaults: the served pair and params.translate's defaults."""
    return {"source": cfg.source, "target": cfg.target, "tau": float(tcfg.tau),
            "solver": tcfg.solver, "nfe": int(tcfg.nfe), "guidance": float(tcfg.guidance),
            "seed": int(tcfg.seed)}


def signature(size: int, defaults: dict):
    """Input (-1, 1, size, size) float32, output the same, params with types and defaults."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ParamSchema, ParamSpec, Schema, TensorSpec

    spec = TensorSpec(np.dtype(np.float32), (-1, 1, size, size))
    return ModelSignature(inputs=Schema([spec]), outputs=Schema([spec]), params=ParamSchema(
        [ParamSpec(k, PARAM_TYPES[k], defaults[k]) for k in PARAM_TYPES]))


def requirements() -> list[str]:
    """This package's runtime requirements (pyproject.toml) plus mlflow."""
    import mlflow

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return [*project["dependencies"], f"mlflow=={mlflow.__version__}"]


def lock_hashes(lock: Path) -> dict[str, str]:
    """md5 of the data and model outputs recorded in dvc.lock (absent: none)."""
    if not lock.is_file():
        return {}
    out = {}
    for stage in (yaml.safe_load(lock.read_text()) or {}).get("stages", {}).values():
        for entry in stage.get("outs", []):
            if entry.get("path") in LOCKED_OUTS:
                out[f"dvc.{entry['path']}"] = str(entry.get("md5"))
    return out


def headline(metrics: Path) -> dict[str, float]:
    """MedShift's group means at the headline tau from the evaluate stage's metrics.json."""
    if not metrics.is_file():
        return {}
    groups = yaml.safe_load(metrics.read_text()).get("groups", {})
    return {f"eval.{g}.{k}": float(v) for g, methods in groups.items()
            for k, v in (methods.get("medshift") or {}).items() if isinstance(v, int | float)}


def log_version(c, cfg: RegisterConfig, defaults: dict, export: Path, model: MedShiftModel,
                example: np.ndarray, tags: dict, metrics: dict):
    """Log the export as a models-from-code pyfunc in a run and register it (under the
    registry lock: version numbers come from one writer at a time)."""
    import mlflow

    mlflow.set_experiment(EXPERIMENT)
    with mlflow.start_run(run_name=f"register-{cfg.name}") as run:
        mlflow.set_tags(tags)
        mlflow.log_metrics(metrics)
        mlflow.log_params({f"register.{k}": v for k, v in cfg.to_dict().items()})
        info = mlflow.pyfunc.log_model(
            name="model", python_model=str(CODE), artifacts={"export": str(export)},
            signature=signature(model.card.image_size, defaults),
            input_example=(example, defaults), pip_requirements=requirements(),
            registered_model_name=cfg.name, tags=tags)
    version = c.get_model_version(cfg.name, str(info.registered_model_version))
    for key, value in tags.items():
        c.set_model_version_tag(cfg.name, version.version, key, value)
    return version, run.info.run_id


def served_sanity(name: str, version: str, example: np.ndarray, defaults: dict,
                  library: np.ndarray) -> dict[str, str]:
    """Sanity of the registered pyfunc: two identical calls, and the library's answer."""
    import mlflow

    served = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    first, second = served.predict(example, params=defaults), served.predict(example,
                                                                             params=defaults)
    reasons = sanity_reasons(first, second, example.shape)
    if not reasons and not np.array_equal(first, library):
        reasons["sanity_served"] = "the registered pyfunc's answer differs from the library's"
    return reasons


def decide(c, cfg: RegisterConfig, version: str, candidate: GateScores | None,
           reasons: dict[str, str], scorer: Scorer) -> dict:
    """Gate against the current production version and move the aliases (under the lock)."""
    prod = store.by_alias(c, cfg.name, store.PRODUCTION)
    prod_scores = None
    if candidate is not None and prod is None:
        reasons |= floor_reasons(candidate, cfg.min_ssim, cfg.max_fd)
    elif candidate is not None:
        prod_model = load_medshift(store.download_export(cfg.name, prod.version))
        prod_scores = scorer(prod_model)
        reasons |= gate_reasons(candidate, prod_scores, cfg.ssim_margin, cfg.fd_gain)
    if reasons:
        store.challenge(c, cfg.name, version, reasons)
    else:
        why = (f"gate passed against v{prod.version}" if prod is not None
               else "first version: sane and above the floors")
        store.promote(c, cfg.name, version, why)
    return {"production_seen": prod.version if prod else None,
            "production_scores": prod_scores.to_dict() if prod_scores else None}


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    torch.set_num_threads(os.cpu_count() or 1)  # torch counted one core on a 2-vCPU machine
    clock = {"start": time.perf_counter()}
    scorer, cfg, tcfg = load_scorer(args)
    model = load_medshift(args.model)
    defaults = served_params(cfg, tcfg)
    example = scorer.gs.images[:cfg.sanity_images]
    request = TranslationRequest(tau=tcfg.tau, nfe=tcfg.nfe, solver=tcfg.solver,
                                 guidance=tcfg.guidance, seed=tcfg.seed)
    library = translate(model, example, cfg.source, cfg.target, request).images
    reasons = sanity_reasons(library, translate(model, example, cfg.source, cfg.target,
                                                request).images, example.shape)
    clock["load"] = time.perf_counter()
    candidate = None if reasons else scorer(model)
    clock["score"] = time.perf_counter()
    tags = {"git_commit": git_commit(), "data_version": str(model.card.data_version),
            "code_version": model.card.code_version, **lock_hashes(args.lock)}
    metrics = headline(args.metrics)
    tags |= {k: f"{v:.5g}" for k, v in metrics.items()}
    if candidate is not None:
        metrics |= {f"gate.{k}": v for k, v in candidate.to_dict().items() if v is not None}
    c = store.client()
    seen = store.by_alias(c, cfg.name, store.PRODUCTION)
    waited: list[bool] = []

    def on_wait() -> None:
        waited.append(True)
        print("register: another process is changing the registry; waiting")

    with store.registry_lock(cfg.lock_timeout, on_wait=on_wait):
        clock["lock"] = time.perf_counter()
        version, run_id = log_version(c, cfg, defaults, args.model, model, example, tags,
                                      metrics)
        try:
            if not reasons:
                reasons |= served_sanity(cfg.name, version.version, example, defaults,
                                         library)
            outcome = decide(c, cfg, version.version, candidate if not reasons else None,
                             reasons, scorer)
        except Exception as exc:  # no alias moved: say so on the version, then fail
            c.set_model_version_tag(cfg.name, version.version, "decision",
                                    f"error: {type(exc).__name__}: {exc}"[:5000])
            raise
    clock["end"] = time.perf_counter()
    before = seen.version if seen else None
    moved = outcome["production_seen"] != before
    decision = "production" if not reasons else "challenger"
    report = {
        "name": cfg.name, "version": version.version, "run_id": run_id, "decision": decision,
        "reasons": reasons, "production_before": outcome["production_seen"],
        "production_after": version.version if not reasons else outcome["production_seen"],
        "candidate_scores": candidate.to_dict() if candidate else None,
        "production_scores": outcome["production_scores"],
        "concurrent": (f"production moved from {before} to {outcome['production_seen']} "
                       f"while this run waited; gated against the latter") if moved else None,
        "waited_for_lock": bool(waited), "gate": cfg.to_dict(), "served_params": defaults,
        "seconds": {"load": round(clock["load"] - clock["start"], 2),
                    "score_candidate": round(clock["score"] - clock["load"], 2),
                    "register_and_gate": round(clock["end"] - clock["lock"], 2),
                    "total": round(clock["end"] - clock["start"], 2)}}
    write_json(args.out, report)
    line = (f"register: {cfg.name} v{version.version} -> {decision}"
            + (f" ({'; '.join(reasons.values())})" if reasons else "")
            + (f"; {report['concurrent']}" if moved else "")
            + f" in {report['seconds']['total']:.1f} s -> {args.out}")
    print(line)
    return 0


if __name__ == "__main__":
    run_stage("register", main)
