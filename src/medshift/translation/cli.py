"""``medshift translate``: a researcher's own X-ray files from one domain to another.

    medshift translate --model models/medshift --source syn_high --target real_normal \\
        --tau 0.45 scans/ --out translated/ [--format dicom|png]

Inputs stream through in batches (memory independent of their number); a bad input is
skipped with one line naming it and the reason, and the run ends with exit code 1 and a
summary; configuration problems (model, classes, output folder) stop it before any input
is read, with exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from medshift.data.raster import RASTER_SUFFIXES
from medshift.translation.files import (
    InputImage,
    discover,
    from_working,
    is_supported_error,
    output_path,
    read_input,
    to_working,
    write_dicom,
    write_png,
)
from medshift.translation.translate import TranslationRequest, translate

AUTO_SOURCE = "auto"
PRECISIONS: dict[str, bool | str] = {"auto": "auto", "bf16": True, "fp32": False}


class UsageError(Exception):
    """A problem with the command line or environment, found before any input is read."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``translate`` subcommand's arguments."""
    p.add_argument("inputs", nargs="+", type=Path, help="files or folders")
    p.add_argument("--model", required=True,
                   help="export directory (models/medshift) or models:/NAME@ALIAS")
    p.add_argument("--source", required=True,
                   help="source class, 'unknown' (null label) or 'auto' (classifier)")
    p.add_argument("--target", required=True, help="target class")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--format", choices=("dicom", "png"), default=None,
                   help="output format (default: dicom for DICOM inputs, else png)")
    defaults = TranslationRequest()
    p.add_argument("--tau", type=float, default=defaults.tau,
                   help="intermediate time in (0, 1]: higher keeps more structure, lower "
                        "changes style more (default: %(default)s)")
    p.add_argument("--solver", default=defaults.solver,
                   help="euler, midpoint, heun, rk4 or dopri5 (adaptive) (default: "
                        "%(default)s)")
    p.add_argument("--nfe", type=int, default=defaults.nfe,
                   help="network evaluations per image, both legs (guided ones count twice; "
                        "default: %(default)s)")
    p.add_argument("--guidance", type=float, default=defaults.guidance,
                   help="classifier-free guidance scale, 1 = none (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=defaults.batch_size,
                   help="images per forward pass (default: %(default)s)")
    p.add_argument("--seed", type=int, default=defaults.seed,
                   help="seed of the decoder's texture noise (default: %(default)s)")
    p.add_argument("--classifier", type=Path, default=None,
                   help="domain classifier export for --source auto (default: the model's "
                        "sibling 'classifier' folder)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto")
    p.add_argument("--precision", choices=("auto", "bf16", "fp32"), default="auto",
                   help="bf16 autocast of the networks (auto: where the device computes "
                        "bf16 natively)")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _resolve_model(spec: str) -> Path:
    if spec.startswith("models:/"):
        try:  # MLflow lives in the pipeline package, found at run time, never imported here
            resolve_model_uri = importlib.import_module("pipeline.registry").resolve_model_uri
        except ImportError:
            raise UsageError(f"{spec}: loading from the MLflow model registry needs the "
                             f"pipeline extra (pip install -e '.[pipeline]') and the "
                             f"repository's pipeline package; or pass an export directory "
                             f"such as models/medshift") from None
        return resolve_model_uri(spec)
    path = Path(spec)
    if not (path / "metadata.json").is_file():
        raise UsageError(f"{spec}: no model export there (expected metadata.json and "
                         f"weights.safetensors, e.g. models/medshift)")
    return path


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: is a file, not an output folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".medshift-write-probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"{out}: output folder cannot be written ({exc.strerror or exc})"
                         ) from None


def _classifier(args: argparse.Namespace, model_dir: Path):
    from medshift.models.classifier import load_classifier

    if args.classifier is not None and not (args.classifier / "metadata.json").is_file():
        raise UsageError(f"--classifier {args.classifier}: no classifier export there "
                         f"(the classifier stage writes models/classifier)")
    candidates = [args.classifier] if args.classifier else [model_dir / "classifier",
                                                            model_dir.parent / "classifier"]
    for path in candidates:
        if (path / "metadata.json").is_file():
            try:
                return load_classifier(path)
            except ValueError as exc:
                raise UsageError(str(exc)) from None
            except (RuntimeError, KeyError) as exc:  # an export of another code version
                raise UsageError(f"{path}: classifier export does not match this version's "
                                 f"classifier ({str(exc).splitlines()[0]}); re-run the "
                                 f"classifier stage (dvc repro classifier)") from None
    raise UsageError("--source auto needs the domain classifier: pass --classifier DIR "
                     "(the classifier stage writes models/classifier)")


