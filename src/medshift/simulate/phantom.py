"""Analytic 3D head phantom in patient LPS cm (SIMULATOR.md §1).

Path lengths are additive per material with containment: a primitive adds its chord to its
material and removes it from the material it ``displaces`` (its container). Randomised
children are shrunk until they fit their container (``_fit_inside``). Subject-level pose
and scale are applied to the rays, not to the primitives (see ``HeadPose``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from medshift.simulate.primitives import (
    Primitive,
    axes_along,
    contains,
    rot_x,
    rot_y,
    rot_z,
    surface_points,
    vec3,
)

VAULT_CLIP: tuple[tuple[tuple[float, float, float], float], ...] = (((0.0, 0.0, -1.0), 4.5),)


@dataclass(frozen=True)
class HeadPose:
    """Per-subject similarity of the head in the table frame: x_table = R @ (scale * x)."""

    scale: tuple[float, float, float]
    rotation: tuple[float, ...]  # 3x3 row-major

    @property
    def matrix(self) -> np.ndarray:
        return np.asarray(self.rotation).reshape(3, 3) @ np.diag(self.scale)


@dataclass(frozen=True)
class Phantom:
    """Primitives plus the soft-tissue envelope, whose members are unioned, not summed."""

    envelope: tuple[Primitive, ...]
    primitives: tuple[Primitive, ...]
    pose: HeadPose

    @property
    def materials(self) -> tuple[str, ...]:
        names = {"soft"} | {p.material for p in self.primitives}
        names |= {p.displaces for p in self.primitives if p.displaces}
        return tuple(sorted(names))


def ellipsoid(center, radii, material, displaces=None, rotation=None, clips=(), weight=1.0):
    """Shorthand for an ellipsoid primitive; ``rotation`` is a 3x3 matrix of local axes."""
    rot = tuple(np.eye(3).ravel() if rotation is None else np.asarray(rotation).ravel())
    return Primitive("ellipsoid", vec3(center), vec3(radii), material,
                     tuple(map(float, rot)), displaces, weight, clips)


def cylinder_between(p0, p1, radius_a, radius_b, material, displaces=None, up=(0, 0, 1)):
    """Capped elliptic cylinder from p0 to p1; ``radius_b`` lies along ``up`` projected."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    axis = p1 - p0
    z = axis / np.linalg.norm(axis)
    y = np.asarray(up, float) - np.dot(up, z) * z
    if np.linalg.norm(y) < 1e-6:
        rows = axes_along(z)
    else:
        y /= np.linalg.norm(y)
        rows = np.stack([np.cross(y, z), y, z])
    return Primitive("cylinder", tuple((p0 + p1) / 2), (radius_a, radius_b,
                     float(np.linalg.norm(axis) / 2)), material, tuple(rows.ravel()), displaces)


def _fit_inside(child: Primitive, parent: Primitive, tries: int = 12) -> Primitive:
    """Shrink ``child`` about its centre until its surface lies inside ``parent``."""
    for _ in range(tries):
        pts = surface_points(child, 96)
        keep = np.ones(len(pts), bool)
        for n, d in child.clips:
            keep &= pts @ np.asarray(n) <= d
        bare = Primitive(parent.kind, parent.center, parent.radii, parent.material,
                         parent.rotation)
        if contains(bare, pts[keep]).all():
            return child
        child = child.scaled(0.9)
    return child


def _skull(rng: np.random.Generator) -> tuple[list[Primitive], Primitive]:
    """Layered vault (outer table, diploe, inner table, brain) of varying thickness."""
    outer_r = np.array([9.6, 12.0, 12.5])
    thick = np.maximum(np.array([0.35, 0.75, 0.60]) * rng.uniform(0.8, 1.25, 3), 0.2)
    diploe_frac = rng.uniform(0.4, 0.7)
    table = thick * (1 - diploe_frac) / 2
    shift = (0.0, float(np.clip(rng.normal(0, 0.1), -0.15, 0.15)), 0.0)
    brain_r = outer_r - thick
    c = VAULT_CLIP
    brain = ellipsoid(shift, brain_r, "brain", "cortical", clips=c)
    layers = [
        ellipsoid((0, 0, 0), outer_r, "cortical", "soft", clips=c),
        ellipsoid((0, 0, 0), outer_r - table, "diploe", "cortical", clips=c),
        ellipsoid(shift, brain_r + table, "cortical", "diploe", clips=c),
        brain,
    ]
    # 3D-consistent trabecular texture: density bumps inside the diploe (no displacement).
    for _ in range(int(rng.integers(100, 301))):
        u = rng.normal(size=3)
        u /= np.linalg.norm(u)
        if u[2] * outer_r[2] < -4.0:
            continue
        centre = u * (outer_r - thick / 2)
        size = rng.uniform(0.25, 0.7)
        rows = axes_along(u)
        layers.append(ellipsoid(centre, (size, size * rng.uniform(0.6, 1.0), thick.min() / 3),
                                "bump", None, rows, weight=float(rng.uniform(-0.25, 0.25))))
    return layers, brain


