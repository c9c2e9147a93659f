"""Kind F: the raw tier is ingest's dependency; links DVC cannot hash are named in one line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from medshift.cli import main
from medshift.config.ingest import SourceConfig
from medshift.data.raw_tier import RawTierError, check_raw_tier

REPO = Path(__file__).resolve().parents[3]


def test_ingest_stage_depends_on_the_raw_tier_and_its_check():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    deps = stages["ingest"]["deps"]
    assert "data/raw" in deps and "data/raw/simulated" not in deps
    check = stages["check_raw"]
    assert check["always_changed"] is True
    report = next(iter(check["outs"][0]))
    assert report in deps and "--raw data/raw" in check["cmd"]
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for source in params["ingest"]["sources"]:  # the default sources live in the tier
        assert Path(source["path"]).parts[:2] == ("data", "raw")


@pytest.mark.parametrize("kind", ["dangling", "loop"])
def test_a_link_dvc_cannot_hash_is_named_in_one_line(tmp_path, kind, capsys):
    raw = tmp_path / "raw" / "mine" / "S1"
    raw.mkdir(parents=True)
    (raw / "PA.dcm").write_bytes(b"x")
    if kind == "dangling":
        (raw / "LAT.dcm").symlink_to(tmp_path / "gone.dcm")
    else:
        (raw / "a.dcm").symlink_to(raw / "b.dcm")
        (raw / "b.dcm").symlink_to(raw / "a.dcm")
    with pytest.raises(RawTierError) as err:
        check_raw_tier(tmp_path / "raw")
    message = str(err.value)
    assert "\n" not in message and "DVC cannot hash" in message
    assert ("dangling link to" if kind == "dangling" else "link loop") in message
    params = tmp_path / "params.yaml"
    params.write_text((REPO / "params.yaml").read_text())
    assert main(["check-raw", "--raw", str(tmp_path / "raw"), "--params", str(params),
                 "--out", str(tmp_path / "r.json")]) == 2
    err_line = capsys.readouterr().err.strip()
    assert err_line.startswith("medshift check-raw: error:") and "\n" not in err_line


def test_linked_folders_are_fingerprinted_so_changes_re_run_ingest(tmp_path):
    outside = tmp_path / "archive" / "S9"
    outside.mkdir(parents=True)
    (outside / "PA.dcm").write_bytes(b"one")
    raw = tmp_path / "raw"
    (raw / "mine").mkdir(parents=True)
    (raw / "mine" / "S9").symlink_to(outside, target_is_directory=True)
    (raw / "mine" / "up").symlink_to(raw, target_is_directory=True)  # a loop is fine here
    first = check_raw_tier(raw)
    assert set(first["linked_folders"]) == {"mine/S9", "mine/up"}
    assert check_raw_tier(raw) == first  # deterministic: DVC compares the report
    (outside / "LAT.dcm").write_bytes(b"two")
    assert check_raw_tier(raw)["linked_folders"]["mine/S9"] != first["linked_folders"][
        "mine/S9"]


def test_sources_outside_the_tier_are_reported(tmp_path, capsys):
    raw = tmp_path / "raw"
    (raw / "sim").mkdir(parents=True)
    report = check_raw_tier(raw, (SourceConfig(str(raw / "sim")),
                                  SourceConfig(str(tmp_path / "elsewhere"))))
    assert report["sources_outside_raw"] == [str(tmp_path / "elsewhere")]
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["ingest"]["sources"] = [{"path": str(tmp_path / "elsewhere")}]
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(params))
    os.makedirs(tmp_path / "elsewhere")
    assert main(["check-raw", "--raw", str(raw), "--params", str(tmp_path / "p.yaml"),
                 "--out", str(tmp_path / "r.json")]) == 0
    assert "dvc repro will not notice" in capsys.readouterr().out
    assert json.loads((tmp_path / "r.json").read_text())["sources_outside_raw"]