def _device(name: str):
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise UsageError(f"--device {name}: {exc}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"--device {name}: CUDA is not available on this machine")
    return device


def _setup(args: argparse.Namespace):
    from medshift.models.export import load_medshift

    try:
        request = TranslationRequest(tau=args.tau, nfe=args.nfe, solver=args.solver,
                                     guidance=args.guidance, seed=args.seed,
                                     batch_size=args.batch_size,
                                     bf16=PRECISIONS[args.precision])
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if not str(args.out).strip():
        raise UsageError("--out is empty: name an output folder")
    try:
        request.require_full_steps()
    except ValueError as exc:
        raise UsageError(f"--{exc}") from None
    model_dir = _resolve_model(args.model)
    try:
        model = load_medshift(model_dir, _device(args.device))
        if args.target in ("unknown", AUTO_SOURCE):
            raise ValueError(f"--target must be a class of the model: {', '.join(model.classes)}")
        model.label(args.target)
        if args.source != AUTO_SOURCE:
            model.label(args.source)
    except (ValueError, OSError) as exc:
        raise UsageError(str(exc)) from None
    classifier = _classifier(args, model_dir) if args.source == AUTO_SOURCE else None
    if classifier is not None:
        classifier = (classifier[0].to(model.device), tuple(classifier[1]["classes"]))
    _check_out(args.out)
    return request, model, classifier


def _description(args: argparse.Namespace, request: TranslationRequest, model, source: str,
                 nfe: int) -> str:
    card = model.card
    return (f"MedShift translation {source} -> {args.target}, tau {request.tau}, "
            f"{request.solver} {nfe} NFE, guidance {request.guidance}, seed "
            f"{request.seed}; model {args.model} (medshift {card.code_version}, data "
            f"{card.data_version})")


def _write(item: InputImage, image: np.ndarray, fmt: str, target: Path, description: str,
           series: str) -> None:
    full = from_working(image, item.pixels.shape)
    if fmt == "dicom":
        entropy = [str(item.dataset.get("SOPInstanceUID", item.key)),
                   str(item.dataset.get("SeriesInstanceUID", "")), description]
        write_dicom(target, full, item.dataset, description, series, entropy)
    else:
        write_png(target, full)


def _translate_batch(args, request, model, classifier, batch: list[InputImage],
                     failures: list[tuple[str, str]]) -> tuple[int, int]:
    """Translate and write one batch; returns (outputs written, NFE per image counted)."""
    from medshift.translation.auto import auto_source

    x = np.stack([to_working(item.pixels, model.card.image_size) for item in batch])[:, None]
    labels = None
    if classifier is not None:
        labels = auto_source(model, classifier[0], classifier[1], x)
    result = translate(model, x, args.source if labels is None else "unknown", args.target,
                       request, keys=[item.key for item in batch], source_labels=labels)
    done = 0
    for k, item in enumerate(batch):
        fmt = args.format or ("dicom" if item.dataset is not None else "png")
        source = model.classes[labels[k]] if labels is not None else args.source
        target = output_path(args.out, item.key, fmt)
        try:
            _write(item, result.images[k, 0], fmt, target,
                   _description(args, request, model, source, result.nfe),
                   f"MedShift {source} -> {args.target}, tau {request.tau}")
        except OSError as exc:
            failures.append((str(item.path), f"cannot write {target}: {exc.strerror or exc}"))
            continue
        done += 1
        if labels is not None:
            tqdm.write(f"{item.path}: source auto -> {source}")
    return done, result.nfe


def _run_files(args, request, model, classifier, files: list[tuple[Path, str]],
               failures: list[tuple[str, str]]) -> tuple[int, int]:
    """Read, translate and write ``files`` in batches; returns (how many were written, the
    most NFE an image took)."""
    done, nfe, batch = 0, 0, []
    claimed: dict[Path, Path] = {}
    bar = tqdm(files, desc="translate", unit="file", disable=args.quiet, mininterval=1.0)
    for n, (path, key) in enumerate(bar):
        raster = path.suffix.lower() in RASTER_SUFFIXES
        fmt = args.format or ("png" if raster else "dicom")
        target = output_path(args.out, key, fmt)
        if target in claimed:
            failures.append((str(path), f"its output {target} would replace that of "
                                        f"{claimed[target]}: pass the folder that holds both, "
                                        f"or rename one"))
        elif target.exists() and not args.overwrite:
            failures.append((str(path), "output exists (pass --overwrite to replace it)"))
        elif fmt == "dicom" and raster:
            failures.append((str(path), "dicom output needs a DICOM input (use --format png)"))
        else:
            claimed[target] = path
            try:
                batch.append(read_input(path, key))
            except Exception as exc:
                if not is_supported_error(exc):
                    raise
                failures.append((str(path), str(exc)))
        if batch and (len(batch) == request.batch_size or n == len(files) - 1):
            written, spent = _translate_batch(args, request, model, classifier, batch,
                                              failures)
            done, nfe, batch = done + written, max(nfe, spent), []
    return done, nfe


def run_translate(args: argparse.Namespace) -> int:
    """The subcommand: 0 when every input was translated, 1 when some were skipped, 2 on a
    usage error."""
    try:
        request, model, classifier = _setup(args)
    except UsageError as exc:
        print(f"medshift translate: error: {exc}", file=sys.stderr)
        return 2
    files, missing = discover(args.inputs)
    failures = [(str(p), r) for p, r in missing]
    if not files:
        print(f"medshift translate: no input files found in {[str(i) for i in args.inputs]}",
              file=sys.stderr)
        return 1
    start, done, nfe = time.perf_counter(), 0, 0
    try:
        done, nfe = _run_files(args, request, model, classifier, files, failures)
    except KeyboardInterrupt:
        print("medshift translate: interrupted; the outputs written so far are complete "
              "(re-run with --overwrite, or without it to keep them)", file=sys.stderr)
        return 130
    seconds = time.perf_counter() - start
    for path, reason in failures:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    print(f"translated {done} of {done + len(failures)} inputs in {seconds:.1f} s -> {args.out}"
          + (f"; {len(failures)} skipped (reasons above)" if failures else ""))
    if done:
        print(f"settings: tau {request.tau}, {request.solver} {nfe} NFE, guidance "
              f"{request.guidance}, seed {request.seed}")
    return 1 if failures or done == 0 else 0
