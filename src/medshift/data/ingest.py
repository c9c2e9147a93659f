"""Source trees -> manifest, compact images and a quarantine; every file ends in one of them.

Files are decoded one at a time in worker processes (never all held at full resolution),
resized to the working size and written as ``images/{image_id}.npy`` (uint16, 1/65535 of
the display range). Order-dependent decisions (duplicates, conflicts) are taken afterwards
in sorted path order, so the result does not depend on worker scheduling.
"""

from __future__ import annotations

import csv
import fnmatch
import hashlib
import os
import re
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from medshift.config.ingest import ClassRule, IngestConfig, SourceConfig
from medshift.data.errors import IngestError
from medshift.data.raster import RASTER_SUFFIXES
from medshift.data.views import view_from_angles

MANIFEST_COLUMNS = ("image_id", "subject_id", "view", "domain", "dose", "label", "class_name",
                    "path", "sha256", "rows", "cols", "pixel_spacing_mm", "kvp",
                    "exposure_uas", "modality", "photometric", "bits_stored")
QUARANTINE_COLUMNS = ("path", "reason", "detail")


class IngestFailure(RuntimeError):
    """Nothing usable was ingested, or the manifest failed validation."""


@dataclass(frozen=True)
class Candidate:
    """One input file and what its source says about it."""

    path: str
    rel: str
    source: SourceConfig
    given_class: str | None = None
    given_subject: str | None = None
    given_view: str | None = None


def discover(source: SourceConfig) -> list[Candidate]:
    """Every regular or linked file under a source (links to directories are not followed,
    so link loops cannot recurse), or the rows of a CSV mapping file."""
    root = Path(source.path)
    if source.kind == "csv":
        return _csv_candidates(root, source)
    if not root.is_dir():
        raise IngestFailure(f"source {root} is not a directory")
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            full = Path(dirpath) / name
            rel = full.relative_to(root).as_posix()
            if not any(fnmatch.fnmatch(rel, pattern) for pattern in source.exclude):
                found.append(Candidate(str(full), rel, source))
    return found


