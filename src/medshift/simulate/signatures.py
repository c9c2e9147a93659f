"""Per-image class signatures (SIMULATOR.md §6-7): noise sigma, NPS centroid, MTF50."""

from __future__ import annotations

import dataclasses

import numpy as np

from medshift.evaluation.texture import mtf50, mtf_edge, nps2d, nps_centroid, radial_nps
from medshift.simulate.classes import ImageParams, RealClassSpec, SynClassSpec
from medshift.simulate.formation import Rendered, render_real, render_synthetic
from medshift.simulate.geometry import ViewGeometry
from medshift.simulate.projector import ChordMaps

QC_SIZE = 128


def edge_phantom(n: int, tilt_deg: float = 3.0, supersample: int = 8) -> ChordMaps:
    """QC edge: 16 cm water + 0.7 cm Al, plus 1 cm Al on one side of a tilted edge."""
    m = n * supersample
    yy, xx = (np.mgrid[0:m, 0:m] + 0.5) / m - 0.5
    plate = (xx * np.cos(np.radians(tilt_deg)) - yy * np.sin(np.radians(tilt_deg)) > 0)
    plate = plate.reshape(n, supersample, n, supersample).mean(axis=(1, 3))
    return ChordMaps({"water": np.full((n, n), 16.0, np.float32),
                      "aluminium": (0.7 + 1.0 * plate).astype(np.float32)})


def qc_mtf50(geom: ViewGeometry, spec: RealClassSpec | SynClassSpec, params: ImageParams,
             fpn: np.ndarray) -> float:
    """Effective MTF50 (cyc/mm at the detector) of the class chain on the noise-free edge."""
    n_full = fpn.shape[0]
    n = min(QC_SIZE, n_full)
    qc_geom = dataclasses.replace(geom, det_side_cm=geom.det_side_cm * n / n_full,
                                  shutters=(0.0, 0.0, 0.0, 0.0))
    maps, mask = edge_phantom(n), np.ones((n, n), bool)
    rng = np.random.default_rng(0)  # noise is not used: the clean render is measured
    if isinstance(spec, SynClassSpec):
        rendered = render_synthetic(maps, spec, params, mask, rng)
    else:
        rendered = render_real(maps, qc_geom, spec, params, fpn[:n, :n], mask, rng)
    inner = rendered.clean[n // 8:-n // 8, n // 8:-n // 8]
    f, mtf = mtf_edge(inner, qc_geom.pixel_mm(n))
    return mtf50(f, mtf)


def noise_signature(rendered: Rendered, head: np.ndarray, pixel_mm: float
                    ) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Residual noise sigma and radial NPS (display units) inside the unsaturated head."""
    residual = rendered.display.astype(np.float64) - rendered.clean
    region = head & (rendered.clean > 0.03) & (rendered.clean < 0.97)
    roi = max(8, min(32, residual.shape[0] // 8))
    nps, freqs, _ = nps2d(residual, roi, roi // 2, pixel_mm, region)
    f, radial = radial_nps(nps, freqs)
    return float(residual[region].std()), nps_centroid(f, radial), f, radial
