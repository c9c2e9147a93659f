"""Data tier: DICOM/raster decoding, ingestion to a manifest, splits, validation."""
