"""Per-class acquisition presets and per-image parameter sampling (SIMULATOR.md §3.1, §4).

Geometry belongs to (subject, view); only the photometric parameters drawn here vary per
class, so pairs stay aligned (pitfall P1). Every value is an [A]/[L] default of the spec.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RealClassSpec:
    """An Azurion-like acquisition mode."""

    name: str
    dose: str
    dose_ngy: tuple[float, float]
    cu_mm: tuple[tuple[float, float], ...]  # (thickness, probability)
    n_eff: float
    binning: int
    focal_spot_mm: float
    nr_strength: float
    gains: tuple[float, float, float]  # fine, mid, coarse
    gamma: float
    radiation_setting: str
    tube_ma: float
    pulse_ms: float
    cine_rate: float
    processing: str
    series: str
    domain: str = "real"


@dataclass(frozen=True)
class SynClassSpec:
    """A VIST-like real-time simulator setting; the two differ only in noise."""

    name: str
    dose: str
    noise_sigma: float
    processing: str
    series: str
    domain: str = "synthetic"


@dataclass(frozen=True)
class ImageParams:
    """Photometric parameters drawn for one image (JSON-friendly)."""

    kvp: float
    cu_mm: float
    dose_ngy: float
    aec_error: float
    spr: float
    gain_jitter: float
    window_jitter: float
    noise_sigma: float


PRESET_CLASSES: dict[str, RealClassSpec | SynClassSpec] = {
    "syn_low": SynClassSpec("syn_low", "low", 0.035, "SIM LOW DOSE", "Sim Low"),
    "syn_high": SynClassSpec("syn_high", "high", 0.015, "SIM HIGH DOSE", "Sim High"),
    "real_low": RealClassSpec(
        "real_low", "low", (7.0, 14.0), ((0.9, 1.0),), 4.0, 2, 0.4, 0.6, (1.0, 1.15, 0.7), 5.0,
        "SC", 20.0, 9.0, 7.5, "FLUORO LOW NR4", "Fluoro Low"),
    "real_normal": RealClassSpec(
        "real_normal", "normal", (25.0, 50.0), ((0.4, 0.7), (0.2, 0.3)), 2.0, 2, 0.4, 0.35,
        (1.15, 1.25, 0.7), 5.0, "SC", 30.0, 10.0, 15.0, "FLUORO NORMAL", "Fluoro Normal"),
    "real_exposure": RealClassSpec(
        "real_exposure", "exposure", (1000.0, 3000.0), ((0.1, 0.7), (0.0, 0.3)), 1.0, 1, 0.7,
        0.15, (1.8, 1.5, 0.6), 6.0, "GR", 400.0, 19.0, 2.0, "EXPOSURE UNIQUE-LIKE", "Exposure"),
}


def class_spec(name: str) -> RealClassSpec | SynClassSpec:
    """The preset for a class id, with a clear error for unknown ones."""
    if name not in PRESET_CLASSES:
        raise ValueError(f"unknown simulator class {name!r}; known: {sorted(PRESET_CLASSES)}")
    return PRESET_CLASSES[name]


def sample_params(spec: RealClassSpec | SynClassSpec, rng: np.random.Generator,
                  lateral: bool) -> ImageParams:
    """Nuisance-varied parameters for one image (AEC +-5 %, kVp +-5, window +-3 %; P14)."""
    if isinstance(spec, SynClassSpec):
        return ImageParams(70.0, 0.0, 0.0, 1.0, 0.0, 1.0, float(rng.normal(1, 0.03)),
                           float(spec.noise_sigma * rng.normal(1, 0.05)))
    thick, prob = zip(*spec.cu_mm, strict=True)
    return ImageParams(
        kvp=float(rng.uniform(75, 85)),
        cu_mm=float(rng.choice(thick, p=prob)),
        dose_ngy=float(rng.uniform(*spec.dose_ngy)),
        aec_error=float(rng.normal(1, 0.05)),
        spr=float(rng.normal(0.3, 0.05 / 2) + (0.05 if lateral else 0.0)),
        gain_jitter=float(rng.normal(1, 0.03)),
        window_jitter=float(rng.normal(1, 0.03)),
        noise_sigma=0.0,
    )
