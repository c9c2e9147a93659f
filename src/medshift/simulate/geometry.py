"""C-arm projection geometry and the neuro-intervention view set (SIMULATOR.md §2).

Table frame = patient LPS (cm) with the isocentre at the origin. At primary = secondary = 0
the tube is posterior and the detector anterior (a PA beam). The C-arm rotation is
``Rz(primary) @ Rx(-secondary)``: LAO +90 puts the detector at +x (patient left) and CRA +30
tilts it toward +z (head). Image columns run along ``u`` and rows along ``v``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medshift.acquisition import VIEW_TABLE
from medshift.simulate.primitives import rot_x, rot_z, vec3

SOD_CM = 81.0



@dataclass(frozen=True)
class ViewGeometry:
    """Everything geometric about one (subject, view); shared by all five classes."""

    view: str
    primary_deg: float
    secondary_deg: float
    sid_cm: float
    det_side_cm: float
    head_offset_cm: tuple[float, float, float]
    shutters: tuple[float, float, float, float]  # fraction of width: left, right, top, bottom
    sod_cm: float = SOD_CM

    @property
    def carm(self) -> np.ndarray:
        return rot_z(self.primary_deg) @ rot_x(-self.secondary_deg)

    @property
    def source(self) -> np.ndarray:
        return self.carm @ np.array([0.0, self.sod_cm, 0.0])

    @property
    def axes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(u, v, w): detector column direction, row direction, beam direction."""
        r = self.carm
        return r @ np.array([1.0, 0, 0]), r @ np.array([0, 0, -1.0]), r @ np.array([0, -1.0, 0])

    @property
    def magnification(self) -> float:
        return self.sid_cm / self.sod_cm

    def pixel_mm(self, n: int) -> float:
        return 10.0 * self.det_side_cm / n

    def pixel_positions(self, n: int) -> np.ndarray:
        """(n, n, 3) detector pixel centres in the table frame (cm)."""
        u, v, w = self.axes
        centre = self.source + self.sid_cm * w
        coords = (np.arange(n) + 0.5 - n / 2) * (self.det_side_cm / n)
        return centre + coords[None, :, None] * u + coords[:, None, None] * v

    def ray_directions(self, n: int) -> np.ndarray:
        """(n, n, 3) unit ray directions from the source through each pixel centre."""
        d = self.pixel_positions(n) - self.source
        return d / np.linalg.norm(d, axis=-1, keepdims=True)

    def detector_coords_cm(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(n, n) detector-plane coordinates (u along columns, v along rows), cm."""
        c = (np.arange(n) + 0.5 - n / 2) * (self.det_side_cm / n)
        return np.meshgrid(c, c)

    def patient_orientation(self) -> tuple[str, str]:
        """DICOM PatientOrientation: nearest LPS letter of the row and column directions."""
        u, v, _ = self.axes
        return _letter(u), _letter(v)


def _letter(vec: np.ndarray) -> str:
    k = int(np.argmax(np.abs(vec)))
    return ("RL", "AP", "FH")[k][int(vec[k] > 0)]


def _four(values) -> tuple[float, float, float, float]:
    a, b, c, d = (float(v) for v in values)
    return (a, b, c, d)


def sample_view(view: str, rng: np.random.Generator, det_side_cm: float = 36.0) -> ViewGeometry:
    """Draw one view's geometry: angles with N(0, 1.5 deg) jitter, SID, zoom, offset, shutters."""
    if view not in VIEW_TABLE:
        raise ValueError(f"unknown view {view!r}; known: {sorted(VIEW_TABLE)}")
    (p_lo, p_hi), (s_lo, s_hi), mirror = VIEW_TABLE[view]
    primary = rng.uniform(p_lo, p_hi) * (rng.choice((-1, 1)) if mirror else 1)
    secondary = rng.uniform(s_lo, s_hi)
    primary, secondary = primary + rng.normal(0, 1.5), secondary + rng.normal(0, 1.5)
    return ViewGeometry(
        view=view,
        primary_deg=round(float(primary), 2),
        secondary_deg=round(float(secondary), 2),
        sid_cm=round(float(rng.uniform(105, 120)), 2),
        det_side_cm=float(det_side_cm * rng.uniform(0.92, 1.08)),
        head_offset_cm=vec3(rng.normal((0.0, 0.0, 1.0), 0.7)),
        shutters=_four(rng.uniform(0, 0.08, 4)),
    )
