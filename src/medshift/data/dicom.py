"""DICOM decoding (the project's only pydicom reader) to the display convention.

Display convention: float32 in [0, 1], bone bright (``display.py`` gives the order of
operations). Private tags are stripped before anything else reads the header, so labels can
never leak from them. Attributes are read tolerantly: a decimal comma (``0,1431``) is read
as a decimal point; an optional attribute that still cannot be parsed becomes null with a
note; one the pixels depend on quarantines the file as ``bad_metadata`` naming it.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medshift.data.display import DisplayAttributes, Lut, inverted, to_display
from medshift.data.errors import IngestError
from medshift.data.guards import check_deflated, codestream_size

HEADER_FIELDS = ("PatientID", "Modality", "PhotometricInterpretation", "BitsStored", "KVP",
                 "ExposureInuAs", "PositionerPrimaryAngle", "PositionerSecondaryAngle",
                 "ViewPosition", "PresentationIntentType")
MAX_PIXELS = 8192 * 8192  # per frame; larger declared images are refused before decoding
_BINARY_VRS = ("OB", "OW", "OF", "OD", "OL", "OV", "UN", "SQ")


@dataclass(frozen=True)
class DecodedImage:
    """Pixels in the display convention plus the standard metadata ingestion uses."""

    pixels: np.ndarray  # float32 (H, W) in [0, 1], bone bright
    header: dict[str, str]  # DICOM keyword -> value as text ("" if absent)
    pixel_spacing_mm: float | None
    patient_id: str = ""  # PatientID[@IssuerOfPatientID], never merged by lossy decoding
    notes: tuple[str, ...] = ()  # optional attributes set to null, and why
    bits_stored: int | None = None  # rasters: the bits of the full scale (raster.py)


def parse_number(text: str) -> float:
    """A DS/IS value as float; a single decimal comma (``0,1431``) counts as a point.

    Raises:
        ValueError: not a number.
    """
    text = text.strip()
    if text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")
    return float(text)


def read_dicom(path: Path, keep_private: bool = False,
               max_pixels: int = MAX_PIXELS) -> DecodedImage:
    """Decode one single-frame grayscale DICOM file.

    Args:
        path: the file.
        keep_private: keep private tags in ``header`` (tests only: labels may hide there).
        max_pixels: largest Rows x Columns decoded; larger images are refused unread.

    Returns:
        The decoded image, (H, W) float32 in [0, 1], bone bright.

    Raises:
        IngestError: with a reason code from ``errors.REASONS``.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns per invalid value; notes say what
        check_deflated(path, max_pixels)
        ds = _read_dataset(path)
        try:
            patient_id = _patient_id(ds)
            if not keep_private:
                ds.remove_private_tags()
            header, notes = _header(ds)
        except Exception as exc:  # a header too corrupt to walk at all
            raise IngestError("undecodable", f"header: {type(exc).__name__}: {exc}") from exc
        _check_image(ds, max_pixels)
        raw = _pixels(ds)
        attrs = _display_attributes(ds)
        spacing, spacing_notes = _spacing(ds)
    return DecodedImage(to_display(raw, attrs), header, spacing, patient_id,
                        tuple(notes) + spacing_notes)


def displays_inverted(ds) -> bool:
    """Whether a data set with no Modality/VOI LUT and a non-negative slope shows bone
    bright as ``1 - value``: the reader's one polarity decision (``display.inverted``), for
    writers that must store values this reader displays as intended.

    Raises:
        IngestError: bad_metadata, when the polarity attributes cannot be parsed.
    """
    return inverted(_display_attributes(ds))


def _read_dataset(path: Path):
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                return pydicom.dcmread(path)
            except InvalidDicomError:
                ds = pydicom.dcmread(path, force=True)  # raw data set without file meta
                if "PixelData" not in ds or "Rows" not in ds:
                    raise IngestError("not_dicom", "no DICOM preamble/prefix and no image "
                                      "attributes when read as a raw data set") from None
                return ds
    except IngestError:
        raise
    except (OSError, EOFError) as exc:
        raise IngestError("unreadable", str(exc)) from exc
    except Exception as exc:  # pydicom raises many types for corrupt headers
        raise IngestError("not_dicom", f"{type(exc).__name__}: {exc}") from exc


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value)


