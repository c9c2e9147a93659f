"""params.evaluate: the benchmark's scoring of every method on the test split."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from medshift.config.base import check, check_bf16, from_mapping, to_dict


@dataclass(frozen=True)
class EvaluateConfig:
    """params.evaluate (defaults equal params.yaml's)."""

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
    quality_psnr_min: float = 22.0  # the quality bar at the default tau (dB, anatomy region)
    quality_ssim_ratio: float = 0.95  # anatomy SSIM / the autoencoder ceiling's
    quality_hit_min: float = 0.8  # exact-class hit rate
    sample_rows: int = 2  # images per pair in the sample grids
    batch_size: int = 128
    bf16: str | bool = "auto"  # the classifier's passes under bf16 autocast where native
    seed: int = 0

    def __post_init__(self) -> None:
        check_bf16(self.bf16, "evaluate")
        splits = {"train", "val", "test"}
        check("evaluate", [
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
            (0 < self.quality_ssim_ratio <= 1 and 0 <= self.quality_hit_min <= 1,
             "quality_ssim_ratio must be in (0, 1], quality_hit_min in [0, 1]"),
            (self.sample_rows >= 1 and self.batch_size >= 1,
             "sample_rows and batch_size must be >= 1")])

    @classmethod
    def from_params(cls, values: dict[str, Any]) -> EvaluateConfig:
        """From the params.evaluate mapping; raises ConfigError on unknown or bad keys."""
        return from_mapping(cls, values, "evaluate")

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        return to_dict(self)
