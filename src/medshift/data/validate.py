"""Per-file sanity checks, and great-expectations suites for the manifest and the splits.

``sanitise`` runs on each file during ingestion with the same limits the manifest suite
checks, so one implausible file is quarantined (or an optional value set to null, with a
note) and the table-level suite only fails for problems of the whole set. Suites are defined
in code (1.x API, ephemeral context). A failed expectation raises ``ValidationFailed`` whose
message names the expectation, the column(s) and example values; the full results are
returned for ``reports/validation/``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pandas as pd

from medshift.config.ingest import IngestConfig
from medshift.config.split import SplitConfig
from medshift.data.errors import IngestError

MIN_SIDE, MAX_SIDE = 8, 16384  # rows and columns of an ingested image
# plausible ranges of optional numeric metadata; outside them the value is set to null
PLAUSIBLE = {"pixel_spacing_mm": (0.01, 20.0), "kvp": (20.0, 150.0),
             "exposure_uas": (0.0, 1e12)}


def sanitise(row: dict) -> list[str]:
    """Check one manifest row in place: null implausible optional values, refuse tiny images.

    Returns:
        One note per value set to null.

    Raises:
        IngestError: ``too_small`` / ``too_large`` when rows or cols is outside
            ``MIN_SIDE``..``MAX_SIDE``.
    """
    if min(row["rows"], row["cols"]) < MIN_SIDE:
        raise IngestError("too_small", f"{row['rows']} x {row['cols']} pixels; at least "
                          f"{MIN_SIDE} x {MIN_SIDE} needed")
    if max(row["rows"], row["cols"]) > MAX_SIDE:
        raise IngestError("too_large", f"{row['rows']} x {row['cols']} pixels; at most "
                          f"{MAX_SIDE} per side")
    notes = []
    for column, (lo, hi) in PLAUSIBLE.items():
        value = row.get(column)
        if value is not None and not lo <= value <= hi:
            notes.append(f"{column} {value:g} outside [{lo:g}, {hi:g}]: set to null")
            row[column] = None
    return notes


class ValidationFailed(ValueError):
    """At least one expectation failed; the message lists each failure."""

    report: dict[str, Any]  # the JSON-friendly validation report


@dataclass(frozen=True)
class Check:
    """Expectations (great_expectations.expectations classes + kwargs) on one table."""

    table: str
    frame: pd.DataFrame
    expectations: list


def _gx():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return gx, gxe, context


def run_checks(checks: list[Check]) -> dict:
    """Validate every table; returns a JSON-friendly report, raises on any failure."""
    gx, _, context = _gx()
    source = context.data_sources.add_pandas(name="medshift")
    report: dict[str, Any] = {"success": True, "tables": {}}
    failures: list[dict[str, Any]] = []
    for check in checks:
        asset = source.add_dataframe_asset(name=check.table)
        batch_def = asset.add_batch_definition_whole_dataframe("whole")
        suite = gx.ExpectationSuite(name=f"{check.table}_suite", expectations=check.expectations)
        batch = batch_def.get_batch(batch_parameters={"dataframe": check.frame})
        result = batch.validate(suite, result_format="COMPLETE")
        rows = [_describe(check.table, r) for r in result.results]
        report["tables"][check.table] = {"success": bool(result.success), "expectations": rows}
        failures += [r for r in rows if not r["success"]]
    report["success"] = not failures
    report["failures"] = failures
    if failures:
        lines = [f"{f['table']}: {f['expectation']} on {f['column']} failed "
                 f"({f['unexpected_count']} unexpected; e.g. {f['examples']}){f['observed']}"
                 for f in failures]
        raise _failed(lines, report)
    return report


def _failed(lines: list[str], report: dict) -> ValidationFailed:
    exc = ValidationFailed("data validation failed:\n  " + "\n  ".join(lines))
    exc.report = report
    return exc


def _describe(table: str, r) -> dict:
    cfg, res = r.expectation_config, r.result or {}
    kwargs = {k: v for k, v in cfg.kwargs.items() if k not in ("batch_id",)}
    column = kwargs.get("column") or kwargs.get("column_list") or "(table)"
    observed = res.get("observed_value")
    return {"table": table, "expectation": cfg.type, "column": column,
            "success": bool(r.success), "unexpected_count": res.get("unexpected_count", 0),
            "examples": [str(v) for v in (res.get("partial_unexpected_list") or [])[:5]],
            "observed": "" if observed is None else f"; observed {observed}"}


def manifest_checks(manifest: pd.DataFrame, cfg: IngestConfig) -> list[Check]:
    """Schema, value sets, ranges, uniqueness and completeness of the manifest."""
    from medshift.data.ingest import MANIFEST_COLUMNS

    _, gxe, _ = _gx()
    required = ("image_id", "subject_id", "view", "domain", "dose", "label", "class_name",
                "path", "sha256", "rows", "cols", "modality", "photometric", "bits_stored")
    exp = [gxe.ExpectTableColumnsToMatchSet(column_set=list(MANIFEST_COLUMNS), exact_match=True),
           gxe.ExpectTableRowCountToBeBetween(min_value=1),
           gxe.ExpectColumnValuesToBeUnique(column="image_id"),
           gxe.ExpectColumnValuesToBeUnique(column="sha256"),
           gxe.ExpectCompoundColumnsToBeUnique(column_list=["subject_id", "view", "class_name"]),
           gxe.ExpectColumnValuesToBeInSet(column="class_name", value_set=list(cfg.class_ids)),
           gxe.ExpectColumnValuesToBeInSet(column="domain",
                                           value_set=sorted({c.domain for c in cfg.classes})),
           gxe.ExpectColumnValuesToBeInSet(column="dose",
                                           value_set=sorted({c.dose for c in cfg.classes})),
           gxe.ExpectColumnValuesToBeBetween(column="label", min_value=0,
                                             max_value=len(cfg.classes) - 1),
           gxe.ExpectColumnValuesToBeBetween(column="rows", min_value=MIN_SIDE,
                                             max_value=MAX_SIDE),
           gxe.ExpectColumnValuesToBeBetween(column="cols", min_value=MIN_SIDE,
                                             max_value=MAX_SIDE),
           gxe.ExpectColumnValuesToBeInSet(column="photometric",
                                           value_set=["MONOCHROME1", "MONOCHROME2"]),
           gxe.ExpectColumnValueLengthsToEqual(column="sha256", value=64)]
    exp += [gxe.ExpectColumnValuesToBeBetween(column=c, min_value=lo, max_value=hi)
            for c, (lo, hi) in PLAUSIBLE.items()]
    exp += [gxe.ExpectColumnValuesToNotBeNull(column=c) for c in required]
    return [Check("manifest", manifest, exp)]


def split_checks(splits: pd.DataFrame, manifest: pd.DataFrame, cfg: SplitConfig,
                 class_ids: tuple[str, ...]) -> list[Check]:
    """No subject in two splits, every class in every split, subject fractions within
    ``cfg.tolerance`` plus one subject's share, complete test subjects, and unpaired
    training when asked for."""
    _, gxe, _ = _gx()
    joined = splits.merge(manifest[["image_id", "subject_id", "class_name"]], on="image_id",
                          how="left")
    per_subject = joined[["subject_id", "split"]].drop_duplicates()
    coverage = joined[["split", "class_name"]].drop_duplicates()
    counts = per_subject["split"].value_counts()
    fractions = pd.DataFrame([{"split": name, "deviation": counts.get(name, 0)
                               / max(len(per_subject), 1) - target}
                              for name, target in cfg.fractions])
    # whole subjects: a small set cannot come closer than one subject to every fraction
    slack = cfg.tolerance + 1 / max(len(per_subject), 1)
    test = joined[joined["split"] == "test"].groupby("subject_id")["class_name"].nunique()
    train = joined[joined["split"] == "train"].groupby("subject_id")["class_name"].nunique()
    checks = [
        Check("splits", joined, [
            gxe.ExpectColumnValuesToBeUnique(column="image_id"),
            gxe.ExpectColumnValuesToNotBeNull(column="subject_id"),
            gxe.ExpectColumnValuesToBeInSet(column="split", value_set=["train", "val", "test"])]),
        Check("subject_splits", per_subject,
              [gxe.ExpectColumnValuesToBeUnique(column="subject_id")]),
        Check("class_coverage", coverage,
              [gxe.ExpectTableRowCountToEqual(value=3 * len(class_ids))]),
        Check("split_fractions", fractions,
              [gxe.ExpectColumnValuesToBeBetween(column="deviation", min_value=-slack,
                                                 max_value=slack)]),
        Check("test_subjects", test.rename("classes").reset_index(),
              [gxe.ExpectColumnValuesToBeBetween(column="classes", min_value=len(class_ids),
                                                 max_value=len(class_ids))]),
    ]
    if cfg.unpaired_train:
        checks.append(Check("train_subjects", train.rename("classes").reset_index(),
                            [gxe.ExpectColumnValuesToBeBetween(column="classes", min_value=1,
                                                               max_value=1)]))
    return checks
