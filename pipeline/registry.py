"""``medshift registry``: the MLflow model registry by hand, and ``models:/`` URIs for the CLI.

    python -m pipeline.registry list                      # versions, aliases, gate scores
    python -m pipeline.registry promote 3 --reason "..."  # production -> v3, reason tagged
    python -m pipeline.registry rollback                  # production -> the previous one
    python -m pipeline.registry reevaluate [--model models:/medshift@production]

``reevaluate`` scores a registered version on the current test split's gate slice (the
``register`` stage's scores) without retraining, records an MLflow run tagged with the
version and writes reports/reevaluate.json. Every default path resolves from the repository,
not the working directory. Usage errors print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from medshift.config.base import load_section
from medshift.config.register import RegisterConfig
from medshift.io import write_json
from pipeline import store
from pipeline.tracking import EXPERIMENT, REPO, file_digest, git_commit, tracking_uri

URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[\w-]+)|/(?P<version>\d+))$")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, status 2 (not usage too)
        print(f"medshift registry: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _version(c, uri: str):
    """The ModelVersion of ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION``."""
    from mlflow.exceptions import MlflowException

    match = URI.match(uri)
    if match is None:
        raise ValueError(f"{uri}: not a registry URI (models:/NAME@ALIAS or models:/NAME/N)")
    name, alias, number = match.group("name", "alias", "version")
    try:
        if alias:
            return c.get_model_version_by_alias(name, alias)
        return c.get_model_version(name, number)
    except MlflowException:
        raise ValueError(f"{uri}: no such registered model version in {tracking_uri()} "
                         f"(`medshift registry list` shows what is there)") from None


def _registered(c, name: str) -> None:
    """Raises ValueError naming the store when ``name`` has no registered versions."""
    from mlflow.exceptions import MlflowException

    try:
        c.get_registered_model(name)
    except MlflowException:
        raise ValueError(f"no registered model {name!r} in {tracking_uri()} "
                         f"(`dvc repro register` registers one)") from None


def resolve_model_uri(uri: str) -> Path:
    """A local MedShift export directory for a registry URI (downloaded from the store).

    Raises:
        ValueError: a malformed URI, or no such model, alias or version.
    """
    c = store.client()
    version = _version(c, uri)
    return store.download_export(version.name, version.version)


def _scores(c, version) -> dict[str, float]:
    try:
        metrics = c.get_run(version.run_id).data.metrics
    except Exception:  # a version logged without a run (by hand)
        return {}
    return {k.removeprefix("gate."): v for k, v in metrics.items() if k.startswith("gate.")}


def cmd_list(c, name: str, _args) -> int:
    versions = sorted(c.search_model_versions(f"name='{name}'"), key=lambda v: int(v.version))
    if not versions:
        print(f"{name}: no registered versions yet (dvc repro register; after a dvc "
              "checkout, where the stage is up to date: dvc repro --force --single-item "
              "register)")
        return 0
    aliases: dict[str, list[str]] = {}
    for alias, number in c.get_registered_model(name).aliases.items():
        aliases.setdefault(str(number), []).append(alias)
    print(f"{'version':>7}  {'aliases':<22} {'decision':<12} {'ssim':>7} {'fd':>9}  "
          f"{'created (UTC)':<19}  notes")
    for v in versions:
        s = _scores(c, v)
        notes = "; ".join(f"{k}: {t}" for k, t in v.tags.items()
                          if k.startswith("gate.") or k in ("promotion_reason", "rolled_back_at"))
        created = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(v.creation_timestamp / 1000))
        ssim, fd = s.get("ssim"), s.get("fd")
        print(f"{v.version:>7}  {','.join(aliases.get(str(v.version), [])) or '-':<22} "
              f"{v.tags.get('decision', '-'):<12} "
              f"{'-' if ssim is None else f'{ssim:.4f}':>7} "
              f"{'-' if fd is None else f'{fd:.2f}':>9}  {created:<19}  {notes}")
    print(f"production history (oldest first): {store.history(c, name)}")
    return 0


def cmd_promote(c, name: str, args) -> int:
    if not args.reason.strip():
        raise ValueError("--reason must say why (it is tagged on the version)")
    with store.registry_lock():
        version = _version(c, f"models:/{name}/{args.version}")
        before = store.by_alias(c, name, store.PRODUCTION)
        if before is not None and before.version == version.version:
            print(f"{name}: v{version.version} is already production; nothing moved")
            return 0
        store.promote(c, name, version.version, f"manual: {args.reason}")
    print(f"{name}: production v{before.version if before else '-'} -> v{version.version} "
          f"({args.reason})")
    return 0


def cmd_rollback(c, name: str, args) -> int:
    _registered(c, name)
    with store.registry_lock():
        old, new = store.rollback(c, name)
        if args.reason:
            c.set_model_version_tag(name, old, "rollback_reason", args.reason)
    print(f"{name}: production v{old} -> v{new} (rolled back)")
    return 0


def cmd_reevaluate(c, name: str, args) -> int:
    import mlflow

    from medshift.models.export import load_medshift
    from pipeline.register import load_scorer

    uri = args.model or f"models:/{name}@{store.PRODUCTION}"
    version = _version(c, uri)
    start = time.perf_counter()
    scorer, _, _ = load_scorer(args)
    scores = scorer(load_medshift(store.download_export(version.name, version.version)))
    mlflow.set_experiment(EXPERIMENT)
    tags = {"model_name": version.name, "model_version": str(version.version),
            "model_uri": uri, "manifest_sha256": file_digest(args.manifest),
            "git_commit": git_commit()}
    with mlflow.start_run(run_name=f"reevaluate-{version.name}-v{version.version}") as run:
        mlflow.set_tags(tags)
        mlflow.log_metrics({f"gate.{k}": v for k, v in scores.to_dict().items()
                            if v is not None})
    report = {**tags, "run_id": run.info.run_id, "scores": scores.to_dict(),
              "registered_scores": _scores(c, version),
              "seconds": round(time.perf_counter() - start, 2)}
    write_json(args.out, report)
    print(f"reevaluate: {uri} (v{version.version}) ssim {scores.ssim} fd {scores.fd:.2f} on "
          f"{scores.outputs} translations -> {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="medshift registry", description=__doc__.splitlines()[0])
    p.add_argument("--params", type=Path, default=REPO / "params.yaml")
    p.add_argument("--name", default=None, help="registered model (default params.register)")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", help="versions with aliases, decisions and gate scores")
    pro = sub.add_parser("promote", help="move production to VERSION by hand")
    pro.add_argument("version", type=int)
    pro.add_argument("--reason", required=True, help="why (tagged on the version)")
    back = sub.add_parser("rollback", help="production back to the previous version")
    back.add_argument("--reason", default=None)
    ree = sub.add_parser("reevaluate", help="score a registered model on the current test data")
    ree.add_argument("--model", default=None, help="models:/NAME@ALIAS or models:/NAME/N "
                                                   "(default: the production version)")
    for flag, default in (("manifest", "data/interim/manifest.parquet"),
                          ("splits", "data/processed/splits.parquet"),
                          ("images", "data/interim/images"), ("simulated", "data/raw/simulated"),
                          ("reference", "data/processed/reference.npz"),
                          ("classifier", "models/classifier"),
                          ("out", "reports/reevaluate.json")):
        ree.add_argument(f"--{flag}", type=Path, default=REPO / default)
    return p


COMMANDS = {"list": cmd_list, "promote": cmd_promote, "rollback": cmd_rollback,
            "reevaluate": cmd_reevaluate}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one registry command: 0 on success, 2 on a usage or registry error."""
    args = build_parser().parse_args(argv)
    store.quiet()
    from mlflow.exceptions import MlflowException

    try:
        name = args.name or RegisterConfig.from_params(
            load_section(args.params, "register")).name
        return COMMANDS[args.command](store.client(), name, args)
    except (ValueError, OSError, TimeoutError, MlflowException) as exc:
        message = getattr(exc, "message", None) or str(exc)
        print(f"medshift registry {args.command}: error: {message.splitlines()[0]}",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
