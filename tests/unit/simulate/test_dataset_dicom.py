"""Determinism, DICOM content and the dataset card (SIMULATOR.md §10 items 5 and 9)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pydicom
import pytest

from medshift.config.base import ConfigError
from medshift.config.simulate import SimulateConfig
from medshift.simulate.dataset import simulate_dataset

REQUIRED = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID",
            "PatientID", "PatientName", "StudyDate", "Modality", "ImageType", "Rows", "Columns",
            "BitsStored", "PhotometricInterpretation", "ImagerPixelSpacing",
            "PositionerPrimaryAngle", "PositionerSecondaryAngle", "DistanceSourceToDetector",
            "PatientOrientation", "WindowCenter", "WindowWidth", "SeriesDescription")


def _hashes(root):
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*.dcm"))}


def test_same_seed_gives_identical_bytes_whatever_workers_order_or_subset(
        tiny_sim_config, tmp_path):
    full = tiny_sim_config(subjects=2, workers=2)
    simulate_dataset(full, tmp_path / "a", progress=False)
    subset = tiny_sim_config(subjects=1, first_subject=1, workers=1,
                             classes=("real_exposure", "syn_low"))
    simulate_dataset(subset, tmp_path / "b", progress=False)
    a, b = _hashes(tmp_path / "a"), _hashes(tmp_path / "b")
    assert len(a) == 20 and len(b) == 4
    for key, digest in b.items():
        assert a[key] == digest, key


def test_dicom_round_trip_tags_and_private_truth(tiny_sim_config, tmp_path):
    cfg = tiny_sim_config(synthetic_sop="sc")
    results = simulate_dataset(cfg, tmp_path, progress=False)
    seen = set()
    for r in results:
        rec = r["record"]
        ds = pydicom.dcmread(tmp_path / rec["path"])
        for tag in REQUIRED:
            assert tag in ds, (tag, rec["path"])
        assert ds.BitsStored == 12 and ds.pixel_array.dtype == np.uint16
        assert ds.pixel_array.max() <= 4095
        synthetic = rec["domain"] == "synthetic"
        assert ds.SOPClassUID == ("1.2.840.10008.5.1.4.1.1.7" if synthetic
                                  else "1.2.840.10008.5.1.4.1.1.12.1")
        assert (ds.get("ConversionType") == "SYN") == synthetic
        block = ds.private_block(0x0009, "MEDSHIFT_SIM")
        assert block[0x17].value == rec["cls"]
        # standard tags alone tell the classes apart (labels recoverable without private tags)
        seen.add((ds.ImageType[0], ds.get("RadiationSetting", ""),
                  ds.AcquisitionDeviceProcessingDescription))
        ds.remove_private_tags()
        assert not any(el.tag.is_private for el in ds)
    assert len(seen) == 5


def test_truth_is_aligned_noise_free_render_of_each_class(tiny_sim_config, tmp_path):
    results = simulate_dataset(tiny_sim_config(), tmp_path, progress=False)
    rec = next(r["record"] for r in results if r["record"]["cls"] == "syn_high")
    truth = np.load(tmp_path / rec["truth_path"])
    assert set(truth.files) >= {"syn_low", "syn_high", "real_low", "real_normal",
                                "real_exposure", "head_mask"}
    image = pydicom.dcmread(tmp_path / rec["path"]).pixel_array / 4080.0
    residual = image - truth["syn_high"] / 65535.0
    inside = truth["head_mask"]
    assert abs(residual[inside].mean()) < 0.005
    assert residual[inside].std() == pytest.approx(0.015, rel=0.3)


def test_truth_holds_each_class_field_of_view(tiny_sim_config, tmp_path):
    results = simulate_dataset(tiny_sim_config(), tmp_path, progress=False)
    by_class = {r["record"]["cls"]: r["record"] for r in results
                if r["record"]["view"] == "PA"}
    truth = np.load(tmp_path / by_class["syn_low"]["truth_path"])
    syn, real = truth["field_syn_low"], truth["field_real_low"]
    assert syn.dtype == bool and np.array_equal(syn, truth["field_syn_high"])
    n = syn.shape[0]
    yy, xx = (np.mgrid[0:n, 0:n] + 0.5) / n - 0.5
    assert np.array_equal(syn, np.hypot(yy, xx) <= 0.48)  # the round synthetic field
    rows, cols = np.flatnonzero(real.any(1)), np.flatnonzero(real.any(0))
    box = np.zeros_like(real)
    box[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1] = True
    # one collimation rectangle (the penumbra product rounds its corners off)
    assert (real != box).mean() < 0.01 and real.mean() > 0.6
    assert np.array_equal(real, truth["field_real_exposure"])
    # outside the synthetic field the stored image is blank; outside the collimation the
    # real image is shuttered (at the far end of the grey scale from the anatomy)
    image = pydicom.dcmread(tmp_path / by_class["syn_low"]["path"]).pixel_array
    assert np.all(image[~syn] == 0)
    shut = pydicom.dcmread(tmp_path / by_class["real_normal"]["path"]).pixel_array
    assert np.median(shut[~real]) == shut.max() > np.median(shut[real])


def test_dataset_card_lists_config_counts_versions_and_deviations(tiny_sim_config, tmp_path):
    simulate_dataset(tiny_sim_config(), tmp_path, progress=False)
    card = json.loads((tmp_path / "dataset.json").read_text())
    assert card["counts"]["images"] == 10 and card["counts"]["per_class"]["real_low"] == 2
    assert card["seed"] == card["config"]["seed"]
    assert {"numpy", "pydicom", "medshift"} <= set(card["versions"])
    assert len(card["deviations_from_spec"]) >= 5
    assert (tmp_path / "manifest.csv").read_text().count("\n") == 11


def test_config_rejects_unknown_keys_and_bad_values():
    with pytest.raises(ConfigError, match="unknown keys"):
        SimulateConfig.from_params({"subject": 3})
    with pytest.raises(ConfigError, match="views"):
        SimulateConfig(views=("AP_SUPINE",))
    with pytest.raises(ConfigError, match="size"):
        SimulateConfig(size=250)


def test_cli_dry_run_prints_resolved_config(tmp_path, capsys):
    from medshift.cli import main

    params = tmp_path / "params.yaml"
    params.write_text("simulate:\n  subjects: 3\n  size: 128\n")
    assert main(["simulate", "--params", str(params), "--dry-run"]) == 0
    assert "'subjects': 3" in capsys.readouterr().out
    assert main(["simulate", "--params", str(tmp_path / "missing.yaml")]) == 2


def test_gpu_profile_is_one_key_away(tmp_path):
    import shutil
    from pathlib import Path

    from medshift.config.autoencoder import AutoencoderConfig
    from medshift.config.base import load_section
    from medshift.config.velocity import VelocityConfig

    repo = Path(__file__).resolve().parents[3]
    shutil.copytree(repo / "profiles", tmp_path / "profiles")
    text = (repo / "params.yaml").read_text()
    (tmp_path / "params.yaml").write_text(text)
    cpu = VelocityConfig.from_params(load_section(tmp_path / "params.yaml", "velocity"))
    (tmp_path / "params.yaml").write_text(text.replace("profile: cpu", "profile: gpu"))
    gpu = VelocityConfig.from_params(load_section(tmp_path / "params.yaml", "velocity"))
    ae = AutoencoderConfig.from_params(load_section(tmp_path / "params.yaml", "autoencoder"))
    assert gpu.model.base_channels > cpu.model.base_channels and gpu.steps > cpu.steps
    assert gpu.ema_decay == cpu.ema_decay  # untouched keys kept
    # merged recursively: the profile's model keys over params.yaml's, the rest kept
    assert ae.model.factor == 8 and ae.model.texture_bands == 2
    assert load_section(tmp_path / "params.yaml", "ingest")["size"] >= 512
