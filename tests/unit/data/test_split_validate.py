"""Splits (grouping, determinism, leakage) and great-expectations validation."""

from __future__ import annotations

import pandas as pd
import pytest

from medshift.config.split import SplitConfig
from medshift.data.ingest import ingest
from medshift.data.split import allocate, make_splits
from medshift.data.validate import ValidationFailed, manifest_checks, run_checks, split_checks

CLASSES = ("syn_low", "syn_high", "real_low", "real_normal", "real_exposure")


@pytest.fixture(scope="module")
def manifest(simulated_tree, tmp_path_factory):
    from pathlib import Path

    from medshift.config.base import load_section
    from medshift.config.ingest import IngestConfig

    params = load_section(Path(__file__).resolve().parents[3] / "params.yaml", "ingest")
    cfg = IngestConfig.from_params({**params, "size": 32, "workers": 1, "sources": [
        {"path": str(simulated_tree), "exclude": ["truth/*", "dataset.json", "manifest.csv"]}]})
    return ingest(cfg, tmp_path_factory.mktemp("img"), progress=False)[0]


def test_allocate_sums_and_gives_each_split_one():
    assert allocate(8, [0.7, 0.15, 0.15]) == [6, 1, 1]
    assert allocate(30, [0.7, 0.15, 0.15]) == [21, 5, 4]
    assert sum(allocate(3, [0.98, 0.01, 0.01])) == 3 and min(allocate(3, [0.98, .01, .01])) == 1


def test_splits_group_subjects_and_are_deterministic(manifest):
    cfg = SplitConfig(fractions=(("train", 0.7), ("val", 0.15), ("test", 0.15)))  # 10 subjects
    a, b = make_splits(manifest, cfg, CLASSES), make_splits(manifest, cfg, CLASSES)
    pd.testing.assert_frame_equal(a, b)
    joined = a.merge(manifest, on="image_id")
    assert joined.groupby("subject_id")["split"].nunique().max() == 1
    test = joined[joined["split"] == "test"]
    assert (test.groupby("subject_id")["class_name"].nunique() == 5).all()
    train = joined[joined["split"] == "train"]
    assert (train.groupby("subject_id")["class_name"].nunique() == 1).all()
    assert set(train["class_name"]) == set(CLASSES)
    assert set(train["view"]) == set(test["view"]) == {"PA", "LAT_R"}
    report = run_checks(split_checks(a, manifest, cfg, CLASSES))
    assert report["success"] and len(report["tables"]) == 6


def test_paired_training_keeps_every_class_and_another_seed_differs(manifest):
    paired = make_splits(manifest, SplitConfig(unpaired_train=False), CLASSES)
    assert len(paired) == len(manifest)
    other = make_splits(manifest, SplitConfig(seed=1), CLASSES)
    base = make_splits(manifest, SplitConfig(), CLASSES)
    assert not other.equals(base)


def test_manifest_validation_passes_on_ingested_data(manifest, ingest_config):
    report = run_checks(manifest_checks(manifest, ingest_config({"path": "."})))
    assert report["success"] and not report["failures"]


def test_manifest_violation_names_expectation_column_and_values(manifest, ingest_config):
    bad = manifest.copy()
    bad.loc[0, "class_name"] = "real_ultra"
    bad.loc[1, "kvp"] = 300.0
    with pytest.raises(ValidationFailed) as err:
        run_checks(manifest_checks(bad, ingest_config({"path": "."})))
    message = str(err.value)
    assert "expect_column_values_to_be_in_set on class_name" in message
    assert "real_ultra" in message and "300.0" in message
    assert err.value.report["success"] is False


def test_a_small_set_may_miss_the_fractions_by_one_subject(manifest):
    # 8 subjects split 6/1/1 are as close to 0.86/0.07/0.07 as whole subjects allow
    cfg = SplitConfig()
    splits = make_splits(manifest, cfg, CLASSES)
    per_split = splits.merge(manifest, on="image_id").groupby("split")["subject_id"].nunique()
    assert per_split.to_dict() == {"train": 6, "val": 1, "test": 1}
    assert run_checks(split_checks(splits, manifest, cfg, CLASSES))["success"]


def test_split_leak_is_caught(manifest):
    splits = make_splits(manifest, SplitConfig(), CLASSES)
    test_subject = splits.merge(manifest, on="image_id").query("split == 'test'")
    leaked = splits.copy()
    one = manifest.loc[manifest["subject_id"] == test_subject["subject_id"].iloc[0], "image_id"]
    leaked.loc[leaked["image_id"] == one.iloc[0], "split"] = "train"
    leak = "subject_splits: expect_column_values_to_be_unique"
    with pytest.raises(ValidationFailed, match=leak):
        run_checks(split_checks(leaked, manifest, SplitConfig(), CLASSES))
    skewed = SplitConfig(fractions=(("train", 0.4), ("val", 0.3), ("test", 0.3)), tolerance=0.02)
    with pytest.raises(ValidationFailed, match="split_fractions"):
        run_checks(split_checks(splits, manifest, skewed, CLASSES))


def test_whole_subjects_adds_left_out_classes_of_the_same_subjects_only(manifest, tmp_path):
    import numpy as np

    from medshift.data.datasets import load_split

    for image_id in manifest["image_id"]:
        np.save(tmp_path / f"{image_id}.npy", np.zeros((4, 4), np.uint16))
    splits = make_splits(manifest, SplitConfig(), CLASSES)
    unpaired = load_split(manifest, splits, tmp_path, "train")
    whole = load_split(manifest, splits, tmp_path, "train", whole_subjects=True)
    train_subjects = set(unpaired.rows["subject_id"])
    assert set(whole.rows["subject_id"]) == train_subjects
    assert len(whole) == (manifest["subject_id"].isin(train_subjects)).sum() > len(unpaired)
    assert set(unpaired.rows["image_id"]) < set(whole.rows["image_id"])
    assert (whole.rows.groupby("subject_id")["class_name"].nunique() == 5).all()
    assert whole.images.shape == (len(whole), 1, 4, 4)
    assert list(whole.rows["image_id"]) == sorted(whole.rows["image_id"])
