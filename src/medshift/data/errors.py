"""The one error type ingestion quarantines on."""

from __future__ import annotations

REASONS = {
    "unreadable": "the file cannot be opened or read (permissions, broken link, link loop)",
    "empty": "zero-byte file",
    "not_dicom": "not a DICOM file and not a supported raster image",
    "no_pixel_data": "DICOM without Pixel Data",
    "truncated": "pixel data shorter than the header promises",
    "undecodable": "header or pixel data cannot be decoded",
    "multi_frame": "more than one frame (single-frame images only)",
    "unsupported_photometric": "not MONOCHROME1/MONOCHROME2 (e.g. RGB, YBR, palette)",
    "constant": "every pixel has the same value",
    "non_finite": "NaN or infinite pixel values",
    "unknown_class": "no class rule matches the file's standard metadata or path",
    "duplicate": "byte-identical to a file already ingested",
    "conflict": "repeats an ingested (subject, view, class) with different content",
}


class IngestError(Exception):
    """A file that cannot be ingested, with a short reason code and a human detail."""

    def __init__(self, reason: str, detail: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown quarantine reason {reason!r}")
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail
