"""Kinds C, D, E: per-file sanity, tolerant metadata, refusals before decoding, identity."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
from pydicom.uid import JPEG2000Lossless

from medshift.data.dicom import read_dicom
from medshift.data.ingest import collect, summary

from .dicom_factory import make_dicom, xray


def _patch(path: Path, old: bytes, new: bytes) -> Path:
    data = path.read_bytes()
    assert data.count(old) == 1 and len(old) == len(new)
    path.write_bytes(data.replace(old, new))
    return path


def _run(ingest_config, root: Path, tmp_path: Path, **kw):
    result = collect(ingest_config({"path": str(root), "kind": "dicom"}, **kw),
                     tmp_path / "images", progress=False)
    reasons = dict(zip(result.quarantine["path"].map(lambda p: Path(p).name),
                       result.quarantine["reason"], strict=True))
    return result, reasons


def test_implausible_metadata_quarantines_or_nulls_one_file_only(tmp_path, ingest_config):
    root = tmp_path / "tree"
    xray(root / "good.dcm", "P1")
    xray(root / "spacing0.dcm", "P2", PixelSpacing=[0, 0])
    xray(root / "kvp0.dcm", "P3", KVP=0)
    make_dicom(root / "four_rows.dcm", (np.arange(4 * 32).reshape(4, 32) * 30).astype(
        np.uint16), PatientID="P4", ImageType=["ORIGINAL"], RadiationSetting="GR")
    result, reasons = _run(ingest_config, root, tmp_path)
    assert reasons == {"four_rows.dcm": "too_small"}
    m = result.manifest.set_index(result.manifest["path"].map(lambda p: Path(p).name))
    assert sorted(m.index) == ["good.dcm", "kvp0.dcm", "spacing0.dcm"]
    assert m["pixel_spacing_mm"].isna()["spacing0.dcm"] and m["kvp"].isna()["kvp0.dcm"]
    notes = {(Path(n["path"]).name, n["note"].split()[0]) for n in result.notes}
    assert notes == {("spacing0.dcm", "pixel_spacing_mm"), ("kvp0.dcm", "kvp")}
    assert summary(result)["notes"] and len(list((tmp_path / "images").iterdir())) == 3


def test_decimal_comma_is_read_and_unparseable_values_are_named(tmp_path, ingest_config):
    root = tmp_path / "tree"
    _patch(xray(root / "comma.dcm", "P1", PixelSpacing="0.1431\\0.1431"),
           b"0.1431\\0.1431", b"0,1431\\0,1431")
    _patch(xray(root / "kvp.dcm", "P2", KVP="77.0"), b"77.0", b"7x.0")
    _patch(xray(root / "slope.dcm", "P3", RescaleSlope="1.50", RescaleIntercept=0),
           b"1.50", b"1.5q")
    _patch(xray(root / "centre.dcm", "P4", WindowCenter="2048", WindowWidth=4096),
           b"2048", b"20A8")
    result, reasons = _run(ingest_config, root, tmp_path)
    assert reasons == {"slope.dcm": "bad_metadata", "centre.dcm": "bad_metadata"}
    details = result.quarantine.set_index("reason")["detail"]
    assert details.str.contains("RescaleSlope '1.5q'").any()
    assert details.str.contains("WindowCenter '20A8'").any()
    m = result.manifest.set_index(result.manifest["path"].map(lambda p: Path(p).name))
    assert m.loc["comma.dcm", "pixel_spacing_mm"] == pytest.approx(0.1431)
    assert pd.isna(m.loc["kvp.dcm", "kvp"])
    assert any("KVP '7x.0' is not a number" in n["note"] for n in result.notes)


def _j2k_header(rows: int, cols: int) -> bytes:
    siz = struct.pack(">HHIIIIIIIIH", 41, 0, cols, rows, 0, 0, cols, rows, 0, 0, 1)
    return b"\xff\x4f\xff\x51" + siz + bytes([15, 1, 1]) + b"\x00" * 5000


def _encapsulated(path: Path, rows: int, cols: int, frame: bytes, **tags) -> Path:
    from pydicom.encaps import encapsulate

    xray(path, **tags)
    ds = pydicom.dcmread(path)
    ds.file_meta.TransferSyntaxUID = JPEG2000Lossless
    ds.Rows, ds.Columns = rows, cols
    ds.PixelData = encapsulate([frame])
    ds["PixelData"].VR = "OB"
    ds.save_as(path)
    return path


def test_codestream_disagreeing_with_rows_columns_is_refused_before_decoding(
        tmp_path, monkeypatch):
    bomb = _encapsulated(tmp_path / "bomb.dcm", 32, 32, _j2k_header(40000, 40000))
    assert bomb.stat().st_size < 6000
    decoded = []
    monkeypatch.setattr(pydicom.Dataset, "pixel_array", property(lambda s: decoded.append(1)))
    with pytest.raises(Exception) as err:
        read_dicom(bomb)
    assert err.value.reason == "header_mismatch" and "40000 x 40000" in err.value.detail
    huge = _encapsulated(tmp_path / "huge.dcm", 40000, 40000, _j2k_header(40000, 40000))
    with pytest.raises(Exception) as err:
        read_dicom(huge)
    assert err.value.reason == "too_large" and not decoded


def test_decoder_message_is_kept_whole(tmp_path):
    path = _encapsulated(tmp_path / "bad.dcm", 32, 32, _j2k_header(32, 32))
    with pytest.raises(Exception) as err:
        read_dicom(path)
    assert err.value.reason == "undecodable"
    assert len(err.value.detail) > 80 and "\n" not in err.value.detail


def test_an_unexpected_error_is_named_with_its_location(tmp_path, ingest_config, monkeypatch):
    import medshift.data.ingest as ingest_module

    xray(tmp_path / "tree" / "a.dcm")
    monkeypatch.setattr(ingest_module, "view_from_angles",
                        lambda *a: {}["boom"])  # a bug inside MedShift, not in the file
    result, reasons = _run(ingest_config, tmp_path / "tree", tmp_path)
    assert reasons == {"a.dcm": "unexpected"}
    assert "KeyError: 'boom'" in result.quarantine["detail"].item()
    assert "test_ingest_realworld.py" in result.quarantine["detail"].item()


@pytest.mark.parametrize("processing_first", [True, False])
def test_for_presentation_is_preferred_over_for_processing(tmp_path, ingest_config,
                                                           processing_first):
    root = tmp_path / "tree"
    names = ("a.dcm", "b.dcm") if processing_first else ("b.dcm", "a.dcm")
    xray(root / names[0], seed=1, PresentationIntentType="FOR PROCESSING")
    xray(root / names[1], seed=2, PresentationIntentType="FOR PRESENTATION")
    xray(root / "c.dcm", patient="P2", seed=3, PresentationIntentType="FOR PROCESSING")
    xray(root / "d.dcm", patient="P3", seed=4, PresentationIntentType="FOR PRESENTATION")
    xray(root / "e.dcm", patient="P3", seed=5, PresentationIntentType="FOR PRESENTATION")
    result, reasons = _run(ingest_config, root, tmp_path)
    assert reasons == {names[0]: "for_processing", "e.dcm": "conflict"}
    kept = set(result.manifest["path"].map(lambda p: Path(p).name))
    assert kept == {names[1], "c.dcm", "d.dcm"}  # FOR PROCESSING alone is still ingested


def test_subject_ids_never_merge_through_character_set_decoding(tmp_path, ingest_config):
    root = tmp_path / "tree"
    tags = dict(SpecificCharacterSet="ISO_IR 192")  # UTF-8 declared; bytes are not UTF-8
    _patch(xray(root / "a.dcm", patient="MxLLER", seed=1, **tags), b"MxLLER", b"M\xfcLLER")
    _patch(xray(root / "b.dcm", patient="MxLLER", seed=2, **tags), b"MxLLER", b"M\xfdLLER")
    _patch(xray(root / "c.dcm", patient="MxLLER", seed=3, view="LL", **tags), b"MxLLER",
           b"M\xfcLLER")
    _patch(xray(root / "d.dcm", patient="MxLLER", seed=4,
                SpecificCharacterSet="ISO_IR 100"), b"MxLLER", b"M\xfcLLER")
    result, reasons = _run(ingest_config, root, tmp_path)
    assert reasons == {}
    subject = dict(zip(result.manifest["path"].map(lambda p: Path(p).name),
                       result.manifest["subject_id"], strict=True))
    assert subject["a.dcm"] != subject["b.dcm"]  # both decode to "M\ufffdLLER"
    assert subject["a.dcm"] == subject["c.dcm"]  # same bytes, same patient
    assert subject["d.dcm"] == "MüLLER"  # valid Latin-1 decodes as such


def test_special_files_and_excluded_files_are_accounted(tmp_path, ingest_config):
    root = tmp_path / "tree"
    xray(root / "a.dcm")
    os.mkfifo(root / "pipe.dcm")
    (root / "skip.txt").write_text("x")
    cfg = ingest_config({"path": str(root), "kind": "dicom", "exclude": ["*.txt"]})
    result = collect(cfg, tmp_path / "images", progress=False)
    q = result.quarantine.set_index(result.quarantine["path"].map(lambda p: Path(p).name))
    assert q.loc["pipe.dcm", "reason"] == "unreadable"
    assert "not a regular file" in q.loc["pipe.dcm", "detail"]
    assert summary(result)["excluded_by_params"] == 1 and len(result.manifest) == 1


def test_linked_subject_folder_is_followed_and_loops_are_named(tmp_path, ingest_config):
    elsewhere = tmp_path / "elsewhere" / "S7"
    xray(elsewhere / "PA.dcm", patient="S7")
    root = tmp_path / "tree"
    xray(root / "S1" / "PA.dcm", patient="S1")
    (root / "S7").symlink_to(elsewhere, target_is_directory=True)
    (root / "S1" / "up").symlink_to(root, target_is_directory=True)
    result, reasons = _run(ingest_config, root, tmp_path)
    assert sorted(result.manifest["path"]) == [str(root / "S1" / "PA.dcm"),
                                               str(root / "S7" / "PA.dcm")]
    assert reasons == {"up": "unreadable"}
    assert "directory link loop" in result.quarantine["detail"].item()


def test_one_patient_id_from_two_issuers_is_two_subjects(tmp_path, ingest_config):
    root = tmp_path / "tree"
    xray(root / "a.dcm", patient="001", seed=1, IssuerOfPatientID="SITE_A")
    xray(root / "b.dcm", patient="001", seed=2, IssuerOfPatientID="SITE_B")
    xray(root / "c.dcm", patient="002", seed=3)
    result, reasons = _run(ingest_config, root, tmp_path)
    assert reasons == {}  # without the issuer, b would be a conflict of a
    assert sorted(result.manifest["subject_id"]) == ["001@SITE_A", "001@SITE_B", "002"]


def test_deflate_bomb_is_refused_before_inflating(tmp_path):
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    path = make_dicom(tmp_path / "deflated.dcm", np.zeros((256, 256), np.uint16) + np.eye(
        256, dtype=np.uint16))
    ds = pydicom.dcmread(path)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    ds.save_as(path)
    assert path.stat().st_size < 4000  # 128 kB of pixels deflate to almost nothing
    assert read_dicom(path).pixels.shape == (256, 256)  # within the default limit
    with pytest.raises(Exception) as err:
        read_dicom(path, max_pixels=1000)
    assert err.value.reason == "too_large" and "deflated" in err.value.detail