def _raw_text(ds, tag) -> str:
    """An element's bytes as text, for values pydicom cannot convert."""
    value = getattr(ds.get_item(tag), "value", b"")
    return value.decode("latin-1").strip(" \x00") if isinstance(value, bytes) else _text(value)


def _element(ds, keyword: str) -> str | None:
    """An element's value as text (None if absent), raw text where conversion fails."""
    if keyword not in ds:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _text(ds[keyword].value).strip()
    except Exception:
        return _raw_text(ds, keyword)


def _header(ds) -> tuple[dict[str, str], list[str]]:
    header, notes = {}, []
    for tag in list(ds.keys()):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                el = ds[tag]
                if el.VR in _BINARY_VRS:
                    continue
                header[el.keyword or str(el.tag)] = _text(el.value)
        except Exception as exc:
            from pydicom.datadict import keyword_for_tag

            keyword = keyword_for_tag(tag) or str(tag)
            header[keyword] = _raw_text(ds, tag)
            notes.append(f"{keyword} kept as raw text ({type(exc).__name__})")
    return header, notes


def _patient_id(ds) -> str:
    """PatientID decoded strictly, qualified by Issuer of Patient ID when given (one id in
    two issuers' namespaces is two patients); a lossy decoding keeps a hash of the raw bytes,
    so two ids that only differ in undecodable bytes never become one subject."""
    issuer = _element(ds, "IssuerOfPatientID")
    pid = _patient_text(ds)
    return f"{pid}@{issuer}" if pid and issuer else pid


def _patient_text(ds) -> str:
    from pydicom.charset import convert_encodings, decode_bytes
    from pydicom.dataelem import RawDataElement

    item = ds.get_item("PatientID") if "PatientID" in ds else None
    if not isinstance(item, RawDataElement) or not isinstance(item.value, bytes):
        return _element(ds, "PatientID") or ""
    raw = item.value.rstrip(b" \x00")
    if raw.isascii():
        return raw.decode("ascii").strip()
    charsets = _element(ds, "SpecificCharacterSet") or "ISO_IR 6"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # pydicom warns, then replaces, when lossy
            return decode_bytes(raw, convert_encodings(charsets.split("\\")), set()).strip()
    except Exception:
        lossy = raw.decode("ascii", errors="replace").strip()
        return f"{lossy}#{hashlib.sha256(raw).hexdigest()[:8]}"


def _int(ds, keyword: str, default: int | None = None) -> int | None:
    text = _element(ds, keyword)
    if not text:
        return default
    try:
        return int(parse_number(text.split("\\")[0]))
    except ValueError:
        raise IngestError("bad_metadata", f"{keyword} {text!r} is not an integer") from None


def _floats(ds, keyword: str) -> list[float] | None:
    """Every value of a numeric attribute, or None if absent; bad_metadata if unparseable."""
    text = _element(ds, keyword)
    if not text:
        return None
    try:
        return [parse_number(v) for v in text.split("\\") if v.strip()]
    except ValueError:
        raise IngestError("bad_metadata", f"{keyword} {text!r} is not a number") from None


def _check_image(ds, max_pixels: int) -> None:
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise IngestError("no_pixel_data", f"SOP class {ds.get('SOPClassUID', '?')}")
    frames = _int(ds, "NumberOfFrames", 1) or 1
    if frames > 1:
        raise IngestError("multi_frame", f"{frames} frames")
    photometric = (_element(ds, "PhotometricInterpretation") or "").upper()
    if photometric not in ("MONOCHROME1", "MONOCHROME2") or _int(ds, "SamplesPerPixel", 1) != 1:
        raise IngestError("unsupported_photometric", photometric or "missing")
    rows, cols = _int(ds, "Rows", 0) or 0, _int(ds, "Columns", 0) or 0
    if rows * cols > max_pixels:
        raise IngestError("too_large", f"Rows x Columns {rows} x {cols} exceeds the limit of "
                          f"{max_pixels} pixels; not decoded")
    tsyntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if tsyntax is not None and tsyntax.is_encapsulated and "PixelData" in ds:
        size = codestream_size(bytes(ds.PixelData[:65536]))  # the first fragment's header
        if size is not None and size != (rows, cols):
            raise IngestError("header_mismatch", f"the compressed frame declares {size[0]} x "
                              f"{size[1]} pixels but Rows x Columns is {rows} x {cols}; "
                              f"not decoded")


