"""Kind B: raster inputs converted by mode, bits detected, multi-image containers refused."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medshift.data.errors import IngestError
from medshift.data.raster import read_raster

GRAD = (np.arange(40 * 30).reshape(40, 30) % 200 + 20).astype(np.uint8)  # 20..219


def png16(path: Path, values: np.ndarray, sbit: int | None = None) -> Path:
    """A 16-bit grayscale PNG written by hand, optionally with an sBIT chunk."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    h, w = values.shape
    raw = b"".join(b"\x00" + values[r].astype(">u2").tobytes() for r in range(h))
    body = chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 0, 0, 0, 0))
    body += chunk(b"sBIT", bytes([sbit])) if sbit else b""
    body += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path


def test_palette_png_uses_the_palette_not_the_indices(tmp_path):
    # index i shows grey 255 - i: reading indices would invert the image
    img = Image.fromarray(255 - GRAD, mode="L").convert("P")
    palette = [v for i in range(256) for v in (255 - i,) * 3]
    img.putpalette(palette)
    img.putdata((255 - GRAD).ravel().tolist())
    img.save(tmp_path / "p.png")
    assert Image.open(tmp_path / "p.png").mode == "P"
    out = read_raster(tmp_path / "p.png")
    np.testing.assert_allclose(out, GRAD / 255, atol=1e-6)


def test_colour_palette_is_refused(tmp_path):
    img = Image.fromarray(GRAD, mode="L").convert("P")
    img.putpalette([v for i in range(256) for v in (i, 0, 255 - i)])
    img.save(tmp_path / "c.png")
    with pytest.raises(IngestError) as err:
        read_raster(tmp_path / "c.png")
    assert err.value.reason == "unsupported_photometric" and "palette" in err.value.detail


@pytest.mark.parametrize(("bits", "peak"), [(10, 1000), (12, 4095), (12, 3000), (14, 9000),
                                            (16, 60000)])
def test_16bit_png_full_scale_is_the_bits_used(tmp_path, bits, peak):
    values = (np.linspace(0, peak, 40 * 30).reshape(40, 30)).astype(np.uint16)
    Image.fromarray(values).save(tmp_path / "a.png")
    out = read_raster(tmp_path / "a.png")
    np.testing.assert_allclose(out, values / (2 ** bits - 1), atol=1e-6)
    if peak == 4095:
        assert out.max() == pytest.approx(1.0)  # 12-bit data is not "nearly black"


def test_manifest_records_the_bits_used(tmp_path, ingest_config):
    root = tmp_path / "png" / "real_low" / "s1"
    root.mkdir(parents=True)
    values = np.linspace(0, 4000, 40 * 30).reshape(40, 30).astype(np.uint16)
    Image.fromarray(values).save(root / "pa.png")
    Image.fromarray(GRAD).save(root / "lat.png")
    from medshift.data.ingest import ingest

    manifest, _ = ingest(ingest_config({"path": str(tmp_path / "png"), "kind": "folders"}),
                         tmp_path / "images", progress=False)
    assert dict(zip(manifest["view"], manifest["bits_stored"], strict=True)) == {
        "PA": 12, "LAT": 8}


def test_sbit_chunk_and_source_setting_decide_the_bits(tmp_path):
    values = np.linspace(0, 2000, 40 * 30).reshape(40, 30).astype(np.uint16)  # fits 11 bits
    np.testing.assert_allclose(read_raster(png16(tmp_path / "s.png", values, sbit=14)),
                               values / 16383, atol=1e-6)
    np.testing.assert_allclose(read_raster(png16(tmp_path / "n.png", values)),
                               values / 4095, atol=1e-6)  # detected: 12 bits
    np.testing.assert_allclose(read_raster(tmp_path / "n.png", bits=16), values / 65535,
                               atol=1e-6)
    with pytest.raises(IngestError) as err:
        read_raster(tmp_path / "n.png", bits=10)
    assert err.value.reason == "bad_metadata" and "10 bits" in err.value.detail