def _skull_base(rng: np.random.Generator, brain: Primitive) -> list[Primitive]:
    """Skull base plate, petrous pyramids, sphenoid body, sella, mastoids with air cells."""
    prims = [ellipsoid((0, 0.5, -3.6), (6.0, 7.0, 0.3), "diploe", "brain"),
             ellipsoid((0, 0.4, -2.2), (0.5, 0.15, 0.6), "cortical", "brain"),
             ellipsoid((0, 11.8, -2.5), (1.6, 0.6, 1.1), "cortical", "soft")]
    body = ellipsoid((0, -3.0, -3.4), (1.7, 1.7, 1.3), "cortical", "brain")
    sphenoid = ellipsoid((0, -3.0, -3.4), np.array([1.2, 1.2, 0.9]) * rng.uniform(0.5, 1.3),
                         "air", "cortical")
    prims += [body, _fit_inside(sphenoid, body.scaled(0.92))]
    for side in (-1, 1):
        prims.append(ellipsoid((side * 4.8, 1.6, -3.4), (3.0, 0.9, 0.9), "dense", "brain",
                               rot_z(side * 40.0).T))
        mastoid = ellipsoid((side * 6.3, 3.8, -5.0), (1.4, 1.6, 2.0), "diploe", "soft")
        prims.append(mastoid)
        r_cell = rng.uniform(0.08, 0.25, int(rng.integers(40, 151)))
        for r in r_cell:
            u = rng.uniform(-1, 1, 3)
            while (u**2).sum() > 1:
                u = rng.uniform(-1, 1, 3)
            centre = np.array(mastoid.center) + u * (np.array(mastoid.radii) - r)
            prims.append(_fit_inside(ellipsoid(centre, (r, r, r), "air", "diploe"), mastoid))
    if rng.random() < 0.4:  # pineal calcification
        prims.append(ellipsoid((0, 1.6, 0.6), (0.2, 0.2, 0.2), "cortical", "brain"))
    for side in (-1, 1):
        prims.append(ellipsoid((side * 1.2, 0.5, 1.5), (0.6, 3.5, 1.0), "csf", "brain"))
    return prims


def _orbits_and_sinuses(rng: np.random.Generator, brain: Primitive) -> list[Primitive]:
    """Orbits with rims and globes; frontal, ethmoid, maxillary sinuses; nasal cavity."""
    prims = []
    for side in (-1, 1):
        rim = ellipsoid((side * 3.1, -7.2, -1.6), (2.0, 2.4, 1.9), "cortical", "brain")
        fat = ellipsoid((side * 3.1, -7.2, -1.6), (1.8, 2.2, 1.7), "fat", "cortical")
        globe = ellipsoid((side * 3.1, -8.0, -1.6), (1.1, 1.1, 1.1), "soft", "fat")
        prims += [rim, fat, globe]
    frontal = rng.uniform(0, 1.3) if rng.random() > 0.05 else 0.0
    for side in (-1, 1):
        if frontal <= 0.05:
            break
        r = np.array([1.0, 0.6, 1.4]) * frontal
        wall = _fit_inside(ellipsoid((side * 0.9, -10.0, 2.4), r + 0.1, "cortical", "brain"),
                           brain.scaled(0.99))
        prims += [wall, ellipsoid(wall.center, np.array(wall.radii) - 0.1, "air", "cortical")]
    for _ in range(int(rng.integers(8, 21))):
        centre = rng.uniform((-1.2, -9.0, -3.0), (1.2, -5.5, -1.0))
        prims.append(ellipsoid(centre, rng.uniform(0.25, 0.5, 3), "air", "brain"))
    maxillary = rng.uniform(0.7, 1.2)
    for side in (-1, 1):
        r = np.array([1.4, 1.8, 1.7]) * maxillary
        prims += [ellipsoid((side * 3.0, -6.6, -5.4), r + 0.15, "cortical", "soft"),
                  ellipsoid((side * 3.0, -6.6, -5.4), r, "air", "cortical")]
    prims += [ellipsoid((0, -8.2, -5.0), (1.0, 2.0, 1.8), "air", "soft"),
              ellipsoid((0, -8.2, -5.0), (0.1, 1.8, 1.5), "cortical", "air")]
    return prims