def _pixels(ds) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = ds.pixel_array
    except ValueError as exc:
        reason = "truncated" if "less than expected" in str(exc) else "undecodable"
        raise IngestError(reason, _message(exc)) from exc
    except Exception as exc:
        raise IngestError("undecodable", f"{type(exc).__name__}: {_message(exc)}") from exc
    if raw.ndim != 2:
        raise IngestError("multi_frame", f"pixel array shape {raw.shape}")
    return raw


def _message(exc: Exception) -> str:
    """The decoder's whole message on one line."""
    return " | ".join(line.strip() for line in str(exc).splitlines() if line.strip())


def _lut(ds, item, keyword: str) -> Lut:
    """A LUT from a Modality/VOI LUT Sequence item (PS3.3 C.11.1.1.1, C.11.2.1.1)."""
    try:
        n, first, _bits = (int(v) for v in item.LUTDescriptor)
        data = item.LUTData
    except Exception as exc:
        raise IngestError("bad_metadata", f"{keyword} LUT Descriptor/Data: {exc}") from exc
    n = n or 65536
    if _int(ds, "PixelRepresentation", 0) == 1 and first >= 32768:
        first -= 65536  # the descriptor's second value is signed for signed pixels
    if isinstance(data, bytes):
        order = "<" if getattr(ds, "is_little_endian", True) in (True, None) else ">"
        table = np.frombuffer(data, f"{order}u2" if len(data) >= 2 * n else "u1")
    else:
        table = np.atleast_1d(np.asarray(data))
    if len(table) < n:
        raise IngestError("bad_metadata", f"{keyword} has {len(table)} LUT entries, its "
                          f"LUT Descriptor says {n}")
    return Lut(first, table[:n].astype(np.int64))


def _display_attributes(ds) -> DisplayAttributes:
    sign = _int(ds, "PixelIntensityRelationshipSign")
    slope, intercept = _floats(ds, "RescaleSlope"), _floats(ds, "RescaleIntercept")
    centre, width = _floats(ds, "WindowCenter"), _floats(ds, "WindowWidth")
    shape = (_element(ds, "PresentationLUTShape") or "").upper() or None
    modality = voi = None
    if ds.get("ModalityLUTSequence"):
        modality = _lut(ds, ds.ModalityLUTSequence[0], "ModalityLUTSequence")
    if ds.get("VOILUTSequence"):
        voi = _lut(ds, ds.VOILUTSequence[0], "VOILUTSequence")
    plut = None
    if ds.get("PresentationLUTSequence"):
        plut = _lut(ds, ds.PresentationLUTSequence[0], "PresentationLUTSequence")
    if slope and slope[0] == 0:
        raise IngestError("bad_metadata", "RescaleSlope is 0 (every pixel would be equal)")
    pad = [_signed(ds, v) for v in _floats(ds, "PixelPaddingValue") or []]
    limit = [_signed(ds, v) for v in _floats(ds, "PixelPaddingRangeLimit") or []]
    padding = None if not pad else (pad[0], limit[0] if limit else pad[0])
    if centre and width and width[0] <= 0:
        raise IngestError("bad_metadata", f"WindowWidth {width[0]:g} is not positive")
    win = (centre[0], width[0]) if centre and width else None
    return DisplayAttributes(
        photometric=(_element(ds, "PhotometricInterpretation") or "").upper(),
        sign=sign if sign in (1, -1) else None, presentation_shape=shape,
        slope=slope[0] if slope else 1.0, intercept=intercept[0] if intercept else 0.0,
        modality_lut=modality, voi_lut=voi, window=win,
        voi_function=(_element(ds, "VOILUTFunction") or "LINEAR").upper(), padding=padding,
        presentation_lut=plut)


def _signed(ds, value: float) -> float:
    """A padding value written as US for signed pixels, read back as the signed value."""
    bits = _int(ds, "BitsAllocated", 16) or 16
    if _int(ds, "PixelRepresentation", 0) == 1 and value >= 2 ** (bits - 1):
        return value - 2 ** bits
    return value


def _spacing(ds) -> tuple[float | None, tuple[str, ...]]:
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        text = _element(ds, keyword)
        if text:
            try:
                return parse_number(text.split("\\")[0]), ()
            except ValueError:
                return None, (f"{keyword} {text!r} is not a number: set to null",)
    return None, ()
