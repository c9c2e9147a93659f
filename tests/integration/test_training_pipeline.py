"""The classifier, autoencoder, autoencoder_report and velocity stage scripts end to end,
tracked in a temporary MLflow store."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
import yaml

from medshift.cli import main as cli

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def staged(tmp_path, simulated_tree, monkeypatch):
    """Ingest + split of the shared simulated tree with a tiny training config."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["ingest"].update(size=32, workers=1)
    params["ingest"]["sources"][0]["path"] = str(simulated_tree)
    params["classifier"].update(steps=5)
    params["autoencoder"].update(steps=12, batch_size=4, crop=16, feature_net_steps=5,
                                 log_every=4, checkpoint_every=6)
    params["autoencoder"]["model"].update(base_channels=16)
    params["velocity"].update(steps=8, batch_size=8, warmup_steps=2, log_every=4,
                              checkpoint_every=4, sample_every=4, sample_nfe=2,
                              sample_method="euler")
    params["velocity"]["model"].update(base_channels=16)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MEDSHIFT_TRACKING", raising=False)  # the test checks the MLflow runs
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("MLFLOW_ARTIFACT_ROOT", (tmp_path / "artifacts").as_uri())
    assert cli(["ingest", "--quiet"]) == 0 and cli(["split"]) == 0
    return tmp_path


def _noise_draws(root: Path) -> int:
    return yaml.safe_load((root / "params.yaml").read_text())["autoencoder_report"]["noise_draws"]


def _run(module, monkeypatch):
    monkeypatch.setattr(sys, "argv", [module.__name__])
    module.main()


def test_stages_train_track_export_and_translate(staged, monkeypatch):
    from pipeline import autoencoder_report, train_autoencoder, train_classifier, train_velocity

    _run(train_classifier, monkeypatch)
    judge = json.loads((staged / "reports/classifier.json").read_text())
    assert set(judge["accuracy"]) == {"syn_low", "syn_high", "real_low", "real_normal",
                                      "real_exposure"}
    assert sum(map(sum, judge["confusion"]["counts"])) == judge["test_images"]
    _run(train_autoencoder, monkeypatch)
    _run(autoencoder_report, monkeypatch)
    report = json.loads((staged / "reports/autoencoder.json").read_text())
    assert set(report["per_class"]) == {"syn_low", "syn_high", "real_low", "real_normal",
                                        "real_exposure"}
    assert {"psnr", "ssim", "noise_sigma_ratio", "nps_relative_error",
            "classifier_accuracy_recon"} <= set(report["per_class"]["real_low"])
    # the expectation over the params' decoder noise draws, each draw's accuracy listed
    draws = report["per_class"]["real_low"]["classifier_accuracy_recon_per_draw"]
    assert report["noise_draws"] == _noise_draws(staged) == len(draws)
    assert report["per_class"]["real_low"]["classifier_accuracy_recon"] == pytest.approx(
        sum(draws) / len(draws), abs=1e-4)
    # the autoencoder learns from every image of the training subjects; the flow stays
    # unpaired (one class per training subject)
    import pandas as pd

    splits = pd.read_parquet(staged / "data/processed/splits.parquet")
    manifest = pd.read_parquet(staged / "data/interim/manifest.parquet")
    train_ids = splits.loc[splits["split"] == "train", "image_id"]
    subjects = manifest.loc[manifest["image_id"].isin(train_ids), "subject_id"]
    assert report["classifier_train_images"] == manifest["subject_id"].isin(subjects).sum()
    assert report["classifier_train_images"] > len(train_ids)
    assert (staged / "reports/figures/autoencoder.png").stat().st_size > 5000
    _run(train_velocity, monkeypatch)
    assert (staged / "reports/figures/velocity_samples.png").stat().st_size > 5000

    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{staged / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["medshift"], output_format="list")
    by_stage = {r.data.tags["stage"]: r for r in runs}
    assert set(by_stage) == {"classifier", "autoencoder", "autoencoder_report", "velocity"}
    flow_run = by_stage["velocity"]
    assert {"velocity/loss", "velocity/lr", "velocity/grad_norm",
            "velocity/samples_per_s"} <= set(flow_run.data.metrics)
    assert flow_run.data.params["velocity.steps"] == "8"
    assert flow_run.data.params["velocity.model.base_channels"] == "16"
    assert len(flow_run.data.tags["data_version"]) == 16 and flow_run.data.tags["git_commit"]
    client = mlflow.tracking.MlflowClient()
    names = {a.path for a in client.list_artifacts(flow_run.info.run_id, "samples")}
    assert "samples/step-0000008.png" in names
    ckpts = client.list_artifacts(flow_run.info.run_id, "checkpoints/velocity")
    assert len(ckpts) >= 2
    assert any(k.startswith("ae_test/real_low/")
               for k in by_stage["autoencoder_report"].data.metrics)
    assert "ae/perceptual" in by_stage["autoencoder"].data.metrics

    from medshift.models.export import load_medshift
    from medshift.translation.translate import TranslationRequest, translate

    model = load_medshift(staged / "models/medshift")
    x = torch.rand(2, 1, 32, 32)
    names = model.classes
    out = translate(model, x, [names[0], names[2]], [names[3], names[1]],
                    TranslationRequest(nfe=4, solver="euler")).images
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1

    # the translate stage: every ordered pair at 0.45, cross-domain pairs also at 0.3
    params = yaml.safe_load((staged / "params.yaml").read_text())
    params["translate"].update(tau=0.45, taus=[0.45], cross_domain_taus=[0.3],
                               sdedit_taus=[0.3, 0.45], nfe=4, solver="euler")
    (staged / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    from pipeline import translate as translate_stage

    from medshift.translation.store import load_images, read_index

    _run(translate_stage, monkeypatch)
    index = read_index(staged / "data/processed/translations")
    test_ids = splits.loc[splits["split"] == "test", "image_id"]
    per_class = manifest[manifest["image_id"].isin(test_ids)].groupby("label").size()
    n_pairs = 20 + 12  # 5 x 4 ordered pairs at 0.45, 2 x 2 x 3 cross-domain pairs at 0.3
    assert len(index) == (n_pairs + 12 * 2) * per_class.iloc[0]  # SDEdit: cross pairs only
    assert set(index["method"]) == {"medshift", "sdedit"}
    assert (index["nfe"] == index["method"].map({"medshift": 4, "sdedit": 2})).all()
    assert set(index.loc[index["tau"] == 0.3, "source"].str[:3]) == {"syn", "rea"}
    images = load_images(staged / "data/processed/translations", index.head(10))
    assert images.shape == (10, 1, 32, 32) and images.min() >= 0 and images.max() <= 1
    report = json.loads((staged / "reports/translate.json").read_text())
    assert report["translations"]["medshift"] == n_pairs * per_class.iloc[0]

    # `--source auto` picks each file's class with the classifier stage's model
    dicoms = sorted((staged / manifest["path"].iloc[0]).parent.glob("*.dcm"))[:2]
    assert cli(["translate", "--model", "models/medshift", "--source", "auto", "--target",
                names[3], "--out", "auto_out", "--quiet", *map(str, dicoms)]) == 0
    assert len(list((staged / "auto_out").glob("*.dcm"))) == len(dicoms)
