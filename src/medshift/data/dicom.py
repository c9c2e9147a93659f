"""DICOM decoding (the project's only pydicom reader) to the display convention.

Display convention: float32 in [0, 1], bone bright. Steps: modality LUT (rescale), VOI LUT
or linear window, MONOCHROME1 inversion, then inversion when PixelIntensityRelationshipSign
is +1 (XA/RF convention: high value = more X-ray intensity = bone dark). Private tags are
stripped before anything else reads the header, so labels can never leak from them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medshift.data.errors import IngestError

HEADER_FIELDS = ("PatientID", "Modality", "PhotometricInterpretation", "BitsStored", "KVP",
                 "ExposureInuAs", "PositionerPrimaryAngle", "PositionerSecondaryAngle",
                 "ViewPosition")


@dataclass(frozen=True)
class DecodedImage:
    """Pixels in the display convention plus the standard metadata ingestion uses."""

    pixels: np.ndarray  # float32 (H, W) in [0, 1], bone bright
    header: dict[str, str]  # DICOM keyword -> value as text ("" if absent)
    pixel_spacing_mm: float | None


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value)


def read_dicom(path: Path, keep_private: bool = False) -> DecodedImage:
    """Decode one single-frame grayscale DICOM file or raise ``IngestError``."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                ds = pydicom.dcmread(path)
            except InvalidDicomError:
                ds = pydicom.dcmread(path, force=True)  # raw data set without file meta
                if "PixelData" not in ds or "Rows" not in ds:
                    raise IngestError("not_dicom", "no DICOM preamble/prefix and no image "
                                      "attributes when read as a raw data set") from None
    except IngestError:
        raise
    except (OSError, EOFError) as exc:
        raise IngestError("unreadable", str(exc)) from exc
    except Exception as exc:  # pydicom raises many types for corrupt headers
        raise IngestError("not_dicom", f"{type(exc).__name__}: {exc}") from exc
    try:
        if not keep_private:
            ds.remove_private_tags()
        header = _header(ds)
    except Exception as exc:  # lazily parsed elements of a corrupt header
        raise IngestError("undecodable", f"header: {type(exc).__name__}: {exc}") from exc
    return _decode(ds, header)


def _decode(ds, header: dict[str, str]) -> DecodedImage:
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise IngestError("no_pixel_data", f"SOP class {ds.get('SOPClassUID', '?')}")
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        raise IngestError("multi_frame", f"{frames} frames")
    photometric = str(ds.get("PhotometricInterpretation", ""))
    if photometric not in ("MONOCHROME1", "MONOCHROME2") or int(ds.get("SamplesPerPixel", 1)) != 1:
        raise IngestError("unsupported_photometric", photometric or "missing")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = ds.pixel_array
    except ValueError as exc:
        reason = "truncated" if "less than expected" in str(exc) else "undecodable"
        raise IngestError(reason, str(exc).splitlines()[0]) from exc
    except Exception as exc:
        raise IngestError("undecodable", f"{type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else ''}") from exc
    if raw.ndim != 2:
        raise IngestError("multi_frame", f"pixel array shape {raw.shape}")
    return DecodedImage(_to_display(raw, ds, photometric), header, _spacing(ds))


def _to_display(raw: np.ndarray, ds, photometric: str) -> np.ndarray:
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    values = apply_modality_lut(raw, ds).astype(np.float64)
    if not np.isfinite(values).all():
        raise IngestError("non_finite", f"{int((~np.isfinite(values)).sum())} pixels")
    if values.max() == values.min():
        raise IngestError("constant", f"every pixel is {values.flat[0]:g}")
    if "VOILUTSequence" in ds:
        values = apply_voi_lut(values, ds).astype(np.float64)
        lo, hi = values.min(), values.max()
    elif "WindowCenter" in ds and "WindowWidth" in ds:
        centre = float(np.atleast_1d(ds.WindowCenter)[0])
        width = max(float(np.atleast_1d(ds.WindowWidth)[0]), 1.0)
        lo, hi = centre - width / 2, centre + width / 2
    else:
        lo, hi = values.min(), values.max()
    display = np.clip((values - lo) / max(hi - lo, 1e-12), 0, 1)
    if photometric == "MONOCHROME1":
        display = 1 - display
    if int(ds.get("PixelIntensityRelationshipSign", -1) or -1) == 1:
        display = 1 - display  # high = more X-ray intensity (XA/RF): make bone bright
    if display.max() == display.min():
        raise IngestError("constant", "constant after windowing")
    return display.astype(np.float32)


def _header(ds) -> dict[str, str]:
    return {el.keyword or str(el.tag): _text(el.value) for el in ds if el.VR not in (
        "OB", "OW", "OF", "OD", "OL", "OV", "UN", "SQ")}


def _spacing(ds) -> float | None:
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        if keyword in ds and ds.get(keyword):
            return float(np.atleast_1d(ds.get(keyword))[0])
    return None
