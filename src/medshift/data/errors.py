"""The one error type ingestion quarantines on, and every reason it may carry."""

from __future__ import annotations

REASONS = {
    "unreadable": "the file cannot be opened or read (permissions, broken link, link loop, "
                  "not a regular file)",
    "empty": "zero-byte file",
    "not_dicom": "not a DICOM file and not a supported raster image",
    "no_pixel_data": "DICOM without Pixel Data",
    "truncated": "pixel data shorter than the header promises",
    "undecodable": "header or pixel data cannot be decoded (the detail keeps the decoder's "
                   "whole message)",
    "bad_metadata": "a standard attribute the pixels depend on cannot be parsed (the detail "
                    "names it)",
    "too_large": "declared image size above params.ingest.max_pixels; refused before decoding",
    "too_small": "fewer rows or columns than an image needs (MIN_SIDE)",
    "header_mismatch": "a compressed frame's own header disagrees with Rows/Columns; refused "
                       "before decoding",
    "multi_frame": "more than one frame or page (single-frame images only)",
    "unsupported_photometric": "not grayscale: RGB/YBR/colour-palette DICOM, or a raster "
                               "whose channels or palette entries differ",
    "constant": "every pixel (padding aside) has the same value",
    "non_finite": "NaN or infinite pixel values",
    "unknown_class": "no class rule matches the file's standard metadata or path",
    "duplicate": "byte-identical to a file already ingested",
    "for_processing": "a FOR PROCESSING image of a (subject, view, class) whose FOR "
                      "PRESENTATION image was ingested",
    "conflict": "repeats an ingested (subject, view, class) with different content",
    "unexpected": "an unexpected error inside MedShift (a bug; the detail names the exception "
                  "and where it was raised)",
}


class IngestError(Exception):
    """A file that cannot be ingested, with a short reason code and a human detail."""

    def __init__(self, reason: str, detail: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown quarantine reason {reason!r}")
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail
