"""Source trees -> manifest, compact images and a quarantine; every file ends in one of them.

Files are decoded one at a time in worker processes (never all held at full resolution),
resized to the working size and written as ``images/{image_id}.npy`` (uint16, 1/65535 of
the display range). Order-dependent decisions (duplicates, conflicts) are taken afterwards
in sorted path order, so the result does not depend on worker scheduling.
"""

from __future__ import annotations

import hashlib
import os
import re
import traceback
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from medshift.config.ingest import ClassRule, IngestConfig
from medshift.data.dicom import DecodedImage, parse_number
from medshift.data.discover import Candidate, discover
from medshift.data.errors import IngestError
from medshift.data.raster import RASTER_SUFFIXES
from medshift.data.validate import sanitise
from medshift.data.views import view_from_angles

MANIFEST_COLUMNS = ("image_id", "subject_id", "view", "domain", "dose", "label", "class_name",
                    "path", "sha256", "rows", "cols", "pixel_spacing_mm", "kvp",
                    "exposure_uas", "modality", "photometric", "bits_stored")
QUARANTINE_COLUMNS = ("path", "reason", "detail")


class IngestFailure(RuntimeError):
    """Nothing usable was ingested, or the manifest failed validation."""


class OutputError(RuntimeError):
    """The images folder cannot be written: the run stops (never blamed on an input)."""


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


def process(candidate: Candidate, cfg: IngestConfig, images_dir: str) -> dict:
    """Decode, check, classify, resize and store one file.

    Returns ``{"row": manifest row, "notes": [...]}`` or ``{"quarantine": row}``.

    Raises:
        OutputError: the image cannot be written (the run must stop, not the file).
    """
    try:
        row, notes = _process(candidate, cfg, Path(images_dir))
        return {"row": row, "notes": [{"path": candidate.path, "note": n} for n in notes]}
    except IngestError as exc:
        reason, detail = exc.reason, exc.detail
    except OutputError:
        raise
    except Exception as exc:  # one file must never sink the batch; say where it broke
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        reason = "unexpected"
        detail = (f"{type(exc).__name__}: {exc} (at {Path(frame.filename).name}:"
                  f"{frame.lineno} in {frame.name})")
    return {"quarantine": {"path": candidate.path, "reason": reason,
                           "detail": " | ".join(detail.splitlines()) or reason}}


def _decode(c: Candidate, cfg: IngestConfig) -> DecodedImage:
    from medshift.data.dicom import read_dicom
    from medshift.data.raster import read_raster_bits

    path = Path(c.path)
    if path.suffix.lower() in RASTER_SUFFIXES:
        pixels, bits = read_raster_bits(path, c.source.bone_bright, c.source.bits,
                                        cfg.max_pixels)
        return DecodedImage(pixels, {}, None, bits_stored=bits)
    return read_dicom(path, max_pixels=cfg.max_pixels)


def _process(c: Candidate, cfg: IngestConfig, images_dir: Path) -> tuple[dict, list[str]]:
    try:
        data = Path(c.path).read_bytes()
    except OSError as exc:
        raise IngestError("unreadable", f"{type(exc).__name__}: {exc.strerror or exc}") from exc
    if not data:
        raise IngestError("empty", "0 bytes")
    digest = hashlib.sha256(data).hexdigest()
    decoded = _decode(c, cfg)
    header, pixels = decoded.header, decoded.pixels
    rule = _rule_for(c, header, cfg.classes)
    subject, view = _subject_and_view(c, header, decoded.patient_id)
    row = {"image_id": digest[:16], "subject_id": subject, "view": view,
           "domain": rule.domain, "dose": rule.dose, "label": cfg.class_ids.index(rule.id),
           "class_name": rule.id, "path": c.path, "sha256": digest,
           "rows": int(pixels.shape[0]), "cols": int(pixels.shape[1]),
           "pixel_spacing_mm": decoded.pixel_spacing_mm,
           "modality": header.get("Modality") or "OT",
           "photometric": header.get("PhotometricInterpretation") or "MONOCHROME2"}
    notes = list(decoded.notes)
    for column, keyword in (("kvp", "KVP"), ("exposure_uas", "ExposureInuAs"),
                            ("bits_stored", "BitsStored")):
        row[column] = _optional(header, keyword, notes)
    row["bits_stored"] = int(decoded.bits_stored or row["bits_stored"] or 8)  # type: ignore[call-overload]
    row = {column: row[column] for column in MANIFEST_COLUMNS}
    notes += sanitise(row)
    _store(pixels, cfg.size, images_dir / f"{row['image_id']}.npy")
    row["_intent"] = header.get("PresentationIntentType", "").strip().upper()
    return row, notes


def _store(pixels: np.ndarray, size: int, target: Path) -> None:
    stored = np.round(resize_square(pixels, size) * 65535).astype(np.uint16)
    tmp = target.with_name(f".{target.stem}.{os.getpid()}.tmp.npy")
    try:
        np.save(tmp, stored)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from exc


def _rule_for(c: Candidate, header: dict[str, str], rules: tuple[ClassRule, ...]) -> ClassRule:
    if c.given_class is None:
        return classify(header, c.rel, rules)
    for rule in rules:
        if rule.id == c.given_class:
            return rule
    raise IngestError("unknown_class", f"mapping names class {c.given_class!r}")


def _subject_and_view(c: Candidate, header: dict[str, str], patient_id: str
                      ) -> tuple[str, str]:
    folder = Path(c.rel).parent.as_posix()
    if header:
        # without PatientID, the folder relative to the source (never just its last name,
        # which would merge site1/001 and site2/001)
        subject = c.given_subject or patient_id or (folder if folder != "." else
                                                    Path(c.rel).stem)
        view = c.given_view or view_from_angles(header.get("PositionerPrimaryAngle", ""),
                                                header.get("PositionerSecondaryAngle", ""))
        if view == "UNKNOWN" and header.get("ViewPosition"):
            view = header["ViewPosition"].upper()
        return subject, view
    match = re.search(c.source.subject_pattern, c.rel)
    groups = match.groupdict() if match else {}
    subject = c.given_subject or groups.get("subject") or Path(c.rel).stem
    return subject, (c.given_view or groups.get("view") or "UNKNOWN").upper()


def _optional(header: dict[str, str], keyword: str, notes: list[str]) -> float | None:
    """An optional numeric attribute; unparseable text becomes null with a note."""
    text = (header.get(keyword) or "").strip()
    try:
        return parse_number(text.split("\\")[0]) if text else None
    except ValueError:
        notes.append(f"{keyword} {text!r} is not a number: set to null")
        return None


def _task(args):
    return process(*args)


@dataclass(frozen=True)
class IngestResult:
    """Manifest, quarantine, notes on values set to null, and the excluded-file count."""

    manifest: pd.DataFrame
    quarantine: pd.DataFrame
    notes: tuple[dict, ...] = ()
    excluded: int = 0


def collect(cfg: IngestConfig, images_dir: Path, progress: bool = True) -> IngestResult:
    """Ingest every source into ``images_dir`` (no validation, no staging).

    Raises:
        OutputError: an image could not be written.
    """
    images_dir.mkdir(parents=True, exist_ok=True)
    found = [discover(source) for source in cfg.sources]
    candidates = [c for f in found for c in f.candidates]
    tasks = [(c, cfg, str(images_dir)) for c in candidates]
    results = [{"quarantine": q} for f in found for q in f.quarantine]
    with tqdm(total=len(tasks), unit="file", desc="ingest", disable=not progress) as bar:
        if cfg.workers > 1 and len(tasks) > 1:
            with ProcessPoolExecutor(cfg.workers) as pool:
                for r in pool.map(_task, tasks, chunksize=16):
                    results.append(r)
                    bar.update()
        else:
            for t in tasks:
                results.append(_task(t))
                bar.update()
    manifest, quarantine = _resolve(results, images_dir)
    kept = set(manifest["path"])
    notes = tuple(n for r in results for n in r.get("notes", ()) if n["path"] in kept)
    return IngestResult(manifest, quarantine, notes, sum(f.excluded for f in found))


def ingest(cfg: IngestConfig, images_dir: Path, progress: bool = True,
           ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ingest every source; returns (manifest, quarantine) without validating them."""
    result = collect(cfg, images_dir, progress)
    return result.manifest, result.quarantine


_INTENT_RANK = {"FOR PRESENTATION": 0, "": 1, "FOR PROCESSING": 2}


def _resolve(results: list[dict], images_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Quarantine duplicates and (subject, view, class) repeats, FOR PRESENTATION first, then
    in sorted path order, so the result never depends on worker scheduling."""
    rows, quarantine = [], [r["quarantine"] for r in results if "quarantine" in r]
    seen_hash: dict[str, str] = {}
    seen_key: dict[tuple, dict] = {}
    ranked = sorted((r["row"] for r in results if "row" in r),
                    key=lambda r: (_INTENT_RANK.get(r["_intent"], 1), r["path"]))
    for row in ranked:
        key = (row["subject_id"], row["view"], row["class_name"])
        if row["sha256"] in seen_hash:
            reason, detail = "duplicate", f"same bytes as {seen_hash[row['sha256']]}"
        elif key in seen_key:
            kept = seen_key[key]
            if row["_intent"] == "FOR PROCESSING" and kept["_intent"] == "FOR PRESENTATION":
                reason, detail = "for_processing", (f"{key}: the FOR PRESENTATION image "
                                                    f"{kept['path']} is preferred")
            else:
                reason, detail = "conflict", f"{key} already ingested from {kept['path']}"
            (images_dir / f"{row['image_id']}.npy").unlink(missing_ok=True)
        else:
            seen_hash[row["sha256"]], seen_key[key] = row["path"], row
            rows.append({k: v for k, v in row.items() if k != "_intent"})
            continue
        quarantine.append({"path": row["path"], "reason": reason, "detail": detail})
    manifest = pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS))
    manifest = manifest.sort_values("image_id", kind="stable").reset_index(drop=True)
    qframe = pd.DataFrame(quarantine, columns=list(QUARANTINE_COLUMNS))
    return manifest, qframe.sort_values("path", kind="stable").reset_index(drop=True)


def summary(result: IngestResult) -> dict:
    """Counts per class and per quarantine reason, excluded files and nulled values."""
    manifest, quarantine = result.manifest, result.quarantine
    return {"ingested": int(len(manifest)), "quarantined": int(len(quarantine)),
            "excluded_by_params": int(result.excluded),
            "per_class": {k: int(v) for k, v in Counter(manifest["class_name"]).items()},
            "per_reason": {k: int(v) for k, v in Counter(quarantine["reason"]).items()},
            "notes": list(result.notes)}
