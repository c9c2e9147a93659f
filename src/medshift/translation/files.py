"""User files in and out of translation: DICOM and PNG/TIFF, any size and bit depth.

Inputs are decoded by the ingestion readers (same photometric, rescale and VOI handling) to
the display convention, float32 in [0, 1] with bone bright, and resampled to the model's
working size the way ingestion does (centred zero-padding to a square, area resampling).
Results go back to the input's size; a DICOM result keeps the input's patient, study,
geometry and acquisition attributes and its photometric convention, and becomes a new
DERIVED\\SECONDARY instance in a new series. Every write is atomic.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medshift.data.dicom import displays_inverted, read_dicom
from medshift.data.errors import IngestError
from medshift.data.ingest import resize_square
from medshift.data.raster import RASTER_SUFFIXES, read_raster

DICOM_SUFFIXES = (".dcm", ".dicom", "")
# attributes that map stored values to display: the output stores display values directly
# attributes that name the source acquisition's class or processing, which a translation no
# longer has (ingestion rules read some of them); private tags go too
_SOURCE_CLASS = ("AcquisitionDeviceProcessingDescription", "AcquisitionDeviceProcessingCode",
                 "ConversionType", "RadiationSetting", "SeriesNumber", "InstanceNumber")
_DISPLAY_MAPPING = ("ModalityLUTSequence", "VOILUTSequence", "VOILUTFunction",
                    "PresentationLUTSequence", "PixelPaddingValue", "PixelPaddingRangeLimit",
                    "SmallestImagePixelValue", "LargestImagePixelValue",
                    "WindowCenterWidthExplanation")


@dataclass(frozen=True)
class InputImage:
    """One decoded input.

    Attributes:
        path: the file.
        key: its path relative to the input argument it came from (seeds its noise and
            names its output).
        pixels: (H, W) float32 in [0, 1], bone bright.
        dataset: the pydicom data set (DICOM inputs), else None.
    """

    path: Path
    key: str
    pixels: np.ndarray
    dataset: Any = None


def discover(inputs: list[Path]) -> tuple[list[tuple[Path, str]], list[tuple[Path, str]]]:
    """Files to translate from file and folder arguments, with their keys.

    A folder contributes every file below it (hidden ones excepted), keyed by its path
    relative to the folder; a file argument is keyed by its name. Dangling links are
    reported, never silently skipped.

    Returns:
        ([(file, key)], [(path, reason)] for what cannot be read).
    """
    found, missing = [], []
    for arg in inputs:
        if arg.is_file():
            found.append((arg, arg.name))
        elif arg.is_dir():
            for p in sorted(arg.rglob("*")):
                if p.name.startswith("."):
                    continue
                if p.is_symlink() and not p.exists():
                    missing.append((p, "unreadable: dangling symbolic link"))
                elif p.is_file():
                    found.append((p, p.relative_to(arg).as_posix()))
        else:
            missing.append((arg, "no such file or folder"))
    return found, missing


def read_input(path: Path, key: str) -> InputImage:
    """Decode one input file (PNG/TIFF by suffix, DICOM otherwise).

    Raises:
        IngestError: unreadable or unsupported, with the ingestion's reason code.
    """
    if path.stat().st_size == 0:
        raise IngestError("empty", "zero-byte file")
    if path.suffix.lower() in RASTER_SUFFIXES:
        return InputImage(path, key, read_raster(path))
    decoded = read_dicom(path, keep_private=True)
    import pydicom

    return InputImage(path, key, decoded.pixels, pydicom.dcmread(path, stop_before_pixels=True))


def to_working(pixels: np.ndarray, size: int) -> np.ndarray:
    """(H, W) display image -> (size, size) float32, as ingestion resamples."""
    return resize_square(pixels, size)


def from_working(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Undo ``to_working``: (size, size) -> the padded square's side, cropped to ``shape``."""
    from PIL import Image

    h, w = shape
    side = max(h, w)
    square = Image.fromarray(np.asarray(image, np.float32), mode="F").resize(
        (side, side), Image.Resampling.BICUBIC)
    arr = np.asarray(square)
    top, left = (side - h) // 2, (side - w) // 2
    return np.clip(arr[top:top + h, left:left + w], 0, 1).astype(np.float32)


def output_path(out_dir: Path, key: str, fmt: str) -> Path:
    """Where a result goes: the key's relative path under ``out_dir`` with the format's
    suffix (``.dcm`` or ``.png``)."""
    rel = Path(key)
    return out_dir / rel.with_name(rel.stem + (".dcm" if fmt == "dicom" else ".png"))


def _atomic(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_png(path: Path, image: np.ndarray) -> None:
    """(H, W) float in [0, 1] -> 16-bit grayscale PNG (bone bright), atomically."""
    from PIL import Image

    values = np.round(np.clip(image, 0, 1) * 65535).astype(np.uint16)
    _atomic(path, lambda tmp: Image.fromarray(values).save(tmp, format="PNG"))


def write_dicom(path: Path, image: np.ndarray, source: Any, description: str, series: str,
                uid_entropy: list[str]) -> None:
    """A derived DICOM instance of ``image`` ((H, W) float in [0, 1], bone bright).

    Keeps every attribute of ``source`` but those mapping stored values to display, those
    naming the source's class or processing (and private tags); ``series`` becomes the
    Series Description; stores
    the image uncompressed at the source's bits stored and photometric convention (so it
    displays bone bright like the source, by the reader's own polarity rule), with the
    standard LINEAR window over the full stored range, new SOP Instance and
    Series Instance UIDs (derived deterministically from ``uid_entropy``), ImageType
    DERIVED\\SECONDARY and ``description`` as the Derivation Description.
    """
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ds = copy.deepcopy(source)
    ds.remove_private_tags()
    for keyword in (*_DISPLAY_MAPPING, *_SOURCE_CLASS):
        if keyword in ds:
            delattr(ds, keyword)
    bits = int(ds.get("BitsStored", 16) or 16)
    allocated = int(ds.get("BitsAllocated", 16) or 16)
    top = 2**bits - 1
    if "RescaleSlope" in ds or "RescaleIntercept" in ds:
        ds.RescaleSlope, ds.RescaleIntercept = 1, 0
    display = 1 - image if displays_inverted(ds) else image
    values = np.round(np.clip(display, 0, 1) * top).astype(
        np.uint8 if allocated <= 8 else np.uint16)
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.set_pixel_data(values, photometric_interpretation=str(ds.PhotometricInterpretation),
                      bits_stored=bits)
    # LINEAR window (PS3.3 C.11.2.1.2.1) mapping stored 0 -> 0 and top -> 1 exactly
    ds.WindowCenter, ds.WindowWidth = (top + 1) / 2, top + 1
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.DerivationDescription = description[:1024]
    ds.SeriesDescription = series[:64]
    ds.SOPInstanceUID = generate_uid(entropy_srcs=[*uid_entropy, "instance"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=[*uid_entropy[1:], "series"])
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    _atomic(path, lambda tmp: ds.save_as(tmp, enforce_file_format=True))


def is_supported_error(exc: Exception) -> bool:
    """Errors that skip one input (its own fault), as opposed to bugs."""
    return isinstance(exc, IngestError | OSError | ValueError)
