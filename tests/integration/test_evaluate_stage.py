"""The reference and evaluate stages end to end on a tiny simulated data set, with fake
translations whose quality is known: 'medshift' returns the true target, 'sdedit' a blend
of source and target."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from .registry_helpers import ingest_and_split

REPO = Path(__file__).resolve().parents[2]
PAIRS_TAUS = {0.45: "all", 0.3: "cross", 0.6: "cross"}


@pytest.fixture(scope="module")
def tiny_run(simulated_tree, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("evaluate")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["ingest"].update(size=64, workers=1)
    params["ingest"]["sources"][0]["path"] = str(simulated_tree)
    params["evaluate"].update(prdc_k=1, kid_subsets=5, nps_roi=16, sample_rows=1)
    p = ingest_and_split(tmp, params)
    classes = [c["id"] for c in params["ingest"]["classes"]]
    _models(tmp, classes)
    _translations(tmp, classes, {c["id"]: c["domain"] for c in params["ingest"]["classes"]})
    common = [*p, "--manifest", str(tmp / "m.parquet"), "--splits", str(tmp / "s.parquet"),
              "--images", str(tmp / "img"), "--simulated", str(simulated_tree),
              "--classifier", str(tmp / "classifier")]
    _run("pipeline.reference", *common, "--out", str(tmp / "reference.npz"))
    _run("pipeline.evaluate", *common, "--translations", str(tmp / "tr"), "--reference",
         str(tmp / "reference.npz"), "--model", str(tmp / "model"), "--metrics",
         str(tmp / "reports/metrics.json"), "--plots", str(tmp / "reports/plots"),
         "--figures", str(tmp / "reports/figures/evaluation"), "--table",
         str(tmp / "reports/evaluation.csv"), "--report", str(tmp / "reports/report.md"))
    return tmp


def _run(module: str, *args: str) -> None:
    out = subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, capture_output=True,
                         text=True, check=False)
    assert out.returncode == 0, out.stderr[-3000:]


def _models(tmp: Path, classes: list[str]) -> None:
    """An untrained classifier and autoencoder: the plumbing, not the numbers, is tested."""
    from medshift.latents import LatentStats
    from medshift.models.autoencoder import AutoencoderSpec, KLAutoencoder
    from medshift.models.card import ModelCard, save_model
    from medshift.models.classifier import DomainClassifier
    from medshift.models.weights import save_export

    torch.manual_seed(0)
    clf = DomainClassifier(len(classes))
    save_export(tmp / "classifier", {"classifier": clf}, {"classes": classes, "width": 32})
    spec = AutoencoderSpec(latent_channels=2, base_channels=8, noise_injection=False,
                           calibrate_noise=False, texture_bands=1)
    stats = LatentStats((0.0,) * 3, (1.0,) * 3)
    save_model(tmp / "model", {"autoencoder": KLAutoencoder(spec)},
               ModelCard(tuple(classes), spec, stats, 32))


def _translations(tmp: Path, classes: list[str], domains: dict[str, str]) -> None:
    m = pd.read_parquet(tmp / "m.parquet").merge(pd.read_parquet(tmp / "s.parquet"))
    test = m[m["split"] == "test"].set_index(["subject_id", "view", "class_name"])
    load = lambda iid: np.load(tmp / "img" / f"{iid}.npy")  # noqa: E731
    rows, stack = [], []
    for tau, which in PAIRS_TAUS.items():
        for s in classes:
            for t in classes:
                if s == t or (which == "cross" and domains[s] == domains[t]):
                    continue
                for (subject, view, cls), r in test.iterrows():
                    if cls != s:
                        continue
                    src, tgt = load(r["image_id"]), load(test.loc[(subject, view, t),
                                                                  "image_id"])
                    blend = (tau * src.astype(float) + (1 - tau) * tgt).astype(np.uint16)
                    for method, img in (("medshift", tgt), ("sdedit", blend)):
                        rows.append({"image_id": r["image_id"], "source": s, "target": t,
                                     "method": method, "tau": tau, "solver": "midpoint",
                                     "nfe": 8, "guidance": 1.5, "seconds": 0.01,
                                     "file": "all.npy", "row": len(stack)})
                        stack.append(img)
    (tmp / "tr").mkdir()
    np.save(tmp / "tr" / "all.npy", np.stack(stack))
    pd.DataFrame(rows).to_parquet(tmp / "tr" / "index.parquet")


def test_report_renders_with_tables_figures_and_plots(tiny_run):
    report = (tiny_run / "reports/report.md").read_text()
    assert "measured on the simulated benchmark" in report
    assert "## Averages over class pairs, τ = 0.45" in report
    assert "**syn_low → real_normal**" in report and "| medshift@0.45 |" in report
    assert "LPIPS: not computed" in report
    figures = tiny_run / "reports/figures/evaluation"
    assert (figures / "tradeoff.png").stat().st_size > 5000
    assert (figures / "nps.png").exists()
    assert len(list((figures / "samples").glob("*.png"))) == 20
    trade = pd.read_csv(tiny_run / "reports/plots/tradeoff.csv")
    assert set(trade["tau"]) == {0.3, 0.45, 0.6}
    assert {"target", "config", "frequency", "nps"} <= set(
        pd.read_csv(tiny_run / "reports/plots/nps.csv").columns)
    table = pd.read_csv(tiny_run / "reports/evaluation.csv")
    # per pair at 0.45: identity, histmatch, autoencoder, medshift, sdedit; 2 per extra tau
    assert len(table) == 20 * 5 + 12 * 2 * 2


def test_a_perfect_translator_wins_correctness_and_the_ceiling_is_listed(tiny_run):
    table = pd.read_csv(tiny_run / "reports/evaluation.csv")
    pair = table[(table["source"] == "syn_high") & (table["target"] == "real_low")]
    by = pair.set_index("config")
    assert by.loc["medshift@0.45", "psnr_target_anatomy"] == 100.0  # the exact true target
    assert by.loc["medshift@0.45", "ssim_target_anatomy"] == pytest.approx(1.0)
    assert by.loc["identity", "psnr_source"] == 100.0
    assert "autoencoder" in by.index and by.loc["autoencoder", "n"] == by.loc["identity", "n"]
    # the true target and itself share features: its class hits equal the ceiling
    assert by.loc["medshift@0.45", "class_hit"] == by.loc["medshift@0.45",
                                                         "class_hit_ceiling"]
    metrics = json.loads((tiny_run / "reports/metrics.json").read_text())
    pairs = metrics["checks"]
    assert pairs["syn_low_to_real_low"]["margin_psnr_target_anatomy"] > 0
    # hits / ceiling: 1 when the (untrained) classifier ever names the class, else undefined
    assert pairs["syn_low_to_real_low"]["hit_ratio"] in (1.0, None)
    syn_real = metrics["groups"]["synthetic_to_real"]
    assert syn_real["medshift"]["rank"] < syn_real["identity"]["rank"]
    # the default tau (params.translate.tau, 0.2) is not translated here: the nearest stands in
    assert metrics["headline_tau"] == 0.45 and metrics["default_tau"] == 0.3
    assert metrics["default"]["groups"]["synthetic_to_real"]["medshift"]["class_hit"] \
        == pytest.approx(table.loc[(table["config"] == "medshift@0.3") & table["source"]
                                   .str.startswith("syn") & table["target"]
                                   .str.startswith("real"), "class_hit"].mean(), abs=1e-5)
    assert "syn_low_to_real_low" in metrics["default"]["checks"]
    report = (tiny_run / "reports/report.md").read_text()
    assert "## Summary at the default τ = 0.3" in report
    assert "<details><summary>Per class pair, τ = 0.3</summary>" in report
    assert "## Quality bar at the default τ = 0.3" in report
    # the two-minute part comes first: summaries, the quality bar and the figures
    assert report.index("## Figures") < report.index("<details>")
    assert metrics["default"]["quality"]["all_pairs_pass"] in (True, False)


def test_dvc_metrics_show_lists_the_headline_numbers(tiny_run, tmp_path):
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports/metrics.json").write_text(
        (tiny_run / "reports/metrics.json").read_text())
    dvc = Path(sys.executable).parent / "dvc"
    subprocess.run([str(dvc), "init", "--no-scm", "-q"], cwd=tmp_path, check=True)
    stage = {"stages": {"evaluate": {"cmd": "true", "metrics": [
        {"reports/metrics.json": {"cache": False}}]}}}
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(stage))
    out = subprocess.run([str(dvc), "metrics", "show", "--json"], cwd=tmp_path,
                         capture_output=True, text=True, check=True).stdout
    data = json.loads(out)
    shown = json.dumps(data)
    for key in ("synthetic_to_real", "medshift", "psnr_target_anatomy", "fd", "class_hit",
                "all_pairs_pass"):
        assert key in shown
