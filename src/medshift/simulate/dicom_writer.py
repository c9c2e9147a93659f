"""Single-frame XA DICOM for simulated images (SIMULATOR.md §8), deterministic bytes.

Labels are recoverable from standard tags (ImageType/ConversionType -> domain;
RadiationSetting, ExposureInuAs and processing descriptions -> dose). The private block
``MEDSHIFT_SIM`` carries ground truth for tests only; readers strip it by default.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from medshift import __version__
from medshift.simulate.classes import ImageParams, RealClassSpec, SynClassSpec
from medshift.simulate.geometry import ViewGeometry

XA_STORAGE = "1.2.840.10008.5.1.4.1.1.12.1"
SC_STORAGE = "1.2.840.10008.5.1.4.1.1.7"
PRIVATE_CREATOR = "MEDSHIFT_SIM"


@dataclass(frozen=True)
class ImageIdentity:
    """Who and what an image is: the keys that seed UIDs and dates."""

    seed: int
    subject: int
    view: str
    spec: RealClassSpec | SynClassSpec
    config_digest: str

    def uid(self, *parts: str) -> str:
        return generate_uid(entropy_srcs=[str(self.seed), f"{self.subject}", *parts])


def _study_datetime(ident: ImageIdentity) -> tuple[str, str]:
    h = int(hashlib.sha256(f"{ident.seed}/{ident.subject}".encode()).hexdigest()[:8], 16)
    when = dt.datetime(2024, 1, 1) + dt.timedelta(minutes=h % (365 * 24 * 60))
    return when.strftime("%Y%m%d"), when.strftime("%H%M%S")


def build_dataset(stored: np.ndarray, window: tuple[float, float], ident: ImageIdentity,
                  geom: ViewGeometry, params: ImageParams, series_number: int,
                  synthetic_sop: str = "xa") -> Dataset:
    """The full XA (or SC) dataset for one image; no clock or random UID is read."""
    spec, synthetic = ident.spec, isinstance(ident.spec, SynClassSpec)
    sop_class = SC_STORAGE if synthetic and synthetic_sop == "sc" else XA_STORAGE
    sop_uid = ident.uid(ident.view, spec.name, "SOP")
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class)
    meta.MediaStorageSOPInstanceUID = UID(sop_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationVersionName = f"MEDSHIFT_{__version__}"[:16]
    ds = Dataset()
    ds.file_meta = meta
    date, time = _study_datetime(ident)
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, sop_uid
    ds.StudyInstanceUID = ident.uid("STUDY")
    ds.SeriesInstanceUID = ident.uid(spec.name, "SERIES")
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = date
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = time
    ds.Modality = "OT" if sop_class == SC_STORAGE else "XA"
    ds.ImageType = ["DERIVED", "SECONDARY", "SINGLE PLANE"] if synthetic else [
        "ORIGINAL", "PRIMARY", "SINGLE PLANE"]
    if synthetic:
        ds.ConversionType = "SYN"
    ds.Manufacturer = "MedShift Simulator"
    ds.ManufacturerModelName = ("training-simulator emulation" if synthetic
                                else "C-arm acquisition emulation")
    ds.SoftwareVersions = f"medshift-sim {__version__}"
    ds.PatientName, ds.PatientID = f"SIM^{ident.subject:04d}", f"SIM{ident.subject:04d}"
    ds.PatientBirthDate, ds.PatientSex = "", "O"
    ds.PatientIdentityRemoved, ds.DeidentificationMethod = "YES", "synthetic subject"
    ds.ReferringPhysicianName, ds.AccessionNumber = "", ""
    ds.StudyID = f"{ident.subject:04d}"
    ds.SeriesNumber = series_number
    ds.InstanceNumber = 1
    ds.SeriesDescription, ds.ProtocolName = spec.series, "Head Cerebral"
    ds.AcquisitionDeviceProcessingDescription = spec.processing
    ds.BodyPartExamined, ds.PatientPosition = "HEAD", "HFS"
    ds.PatientOrientation = list(geom.patient_orientation())
    _geometry_tags(ds, geom)
    if isinstance(spec, RealClassSpec):
        _exposure_tags(ds, spec, params)
    ds.Grid = "NONE" if synthetic else "IN"
    ds.BurnedInAnnotation = "NO"
    # set_pixel_data would otherwise replace our deterministic SOP Instance UID by a random one
    ds.set_pixel_data(stored.astype(np.uint16), photometric_interpretation="MONOCHROME2",
                      bits_stored=12, generate_instance_uid=False)
    spacing = geom.pixel_mm(stored.shape[0])
    ds.ImagerPixelSpacing = [f"{spacing:.4f}", f"{spacing:.4f}"]
    ds.PixelIntensityRelationship = "LIN" if synthetic else "DISP"
    ds.PixelIntensityRelationshipSign = 1
    ds.WindowCenter, ds.WindowWidth = window
    _private_truth(ds, ident)
    return ds


def _geometry_tags(ds: Dataset, geom: ViewGeometry) -> None:
    ds.DistanceSourceToDetector = f"{geom.sid_cm * 10:.1f}"
    ds.DistanceSourceToPatient = f"{geom.sod_cm * 10:.1f}"
    ds.EstimatedRadiographicMagnificationFactor = f"{geom.magnification:.4f}"
    ds.PositionerPrimaryAngle = f"{geom.primary_deg:.2f}"
    ds.PositionerSecondaryAngle = f"{geom.secondary_deg:.2f}"
    ds.PositionerMotion, ds.PositionerType = "STATIC", "CARM"


def _exposure_tags(ds: Dataset, spec: RealClassSpec, p: ImageParams) -> None:
    ds.KVP = f"{p.kvp:.1f}"
    ds.XRayTubeCurrent = int(round(spec.tube_ma))
    ds.ExposureTime = int(round(spec.pulse_ms))
    exposure_uas = spec.tube_ma * spec.pulse_ms * p.dose_ngy / np.mean(spec.dose_ngy)
    ds.ExposureInuAs = int(round(exposure_uas))
    ds.Exposure = int(round(exposure_uas / 1000))
    ds.AveragePulseWidth = f"{spec.pulse_ms:.1f}"
    ds.RadiationSetting, ds.RadiationMode = spec.radiation_setting, "PULSED"
    ds.CineRate = int(round(spec.cine_rate))
    ds.FrameTime = f"{1000 / spec.cine_rate:.1f}"
    ds.FilterType = "SPECTRAL"
    ds.FilterMaterial = ["COPPER", "ALUMINUM"]
    ds.FilterThicknessMinimum = [f"{p.cu_mm:g}", "1.0"]
    ds.FilterThicknessMaximum = [f"{p.cu_mm:g}", "1.0"]
    ds.FocalSpots = f"{spec.focal_spot_mm:g}"
    ds.IntensifierSize = "480"
    ds.FieldOfViewShape = "RECTANGLE"
    ds.DetectorType = "SCINTILLATOR"
    ds.EntranceDoseInmGy = f"{p.dose_ngy * 0.2 / 1000:.4f}"


def _private_truth(ds: Dataset, ident: ImageIdentity) -> None:
    block = ds.private_block(0x0009, PRIVATE_CREATOR, create=True)
    spec = ident.spec
    for offset, value in enumerate((spec.domain, spec.dose, f"{ident.subject:04d}", ident.view,
                                    f"{ident.subject:04d}_{ident.view}", str(ident.seed),
                                    ident.config_digest, spec.name)):
        block.add_new(0x10 + offset, "LO", value)


def write_atomic(ds: Dataset, path: Path) -> None:
    """Write with preamble and file meta, via a temporary file and rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    ds.save_as(tmp, enforce_file_format=True)
    os.replace(tmp, path)