def _face_and_jaw(rng: np.random.Generator) -> list[Primitive]:
    """Zygomatic arches, palate, mandible (cortical shell + core), teeth with fillings."""
    prims = [ellipsoid((0, -6.5, -7.0), (2.8, 2.6, 0.5), "cortical", "soft")]
    for side in (-1, 1):
        prims.append(cylinder_between((side * 5.5, -6.0, -3.5), (side * 6.3, -1.0, -3.8),
                                      0.35, 0.6, "cortical", "soft"))
    xs = np.linspace(-5.0, 5.0, 10)
    path = [(x, -9.6 + 0.12 * x * x, -10.8) for x in xs]
    path = [(-5.0, -3.2, -10.8)] + path + [(5.0, -3.2, -10.8)]
    for side in (-1, 1):
        path_r = ((side * 5.0, -3.2, -10.8), (side * 5.1, -0.6, -5.4))
        prims += [cylinder_between(*path_r, 0.3, 1.4, "cortical", "soft", up=(0, 1, 0)),
                  cylinder_between(*path_r, 0.15, 1.15, "diploe", "cortical", up=(0, 1, 0))]
    for p0, p1 in itertools.pairwise(path):
        prims += [cylinder_between(p0, p1, 0.5, 1.3, "cortical", "soft"),
                  cylinder_between(p0, p1, 0.25, 1.05, "diploe", "cortical")]
    prims += _teeth(rng)
    return prims


def _teeth(rng: np.random.Generator) -> list[Primitive]:
    prims = []
    missing = set(rng.choice(28, int(rng.integers(0, 5)), replace=False).tolist())
    candidates = rng.choice(28, 3, replace=False)
    fillings = {int(i) for i in candidates[rng.random(3) < 0.3]}
    xs = np.linspace(-2.7, 2.7, 14)
    for arch, (z_crown, root_dir) in enumerate(((-8.1, 1.0), (-9.4, -1.0))):
        for k, x in enumerate(xs):
            idx = arch * 14 + k
            if idx in missing:
                continue
            y = -9.0 + 0.17 * x * x
            crown = ellipsoid((x, y, z_crown), (0.35, 0.45, 0.45), "enamel", "soft")
            root = ellipsoid((x, y, z_crown + root_dir * 0.9), (0.25, 0.3, 0.7), "dentin", "soft")
            prims += [crown, root]
            if idx in fillings:
                prims.append(ellipsoid((x, y, z_crown), (0.2, 0.2, 0.2), "metal", "enamel"))
    return prims


def _spine(rng: np.random.Generator) -> list[Primitive]:
    """C1-C7 on a lordotic arc: bodies (shell + core), arches, spinous processes, dens."""
    radius = rng.uniform(12, 20)
    top, bottom = np.array([0, 1.2, -7.5]), np.array([0, 0.2, -19.0])
    half = np.linalg.norm(top - bottom) / 2
    sag = radius - np.sqrt(radius**2 - half**2)
    prims = []
    for level, f in enumerate(np.linspace(0, 1, 7)):
        centre = top + f * (bottom - top)
        centre = centre + np.array([0, -sag * (1 - ((f - 0.5) * 2) ** 2), 0])
        h = 0.7 * rng.normal(1, 0.05)
        if level == 0:  # C1 ring of touching ellipsoids
            for a in np.linspace(0, 2 * np.pi, 8, endpoint=False):
                pos = centre + 1.3 * np.array([np.cos(a), np.sin(a), 0])
                rows = axes_along(np.array([-np.sin(a), np.cos(a), 0.0]))
                prims.append(ellipsoid(pos, (0.3, 0.35, 0.5), "cortical", "soft", rows))
            continue
        prims += [
            cylinder_between(centre - (0, 0, h), centre + (0, 0, h), 0.9, 0.75, "cortical", "soft",
                             up=(0, 1, 0)),
            cylinder_between(centre - (0, 0, h - 0.1), centre + (0, 0, h - 0.1), 0.8, 0.65,
                             "diploe", "cortical", up=(0, 1, 0)),
            ellipsoid(centre + (0, 1.6, 0), (1.2, 0.45, 0.45), "cortical", "soft"),
            ellipsoid(centre + (0, 3.0, -0.3), (0.3, 1.0, 0.4), "cortical", "soft", rot_x(-20).T),
        ]
        if level == 1:  # dens of C2 reaching into the C1 ring
            prims.append(cylinder_between(centre + (0, 0, h), centre + (0, 0, h + 1.5), 0.5, 0.5,
                                          "cortical", "soft", up=(0, 1, 0)))
    prims.append(cylinder_between((0, -2.0, -19), (0, -2.0, -9), 0.8, 0.6, "air", "soft",
                                  up=(0, 1, 0)))
    return prims


