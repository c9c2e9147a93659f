"""Build small DICOM files for decoding and quarantine tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid


def make_dicom(path: Path, pixels: np.ndarray, photometric: str = "MONOCHROME2",
               **tags) -> Path:
    """Write a minimal single- or multi-frame file; extra keyword tags are set as given."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[str(path)])
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientID, ds.Modality = "T001", "OT"
    ds.set_pixel_data(pixels, photometric_interpretation=photometric,
                      bits_stored=8 if pixels.dtype == np.uint8 else 16,
                      generate_instance_uid=False)
    for key, value in tags.items():
        setattr(ds, key, value)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def ramp(n: int = 32) -> np.ndarray:
    """A 2-D ramp 0..n*n-1 as uint16 (no two pixels equal)."""
    return np.arange(n * n, dtype=np.uint16).reshape(n, n)


def xray(path: Path, patient: str = "P1", view: str = "PA", seed: int = 0, **tags) -> Path:
    """A 12-bit radiograph the project's class rules file under real_exposure."""
    rng = np.random.default_rng(seed)
    pixels = (rng.random((32, 32)) * 4000).astype(np.uint16)
    base = dict(PatientID=patient, ViewPosition=view, ImageType=["ORIGINAL", "PRIMARY"],
                RadiationSetting="GR", Modality="DX", BitsStored=12, HighBit=11)
    return make_dicom(path, pixels, **{**base, **tags})
