"""Frozen, validated configuration per params.yaml section."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A params.yaml section is missing, misspelt or out of range."""


def load_section(path: Path | str, section: str) -> dict[str, Any]:
    """Read one top-level section of a params file, with the active profile merged in.

    ``profile: NAME`` (default ``cpu``, the file itself) merges ``profiles/NAME.yaml`` next
    to the params file over each section, so switching to the GPU profile is one key.
    """
    with open(path, encoding="utf-8") as fh:
        params = yaml.safe_load(fh) or {}
    if section not in params:
        raise ConfigError(f"{path}: no '{section}:' section")
    profile = params.get("profile", "cpu")
    if profile == "cpu":
        return params[section]
    overlay_path = Path(path).parent / "profiles" / f"{profile}.yaml"
    if not overlay_path.exists():
        raise ConfigError(f"{path}: profile {profile!r} needs {overlay_path}")
    overlay = yaml.safe_load(overlay_path.read_text(encoding="utf-8")) or {}
    return {**params[section], **(overlay.get(section) or {})}


def _from_mapping(cls, values: dict[str, Any], section: str):
    known = {f.name for f in fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(
            f"params.{section}: unknown keys {sorted(unknown)}; known: {sorted(known)}")
    converted = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return cls(**converted)


def _check_bf16(value: Any, section: str) -> None:
    if value not in ("auto", True, False):
        raise ConfigError(f"params.{section}.bf16 must be true, false or auto (bf16 autocast "
                          f"where the device computes bf16 natively)")


@dataclass(frozen=True)
class SimulateConfig:
    """params.simulate: the embedded benchmark (SIMULATOR.md)."""

    subjects: int = 30
    views: tuple[str, ...] = ("PA", "CALDWELL", "TOWNE", "LAT_R", "LAT_L", "TRANSORB_OBL", "OBL45")
    classes: tuple[str, ...] = ("syn_low", "syn_high", "real_low", "real_normal", "real_exposure")
    size: int = 256
    seed: int = 20250829
    workers: int = 2
    preset: str = "xdigiskull"
    supersample: int = 2
    detector_side_cm: float = 36.0
    noise_reference_mm: float = 0.365
    synthetic_sop: str = "xa"
    first_subject: int = 0

    def __post_init__(self) -> None:
        from medshift.simulate.classes import PRESET_CLASSES
        from medshift.simulate.geometry import VIEW_TABLE

        checks = [
            (self.subjects >= 1, "subjects must be >= 1"),
            (16 <= self.size <= 2048 and self.size % 4 == 0,
             "size must be a multiple of 4 in 16..2048"),
            (self.workers >= 1, "workers must be >= 1"),
            (self.supersample in (1, 2, 3, 4), "supersample must be 1..4"),
            (self.preset == "xdigiskull", "only the 'xdigiskull' preset exists (no vessels)"),
            (self.synthetic_sop in ("xa", "sc"), "synthetic_sop must be 'xa' or 'sc'"),
            (set(self.views) <= set(VIEW_TABLE), f"views must be among {sorted(VIEW_TABLE)}"),
            (set(self.classes) <= set(PRESET_CLASSES),
             f"classes must be among {sorted(PRESET_CLASSES)}"),
            (len(set(self.classes)) == len(self.classes), "classes must be unique"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"params.simulate: {message}")

    @classmethod
    def from_params(cls, values: dict[str, Any]) -> SimulateConfig:
        return _from_mapping(cls, values, "simulate")

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @property
    def digest(self) -> str:
        """Short hash of what changes any one image: not which or how many subjects, views
        and classes are rendered, nor the worker count (keyed seeds make those independent)."""
        d = self.to_dict()
        for key in ("workers", "subjects", "first_subject", "views", "classes"):
            d.pop(key)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ClassRule:
    """One (domain, dose) class: its id, and how to recognise it from standard metadata.

    ``dicom`` maps DICOM keywords to case-insensitive regular expressions that must all
    match (multi-valued elements are joined with a backslash); ``folder`` is a regular
    expression searched in a file's path relative to its source root.
    """

    id: str
    domain: str
    dose: str
    dicom: tuple[tuple[str, str], ...] = ()
    folder: str | None = None

    @classmethod
    def from_params(cls, values: dict[str, Any]) -> ClassRule:
        values = dict(values)
        values["dicom"] = tuple((values.get("dicom") or {}).items())
        return _from_mapping(cls, values, "ingest.classes")


@dataclass(frozen=True)
class SourceConfig:
    """An input tree: ``dicom`` (any file, decoded by pydicom), ``folders`` (PNG/TIFF whose
    relative path names the class) or ``csv`` (a mapping file: path, class, subject_id, view)."""

    path: str
    kind: str = "dicom"
    subject_pattern: str = r"(?P<subject>[^/]+)/(?P<view>[^/]+)\.[^./]+$"
    bone_bright: bool = True
    exclude: tuple[str, ...] = ()  # fnmatch patterns on the path relative to the source

    def __post_init__(self) -> None:
        if self.kind not in ("dicom", "folders", "csv"):
            raise ConfigError(f"params.ingest.sources: kind must be dicom|folders|csv, "
                              f"got {self.kind!r} for {self.path}")


@dataclass(frozen=True)
class IngestConfig:
    """params.ingest: source trees, class rules, working size."""

    sources: tuple[SourceConfig, ...]
    classes: tuple[ClassRule, ...]
    size: int = 128
    workers: int = 2

    def __post_init__(self) -> None:
        ids = [c.id for c in self.classes]
        if not ids or len(set(ids)) != len(ids):
            raise ConfigError("params.ingest.classes: need at least one class, ids unique")
        if not self.sources:
            raise ConfigError("params.ingest.sources: need at least one source")
        if not 16 <= self.size <= 4096:
            raise ConfigError("params.ingest.size must be in 16..4096")

    @classmethod
    def from_params(cls, values: dict[str, Any]) -> IngestConfig:
        values = dict(values)
        values["sources"] = tuple(_from_mapping(SourceConfig, s, "ingest.sources")
                                  for s in values.get("sources", ()))
        values["classes"] = tuple(ClassRule.from_params(c) for c in values.get("classes", ()))
        return _from_mapping(cls, values, "ingest")

    @property
    def class_ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.classes)


@dataclass(frozen=True)
class SplitConfig:
    """params.split: subject-grouped train/val/test fractions and unpaired training."""

    fractions: tuple[tuple[str, float], ...] = (("train", 0.7), ("val", 0.15), ("test", 0.15))
    seed: int = 0
    unpaired_train: bool = True
    tolerance: float = 0.1

    def __post_init__(self) -> None:
        names = [n for n, _ in self.fractions]
        if names != ["train", "val", "test"]:
            raise ConfigError("params.split.fractions must list train, val, test in order")
        if abs(sum(f for _, f in self.fractions) - 1) > 1e-6 or min(
                f for _, f in self.fractions) <= 0:
            raise ConfigError("params.split.fractions must be positive and sum to 1")

    @classmethod
    def from_params(cls, values: dict[str, Any]) -> SplitConfig:
        values = dict(values)
        if "fractions" in values:
            values["fractions"] = tuple(values["fractions"].items())
        return _from_mapping(cls, values, "split")


@dataclass(frozen=True)
class ClassifierConfig:
    """params.classifier: the X-ray domain/dose classifier that judges reconstructions
    (and later translations); trained on every image of the training subjects."""

    steps: int = 600
    batch_size: int = 32
    lr: float = 2e-3
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ConfigError("params.classifier: steps and batch_size must be >= 1, lr > 0")

    @classmethod
    def from_params(cls, values: dict[str, Any]) -> ClassifierConfig:
        return _from_mapping(cls, values, "classifier")


@dataclass(frozen=True)
class AutoencoderConfig:
    """params.autoencoder: texture-preserving 1-channel KL autoencoder."""

    factor: int = 4
    latent_channels: int = 4
    base_channels: int = 32
    steps: int = 1500
    batch_size: int = 16
    crop: int = 64
    lr: float = 2e-4
    kl_weight: float = 1e-6
    spectral_weight: float = 1.0
    edge_weight: float = 0.0
    noise_injection: bool = True
    calibrate_noise: bool = True
    noise_bases: int = 3
    noise_kernel: int = 5
    upsample: str = "nearest"
    calibration_quantile: float | None = None
    texture_bands: int = 1
    perceptual_weight: float = 0.0
    adversarial_weight: float = 0.0
    adversarial_start: int = 0
    feature_net_steps: int = 400
    bf16: str | bool = "auto"
    eval_noise_draws: int = 1
    whole_training_subjects: bool = True
    log_every: int = 50
    checkpoint_every: int = 500
    seed: int = 0

    def __post_init__(self) -> None:
        if self.factor not in (4, 8):
            raise ConfigError("params.autoencoder.factor must be 4 or 8")
        if self.crop % self.factor:
            raise ConfigError("params.autoencoder.crop must be a multiple of factor")
        if self.noise_kernel % 2 == 0 or self.noise_bases < 1:
            raise ConfigError("params.autoencoder.noise_kernel must be odd and noise_bases "
                              ">= 1")
        if self.calibration_quantile is not None and not 0 < self.calibration_quantile < 1:
            raise ConfigError("params.autoencoder.calibration_quantile must be in (0, 1) or "
                              "null (match the summed power)")
        if self.texture_bands not in (1, 2):
            raise ConfigError("params.autoencoder.texture_bands must be 1 (noise level) or 2 "
                              "(level and correlation)")
        _check_bf16(self.bf16, "autoencoder")
        if self.eval_noise_draws < 1:
            raise ConfigError("params.autoencoder.eval_noise_draws must be >= 1")
        if self.upsample not in ("nearest", "bilinear", "subpixel"):
            raise ConfigError("params.autoencoder.upsample must be 'nearest', 'bilinear' or "
                              "'subpixel'")

    @classmethod
    def from_params(cls, values: dict[str, Any]) -> AutoencoderConfig:
        return _from_mapping(cls, values, "autoencoder")


@dataclass(frozen=True)
class TrainConfig:
    """params.train: the class-conditional latent flow-matching velocity model."""

    base_channels: int = 64
    channel_mults: tuple[int, ...] = (1, 2, 2)
    steps: int = 3000
    batch_size: int = 32
    lr: float = 3e-4
    warmup_steps: int = 200
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    p_uncond: float = 0.15
    sigma_min: float = 1e-4
    log_every: int = 25
    checkpoint_every: int = 500
    sample_every: int = 1000
    sample_tau: float = 0.45
    sample_nfe: int = 16
    sample_method: str = "midpoint"
    guidance: float = 1.5
    bf16: str | bool = "auto"
    seed: int = 0

    def __post_init__(self) -> None:
        _check_bf16(self.bf16, "train")
        if not 0 <= self.p_uncond < 1:
            raise ConfigError("params.train.p_uncond must be in [0, 1)")
        if self.sample_method not in ("euler", "midpoint", "heun", "rk4"):
            raise ConfigError("params.train.sample_method must be euler|midpoint|heun|rk4")

    @classmethod
    def from_params(cls, values: dict[str, Any]) -> TrainConfig:
        return _from_mapping(cls, values, "train")


@dataclass(frozen=True)
class EvaluateConfig:
    """params.evaluate: the benchmark's scoring of every method on the test split."""

    reference_splits: tuple[str, ...] = ("val", "test")  # target-class images for realism
    histogram_split: str = "train"  # histogram matching's target-class images
    headline_tau: float = 0.45
    headline_groups: tuple[str, ...] = ("synthetic_to_real", "real_to_synthetic")
    prdc_k: int = 5
    kid_subsets: int = 100
    mmd_bandwidth: float | None = None  # None: median pairwise distance of the reference set
    nps_roi: int = 32
    lpips_torch_home: str | None = None  # TORCH_HOME holding LPIPS backbone weights
    lpips_net: str = "alex"
    hit_ratio_required: float = 0.9  # MedShift's class hits / the classifier's ceiling
    sample_rows: int = 2  # images per pair in the sample grids
    batch_size: int = 128
    bf16: str | bool = "auto"  # the classifier's passes under bf16 autocast where native
    seed: int = 0

    def __post_init__(self) -> None:
        _check_bf16(self.bf16, "evaluate")
        splits = {"train", "val", "test"}
        checks = [
            (bool(self.reference_splits) and set(self.reference_splits) <= splits,
             "reference_splits must be a non-empty subset of train, val, test"),
            (self.histogram_split in splits, "histogram_split must be train, val or test"),
            (0 < self.headline_tau < 1, "headline_tau must be in (0, 1)"),
            (self.prdc_k >= 1 and self.kid_subsets >= 1, "prdc_k and kid_subsets must be >= 1"),
            (self.mmd_bandwidth is None or self.mmd_bandwidth > 0,
             "mmd_bandwidth must be > 0 or null (median heuristic)"),
            (self.nps_roi in (16, 32, 64), "nps_roi must be 16, 32 or 64"),
            (self.lpips_net in ("alex", "vgg", "squeeze"), "lpips_net must be alex|vgg|squeeze"),
            (0 < self.hit_ratio_required <= 1, "hit_ratio_required must be in (0, 1]"),
            (self.sample_rows >= 1 and self.batch_size >= 1,
             "sample_rows and batch_size must be >= 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"params.evaluate: {message}")

    @classmethod
    def from_params(cls, values: dict[str, Any]) -> EvaluateConfig:
        return _from_mapping(cls, values, "evaluate")