@pytest.mark.parametrize("mode", ["I;16B", "I"])
def test_tiff_integer_modes(tmp_path, mode):
    values = np.linspace(0, 4095, 40 * 30).reshape(40, 30)
    arr = values.astype(">u2" if mode == "I;16B" else np.int32)
    Image.fromarray(arr, mode=mode if mode == "I" else None).save(tmp_path / "t.tif")
    np.testing.assert_allclose(read_raster(tmp_path / "t.tif"), values.astype(int) / 4095,
                               atol=1e-6)


def test_float_tiff_in_unit_range_kept_else_scaled(tmp_path):
    unit = np.linspace(0.1, 0.7, 40 * 30, dtype=np.float32).reshape(40, 30)
    Image.fromarray(unit).save(tmp_path / "u.tif")
    np.testing.assert_allclose(read_raster(tmp_path / "u.tif"), unit, atol=1e-6)
    Image.fromarray(unit * 1000 - 50).save(tmp_path / "w.tif")
    out = read_raster(tmp_path / "w.tif")
    assert out.min() == 0 and out.max() == pytest.approx(1)


def test_grey_rgb_la_and_bilevel_are_grey_colour_is_refused(tmp_path):
    rgb = np.stack([GRAD] * 3, -1)
    Image.fromarray(rgb).save(tmp_path / "g.png")
    np.testing.assert_allclose(read_raster(tmp_path / "g.png"), GRAD / 255, atol=1e-6)
    Image.fromarray(GRAD).convert("LA").save(tmp_path / "la.png")
    np.testing.assert_allclose(read_raster(tmp_path / "la.png"), GRAD / 255, atol=1e-6)
    Image.fromarray(GRAD > 100).save(tmp_path / "b.png")
    np.testing.assert_array_equal(read_raster(tmp_path / "b.png"), (GRAD > 100) * 1.0)
    rgb[..., 0] = 255
    Image.fromarray(rgb).save(tmp_path / "c.png")
    with pytest.raises(IngestError) as err:
        read_raster(tmp_path / "c.png")
    assert err.value.reason == "unsupported_photometric"


def test_bone_dark_source_is_inverted(tmp_path):
    Image.fromarray(GRAD).save(tmp_path / "d.png")
    np.testing.assert_allclose(read_raster(tmp_path / "d.png", bone_bright=False),
                               1 - GRAD / 255, atol=1e-6)


@pytest.mark.parametrize("fmt", ["tif", "png", "gif"])
def test_containers_of_several_images_are_multi_frame(tmp_path, fmt):
    frames = [Image.fromarray(GRAD), Image.fromarray(255 - GRAD)]
    path = tmp_path / f"multi.{fmt}"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    with pytest.raises(IngestError) as err:
        read_raster(path)
    assert err.value.reason == "multi_frame" and "2 images" in err.value.detail


def test_declared_size_over_the_limit_is_refused_unread(tmp_path):
    Image.fromarray(GRAD).save(tmp_path / "big.png")
    with pytest.raises(IngestError) as err:
        read_raster(tmp_path / "big.png", max_pixels=100)
    assert err.value.reason == "too_large"


def test_tiff_white_is_zero_is_inverted_once(tmp_path):
    from PIL import TiffImagePlugin

    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[262] = 0  # WhiteIsZero: the raster MONOCHROME1
    values = (GRAD.astype(np.uint16) * 16)  # 320..3504: 12 bits detected
    Image.fromarray(values).save(tmp_path / "w16.tif", tiffinfo=info)
    np.testing.assert_allclose(read_raster(tmp_path / "w16.tif"), 1 - values / 4095,
                               atol=1e-6)
    Image.fromarray(GRAD).save(tmp_path / "w8.tif", tiffinfo=info)
    tile = Image.open(tmp_path / "w8.tif").tile[0]
    assert tile.args[0] == "L;I"  # Pillow's decoder inverts 8-bit WhiteIsZero itself
    stored = np.frombuffer((tmp_path / "w8.tif").read_bytes()[tile.offset:][:GRAD.size],
                           np.uint8).reshape(GRAD.shape)  # the bytes in the file
    np.testing.assert_allclose(read_raster(tmp_path / "w8.tif"), 1 - stored / 255, atol=1e-6)
