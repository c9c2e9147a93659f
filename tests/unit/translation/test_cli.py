"""`medshift translate` round trips on DICOM and PNG, and its bad-input behaviour."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
import torch
from PIL import Image

from medshift.cli import main
from medshift.data.dicom import read_dicom
from medshift.latents import LatentStats
from medshift.models.autoencoder import KLAutoencoder
from medshift.models.card import ModelCard
from medshift.models.export import load_medshift, save_model
from medshift.models.velocity import VelocityArchitecture, VelocitySpec, VelocityUNet
from medshift.translation.files import from_working, to_working
from medshift.translation.translate import TranslationRequest, translate

from ..data.dicom_factory import make_dicom
from ..training.images import small_spec


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    torch.manual_seed(0)
    ae = KLAutoencoder(small_spec(latent_channels=2)).eval()
    vel = VelocityUNet(VelocitySpec(3, 3, VelocityArchitecture(16))).eval()
    torch.nn.init.normal_(vel.out[-1].weight, std=0.05)
    card = ModelCard(("syn", "real_low", "real_high"), ae.spec,
                     LatentStats((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)), 32, vel.spec.to_dict(),
                     data_version="test")
    path = tmp_path_factory.mktemp("model") / "medshift"
    save_model(path, {"autoencoder": ae, "velocity": vel}, card)
    return path


def _dicom(path, photometric="MONOCHROME2"):
    rng = np.random.default_rng(0)
    pixels = (rng.random((40, 48)) * 4095).astype(np.uint16)
    return make_dicom(path, pixels, photometric, BitsStored=12, HighBit=11,
                      StudyInstanceUID="1.2.3.4", SeriesInstanceUID="1.2.3.5",
                      PatientName="Doe^Jane", PixelSpacing=[0.2, 0.2], KVP=70,
                      ViewPosition="PA")


def _run(model_dir, out, *inputs, **options):
    argv = ["translate", "--model", str(model_dir), "--source", options.pop("source", "syn"),
            "--target", options.pop("target", "real_low"), "--out", str(out), "--quiet",
            *[str(i) for i in inputs]]
    for key, value in options.items():
        argv += [f"--{key.replace('_', '-')}"] + ([] if value is True else [str(value)])
    return main(argv)


@pytest.mark.parametrize("photometric", ["MONOCHROME2", "MONOCHROME1"])
def test_dicom_round_trip_keeps_tags_and_gives_the_library_result(tmp_path, model_dir,
                                                                  photometric):
    src = _dicom(tmp_path / "in" / "a.dcm", photometric)
    assert _run(model_dir, tmp_path / "out", tmp_path / "in") == 0
    before, after = pydicom.dcmread(src), pydicom.dcmread(tmp_path / "out" / "a.dcm")
    for keyword in ("PatientID", "PatientName", "StudyInstanceUID", "PixelSpacing", "KVP",
                    "ViewPosition", "Rows", "Columns", "BitsStored", "BitsAllocated",
                    "PhotometricInterpretation"):
        assert after.get(keyword) == before.get(keyword), keyword
    assert after.SOPInstanceUID != before.SOPInstanceUID
    assert after.SeriesInstanceUID != before.SeriesInstanceUID
    assert list(after.ImageType) == ["DERIVED", "SECONDARY"]
    assert f"syn -> real_low, tau {TranslationRequest().tau}" in after.DerivationDescription
    model = load_medshift(model_dir)
    x = to_working(read_dicom(src).pixels, 32)[None, None]
    expected = from_working(translate(model, x, "syn", "real_low", TranslationRequest(),
                                      keys=["a.dcm"]).images[0, 0], (40, 48))
    np.testing.assert_allclose(read_dicom(tmp_path / "out" / "a.dcm").pixels, expected,
                               atol=1.5 / 4095)


def test_png_inputs_give_16_bit_pngs_of_the_input_size(tmp_path, model_dir):
    Image.fromarray((np.arange(30 * 20) % 251).astype(np.uint8).reshape(30, 20)).save(
        tmp_path / "x.png")
    assert _run(model_dir, tmp_path / "out", tmp_path / "x.png", source="unknown") == 0
    with Image.open(tmp_path / "out" / "x.png") as img:
        assert img.size == (20, 30) and img.mode.startswith("I")


def test_a_bad_file_is_skipped_with_its_reason_and_the_rest_go_on(tmp_path, model_dir,
                                                                    capsys):
    _dicom(tmp_path / "in" / "good.dcm")
    (tmp_path / "in" / "bad.dcm").write_bytes(b"not a dicom file at all")
    assert _run(model_dir, tmp_path / "out", tmp_path / "in") == 1
    err = capsys.readouterr().err
    assert "bad.dcm" in err and "not_dicom" in err and "Traceback" not in err
    assert (tmp_path / "out" / "good.dcm").is_file()
    assert not (tmp_path / "out" / "bad.dcm").exists()


def test_existing_outputs_are_kept_unless_overwrite(tmp_path, model_dir, capsys):
    _dicom(tmp_path / "a.dcm")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.dcm").write_bytes(b"mine")
    assert _run(model_dir, tmp_path / "out", tmp_path / "a.dcm") == 1
    assert (tmp_path / "out" / "a.dcm").read_bytes() == b"mine"
    assert "--overwrite" in capsys.readouterr().err
    assert _run(model_dir, tmp_path / "out", tmp_path / "a.dcm", overwrite=True) == 0
    assert pydicom.dcmread(tmp_path / "out" / "a.dcm").Rows == 40


@pytest.mark.parametrize(("change", "message"), [
    ({"target": "real_mid"}, "unknown class 'real_mid'; this model's classes: syn, real_low"),
    ({"source": "sim"}, "unknown class 'sim'"),
    ({"tau": 1.5}, "tau must be in (0, 1]"),
    ({"solver": "rk45"}, "unknown solver 'rk45'"),
    ({"source": "auto"}, "--source auto needs the domain classifier"),
])
def test_usage_errors_are_one_line_and_exit_2(tmp_path, model_dir, capsys, change, message):
    _dicom(tmp_path / "a.dcm")
    assert _run(model_dir, tmp_path / "out", tmp_path / "a.dcm", **change) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_missing_model_and_unwritable_output_exit_2(tmp_path, model_dir, capsys):
    _dicom(tmp_path / "a.dcm")
    assert _run(tmp_path / "nowhere", tmp_path / "out", tmp_path / "a.dcm") == 2
    assert "no model export there" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert _run(model_dir, tmp_path / "file" / "out", tmp_path / "a.dcm") == 2
    assert "output folder cannot be written" in capsys.readouterr().err
    assert _run(model_dir, tmp_path / "file", tmp_path / "a.dcm") == 2
    assert "file: is a file, not an output folder" in capsys.readouterr().err


def test_outputs_that_would_collide_are_refused_not_replaced(tmp_path, model_dir, capsys):
    _dicom(tmp_path / "a" / "PA.dcm")
    _dicom(tmp_path / "b" / "PA.dcm")
    assert _run(model_dir, tmp_path / "out", tmp_path / "a" / "PA.dcm",
                tmp_path / "b" / "PA.dcm") == 1
    err = capsys.readouterr().err
    assert "would replace that of" in err and str(tmp_path / "b" / "PA.dcm") in err
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["PA.dcm"]


def test_empty_dangling_and_zero_byte_inputs_are_named(tmp_path, model_dir, capsys):
    (tmp_path / "empty").mkdir()
    assert _run(model_dir, tmp_path / "out", tmp_path / "empty") == 1
    assert "no input files found" in capsys.readouterr().err
    folder = tmp_path / "in"
    _dicom(folder / "good.dcm")
    (folder / "zero.dcm").write_bytes(b"")
    (folder / "gone.dcm").symlink_to(folder / "missing.dcm")
    assert _run(model_dir, tmp_path / "out2", folder) == 1
    err = capsys.readouterr().err
    assert "zero.dcm: empty" in err and "gone.dcm: unreadable: dangling" in err
    assert (tmp_path / "out2" / "good.dcm").is_file()


@pytest.mark.parametrize(("change", "message"), [
    ({"nfe": 2, "guidance": 1.0}, "below one midpoint step per leg: at least 4"),
    ({"nfe": 6, "guidance": 1.5}, "at least 8 with guidance 1.5"),
    ({"target": "unknown"}, "--target must be a class of the model"),
    ({"model": "models:/medshift@production"}, "no such registered model version"),
    ({"model": "models:/medshift"}, "not a registry URI"),
])
def test_more_usage_errors(tmp_path, model_dir, capsys, change, message, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'empty.db'}")
    monkeypatch.setenv("MLFLOW_ARTIFACT_ROOT", (tmp_path / "artifacts").as_uri())
    _dicom(tmp_path / "a.dcm")
    model = change.pop("model", model_dir)
    assert _run(model, tmp_path / "out", tmp_path / "a.dcm", **change) == 2
    assert message in capsys.readouterr().err


def test_derived_dicom_drops_the_source_class_and_private_tags(tmp_path, model_dir):
    src = _dicom(tmp_path / "a.dcm")
    ds = pydicom.dcmread(src)
    ds.ConversionType = "SYN"
    ds.AcquisitionDeviceProcessingDescription = "SIM HIGH DOSE"
    ds.private_block(0x0009, "MEDSHIFT_SIM", create=True).add_new(0x17, "LO", "syn")
    ds.save_as(src)
    assert _run(model_dir, tmp_path / "out", src) == 0
    out = pydicom.dcmread(tmp_path / "out" / "a.dcm")
    assert "ConversionType" not in out and "AcquisitionDeviceProcessingDescription" not in out
    assert not any(el.tag.is_private for el in out)
    assert out.SeriesDescription.startswith("MedShift syn -> real_low")
    assert "midpoint 24 NFE" in out.DerivationDescription  # three guided steps a leg


def test_the_summary_names_the_settings_and_the_nfe_spent(tmp_path, model_dir, capsys):
    """--nfe 9 unguided: four midpoint steps fit (two a leg), so 8 NFE are spent and said."""
    _dicom(tmp_path / "a.dcm")
    assert _run(model_dir, tmp_path / "out", tmp_path / "a.dcm", nfe=9, guidance=1.0,
                tau=0.3) == 0
    out = capsys.readouterr().out
    assert "settings: tau 0.3, midpoint 8 NFE, guidance 1.0, seed 0" in out


def test_a_model_folder_given_as_the_classifier_is_named_for_what_it_is(tmp_path, model_dir,
                                                                        capsys):
    _dicom(tmp_path / "a.dcm")
    assert _run(model_dir, tmp_path / "out", tmp_path / "a.dcm", source="auto",
                classifier=model_dir) == 2
    assert "not a classifier export" in capsys.readouterr().err
