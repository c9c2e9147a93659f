"""The stage commands end to end on a tiny config, as dvc.yaml calls them."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml

from medshift.cli import main

REPO = Path(__file__).resolve().parents[2]


def _params(tmp_path: Path, **simulate) -> Path:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["simulate"].update(subjects=8, views=["PA", "TOWNE"], size=64, supersample=1,
                              **simulate)
    params["ingest"]["size"] = 32
    params["ingest"]["sources"][0]["path"] = str(tmp_path / "raw")
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def test_simulate_ingest_split_commands(tmp_path, capsys):
    params = _params(tmp_path)
    r = tmp_path / "reports"
    assert main(["simulate", "--params", str(params), "--out", str(tmp_path / "raw"),
                 "--report", str(r / "simulate.json"),
                 "--figure", str(r / "figures/classes.png"), "--quiet"]) == 0
    assert (r / "figures/classes.png").stat().st_size > 10_000
    assert (r / "figures/simulated_nps.png").exists()
    assert main(["ingest", "--params", str(params), "--manifest", str(tmp_path / "m.parquet"),
                 "--images", str(tmp_path / "img"), "--quarantine", str(tmp_path / "q.csv"),
                 "--validation", str(r / "ingest.json"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "ingested 80 files, quarantined 0" in out
    assert json.loads((r / "ingest.json").read_text())["success"] is True
    assert main(["split", "--params", str(params), "--manifest", str(tmp_path / "m.parquet"),
                 "--out", str(tmp_path / "s.parquet"), "--validation", str(r / "split.json"),
                 "--summary", str(r / "split_summary.json")]) == 0
    summary = json.loads((r / "split_summary.json").read_text())
    assert summary["subjects"] == {"train": 6, "val": 1, "test": 1}
    assert len(pd.read_parquet(tmp_path / "s.parquet")) == summary["total_images"]


def test_ingest_fails_clearly_when_nothing_is_usable(tmp_path, capsys):
    params = _params(tmp_path)
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "junk.dcm").write_text("nope")
    code = main(["ingest", "--params", str(params), "--manifest", str(tmp_path / "m.parquet"),
                 "--images", str(tmp_path / "img"), "--quarantine", str(tmp_path / "q.csv"),
                 "--validation", str(tmp_path / "v.json"), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "nothing usable" in err and "not_dicom" in err
    assert pd.read_csv(tmp_path / "q.csv")["reason"].tolist() == ["not_dicom"]
    assert not (tmp_path / "m.parquet").exists()
