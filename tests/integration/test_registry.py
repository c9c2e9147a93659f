"""The register stage, the registry commands and the pyfunc, on tiny untrained models and a
tiny simulated data set, each against a fresh SQLite store in a temporary folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from medshift.cli import main as cli

from .registry_helpers import (
    REPO,
    ingest_and_split,
    register_cmd,
    run,
    store_env,
    tiny_export,
)


@pytest.fixture(scope="module")
def data(simulated_tree, tmp_path_factory):
    """Ingest + split at 32 px, an untrained classifier and the reference statistics."""
    tmp = tmp_path_factory.mktemp("registry-data")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["ingest"].update(size=32, workers=1)
    params["ingest"]["sources"][0]["path"] = str(simulated_tree)
    params["translate"].update(nfe=4, guidance=1.0)  # one midpoint step a leg
    params["register"].update(images_per_class=4, sanity_images=1, min_ssim=-1.0,
                              max_fd=1e12)
    (tmp / "simulated").symlink_to(simulated_tree)
    p = ingest_and_split(tmp, params)
    from medshift.models.classifier import DomainClassifier
    from medshift.models.weights import save_export

    torch.manual_seed(0)
    classes = [c["id"] for c in params["ingest"]["classes"]]
    save_export(tmp / "classifier", {"classifier": DomainClassifier(len(classes))},
                {"classes": classes, "width": 32})
    out = subprocess.run(
        [sys.executable, "-m", "pipeline.reference", *p, "--manifest", str(tmp / "m.parquet"),
         "--splits", str(tmp / "s.parquet"), "--images", str(tmp / "img"), "--simulated",
         str(simulated_tree), "--classifier", str(tmp / "classifier"), "--out",
         str(tmp / "reference.npz")], cwd=REPO, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    tiny_export(tmp / "good", seed=0)
    tiny_export(tmp / "broken", seed=0, broken=True)
    return tmp


def _register(data: Path, store: Path, model: str, name: str) -> dict:
    out = run(register_cmd(data, data / model, store / f"{name}.json"), store_env(store))
    assert out.returncode == 0, out.stderr[-3000:]
    assert "database is locked" not in out.stderr
    return json.loads((store / f"{name}.json").read_text())


def _client(store: Path, monkeypatch):
    for key, value in store_env(store).items():
        if key.startswith(("MLFLOW", "DO_NOT")):
            monkeypatch.setenv(key, value)
    from pipeline import store as registry_store

    return registry_store.client()


@pytest.fixture(scope="module")
def promoted(data, tmp_path_factory):
    """One store: v1 (good) promoted, v2 (the same model) and v3 (NaN) challengers."""
    store = tmp_path_factory.mktemp("store")
    reports = [_register(data, store, m, f"r{k}") for k, m in
               enumerate(("good", "good", "broken"), 1)]
    return store, reports


def test_first_sane_version_is_promoted_and_the_same_model_again_is_a_challenger(promoted):
    _, (first, again, _) = promoted
    assert (first["version"], first["decision"], first["reasons"]) == (1, "production", {})
    assert first["production_before"] is None and first["production_after"] == 1
    assert first["candidate_scores"]["outputs"] == 2 * 2 * 3  # syn classes x 2 test images x real
    assert (again["version"], again["decision"]) == (2, "challenger")
    assert set(again["reasons"]) == {"fd"} and "not 2% below production's" in \
        again["reasons"]["fd"]
    # production was re-scored in the same run: identical model, identical scores
    assert again["production_scores"] == again["candidate_scores"]
    assert again["production_before"] == again["production_after"] == 1
    assert again["seconds"]["total"] < 60


def test_a_model_with_non_finite_outputs_is_a_challenger_and_production_stays(promoted,
                                                                             monkeypatch):
    store, (_, _, broken) = promoted
    assert (broken["version"], broken["decision"]) == (3, "challenger")
    assert "sanity_finite" in broken["reasons"] and broken["candidate_scores"] is None
    c = _client(store, monkeypatch)
    assert str(c.get_model_version_by_alias("medshift", "production").version) == "1"
    assert str(c.get_model_version_by_alias("medshift", "challenger").version) == "3"
    tags = c.get_model_version("medshift", "3").tags
    assert tags["decision"] == "challenger" and "non-finite" in tags["gate.sanity_finite"]
    assert tags["data_version"] == "tiny" and "git_commit" in tags


def test_registry_commands_promote_roll_back_and_refuse_bad_usage(promoted, monkeypatch,
                                                                  capsys):
    store, _ = promoted
    _client(store, monkeypatch)
    from pipeline.registry import main

    assert main(["promote", "2", "--reason", "reviewed by hand"]) == 0
    assert main(["list"]) == 0
    listing = capsys.readouterr().out
    assert "production" in listing and "manual: reviewed by hand" in listing
    assert "history (oldest first): ['1', '2']" in listing
    assert main(["rollback"]) == 0
    assert "production v2 -> v1" in capsys.readouterr().out
    assert main(["rollback"]) == 2  # nothing earlier than v1
    assert "no previous production version" in capsys.readouterr().err
    assert main(["promote", "9", "--reason", "x"]) == 2
    assert "models:/medshift/9: no such registered model version" in capsys.readouterr().err
    assert main(["promote", "1", "--reason", "  "]) == 2
    assert "--reason must say why" in capsys.readouterr().err
    assert main(["promote", "1", "--reason", "again"]) == 0
    assert "v1 is already production; nothing moved" in capsys.readouterr().out
    assert main(["--name", "nosuch", "rollback"]) == 2
    assert "no registered model 'nosuch'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["promote", "2"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--reason" in err
    assert cli(["registry", "list"]) == 0  # the library CLI hands over to pipeline.registry


def test_served_pyfunc_equals_the_library_and_refuses_bad_params(promoted, data,
                                                                 monkeypatch):
    store, _ = promoted
    _client(store, monkeypatch)
    import mlflow
    from mlflow.exceptions import MlflowException
    from pipeline.registry import resolve_model_uri

    from medshift.models.export import load_medshift
    from medshift.translation.translate import TranslationRequest, translate

    served = mlflow.pyfunc.load_model("models:/medshift@production")
    x = np.random.default_rng(0).random((2, 1, 32, 32)).astype(np.float32)
    params = {"source": "syn_low", "target": "real_low", "tau": 0.6, "nfe": 4, "guidance": 1.0}
    got = served.predict(x, params=params)
    want = translate(load_medshift(data / "good"), x, "syn_low", "real_low",
                     TranslationRequest(tau=0.6, nfe=4, guidance=1.0)).images
    np.testing.assert_array_equal(got, want)
    assert resolve_model_uri("models:/medshift@production").joinpath("metadata.json").is_file()
    refusals = [({"taus": 0.3}, "unknown params ['taus']"),
                ({"nfe": "many"}, "nfe"),
                ({"target": "real_high"}, "target 'real_high' is not a class"),
                ({"source": "real_high"}, "unknown class 'real_high'"),
                ({"tau": 1.5}, "tau must be in (0, 1]"),
                ({"nfe": 2}, "nfe 2 is below one midpoint step per leg: at least 4")]
    for bad, message in refusals:
        with pytest.raises(MlflowException, match=message.replace("(", r"\(")
                           .replace("[", r"\[").replace("]", r"\]")):
            served.predict(x, params=bad)
    with pytest.raises(MlflowException, match=r"expected shape \(-1, 1, 32, 32\)"):
        served.predict(x[:, :, :16], params={})
    with pytest.raises(MlflowException, match="float64"):
        served.predict(x.astype(np.float64), params={})


def test_translate_cli_loads_a_registry_uri(promoted, data, monkeypatch, tmp_path):
    store, _ = promoted
    _client(store, monkeypatch)
    from PIL import Image

    Image.fromarray((np.arange(32 * 32) % 251).astype(np.uint8).reshape(32, 32)).save(
        tmp_path / "a.png")
    for model, out in (("models:/medshift@production", "reg"), (str(data / "good"), "dir")):
        assert cli(["translate", "--model", model, "--source", "syn_high", "--target",
                    "real_normal", "--out", str(tmp_path / out), "--quiet",
                    str(tmp_path / "a.png")]) == 0
    reg = np.asarray(Image.open(tmp_path / "reg" / "a.png"))
    np.testing.assert_array_equal(reg, np.asarray(Image.open(tmp_path / "dir" / "a.png")))
    assert cli(["translate", "--model", "models:/medshift@nope", "--source", "syn_high",
                "--target", "real_normal", "--out", str(tmp_path / "x"),
                str(tmp_path / "a.png")]) == 2


@pytest.mark.parametrize("models", [("good", "good"),
                                    pytest.param(("broken", "good"), marks=pytest.mark.slow)])
def test_two_processes_racing_on_a_fresh_store(data, tmp_path, models, monkeypatch):
    """Both register at once on one new SQLite file: no lock error, versions 1 and 2, one
    production, never a version that failed the gate; the loser says why."""
    env = store_env(tmp_path)
    procs = [subprocess.Popen(register_cmd(data, data / m, tmp_path / f"r{k}.json"), cwd=REPO,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for k, m in enumerate(models)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-3000:]
        assert "database is locked" not in err and "Traceback" not in err
    reports = [json.loads((tmp_path / f"r{k}.json").read_text()) for k in range(2)]
    assert sorted(r["version"] for r in reports) == [1, 2]
    winners = [r for r in reports if r["decision"] == "production"]
    assert len(winners) == 1
    loser = next(r for r in reports if r["decision"] == "challenger")
    assert loser["reasons"]
    if models == ("broken", "good"):
        assert winners[0] is reports[1] and "sanity_finite" in reports[0]["reasons"]
    else:  # the second to take the lock was gated against the first's fresh production
        assert loser["production_before"] == winners[0]["version"]
        assert set(loser["reasons"]) == {"fd"}
    c = _client(tmp_path, monkeypatch)
    prod = c.get_model_version_by_alias("medshift", "production")
    assert int(prod.version) == winners[0]["version"]
    assert {int(v.version) for v in c.search_model_versions("name='medshift'")} == {1, 2}
