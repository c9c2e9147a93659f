"""Ingestion: every quarantine reason, hostile trees, determinism, PNG/CSV sources."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
from PIL import Image
from pydicom.data import get_testdata_file

from medshift.data.errors import REASONS
from medshift.data.ingest import ingest

from .dicom_factory import make_dicom, ramp

SIM = {"kind": "dicom", "exclude": ["truth/*", "dataset.json", "manifest.csv"]}


def _accounting(manifest, quarantine, root: Path) -> None:
    """Every regular file or link under root ends in exactly one of the two tables."""
    files = {str(p) for p in root.rglob("*") if p.is_symlink() or p.is_file()}
    files = {f for f in files if not any(x in f for x in ("/truth/", "dataset.json",
                                                          "manifest.csv"))}
    got = list(manifest["path"]) + list(quarantine["path"])
    assert sorted(got) == sorted(files)


def _copy_sim(simulated_tree: Path, dst: Path, n: int = 3) -> list[Path]:
    files = sorted(simulated_tree.rglob("*.dcm"))[:n]
    out = []
    for k, f in enumerate(files):
        target = dst / f"sim{k}" / f.name
        target.parent.mkdir(parents=True)
        shutil.copy(f, target)
        out.append(target)
    return out


def test_every_quarantine_reason(tmp_path, simulated_tree, ingest_config):
    root = tmp_path / "tree"
    good = _copy_sim(simulated_tree, root)
    (root / "notes.txt").write_text("not an image")
    (root / "empty.dcm").write_bytes(b"")
    shutil.copy(get_testdata_file("rtplan.dcm"), root / "rtplan.dcm")
    shutil.copy(get_testdata_file("MR_truncated.dcm"), root / "trunc.dcm")
    corrupt = pydicom.dcmread(get_testdata_file("MR_small_jp2klossless.dcm"))
    corrupt.PixelData = corrupt.PixelData[:40] + b"\x00" * (len(corrupt.PixelData) - 40)
    corrupt.save_as(root / "undecodable.dcm")
    make_dicom(root / "multi.dcm", np.stack([ramp(), ramp()]), NumberOfFrames=2)
    make_dicom(root / "rgb.dcm", np.zeros((8, 8, 3), np.uint8) + np.arange(3, dtype=np.uint8),
               "RGB")
    make_dicom(root / "flat.dcm", np.full((16, 16), 7, np.uint16))
    Image.fromarray(np.full((8, 8), np.nan, np.float32)).save(root / "nan.tif")
    shutil.copy(get_testdata_file("CT_small.dcm"), root / "ct_unknown_class.dcm")
    shutil.copy(good[0], root / "zz_copy_of_first.dcm")
    clash = pydicom.dcmread(good[1])
    arr = clash.pixel_array.copy()
    arr[0, 0] ^= 1
    clash.PixelData = arr.tobytes()
    clash.save_as(root / "zz_conflict.dcm")
    (root / "broken_link.dcm").symlink_to(root / "missing.dcm")
    (root / "loop_a").symlink_to(root / "loop_b")
    (root / "loop_b").symlink_to(root / "loop_a")
    cfg = ingest_config({"path": str(root), "kind": "dicom"})
    manifest, quarantine = ingest(cfg, tmp_path / "images", progress=False)
    reasons = dict(zip(quarantine["path"].map(lambda p: Path(p).name), quarantine["reason"],
                       strict=True))
    assert reasons == {
        "notes.txt": "not_dicom", "empty.dcm": "empty", "rtplan.dcm": "no_pixel_data",
        "trunc.dcm": "truncated", "undecodable.dcm": "undecodable", "multi.dcm": "multi_frame",
        "rgb.dcm": "unsupported_photometric", "flat.dcm": "constant", "nan.tif": "non_finite",
        "ct_unknown_class.dcm": "unknown_class", "zz_copy_of_first.dcm": "duplicate",
        "zz_conflict.dcm": "conflict", "broken_link.dcm": "unreadable",
        "loop_a": "unreadable", "loop_b": "unreadable"}
    assert len(manifest) == 3
    assert all((tmp_path / "images" / f"{i}.npy").exists() for i in manifest["image_id"])
    assert len(list((tmp_path / "images").glob("*.npy"))) == 3  # the conflict's image removed
    assert quarantine["detail"].str.len().min() > 0
    _accounting(manifest, quarantine, root)


def test_hostile_tree_never_sinks_the_batch(tmp_path, simulated_tree, ingest_config):
    root = tmp_path / "hostile"
    shutil.copytree(Path(pydicom.data.__file__).parent / "test_files", root / "pydicom")
    rng = np.random.default_rng(0)
    for k, src in enumerate(sorted(simulated_tree.rglob("*.dcm"))[:12]):
        data = bytearray(src.read_bytes())
        (root / f"sim_ok_{k}.dcm").write_bytes(bytes(data))
        (root / f"sim_trunc_{k}.dcm").write_bytes(bytes(data[: rng.integers(10, len(data))]))
        flipped = bytearray(data)
        for pos in rng.integers(0, len(data), 20):
            flipped[pos] ^= 1 << int(rng.integers(0, 8))
        (root / f"sim_flip_{k}.dcm").write_bytes(bytes(flipped))
    (root / "folder.dcm").mkdir()
    (root / "folder.dcm" / "inside.dcm").write_bytes(b"\x00" * 10)
    (root / "self_loop").symlink_to(root)
    cfg = ingest_config({"path": str(root), "kind": "dicom"}, workers=2)
    manifest, quarantine = ingest(cfg, tmp_path / "images", progress=False)
    assert len(manifest) >= 12  # the intact simulator copies (flips may also survive)
    assert set(quarantine["reason"]) <= set(REASONS) - {"unexpected"}
    assert {"truncated", "not_dicom", "unknown_class", "no_pixel_data", "header_mismatch",
            "bad_metadata"} <= set(quarantine["reason"])
    # every file and file link once; the looping directory link itself is quarantined
    files = [str(p) for p in root.rglob("*")
             if p.is_file() or (p.is_symlink() and not p.is_dir())] + [str(root / "self_loop")]
    assert sorted(manifest["path"].tolist() + quarantine["path"].tolist()) == sorted(files)
    loop = quarantine.set_index("path").loc[str(root / "self_loop")]
    assert loop["reason"] == "unreadable" and "directory link loop" in loop["detail"]


def test_manifest_is_deterministic_across_worker_counts(tmp_path, simulated_tree,
                                                        ingest_config):
    source = {"path": str(simulated_tree), **SIM}
    a = ingest(ingest_config(source, workers=1), tmp_path / "a", progress=False)[0]
    b = ingest(ingest_config(source, workers=2), tmp_path / "b", progress=False)[0]
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 80 and a["label"].tolist() == b["label"].tolist()
    first = a.iloc[0]
    assert np.array_equal(np.load(tmp_path / "a" / f"{first.image_id}.npy"),
                          np.load(tmp_path / "b" / f"{first.image_id}.npy"))


def test_labels_views_subjects_come_from_standard_tags(tmp_path, simulated_tree,
                                                       ingest_config):
    manifest = ingest(ingest_config({"path": str(simulated_tree), **SIM}), tmp_path / "i",
                      progress=False)[0]
    truth = manifest["path"].map(lambda p: Path(p).relative_to(simulated_tree).parts[0])
    assert (manifest["class_name"] == truth).all()
    assert set(manifest["view"]) == {"PA", "LAT_R"}
    assert manifest["subject_id"].nunique() == 8
    assert manifest.groupby("class_name").size().tolist() == [16] * 5
    real = manifest[manifest["domain"] == "real"]
    assert real["kvp"].between(70, 90).all() and manifest["rows"].eq(64).all()


def test_png_tree_by_folder_names_and_csv_mapping(tmp_path, ingest_config):
    rng = np.random.default_rng(3)
    for cls in ("syn_low", "real_exposure"):
        for subject in ("s1", "s2"):
            img = (rng.random((40, 30)) * 65535).astype(np.uint16)
            path = tmp_path / "png" / cls / subject / "pa.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(path)
    (tmp_path / "png" / "other" / "x").mkdir(parents=True)
    Image.fromarray((rng.random((8, 8)) * 255).astype(np.uint8)).save(
        tmp_path / "png" / "other" / "x" / "a.png")
    mapping = tmp_path / "map" / "mapping.csv"
    mapping.parent.mkdir()
    make_dicom(mapping.parent / "img.dcm", ramp())
    mapping.write_text("path,class,subject_id,view\nimg.dcm,real_low,subj9,LAT_L\n")
    cfg = ingest_config({"path": str(tmp_path / "png"), "kind": "folders"},
                        {"path": str(mapping), "kind": "csv"})
    manifest, quarantine = ingest(cfg, tmp_path / "images", progress=False)
    assert sorted(manifest["class_name"]) == ["real_exposure", "real_exposure", "real_low",
                                              "syn_low", "syn_low"]
    png = manifest[manifest["path"].str.endswith(".png")]
    assert set(png["subject_id"]) == {"s1", "s2"} and set(png["view"]) == {"PA"}
    assert manifest.loc[manifest["class_name"] == "real_low", "subject_id"].item() == "subj9"
    assert quarantine["reason"].tolist() == ["unknown_class"]
    stored = np.load(tmp_path / "images" / f"{png['image_id'].iloc[0]}.npy")
    assert stored.shape == (32, 32) and stored.dtype == np.uint16


def test_unreadable_file_is_quarantined(tmp_path, ingest_config, monkeypatch):
    path = make_dicom(tmp_path / "tree" / "a.dcm", ramp())
    real_read = Path.read_bytes

    def deny(self):
        if self == path:
            raise PermissionError(13, "Permission denied")
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", deny)
    _, quarantine = ingest(ingest_config({"path": str(tmp_path / "tree")}), tmp_path / "i",
                           progress=False)
    assert quarantine["reason"].tolist() == ["unreadable"]
    assert "Permission denied" in quarantine["detail"].item()
    assert os.access(path, os.R_OK)
