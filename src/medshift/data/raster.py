"""PNG/TIFF decoding to the display convention (Pillow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medshift.data.errors import IngestError

RASTER_SUFFIXES = (".png", ".tif", ".tiff")


def read_raster(path: Path, bone_bright: bool = True) -> np.ndarray:
    """Grayscale float32 in [0, 1] (bone bright); RGB with unequal channels is refused."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            mode = img.mode
            arr = np.asarray(img)
    except (UnidentifiedImageError, SyntaxError) as exc:
        raise IngestError("not_dicom", f"not a readable PNG/TIFF: {exc}") from exc
    except OSError as exc:
        reason = "truncated" if "truncated" in str(exc).lower() else "unreadable"
        raise IngestError(reason, str(exc)) from exc
    if arr.ndim == 3:
        if arr.shape[2] >= 3 and not (np.array_equal(arr[..., 0], arr[..., 1])
                                      and np.array_equal(arr[..., 1], arr[..., 2])):
            raise IngestError("unsupported_photometric", f"colour image (mode {mode})")
        arr = arr[..., 0]
    values = arr.astype(np.float64)
    if not np.isfinite(values).all():
        raise IngestError("non_finite", f"{int((~np.isfinite(values)).sum())} pixels")
    if values.max() == values.min():
        raise IngestError("constant", f"every pixel is {values.flat[0]:g}")
    full = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(arr.dtype)
    display = values / full if full else (values - values.min()) / (values.max() - values.min())
    return (display if bone_bright else 1 - display).astype(np.float32)