def head_pose(rng: np.random.Generator) -> HeadPose:
    """Subject scale N(1, 0.05) clipped to +-12 % and pitch/roll/yaw N(0, 4/2/2 deg)."""
    scale = vec3(np.clip(rng.normal(1, 0.05, 3), 0.88, 1.12))
    pitch, roll, yaw = rng.normal(0, (4.0, 2.0, 2.0))
    rotation = rot_z(yaw) @ rot_y(roll) @ rot_x(pitch)
    return HeadPose(scale, tuple(rotation.ravel()))


def build_head(rng: np.random.Generator) -> Phantom:
    """One randomised subject (SIMULATOR.md §1.3-1.5); vessels and devices are not modelled."""
    pose = head_pose(rng)
    envelope = (
        ellipsoid((0, 0, 0), (10.1, 12.6, 13.0), "soft", clips=(((0.0, 0.0, -1.0), 8.0),)),
        ellipsoid((0, -6.8, -6.5), (6.2, 4.6, 5.2), "soft"),
        cylinder_between((0, 0.5, -21.0), (0, 0.5, -9.0), 5.5, 5.5, "soft", up=(0, 1, 0)),
    )
    skull, brain = _skull(rng)
    prims = skull + _skull_base(rng, brain) + _orbits_and_sinuses(rng, brain)
    prims += _face_and_jaw(rng) + _spine(rng)
    return Phantom(envelope, tuple(prims), pose)


def forbild_head() -> tuple[Primitive, ...]:
    """Main FORBILD head objects (values relative to water) as additive primitives in LPS.

    Used as a validated test object: weights are value minus container value, so a
    weighted chord sum reproduces FORBILD's overwrite semantics. The nasal cone is an
    ellipsoid here and the ear air-cell lattice is reduced to 27 cells.
    """
    def f(c, r, w, rot=None, kind="ellipsoid", clips=()):
        c = (c[0], -c[1], c[2])  # FORBILD +y anterior -> LPS +y posterior
        p = ellipsoid(c, r, "forbild", None, rot, clips, weight=w)
        return p if kind == "ellipsoid" else Primitive("cylinder", p.center, p.radii,
                                                       p.material, p.rotation, None, w)
    c15 = np.cos(np.radians(15))
    objs = [f((0, 0, 0), (9.6, 12.0, 12.5), 1.80), f((0, 0, 0), (9.0, 11.4, 11.9), -0.75),
            f((4.7, 4.3, 0.872), (2, 2, 2), 0.01), f((-4.7, 4.3, 0.872), (2, 2, 2), 0.01),
            f((-1.08, -9, 0), (0.4,) * 3, 0.0025), f((1.08, -9, 0), (0.4,) * 3, -0.0025),
            f((0, 8.4, 0), (1.8, 3.0, 3.0), -1.05),
            f((-1.9, 5.4, 0), (1.2 * c15, 0.42 * c15, 3.0), 0.75, rot_z(120).T),
            f((1.9, 5.4, 0), (1.2 * c15, 0.42 * c15, 3.0), 0.75, rot_z(-120).T),
            f((-4.3, 6.8, -1), (1.8, 0.24, 2.0), 0.75, rot_z(150).T, "cylinder"),
            f((4.3, 6.8, -1), (1.8, 0.24, 2.0), 0.75, rot_z(30).T, "cylinder"),
            f((0, -3.6, 0), (1.8, 3.6, 3.6), -0.005),
            f((6.39, -6.39, 0), (1.2, 0.42, 1.2), 0.005, rot_z(58.1).T),
            f((0, 3.6, 0), (1.2, 4.0, 0.25 * c15), 0.75, rot_x(-60).T, "cylinder"),
            f((0, 9.6, 0), (0.263, 2.0, 0.4), 0.75, rot_x(60).T),
            f((0, -11.15, -0.2), (0.5, 0.75, 0.2), 0.75),
            f((0, -11.15, 0.2), (0.5, 0.75, 0.2), 0.75),
            f((9.1, 0, 0), (4.2, 1.8, 1.8), 0.75, clips=(((1.0, 0.0, 0.0), 8.8),))]
    for x in (5.6, 6.8, 8.0):
        for y in (0.0, -0.6928, 0.6928):
            for z in (0.0, -0.6928, 0.6928):
                objs.append(f((x, y, z), (0.15,) * 3, -1.80))
    return tuple(objs)
