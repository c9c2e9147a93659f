"""PNG/TIFF/JPEG/BMP/GIF decoding to the display convention (Pillow), by image mode.

Rules (README "Ingesting your own data"):
- ``1``, ``L``, ``LA``: grey; an alpha channel is not intensity and is ignored.
- ``P``, ``PA`` (palette): each index is replaced by its palette colour, so intensities are
  the palette's, never the indices; a palette whose entries are not grey is colour.
- ``RGB`` and the other colour modes: grey when every pixel's channels are equal, else the
  file is quarantined ``unsupported_photometric`` (a radiograph is never colour; a colour
  file is more likely a photo, a screenshot or an annotated export than an X-ray).
- ``I;16`` and friends, ``I``: integers whose full scale is the bits actually used: the
  source's ``bits`` when set, else the PNG ``sBIT`` chunk, else the smallest of 8, 10, 12,
  14, 16 bits that holds the largest value (as DICOM's Bits Stored; a 12-bit detector image
  in a 16-bit PNG is 0..4095, not 0..65535). Negative values: the image's min..max.
- ``F``: floats in [0, 1] are kept, others are scaled by the image's min..max.
- TIFF PhotometricInterpretation WhiteIsZero (the raster MONOCHROME1): inverted once, by
  Pillow for 1- and 8-bit images (raw mode ``;I``), here for the others.
- Containers of several images (multi-page TIFF, animated PNG/GIF, MPO) are ``multi_frame``,
  as multi-frame DICOM is.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from medshift.data.dicom import MAX_PIXELS
from medshift.data.errors import IngestError

RASTER_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp", ".gif")
BIT_DEPTHS = (8, 10, 12, 14, 16)
_GREY_8 = ("1", "L", "LA", "La")
_INTEGER = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def read_raster(path: Path, bone_bright: bool = True, bits: int | None = None,
                max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """(H, W) float32 in [0, 1], bone bright: ``read_raster_bits`` without the bits."""
    return read_raster_bits(path, bone_bright, bits, max_pixels)[0]


def read_raster_bits(path: Path, bone_bright: bool = True, bits: int | None = None,
                     max_pixels: int = MAX_PIXELS) -> tuple[np.ndarray, int | None]:
    """Decode one raster image.

    Args:
        path: the file.
        bone_bright: False when the files show bone dark (the result is inverted).
        bits: full scale of integer images in bits (None: detected, see module docstring).
        max_pixels: largest width x height decoded; larger images are refused unread.

    Returns:
        (H, W) float32 in [0, 1], bone bright, and the bits of its full scale (None when
        the image's own min..max is the scale: floats, negative integers).

    Raises:
        IngestError: not_dicom, unreadable, truncated, too_large, multi_frame,
            unsupported_photometric, non_finite, constant, bad_metadata.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's own bomb warning: our limit decides
            with Image.open(path) as img:
                width, height = img.size
                if width * height > max_pixels:
                    raise IngestError("too_large", f"{width} x {height} pixels exceeds the "
                                      f"limit of {max_pixels}; not decoded")
                frames = getattr(img, "n_frames", 1)
                if frames > 1:
                    raise IngestError("multi_frame", f"{frames} images in one {img.format} "
                                      f"file")
                white_is_zero = _white_is_zero(img)
                img.load()
                values, full = _grey(img, bits, path)
                if white_is_zero:
                    values = (full if full else values.max() + values.min()) - values
    except IngestError:
        raise
    except Image.DecompressionBombError as exc:
        raise IngestError("too_large", str(exc)) from exc
    except (UnidentifiedImageError, SyntaxError) as exc:
        raise IngestError("not_dicom", f"not a readable raster image: {exc}") from exc
    except OSError as exc:
        reason = "truncated" if "truncated" in str(exc).lower() else "unreadable"
        raise IngestError(reason, str(exc)) from exc
    if not np.isfinite(values).all():
        raise IngestError("non_finite", f"{int((~np.isfinite(values)).sum())} pixels")
    if values.max() == values.min():
        raise IngestError("constant", f"every pixel is {values.flat[0]:g}")
    lo, hi = (0.0, full) if full else (values.min(), values.max())
    display = np.clip((values - lo) / (hi - lo), 0, 1)
    used = int(np.log2(full + 1)) if full and full > 1 else None
    return (display if bone_bright else 1 - display).astype(np.float32), used


def _grey(img, bits: int | None, path: Path) -> tuple[np.ndarray, float | None]:
    """(H, W) float64 intensities and their full scale (None: use min..max)."""
    mode = img.mode
    if mode in _GREY_8:
        values = np.asarray(img.convert("L"), np.float64)
        return values, _full(values.max(), bits, 8)
    if mode in _INTEGER or mode.startswith("I;"):
        values = np.asarray(img).astype(np.float64)
        if values.min() < 0:
            return values, None
        detected = _png_sbit(path) or next(
            (b for b in BIT_DEPTHS if values.max() < 2 ** b), 16)
        return values, _full(values.max(), bits, detected)
    if mode == "F":
        values = np.asarray(img, np.float64)
        finite = values[np.isfinite(values)]
        inside = finite.size and finite.min() >= 0 and finite.max() <= 1
        return values, 1.0 if inside else None
    rgb = np.asarray(img.convert("RGB"))  # palettes resolve through their colours here
    if not (np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1],
                                                                         rgb[..., 2])):
        kind = "colour palette" if mode in ("P", "PA") else "colour image"
        raise IngestError("unsupported_photometric", f"{kind} (mode {mode})")
    values = rgb[..., 0].astype(np.float64)
    return values, _full(values.max(), bits, 8)


def _white_is_zero(img) -> bool:
    """TIFF WhiteIsZero that Pillow's decoder does not invert itself."""
    if img.format != "TIFF" or img.tag_v2.get(262) != 0:
        return False
    return not any(str(tile.args[0]).endswith(";I") for tile in img.tile)


def _full(largest: float, bits: int | None, detected: int) -> float:
    depth = bits or detected
    if largest > 2 ** depth - 1:
        raise IngestError("bad_metadata", f"pixel value {largest:g} exceeds {depth} bits "
                          f"(params ingest.sources[].bits)")
    return float(2 ** depth - 1)


def _png_sbit(path: Path) -> int | None:
    """Significant bits of a grayscale PNG (sBIT chunk, before IDAT), if recorded."""
    with open(path, "rb") as fh:
        head = fh.read(65536)
    if not head.startswith(b"\x89PNG"):
        return None
    pos = 8
    while pos + 8 <= len(head):
        length = int.from_bytes(head[pos:pos + 4], "big")
        kind = head[pos + 4:pos + 8]
        if kind == b"IDAT":
            return None
        if kind == b"sBIT" and length >= 1:
            return int(head[pos + 8])
        pos += 12 + length
    return None