def _csv_candidates(mapping: Path, source: SourceConfig) -> list[Candidate]:
    with open(mapping, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    missing = {"path", "class"} - set(rows[0] if rows else {})
    if missing:
        raise IngestFailure(f"{mapping}: mapping CSV lacks columns {sorted(missing)}")
    return [Candidate(str(mapping.parent / r["path"]), r["path"], source, r["class"] or None,
                      r.get("subject_id") or None, r.get("view") or None) for r in rows]


def classify(header: dict[str, str], rel: str, rules: tuple[ClassRule, ...]) -> ClassRule:
    """First rule whose DICOM patterns all match (DICOM) or whose folder pattern matches."""
    for rule in rules:
        if header and rule.dicom and all(
                re.search(pattern, header.get(key, ""), re.IGNORECASE)
                for key, pattern in rule.dicom):
            return rule
        if not header and rule.folder and re.search(rule.folder, rel, re.IGNORECASE):
            return rule
    raise IngestError("unknown_class", "no class rule matches "
                      + ("the standard DICOM tags" if header else f"the path {rel!r}"))


def resize_square(img: np.ndarray, size: int) -> np.ndarray:
    """Zero-pad to a centred square, then area-resample to ``size`` x ``size``."""
    from PIL import Image

    h, w = img.shape
    side = max(h, w)
    square = np.zeros((side, side), np.float32)
    square[(side - h) // 2:(side - h) // 2 + h, (side - w) // 2:(side - w) // 2 + w] = img
    resized = Image.fromarray(square, mode="F").resize((size, size), Image.Resampling.BOX)
    return np.clip(np.asarray(resized), 0, 1)


def process(candidate: Candidate, rules: tuple[ClassRule, ...], size: int, images_dir: str
            ) -> dict:
    """Decode, classify, resize and store one file; returns a manifest row or a quarantine."""
    try:
        return {"row": _process(candidate, rules, size, Path(images_dir))}
    except IngestError as exc:
        reason, detail = exc.reason, exc.detail
    except Exception as exc:  # one corrupt file must never sink the batch
        reason, detail = "undecodable", f"{type(exc).__name__}: {exc}"
    return {"quarantine": {"path": candidate.path, "reason": reason,
                           "detail": detail.splitlines()[0][:300] if detail else reason}}


def _process(c: Candidate, rules: tuple[ClassRule, ...], size: int, images_dir: Path) -> dict:
    from medshift.data.dicom import read_dicom
    from medshift.data.raster import read_raster

    try:
        data = Path(c.path).read_bytes()
    except OSError as exc:
        raise IngestError("unreadable", f"{type(exc).__name__}: {exc.strerror or exc}") from exc
    if not data:
        raise IngestError("empty", "0 bytes")
    digest = hashlib.sha256(data).hexdigest()
    if Path(c.path).suffix.lower() in RASTER_SUFFIXES:
        pixels, header, spacing = read_raster(Path(c.path), c.source.bone_bright), {}, None
    else:
        decoded = read_dicom(Path(c.path))
        pixels, header, spacing = decoded.pixels, decoded.header, decoded.pixel_spacing_mm
    rule = _rule_for(c, header, rules)
    subject, view = _subject_and_view(c, header)
    image_id = digest[:16]
    stored = np.round(resize_square(pixels, size) * 65535).astype(np.uint16)
    target = images_dir / f"{image_id}.npy"
    tmp = target.with_name(f".{image_id}.{os.getpid()}.tmp.npy")
    np.save(tmp, stored)
    os.replace(tmp, target)
    return {"image_id": image_id, "subject_id": subject, "view": view, "domain": rule.domain,
            "dose": rule.dose, "label": [r.id for r in rules].index(rule.id),
            "class_name": rule.id, "path": c.path, "sha256": digest,
            "rows": int(pixels.shape[0]), "cols": int(pixels.shape[1]),
            "pixel_spacing_mm": spacing, "kvp": _float(header.get("KVP")),
            "exposure_uas": _float(header.get("ExposureInuAs")),
            "modality": header.get("Modality") or "OT",
            "photometric": header.get("PhotometricInterpretation") or "MONOCHROME2",
            "bits_stored": int(header.get("BitsStored") or 8)}


def _rule_for(c: Candidate, header: dict[str, str], rules: tuple[ClassRule, ...]) -> ClassRule:
    if c.given_class is None:
        return classify(header, c.rel, rules)
    for rule in rules:
        if rule.id == c.given_class:
            return rule
    raise IngestError("unknown_class", f"mapping names class {c.given_class!r}")


def _subject_and_view(c: Candidate, header: dict[str, str]) -> tuple[str, str]:
    if header:
        subject = c.given_subject or header.get("PatientID") or Path(c.path).parent.name
        view = c.given_view or view_from_angles(header.get("PositionerPrimaryAngle", ""),
                                                header.get("PositionerSecondaryAngle", ""))
        if view == "UNKNOWN" and header.get("ViewPosition"):
            view = header["ViewPosition"].upper()
        return subject, view
    match = re.search(c.source.subject_pattern, c.rel)
    groups = match.groupdict() if match else {}
    subject = c.given_subject or groups.get("subject") or Path(c.rel).stem
    return subject, (c.given_view or groups.get("view") or "UNKNOWN").upper()


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _task(args):
    return process(*args)


def ingest(cfg: IngestConfig, images_dir: Path, progress: bool = True,
           ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ingest every source; returns (manifest, quarantine) without validating them."""
    images_dir.mkdir(parents=True, exist_ok=True)
    candidates = [c for source in cfg.sources for c in discover(source)]
    tasks = [(c, cfg.classes, cfg.size, str(images_dir)) for c in candidates]
    with tqdm(total=len(tasks), unit="file", desc="ingest", disable=not progress) as bar:
        if cfg.workers > 1 and len(tasks) > 1:
            with ProcessPoolExecutor(cfg.workers) as pool:
                results = []
                for r in pool.map(_task, tasks, chunksize=16):
                    results.append(r)
                    bar.update()
        else:
            results = []
            for t in tasks:
                results.append(_task(t))
                bar.update()
    return _resolve(results, images_dir)


def _resolve(results: list[dict], images_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Quarantine duplicates and (subject, view, class) conflicts in sorted path order."""
    rows, quarantine = [], [r["quarantine"] for r in results if "quarantine" in r]
    seen_hash: dict[str, str] = {}
    seen_key: dict[tuple, str] = {}
    for row in sorted((r["row"] for r in results if "row" in r), key=lambda r: r["path"]):
        key = (row["subject_id"], row["view"], row["class_name"])
        if row["sha256"] in seen_hash:
            quarantine.append({"path": row["path"], "reason": "duplicate",
                               "detail": f"same bytes as {seen_hash[row['sha256']]}"})
        elif key in seen_key:
            quarantine.append({"path": row["path"], "reason": "conflict",
                               "detail": f"{key} already ingested from {seen_key[key]}"})
            (images_dir / f"{row['image_id']}.npy").unlink(missing_ok=True)
        else:
            seen_hash[row["sha256"]], seen_key[key] = row["path"], row["path"]
            rows.append(row)
    manifest = pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS))
    manifest = manifest.sort_values("image_id", kind="stable").reset_index(drop=True)
    qframe = pd.DataFrame(quarantine, columns=list(QUARANTINE_COLUMNS))
    return manifest, qframe.sort_values("path", kind="stable").reset_index(drop=True)


def summary(manifest: pd.DataFrame, quarantine: pd.DataFrame) -> dict:
    """Counts per class and per quarantine reason."""
    return {"ingested": int(len(manifest)), "quarantined": int(len(quarantine)),
            "per_class": {k: int(v) for k, v in Counter(manifest["class_name"]).items()},
            "per_reason": {k: int(v) for k, v in Counter(quarantine["reason"]).items()}}
