"""Per-material path-length maps for one (subject, view) (SIMULATOR.md §2.4)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np

from medshift.simulate.geometry import ViewGeometry
from medshift.simulate.phantom import Phantom
from medshift.simulate.primitives import Primitive, chord, ray_interval, union_length


@dataclass(frozen=True)
class ChordMaps:
    """Path length (cm, float32, (N, N)) through each material, area-averaged per pixel."""

    lengths: dict[str, np.ndarray]

    def get(self, material: str) -> np.ndarray:
        any_map = next(iter(self.lengths.values()))
        return self.lengths.get(material, np.zeros_like(any_map))

    @property
    def total(self) -> np.ndarray:
        """Path length through the head, cm."""
        return cast(np.ndarray, sum(v for k, v in self.lengths.items() if k not in ("bump",)))


def head_frame_rays(phantom: Phantom, geom: ViewGeometry, n: int) -> tuple[np.ndarray, ...]:
    """Source and (unnormalised) directions mapped into the head frame; t stays in cm."""
    inv = np.linalg.inv(phantom.pose.matrix)
    origin = inv @ (geom.source - np.asarray(geom.head_offset_cm))
    return origin, geom.ray_directions(n) @ inv.T


def _pixel_box(p: Primitive, phantom: Phantom, geom: ViewGeometry, n: int) -> tuple[slice, ...]:
    """Detector rows/cols that can see the primitive's bounding sphere (conservative)."""
    m = phantom.pose.matrix
    centre = m @ np.asarray(p.center) + np.asarray(geom.head_offset_cm)
    radius = p.bounding_radius * np.abs(np.linalg.eigvals(m)).max() * 1.05
    u, v, w = geom.axes
    rel = centre - geom.source
    depth = rel @ w
    if depth <= radius:
        return slice(0, n), slice(0, n)
    scale = geom.sid_cm / depth
    r_det = radius * geom.sid_cm / np.sqrt(depth**2 - radius**2) * 1.02
    pitch = geom.det_side_cm / n
    cu, cv = (rel @ u) * scale / pitch + n / 2, (rel @ v) * scale / pitch + n / 2
    r_px = r_det / pitch + 1
    rows = slice(int(np.clip(np.floor(cv - r_px), 0, n)), int(np.clip(np.ceil(cv + r_px), 0, n)))
    cols = slice(int(np.clip(np.floor(cu - r_px), 0, n)), int(np.clip(np.ceil(cu + r_px), 0, n)))
    return rows, cols


def chord_maps(phantom: Phantom, geom: ViewGeometry, n: int, supersample: int = 2) -> ChordMaps:
    """Exact per-material chord maps at ``n * supersample``, area-averaged down to ``n``.

    Negative totals (possible only where overlapping siblings displace the same container
    along a short path) are clipped at zero.
    """
    m = n * supersample
    origin, dirs = head_frame_rays(phantom, geom, m)
    maps: dict[str, np.ndarray] = {}

    def acc(material: str, rows: slice, cols: slice, values: np.ndarray) -> None:
        maps.setdefault(material, np.zeros((m, m)))[rows, cols] += values

    env = union_length([ray_interval(p, origin, dirs) for p in phantom.envelope])
    acc("soft", slice(None), slice(None), env)
    for p in phantom.primitives:
        rows, cols = _pixel_box(p, phantom, geom, m)
        if rows.start >= rows.stop or cols.start >= cols.stop:
            continue
        length = chord(p, origin, dirs[rows, cols]) * p.weight
        acc(p.material, rows, cols, length)
        if p.displaces:
            acc(p.displaces, rows, cols, -length)
    out = {}
    for name, arr in maps.items():
        binned = arr.reshape(n, supersample, n, supersample).mean(axis=(1, 3))
        out[name] = (binned if name == "bump" else np.maximum(binned, 0.0)).astype(np.float32)
    return ChordMaps(out)
