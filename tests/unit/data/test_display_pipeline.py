"""Kind A: the DICOM grayscale pipeline in the standard's order, on small generated files.

Each phantom has air, soft tissue and bone; "right" means bone brighter than tissue brighter
than air, the full [0, 1] range used when no window narrows it, padding at 0.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from pydicom.dataset import Dataset

from medshift.data.dicom import read_dicom
from medshift.data.display import Lut, lookup, window
from medshift.data.errors import IngestError

from .dicom_factory import make_dicom, ramp


def phantom(bone_low: bool, n: int = 48) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """12-bit stored values; attenuation air 300, tissue ~2000, bone ~3500 with gradients.

    ``bone_low``: bone has the lowest stored values (less X-ray intensity = lower value).
    """
    yy, xx = np.mgrid[:n, :n]
    r = np.hypot(yy - n / 2, xx - n / 2)
    air, bone = r > n * 0.4, r < n * 0.15
    tissue = ~air & ~bone
    atten = np.where(air, 300, np.where(bone, 3500, 2000)) + (xx % 7) * 10
    stored = (4095 - atten) if bone_low else atten
    return stored.astype(np.uint16), {"air": air, "tissue": tissue, "bone": bone}


def assert_bone_bright(img: np.ndarray, regions: dict[str, np.ndarray]) -> None:
    bone, tissue, air = (img[regions[k]].mean() for k in ("bone", "tissue", "air"))
    assert bone > tissue + 0.2 > air + 0.4, (bone, tissue, air)


def expected_inversion(photometric: str, sign: int | None, shape: str | None) -> bool:
    """The documented rule: the sign is physical and decides; else M1/INVERSE, once."""
    if sign is not None:
        return sign == 1
    return photometric == "MONOCHROME1" or shape == "INVERSE"


COMBOS = list(itertools.product(["MONOCHROME1", "MONOCHROME2"], [None, 1, -1],
                                [None, "IDENTITY", "INVERSE"], [False, True]))


@pytest.mark.parametrize(("photometric", "sign", "shape", "windowed"), COMBOS)
def test_polarity_is_decided_once_for_every_combination(tmp_path, photometric, sign, shape,
                                                        windowed):
    # a physically consistent file for each combination: the stored polarity follows the
    # sign when given, else what the presentation attributes promise (bone shown bright)
    bone_low = expected_inversion(photometric, sign, shape)
    stored, regions = phantom(bone_low)
    tags = {"BitsStored": 12, "HighBit": 11}
    if sign is not None:
        tags["PixelIntensityRelationshipSign"] = sign
    if shape is not None:
        tags["PresentationLUTShape"] = shape
    if windowed:
        tags.update(WindowCenter=2048, WindowWidth=4096)
    img = read_dicom(make_dicom(tmp_path / "x.dcm", stored, photometric, **tags)).pixels
    assert_bone_bright(img, regions)
    low, high = stored.min(), stored.max()
    if windowed:
        expected = np.clip((stored - 2047.5) / 4095 + 0.5, 0, 1)
    else:
        expected = (stored - float(low)) / (high - low)
        assert img.min() == 0 and img.max() == 1  # full range
    np.testing.assert_allclose(img, 1 - expected if bone_low else expected, atol=1e-6)


def test_cr_monochrome1_sign_plus_one_inverse_is_bone_bright(tmp_path):
    stored, regions = phantom(bone_low=True)
    path = make_dicom(tmp_path / "cr.dcm", stored, "MONOCHROME1", Modality="CR",
                      PixelIntensityRelationshipSign=1, PresentationLUTShape="INVERSE",
                      PixelIntensityRelationship="LOG", BitsStored=12, HighBit=11)
    img = read_dicom(path).pixels
    assert_bone_bright(img, regions)
    assert img.min() == 0 and img.max() == 1


@pytest.mark.parametrize("photometric", ["MONOCHROME1", "MONOCHROME2"])
def test_sign_follows_a_negative_rescale_slope(tmp_path, photometric):
    # sign +1 (bone low in stored units); slope -1 reverses the order before display
    stored, regions = phantom(bone_low=True)
    path = make_dicom(tmp_path / "neg.dcm", stored, photometric, RescaleSlope=-1,
                      RescaleIntercept=4095, PixelIntensityRelationshipSign=1)
    assert_bone_bright(read_dicom(path).pixels, regions)


def _voi_item(descriptor, data) -> Dataset:
    """A VOI LUT item; list data as US, bytes as OW (both occur in the wild)."""
    item = Dataset()
    item.add_new(0x00283002, "US", descriptor)
    item.add_new(0x00283006, "OW" if isinstance(data, bytes) else "US", data)
    return item


def test_voi_lut_of_4096_entries_of_8_bits_is_not_scrambled(tmp_path):
    stored = ramp(64)[:, :64] % 4096  # 0..4095
    lut = [i // 16 for i in range(4096)]  # 8-bit output over 4096 entries
    path = make_dicom(tmp_path / "voi.dcm", stored, BitsStored=12, HighBit=11,
                      VOILUTSequence=[_voi_item([4096, 0, 8], lut)])
    img = read_dicom(path).pixels
    np.testing.assert_allclose(img, (stored // 16) / 255, atol=1e-6)
    order = np.argsort(stored.ravel(), kind="stable")
    assert (np.diff(img.ravel()[order]) >= 0).all()  # monotone, no index wrapping


def test_voi_lut_first_mapped_value_clipping_and_precedence_over_window(tmp_path):
    stored = ramp(32)  # 0..1023
    lut = np.linspace(0, 65535, 512).astype(np.uint16).tolist()  # 16-bit entries, as OW
    path = make_dicom(tmp_path / "voi16.dcm", stored, WindowCenter=10, WindowWidth=2,
                      VOILUTSequence=[_voi_item([512, 256, 16],
                                                np.asarray(lut, "<u2").tobytes())])
    img = read_dicom(path).pixels
    idx = np.clip(stored.astype(int) - 256, 0, 511)
    np.testing.assert_allclose(img, np.asarray(lut)[idx] / 65535, atol=1e-6)
    assert img[0, 0] == 0 and img[-1, -1] == 1  # below first -> entry 0; beyond -> last


def test_lookup_never_wraps_large_indices():
    lut = Lut(first=-100, table=np.arange(300) // 2)
    values = np.array([-500.0, -100, 0, 199, 10_000])
    np.testing.assert_array_equal(lookup(values, lut), [0, 0, 50, 149, 149])


@pytest.mark.parametrize("photometric", ["MONOCHROME1", "MONOCHROME2"])
@pytest.mark.parametrize("limit", [None, 3800])
@pytest.mark.parametrize("windowed", [False, True])
def test_pixel_padding_is_excluded_from_the_range_and_shown_as_background(
        tmp_path, photometric, limit, windowed):
    stored, regions = phantom(bone_low=photometric == "MONOCHROME1")
    stored = stored // 2  # anatomy in the lower half of 12 bits
    border = np.zeros(stored.shape, bool)
    border[:6], border[:, :6] = True, True
    rng = np.random.default_rng(0)
    stored[border] = rng.integers(3800, 4096, border.sum()) if limit else 4095
    tags = {"PixelPaddingValue": 4095, "BitsStored": 12, "HighBit": 11}
    if limit:
        tags["PixelPaddingRangeLimit"] = limit
    if windowed:
        tags.update(WindowCenter=1024, WindowWidth=2048)
    img = read_dicom(make_dicom(tmp_path / "pad.dcm", stored, photometric, **tags)).pixels
    assert (img[border] == 0).all()
    inner = {k: v & ~border for k, v in regions.items()}
    assert_bone_bright(img, inner)
    if not windowed:
        assert img[~border].min() == 0 and img[~border].max() == 1  # anatomy: full range


def test_padding_everywhere_is_constant(tmp_path):
    path = make_dicom(tmp_path / "allpad.dcm", np.full((16, 16), 7, np.uint16) + np.eye(
        16, dtype=np.uint16), PixelPaddingValue=7, PixelPaddingRangeLimit=8)
    with pytest.raises(IngestError) as err:
        read_dicom(path)
    assert err.value.reason == "constant"


def test_first_window_of_several_and_voi_lut_functions(tmp_path):
    stored = ramp(32)
    two = make_dicom(tmp_path / "two.dcm", stored, WindowCenter=[512, 100],
                     WindowWidth=[1024, 10])
    np.testing.assert_allclose(read_dicom(two).pixels,
                               np.clip((stored - 511.5) / 1023 + 0.5, 0, 1), atol=1e-6)
    for function in ("LINEAR_EXACT", "SIGMOID"):
        path = make_dicom(tmp_path / f"{function}.dcm", stored, WindowCenter=512,
                          WindowWidth=400, VOILUTFunction=function)
        np.testing.assert_allclose(read_dicom(path).pixels,
                                   window(stored.astype(float), 512, 400, function), atol=1e-6)
    x = np.array([0.0, 312, 512, 712, 1000])
    np.testing.assert_allclose(window(x, 512, 400, "LINEAR_EXACT"), [0, 0, 0.5, 1, 1])
    np.testing.assert_allclose(window(x, 512, 400, "SIGMOID"),
                               1 / (1 + np.exp(-4 * (x - 512) / 400)))


@pytest.mark.parametrize("decreasing", [False, True])
@pytest.mark.parametrize("sign", [None, 1])
def test_presentation_lut_sequence_curve_and_direction(tmp_path, decreasing, sign):
    stored, regions = phantom(bone_low=decreasing if sign is None else sign == 1)
    curve = (np.linspace(0, 1, 256) ** 0.5 * 4095).astype(int)  # a gamma-like P-LUT
    table = curve[::-1] if decreasing else curve
    item = _voi_item([256, 0, 12], table.tolist())
    tags = {"PresentationLUTSequence": [item], "WindowCenter": 2048, "WindowWidth": 4096}
    if sign is not None:
        tags["PixelIntensityRelationshipSign"] = sign
    img = read_dicom(make_dicom(tmp_path / "plut.dcm", stored, **tags)).pixels
    assert_bone_bright(img, regions)
    voi = np.clip((stored - 2047.5) / 4095 + 0.5, 0, 1)
    out = table[np.rint(voi * 255).astype(int)] / 4095
    rising = 1 - out if decreasing else out  # the curve made increasing
    inverted = decreasing if sign is None else sign == 1
    np.testing.assert_allclose(img, 1 - rising if inverted else rising, atol=1e-6)
    if sign is None:  # no physical statement: exactly the display the file asks for
        np.testing.assert_allclose(img, out, atol=1e-6)


def test_non_positive_window_width_is_bad_metadata(tmp_path):
    path = make_dicom(tmp_path / "w0.dcm", ramp(), WindowCenter=100, WindowWidth=0)
    with pytest.raises(IngestError) as err:
        read_dicom(path)
    assert err.value.reason == "bad_metadata" and "WindowWidth" in err.value.detail


def test_modality_lut_sequence_with_12_bit_entries(tmp_path):
    stored = ramp(32)  # 0..1023
    table = (4095 - np.arange(1024) * 3).tolist()  # decreasing 12-bit output
    item = _voi_item([1024, 0, 12], table)
    item.ModalityLUTType = "US"
    path = make_dicom(tmp_path / "mlut.dcm", stored, ModalityLUTSequence=[item],
                      PixelIntensityRelationshipSign=-1)
    out = np.asarray(table)[stored]
    expected = (out - out.min()) / (out.max() - out.min())
    # sign -1: higher stored = less intensity = bone; the LUT reverses that order, so the
    # bone-bright image is the inverse of the LUT output
    np.testing.assert_allclose(read_dicom(path).pixels, 1 - expected, atol=1e-6)


def test_signed_pixels_with_padding_written_as_unsigned(tmp_path):
    # CT-style signed data, padding -2000 stored in a US element as 63536
    stored = (ramp(32).astype(np.int16) - 500)
    stored[:4] = -2000
    path = make_dicom(tmp_path / "signed.dcm", stored, PixelRepresentation=1)
    ds = __import__("pydicom").dcmread(path)
    ds.add_new(0x00280120, "US", 63536)  # Pixel Padding Value
    ds.save_as(path)
    img = read_dicom(path).pixels
    assert (img[:4] == 0).all()
    inner = stored[4:].astype(float)
    np.testing.assert_allclose(img[4:], (inner - inner.min()) / (inner.max() - inner.min()),
                               atol=1e-6)


def test_zero_rescale_slope_is_bad_metadata(tmp_path):
    with pytest.raises(IngestError) as err:
        read_dicom(make_dicom(tmp_path / "s0.dcm", ramp(), RescaleSlope=0,
                              RescaleIntercept=0))
    assert err.value.reason == "bad_metadata" and "RescaleSlope" in err.value.detail
