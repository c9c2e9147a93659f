"""`medshift ingest` as a stage: configuration checked before any file is read (one line,
exit 2, no traceback), and a failed run leaves no partial outputs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import medshift.data.stage as stage
from medshift.cli import main

from .dicom_factory import xray

REPO = Path(__file__).resolve().parents[3]


def _params(tmp_path: Path, sources: list[dict], edit=None) -> Path:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["ingest"].update(size=32, workers=1, sources=sources)
    if edit:
        edit(params["ingest"])
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def _ingest(tmp_path: Path, params: Path) -> int:
    out = tmp_path / "out"
    return main(["ingest", "--params", str(params), "--manifest", str(out / "m.parquet"),
                 "--images", str(out / "images"), "--quarantine", str(out / "q.csv"),
                 "--validation", str(out / "v.json"), "--quiet"])


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "raw"
    for k in range(3):
        xray(root / f"P{k}" / "PA.dcm", patient=f"P{k}", seed=k)
    return root


@pytest.fixture
def no_reads(monkeypatch):
    """Fail the test if any input file is opened for decoding."""
    import medshift.data.ingest as ingest_module

    def refuse(*args):
        raise AssertionError("an input file was read")

    monkeypatch.setattr(ingest_module, "_process", refuse)


def _one_line(capsys, *needles: str) -> None:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert err.startswith("medshift ingest: error: ")
    for needle in needles:
        assert needle in err, err


def test_bad_regex_in_a_class_rule(tmp_path, tree, capsys, no_reads):
    def typo(ingest):
        ingest["classes"][2]["dicom"]["ImageType"] = "^ORIGINAL("
    params = _params(tmp_path, [{"path": str(tree)}], typo)
    assert _ingest(tmp_path, params) == 2
    _one_line(capsys, "real_low", "ImageType", "not a valid regular expression")
    assert not (tmp_path / "out").exists()


def test_bad_subject_pattern(tmp_path, tree, capsys, no_reads):
    params = _params(tmp_path, [{"path": str(tree), "subject_pattern": "(?P<subject"}])
    assert _ingest(tmp_path, params) == 2
    _one_line(capsys, "subject_pattern", "not a valid regular expression")


def test_invalid_yaml(tmp_path, capsys, no_reads):
    params = tmp_path / "params.yaml"
    params.write_text("ingest:\n  size: 32\n  sources: [\n")
    assert _ingest(tmp_path, params) == 2
    _one_line(capsys, "params.yaml", "invalid YAML", "line")


def test_missing_source_folder(tmp_path, capsys, no_reads):
    params = _params(tmp_path, [{"path": str(tmp_path / "nowhere")}])
    assert _ingest(tmp_path, params) == 2
    _one_line(capsys, "nowhere", "folder not found")


@pytest.mark.parametrize("bom", [b"\xef\xbb\xbf", b"\xff\xfe"])
def test_mapping_csv_with_a_byte_order_mark(tmp_path, tree, capsys, no_reads, bom):
    mapping = tree / "mapping.csv"
    mapping.write_bytes(bom + b"path,class\nP0/PA.dcm,real_low\n")
    params = _params(tmp_path, [{"path": str(mapping), "kind": "csv"}])
    assert _ingest(tmp_path, params) == 2
    _one_line(capsys, "mapping.csv", "byte-order mark")


def test_mapping_csv_without_class_column(tmp_path, tree, capsys, no_reads):
    mapping = tree / "mapping.csv"
    mapping.write_text("path,label\nP0/PA.dcm,real_low\n")
    params = _params(tmp_path, [{"path": str(mapping), "kind": "csv"}])
    assert _ingest(tmp_path, params) == 2
    _one_line(capsys, "mapping.csv", "lacks columns ['class']")


def test_unwritable_images_folder_is_refused_before_reading(tmp_path, tree, capsys, no_reads,
                                                            monkeypatch):
    images = tmp_path / "out" / "images"
    images.mkdir(parents=True)
    images.chmod(0o555)
    if not _denied(images):  # root ignores permission bits: the OS answer, simulated
        real = stage.tempfile.NamedTemporaryFile

        def deny(*args, dir=None, **kw):
            if Path(dir) == images:
                raise PermissionError(13, "Permission denied")
            return real(*args, dir=dir, **kw)

        monkeypatch.setattr(stage.tempfile, "NamedTemporaryFile", deny)
    assert _ingest(tmp_path, _params(tmp_path, [{"path": str(tree)}])) == 2
    _one_line(capsys, str(images), "cannot be written", "Permission denied")
    images.chmod(0o755)


def _denied(folder: Path) -> bool:
    try:
        (folder / ".probe").write_text("")
    except PermissionError:
        return True
    (folder / ".probe").unlink()
    return False


def test_images_path_that_is_a_file(tmp_path, tree, capsys, no_reads):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "images").write_text("")
    assert _ingest(tmp_path, _params(tmp_path, [{"path": str(tree)}])) == 2
    _one_line(capsys, "images", "is not a folder")


def test_failed_validation_leaves_no_partial_outputs(tmp_path, tree, monkeypatch, capsys):
    import great_expectations.expectations as gxe

    from medshift.data.validate import Check

    previous = tmp_path / "out" / "images"
    previous.mkdir(parents=True)
    (previous / "old.npy").write_bytes(b"previous run")
    monkeypatch.setattr(stage, "manifest_checks", lambda m, cfg: [Check("manifest", m, [
        gxe.ExpectTableRowCountToBeBetween(max_value=1)])])  # a whole-set failure
    assert _ingest(tmp_path, _params(tmp_path, [{"path": str(tree)}])) == 2
    assert "data validation failed" in capsys.readouterr().err
    assert not (tmp_path / "out" / "m.parquet").exists()
    assert [p.name for p in previous.iterdir()] == ["old.npy"]  # untouched, no orphans
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "images", "q.csv", "v.json"]  # no staging folder left behind


def test_write_failure_mid_run_stops_with_one_line(tmp_path, tree, monkeypatch, capsys):
    import medshift.data.ingest as ingest_module

    def full(path, arr):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ingest_module.np, "save", full)
    assert _ingest(tmp_path, _params(tmp_path, [{"path": str(tree)}])) == 2
    _one_line(capsys, "cannot write", "No space left on device")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == []


def test_clean_run_publishes_everything(tmp_path, tree, capsys):
    assert _ingest(tmp_path, _params(tmp_path, [{"path": str(tree)}])) == 0
    assert "ingested 3 files, quarantined 0" in capsys.readouterr().out
    out = tmp_path / "out"
    assert len(list((out / "images").glob("*.npy"))) == 3
    assert sorted(p.name for p in out.iterdir()) == ["images", "m.parquet", "q.csv", "v.json"]
