"""Decoding matrix: transfer syntaxes, photometric, modality and VOI LUT, polarity."""

from __future__ import annotations

import warnings

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from medshift.data.dicom import read_dicom
from medshift.data.errors import IngestError

from .dicom_factory import make_dicom, ramp

LOSSLESS_MR = ["MR_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm",
               "MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm"]


@pytest.mark.parametrize("name", LOSSLESS_MR)
def test_lossless_transfer_syntaxes_decode_to_the_same_image(name):
    reference = read_dicom(get_testdata_file("MR_small.dcm")).pixels
    decoded = read_dicom(get_testdata_file(name)).pixels
    assert decoded.shape == (64, 64) and decoded.dtype == np.float32
    np.testing.assert_allclose(decoded, reference, atol=1e-6)


@pytest.mark.parametrize("name", ["image_dfl.dcm", "JPEG2000.dcm", "JPGExtended.dcm",
                                  "JPEGLSNearLossless_16.dcm", "CT_small.dcm"])
def test_compressed_and_other_syntaxes_decode_faithfully(name):
    path = get_testdata_file(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = pydicom.dcmread(path).pixel_array.astype(float)
    decoded = read_dicom(path).pixels
    assert decoded.shape == raw.shape and 0 <= decoded.min() < decoded.max() <= 1
    unclipped = (decoded > 0) & (decoded < 1)
    assert abs(np.corrcoef(decoded[unclipped], raw[unclipped])[0, 1]) > 0.99


def test_jpeg_lossless_sv1_decodes_with_pylibjpeg():
    # the only bundled SV1 file is RGB, which ingestion refuses; the codec must still work
    ds = pydicom.dcmread(get_testdata_file("SC_rgb_jpeg_gdcm.dcm"))
    assert ds.pixel_array.shape == (100, 100, 3)
    with pytest.raises(IngestError) as err:
        read_dicom(get_testdata_file("SC_rgb_jpeg_gdcm.dcm"))
    assert err.value.reason == "unsupported_photometric"


def test_monochrome1_is_inverted(tmp_path):
    m2 = read_dicom(make_dicom(tmp_path / "m2.dcm", ramp())).pixels
    m1 = read_dicom(make_dicom(tmp_path / "m1.dcm", ramp(), "MONOCHROME1")).pixels
    np.testing.assert_allclose(m1, 1 - m2, atol=1e-6)
    assert m2[-1, -1] == pytest.approx(1.0) and m1[-1, -1] == pytest.approx(0.0)


def test_rescale_then_window_in_rescaled_units(tmp_path):
    raw = ramp()  # 0..1023
    path = make_dicom(tmp_path / "ct.dcm", raw, RescaleSlope=2, RescaleIntercept=-1000,
                      WindowCenter=0, WindowWidth=1000)
    out = read_dicom(path).pixels
    value = 2 * raw.astype(float) - 1000  # -1000..1046
    expected = np.clip((value - (0 - 0.5)) / (1000 - 1) + 0.5, 0, 1)  # PS3.3 C.11.2.1.2.1
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_xa_intensity_sign_plus_one_is_made_bone_bright(tmp_path):
    plain = read_dicom(make_dicom(tmp_path / "a.dcm", ramp())).pixels
    xa = read_dicom(make_dicom(tmp_path / "b.dcm", ramp(), PixelIntensityRelationshipSign=1))
    np.testing.assert_allclose(xa.pixels, 1 - plain, atol=1e-6)


def test_private_tags_are_stripped_by_default(simulated_tree):
    path = next(simulated_tree.rglob("real_low/*/PA.dcm"))
    kept = read_dicom(path, keep_private=True).header.values()
    assert "MEDSHIFT_SIM" in kept and "real_low" in kept  # the ground truth is in the file
    stripped = read_dicom(path).header.values()
    assert "MEDSHIFT_SIM" not in stripped and "real_low" not in stripped


def test_raw_dataset_without_file_meta_is_read(tmp_path):
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    path = tmp_path / "raw.dcm"
    ds.save_as(path, enforce_file_format=False, implicit_vr=False, little_endian=True)
    assert read_dicom(path).pixels.shape == (64, 64)
