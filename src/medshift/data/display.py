"""The DICOM grayscale display pipeline (PS3.3 C.11, C.7.6.3.1.2, C.7.5.1.1.2) as pure numpy.

Order of operations, each step once:

1. pixel padding (Pixel Padding Value, optionally up to Pixel Padding Range Limit, in stored
   units) is masked: excluded from every range and set to the background (0) at the end;
2. modality LUT: the Modality LUT Sequence when present, else Rescale Slope/Intercept;
3. VOI: the first VOI LUT Sequence item, else the first Window Center/Width pair with its
   VOI LUT Function (LINEAR, LINEAR_EXACT, SIGMOID), else the range of the unpadded pixels;
4. polarity, decided once: the project's convention is "bone bright", i.e. less X-ray
   intensity at the detector displays bright. Pixel Intensity Relationship Sign is the
   physical statement (+1: lower stored value = less intensity), so when present it decides,
   with the direction of the LUTs applied in 2-3 taken into account; without it MONOCHROME1,
   Presentation LUT Shape INVERSE and a decreasing Presentation LUT Sequence each mean
   "display inverted" and are one inversion together, never two. A Presentation LUT
   Sequence's curve (made increasing) is applied to the VOI output either way.

LUTs are applied here, not with ``pydicom.pixels.apply_voi`` / ``apply_modality_lut``: for a
LUT Descriptor of 8 bits per entry pydicom builds its index array in the entries' dtype
(uint8), so indices above 255 wrap and a 4096-entry LUT scrambles the image; its modality
LUT builds ``uint{bits}`` types that do not exist for 10-14 bits; and both refuse text with a
decimal comma. Indices here are int64, clipped to the table (PS3.3 C.11.2.1.1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medshift.data.errors import IngestError


@dataclass(frozen=True)
class Lut:
    """A lookup table: ``first`` is the stored value mapped to entry 0 (LUT Descriptor)."""

    first: int
    table: np.ndarray  # (n,) int64 output values


@dataclass(frozen=True)
class DisplayAttributes:
    """The attributes of the grayscale pipeline, already parsed (None: absent)."""

    photometric: str = "MONOCHROME2"
    sign: int | None = None  # Pixel Intensity Relationship Sign, +1 or -1
    presentation_shape: str | None = None  # IDENTITY | INVERSE
    slope: float = 1.0
    intercept: float = 0.0
    modality_lut: Lut | None = None
    voi_lut: Lut | None = None
    window: tuple[float, float] | None = None  # (centre, width), first pair
    voi_function: str = "LINEAR"
    padding: tuple[float, float] | None = None  # inclusive stored-value range
    presentation_lut: Lut | None = None  # Presentation LUT Sequence, first item


def padding_mask(raw: np.ndarray, attrs: DisplayAttributes) -> np.ndarray:
    """(H, W) bool: pixels whose stored value is padding."""
    if attrs.padding is None:
        return np.zeros(raw.shape, bool)
    lo, hi = sorted(attrs.padding)
    return (raw >= lo) & (raw <= hi)


def lookup(values: np.ndarray, lut: Lut) -> np.ndarray:
    """Apply a LUT: inputs below ``first`` take entry 0, above the table its last entry."""
    index = np.clip(np.rint(values).astype(np.int64) - lut.first, 0, len(lut.table) - 1)
    return lut.table[index].astype(np.float64)


def window(values: np.ndarray, centre: float, width: float, function: str) -> np.ndarray:
    """VOI window to [0, 1] (PS3.3 C.11.2.1.2-3).

    LINEAR: ((x - (c - 0.5)) / (w - 1) + 0.5), clipped; LINEAR_EXACT: ((x - c) / w + 0.5),
    clipped; SIGMOID: 1 / (1 + exp(-4 (x - c) / w)).
    """
    if function == "SIGMOID":
        return 1.0 / (1.0 + np.exp(-4.0 * (values - centre) / width))
    if function == "LINEAR_EXACT":
        return np.clip((values - centre) / width + 0.5, 0, 1)
    if width <= 1:  # the standard's LINEAR with w = 1 is a threshold at c - 0.5
        return (values > centre - 0.5).astype(np.float64)
    return np.clip((values - (centre - 0.5)) / (width - 1) + 0.5, 0, 1)


def inverted(attrs: DisplayAttributes, direction: int = 1) -> bool:
    """Whether bone-bright display is ``1 - value`` of the VOI output.

    Args:
        attrs: parsed attributes.
        direction: +1 when the modality and VOI steps preserve the order of stored values,
            -1 when they reverse it (negative slope, decreasing LUT).
    """
    if attrs.sign in (1, -1):
        return (attrs.sign == 1) != (direction < 0)
    return (attrs.photometric == "MONOCHROME1" or attrs.presentation_shape == "INVERSE"
            or _direction(attrs.presentation_lut) < 0)


def presentation_curve(display: np.ndarray, lut: Lut) -> np.ndarray:
    """A Presentation LUT's curve on [0, 1] VOI output, made increasing (its direction is
    part of the polarity decision, ``inverted``)."""
    n = len(lut.table)
    out = lut.table[np.rint(display * (n - 1)).astype(np.int64)].astype(np.float64)
    lo, hi = float(lut.table.min()), float(lut.table.max())
    curve = (out - lo) / max(hi - lo, 1e-12)
    return 1 - curve if _direction(lut) < 0 else curve


def _direction(lut: Lut | None) -> int:
    return -1 if lut is not None and lut.table[-1] < lut.table[0] else 1


def to_display(raw: np.ndarray, attrs: DisplayAttributes) -> np.ndarray:
    """Stored pixels to the display convention.

    Args:
        raw: (H, W) stored values (integers as decoded, before any LUT).
        attrs: the parsed grayscale-pipeline attributes.

    Returns:
        (H, W) float32 in [0, 1], bone bright, padding 0.

    Raises:
        IngestError: ``non_finite``, or ``constant`` when no contrast is left.
    """
    pad = padding_mask(raw, attrs)
    if attrs.modality_lut is not None:
        values, direction = lookup(raw, attrs.modality_lut), _direction(attrs.modality_lut)
    else:
        values = raw.astype(np.float64) * attrs.slope + attrs.intercept
        direction = -1 if attrs.slope < 0 else 1
    if not np.isfinite(values).all():
        raise IngestError("non_finite", f"{int((~np.isfinite(values)).sum())} pixels")
    kept = values[~pad]
    if kept.size == 0:
        raise IngestError("constant", "every pixel is padding")
    if kept.max() == kept.min():
        raise IngestError("constant", f"every unpadded pixel is {kept.flat[0]:g}")
    if attrs.voi_lut is not None:
        out = lookup(values, attrs.voi_lut)
        lo, hi = float(attrs.voi_lut.table.min()), float(attrs.voi_lut.table.max())
        display = (out - lo) / max(hi - lo, 1e-12)
        direction *= _direction(attrs.voi_lut)
    elif attrs.window is not None:
        display = window(values, *attrs.window, attrs.voi_function)
    else:
        display = (values - kept.min()) / (kept.max() - kept.min())
    display = np.clip(display, 0, 1)
    if attrs.presentation_lut is not None:
        display = presentation_curve(display, attrs.presentation_lut)
    if inverted(attrs, direction):
        display = 1 - display
    display[pad] = 0
    shown = display[~pad]
    if shown.max() == shown.min():
        raise IngestError("constant", "constant after the VOI LUT or window")
    return display.astype(np.float32)
