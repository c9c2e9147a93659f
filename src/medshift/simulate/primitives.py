"""Analytic primitives and their exact ray intervals (SIMULATOR.md §2.4).

A ray is x(t) = o + t d with |d| = 1 in world units, so an interval length is a path length
in cm. Rays may be given in a scaled frame (d not unit): intervals in t stay the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Vec3 = tuple[float, float, float]


def vec3(values) -> Vec3:
    """Three floats from any length-3 sequence."""
    x, y, z = (float(v) for v in values)
    return (x, y, z)
IDENTITY: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


def rot_x(deg: float) -> np.ndarray:
    """Right-handed rotation about +x."""
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def rot_y(deg: float) -> np.ndarray:
    """Right-handed rotation about +y."""
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def rot_z(deg: float) -> np.ndarray:
    """Right-handed rotation about +z."""
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def axes_along(direction: np.ndarray) -> np.ndarray:
    """Orthonormal rows whose third row (local z) points along ``direction``."""
    z = np.asarray(direction, float) / np.linalg.norm(direction)
    helper = np.array([1.0, 0, 0]) if abs(z[0]) < 0.9 else np.array([0, 1.0, 0])
    x = np.cross(helper, z)
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z])


@dataclass(frozen=True)
class Primitive:
    """A material-tagged ellipsoid or finite capped elliptic cylinder (local axis z).

    ``rotation`` holds the local axes as rows (world -> local is ``A @ (x - c)``); for a
    cylinder ``radii[2]`` is the half height. Clip planes keep ``n . x <= d`` (world frame).
    The path length adds ``weight`` to ``material`` and removes it from ``displaces``.
    """

    kind: Literal["ellipsoid", "cylinder"]
    center: Vec3
    radii: Vec3
    material: str
    rotation: tuple[float, ...] = IDENTITY
    displaces: str | None = None
    weight: float = 1.0
    clips: tuple[tuple[Vec3, float], ...] = field(default=())

    @property
    def axes(self) -> np.ndarray:
        return np.asarray(self.rotation, float).reshape(3, 3)

    @property
    def bounding_radius(self) -> float:
        r = np.asarray(self.radii, float)
        return float(np.linalg.norm(r) if self.kind == "cylinder" else r.max())

    def scaled(self, factor: float) -> Primitive:
        """Same primitive with radii multiplied by ``factor`` (centre fixed)."""
        r = vec3(float(v) * factor for v in self.radii)
        return Primitive(self.kind, self.center, r, self.material, self.rotation,
                         self.displaces, self.weight, self.clips)


def ray_interval(p: Primitive, origin: np.ndarray, dirs: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Entry and exit parameters (t0, t1) of rays in ``p``; a miss has t1 <= t0.

    Args:
        origin: (3,) or (..., 3) ray origins.
        dirs: (..., 3) ray directions.
    """
    a_mat, r = p.axes, np.asarray(p.radii, float)
    o = ((np.asarray(origin, float) - np.asarray(p.center)) @ a_mat.T) / r
    d = (dirs @ a_mat.T) / r
    o = np.broadcast_to(o, d.shape)
    if p.kind == "ellipsoid":
        t0, t1 = _quadric(o, d, (0, 1, 2))
    else:
        t0, t1 = _quadric(o, d, (0, 1))
        with np.errstate(divide="ignore", invalid="ignore"):
            ta, tb = (-1 - o[..., 2]) / d[..., 2], (1 - o[..., 2]) / d[..., 2]
        parallel = np.abs(d[..., 2]) < 1e-12
        inside = np.abs(o[..., 2]) <= 1
        lo = np.where(parallel, np.where(inside, -np.inf, np.inf), np.minimum(ta, tb))
        hi = np.where(parallel, np.where(inside, np.inf, -np.inf), np.maximum(ta, tb))
        t0, t1 = np.maximum(t0, lo), np.minimum(t1, hi)
    for n, dist in p.clips:
        t0, t1 = _clip(t0, t1, np.asarray(origin, float), dirs, np.asarray(n, float), dist)
    return t0, t1


def _quadric(o: np.ndarray, d: np.ndarray, dims: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """Interval of the unit sphere (or infinite unit cylinder) along the given dims."""
    a = sum(d[..., k] * d[..., k] for k in dims)
    b = sum(d[..., k] * o[..., k] for k in dims)
    c = sum(o[..., k] * o[..., k] for k in dims) - 1.0
    disc = b * b - a * c
    hit = (disc > 0) & (a > 1e-300)
    root = np.sqrt(np.where(hit, disc, 0.0))
    a_safe = np.where(hit, a, 1.0)
    t0 = np.where(hit, (-b - root) / a_safe, 0.0)
    t1 = np.where(hit, (-b + root) / a_safe, 0.0)
    return t0, t1


def _clip(t0, t1, origin, dirs, n, dist):
    """Intersect [t0, t1] with the half-space n . (o + t d) <= dist."""
    nd = dirs @ n
    no = np.broadcast_to(np.asarray(origin) @ n, nd.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_plane = (dist - no) / nd
    t0 = np.where(nd < 0, np.maximum(t0, t_plane), t0)
    t1 = np.where(nd > 0, np.minimum(t1, t_plane), t1)
    outside_parallel = (nd == 0) & (no > dist)
    return t0, np.where(outside_parallel, t0, t1)


def chord(p: Primitive, origin: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    """Path length of each ray inside ``p`` (same units as t)."""
    t0, t1 = ray_interval(p, origin, dirs)
    return np.maximum(t1 - t0, 0.0)


def union_length(intervals: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Length of the union of per-ray intervals, exactly (sweep over sorted endpoints)."""
    ends = np.stack([np.stack([a, np.maximum(a, b)]) for a, b in intervals])  # (K, 2, ...)
    pts = np.sort(ends.reshape(-1, *ends.shape[2:]), axis=0)
    total = np.zeros(pts.shape[1:])
    for k in range(pts.shape[0] - 1):
        mid = 0.5 * (pts[k] + pts[k + 1])
        covered = np.zeros(mid.shape, bool)
        for lo, hi in ends:
            covered |= (mid > lo) & (mid < hi)
        total += np.where(covered, pts[k + 1] - pts[k], 0.0)
    return total


def contains(p: Primitive, points: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """Whether each point (..., 3) lies inside ``p`` including its clip planes."""
    local = ((points - np.asarray(p.center)) @ p.axes.T) / np.asarray(p.radii)
    if p.kind == "ellipsoid":
        inside = (local**2).sum(-1) <= 1 + tol
    else:
        inside = ((local[..., :2] ** 2).sum(-1) <= 1 + tol) & (np.abs(local[..., 2]) <= 1 + tol)
    for n, dist in p.clips:
        inside &= points @ np.asarray(n) <= dist + tol
    return inside


def surface_points(p: Primitive, count: int = 200) -> np.ndarray:
    """Points on the primitive's (unclipped) surface, deterministic Fibonacci layout."""
    k = np.arange(count) + 0.5
    phi = np.arccos(1 - 2 * k / count)
    theta = np.pi * (1 + 5**0.5) * k
    unit = np.stack([np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi), np.cos(phi)], 1)
    if p.kind == "cylinder":
        xy = unit[:, :2] / np.maximum(np.linalg.norm(unit[:, :2], axis=1, keepdims=True), 1e-9)
        unit = np.concatenate([xy, np.clip(unit[:, 2:] * 1.2, -1, 1)], 1)
    return (unit * np.asarray(p.radii)) @ p.axes + np.asarray(p.center)
