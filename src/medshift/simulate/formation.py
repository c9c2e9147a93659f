"""Image formation from chord maps: the Azurion-like real chain and the VIST-like simulator.

Real (SIMULATOR.md §3, cascade order of pitfall P4): polyenergetic primary -> scatter ->
shutters -> focal-spot blur -> quanta (AEC, heel) -> quantum noise -> detector MTF ->
electronic noise -> fixed pattern -> flat field -> log -> noise reduction -> multiscale
processing -> S-curve -> 12 bit. Synthetic (§4): monoenergetic 60 keV with weakened soft
tissue -> blur -> linear window -> white display noise -> 8-bit frame buffer.
Each render returns the noisy image and the noise-free image of the same operator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage, signal

from medshift.simulate.classes import ImageParams, RealClassSpec, SynClassSpec
from medshift.simulate.geometry import ViewGeometry
from medshift.simulate.processing import (
    band_noise_levels,
    multiscale_enhance,
    noise_reduction,
    quantise,
    s_curve,
    window,
)
from medshift.simulate.projector import ChordMaps
from medshift.simulate.tables import PhysicsTables, load_tables

SWANK = 0.88
CSI_CM = 0.06 * 0.8  # 600 um CsI at 80 % packing
ELECTRONIC_VAR_PER_MM2 = 2.0**2 / 0.154**2  # sigma_e = 2 quanta per 154 um pixel
HEEL_U_CM, HEEL_GAIN = (-10, -5, 0, 5, 10), (0.929, 0.975, 1.0, 1.011, 1.012)
SOFT_GROUP = ("soft", "brain", "fat", "csf", "blood")
BONE_GROUP = ("cortical", "diploe", "dense", "enamel", "dentin")


@dataclass(frozen=True)
class Rendered:
    """One class render: stored integers, display [0, 1] and the noise-free display."""

    stored: np.ndarray  # uint16, (N, N)
    display: np.ndarray  # float32, stored / full scale
    clean: np.ndarray  # float32, noise-free display
    full_scale: int
    window: tuple[float, float]  # WindowCenter, WindowWidth in stored units


def polyenergetic_transmission(maps: ChordMaps, spectrum_weight: np.ndarray,
                               tables: PhysicsTables) -> np.ndarray:
    """Primary transmission P / P0 = sum_E w(E) exp(-sum_m mu_m(E) L_m) / sum_E w(E)."""
    names = tuple(maps.lengths)
    mu = tables.mu_matrix(tuple("diploe" if m == "bump" else m for m in names))
    keep = spectrum_weight > 0
    mu, w = mu[:, keep].astype(np.float32), spectrum_weight[keep]
    stack = np.stack([maps.lengths[m].ravel() for m in names], 1)
    out = np.empty(stack.shape[0])
    for s in range(0, stack.shape[0], 1 << 15):
        out[s:s + (1 << 15)] = np.exp(-(stack[s:s + (1 << 15)] @ mu)) @ w
    return (out / w.sum()).reshape(maps.lengths[names[0]].shape)


def shutter_map(geom: ViewGeometry, n: int, floor: float = 0.002) -> np.ndarray:
    """Collimator transmission: 1 inside, ``floor`` outside, 3-px logistic penumbra."""
    idx = (np.arange(n) + 0.5) / n
    left, right, top, bottom = geom.shutters
    ramp = lambda d: 1 / (1 + np.exp(-d * n / 1.5))  # noqa: E731
    cols = ramp(idx - left) * ramp(1 - right - idx)
    rows = ramp(idx - top) * ramp(1 - bottom - idx)
    return floor + (1 - floor) * np.outer(rows, cols)


def scatter_field(primary: np.ndarray, pixel_mm: float, factor: int = 4) -> np.ndarray:
    """Unscaled scatter a (x) K with a = P ln(1/P); K = 0.6 Gauss(FWHM 40 mm) + 0.4 exp(120 mm).

    Scatter is smooth, so it is convolved on a grid ``factor`` times coarser.
    """
    a = primary * -np.log(np.clip(primary, 1e-6, 1))
    coarse = ndimage.zoom(a, 1 / factor, order=1)
    pc = pixel_mm * a.shape[0] / coarse.shape[0]
    r = np.hypot(*np.meshgrid(*(np.arange(-s + 1, s) * pc for s in coarse.shape)))
    gauss = np.exp(-0.5 * (r / (40 / 2.355)) ** 2)
    expo = np.exp(-r / (120 / (2 * np.log(2))))
    kernel = 0.6 * gauss / gauss.sum() + 0.4 * expo / expo.sum()
    conv = signal.fftconvolve(coarse, kernel, mode="same")
    return ndimage.zoom(conv, np.array(a.shape) / np.array(conv.shape), order=1)


def detector_mtf(n: int, pixel_mm: float, native_mm: float) -> np.ndarray:
    """(N, N//2+1) rfft2 transfer of CsI (f_c = 1.29 cyc/mm) times the native pixel sinc."""
    fy, fx = np.fft.fftfreq(n, pixel_mm), np.fft.rfftfreq(n, pixel_mm)
    f = np.hypot(fy[:, None], fx[None, :])
    return 1 / (1 + (f / 1.29) ** 2) * np.abs(np.sinc(native_mm * fy)[:, None]
                                               * np.sinc(native_mm * fx)[None, :])


def detector_fpn(n: int, rng: np.random.Generator) -> np.ndarray:
    """Residual fixed-pattern gain of one detector (drawn once per data set, pitfall P12)."""
    yy, xx = np.mgrid[0:n, 0:n] / n - 0.5
    coef = rng.uniform(-0.005, 0.005, 3)
    gain = 1 + 0.003 * rng.standard_normal((n, n)) + coef[0] * xx**2 + coef[1] * yy**2
    gain = gain + coef[2] * xx * yy
    for _ in range(int(rng.integers(0, 3))):
        k = int(rng.integers(0, n))
        sign = rng.choice((-1, 1)) * 0.002
        if rng.random() < 0.5:
            gain[:, k] += sign
        else:
            gain[k, :] += sign
    return gain


def _centre_roi(mask: np.ndarray) -> np.ndarray:
    """Central part of the head region (about a quarter of its area) for AEC and SPR."""
    ys, xs = np.nonzero(mask)
    cy, cx = ys.mean(), xs.mean()
    yy, xx = np.mgrid[0:mask.shape[0], 0:mask.shape[1]]
    radius = np.sqrt(mask.sum() / 4 / np.pi)
    roi = mask & ((yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2)
    return roi if roi.any() else mask


@dataclass(frozen=True)
class Detection:
    """Detector output in quanta per pixel: noisy, noise-free, and the open-field reference."""

    noisy: np.ndarray
    clean: np.ndarray
    open_field: np.ndarray
    mean_quanta: np.ndarray  # before the detector MTF

    def log(self, noisy: bool = True) -> np.ndarray:
        """Flat-field corrected line-integral image -ln(q / q_open)."""
        q = self.noisy if noisy else self.clean
        return -np.log(np.clip(q / self.open_field, 1e-4, 1.0))


def expected_signal(maps: ChordMaps, geom: ViewGeometry, spec: RealClassSpec, p: ImageParams,
                    head: np.ndarray) -> np.ndarray:
    """Expected detected signal relative to the open field: primary + scatter, collimated,
    focal-spot blurred (blurs the object, not the quanta)."""
    tables, n = load_tables(), head.shape[0]
    px = geom.pixel_mm(n)
    qde = 1 - np.exp(-tables.mu_matrix(("csi",))[0] * CSI_CM)
    phi = tables.spectrum(p.kvp, p.cu_mm)
    shutter = shutter_map(geom, n)
    primary = polyenergetic_transmission(maps, phi * qde * tables.energy_kev, tables) * shutter
    roi = _centre_roi(head)
    scatter = scatter_field(primary, px)
    kappa = p.spr * primary[roi].mean() / max(scatter[roi].mean(), 1e-12)
    expected = primary + kappa * scatter * shutter
    blur_mm = spec.focal_spot_mm * (geom.magnification - 1)
    return ndimage.gaussian_filter(expected, blur_mm / 2.355 / px, mode="nearest")


def detect(expected: np.ndarray, geom: ViewGeometry, spec: RealClassSpec, p: ImageParams,
           fpn: np.ndarray, roi: np.ndarray, rng: np.random.Generator,
           reference_pixel_mm: float = 0.365) -> Detection:
    """Quanta (AEC to the class dose at ``roi``, heel), quantum noise with Swank and temporal
    averaging, CsI/pixel MTF on the noisy quanta, electronic noise, fixed pattern, saturation."""
    tables, n = load_tables(), expected.shape[0]
    qde = 1 - np.exp(-tables.mu_matrix(("csi",))[0] * CSI_CM)
    phi = tables.spectrum(p.kvp, p.cu_mm)
    area = reference_pixel_mm**2
    q_ref = p.dose_ngy * tables.photons_per_ngy(p.kvp, p.cu_mm) * area
    q_ref *= float((phi * qde).sum() / phi.sum())
    u_cm, _ = geom.detector_coords_cm(n)
    heel = np.interp(u_cm, HEEL_U_CM, HEEL_GAIN)
    q_open = q_ref * p.aec_error * heel / expected[roi].mean()
    q_mean = q_open * expected
    mtf = detector_mtf(n, geom.pixel_mm(n), 0.154 * spec.binning)
    blur = lambda img: np.fft.irfft2(np.fft.rfft2(img) * mtf, s=img.shape)  # noqa: E731
    quantum = np.sqrt(q_mean / (SWANK * spec.n_eff)) * rng.standard_normal((n, n))
    electronic = np.sqrt(ELECTRONIC_VAR_PER_MM2 * area / spec.n_eff) * rng.standard_normal((n, n))
    q_sat = q_ref / p.dose_ngy * (40_000.0 if spec.radiation_setting == "GR" else 4_000.0)
    noisy = np.minimum((blur(q_mean + quantum) + electronic) * fpn, q_sat)
    return Detection(noisy, np.minimum(blur(q_mean), q_sat), q_open, q_mean)


def render_real(maps: ChordMaps, geom: ViewGeometry, spec: RealClassSpec, p: ImageParams,
                fpn: np.ndarray, head: np.ndarray, rng: np.random.Generator,
                reference_pixel_mm: float = 0.365) -> Rendered:
    """Render one real-domain image and its noise-free counterpart."""
    expected = expected_signal(maps, geom, spec, p, head)
    det = detect(expected, geom, spec, p, fpn, _centre_roi(head), rng, reference_pixel_mm)
    return _process_real(det.log(True), det.log(False), spec, p, head)


def _process_real(noisy: np.ndarray, clean: np.ndarray, spec: RealClassSpec, p: ImageParams,
                  head: np.ndarray) -> Rendered:
    """Vendor chain on the log image; the clean image goes through the identical operator."""
    n = noisy.shape[0]
    levels = 5 + max(0, int(round(np.log2(n / 256))))
    noisy = noise_reduction(noisy, spec.nr_strength)
    clean = noise_reduction(clean, spec.nr_strength)
    band_noise = band_noise_levels(noisy - clean, levels)
    gains = (spec.gains[0] * p.gain_jitter, spec.gains[1] * p.gain_jitter, spec.gains[2])
    noisy = multiscale_enhance(noisy, gains, band_noise)
    clean = multiscale_enhance(clean, gains, band_noise)
    lo, hi = window(clean, head, p.window_jitter, (5.0, 99.5))
    to_display = lambda x: 1 - s_curve(np.clip((x - lo) / (hi - lo), 0, 1), spec.gamma)  # noqa: E731
    full = 4095
    stored = quantise(to_display(noisy), full + 1).astype(np.uint16)
    return Rendered(stored, (stored / full).astype(np.float32),
                    to_display(clean).astype(np.float32), full, (2048.0, 4096.0))


SYNTHETIC_FOV_RADIUS = 0.48  # of the image side: the simulator's round field of view


def synthetic_field(n: int) -> np.ndarray:
    """(N, N) bool: the synthetic domain's round field of view (outside is displayed black)."""
    yy, xx = (np.mgrid[0:n, 0:n] + 0.5) / n - 0.5
    return np.hypot(yy, xx) <= SYNTHETIC_FOV_RADIUS


def real_field(geom: ViewGeometry, n: int) -> np.ndarray:
    """(N, N) bool: pixels inside this acquisition's collimation (shutter transmission > 0.5)."""
    return shutter_map(geom, n) > 0.5


def synthetic_line_integral(maps: ChordMaps, tables: PhysicsTables) -> np.ndarray:
    """Monoenergetic 60 keV line integral with collapsed soft tissue (x0.6) and uniform bone."""
    soft, bone = 0.6 * tables.mu_at("soft", 60.0), tables.mu_at("cortical", 60.0)
    total = np.zeros_like(maps.get("soft"), dtype=np.float64)
    for name, length in maps.lengths.items():
        if name in SOFT_GROUP:
            total += soft * length
        elif name in BONE_GROUP:
            total += bone * length
        elif name in ("metal", "iodine_blood"):
            total += np.minimum(tables.mu_at(name, 60.0) * (1.3 if name != "metal" else 1)
                                * length, -np.log(0.02))
        elif name not in ("air", "bump"):
            total += tables.mu_at(name, 60.0) * length
    return total


def render_synthetic(maps: ChordMaps, spec: SynClassSpec, p: ImageParams, head: np.ndarray,
                     rng: np.random.Generator) -> Rendered:
    """Render one synthetic-domain image and its noise-free counterpart."""
    n = head.shape[0]
    line = synthetic_line_integral(maps, load_tables())
    line = ndimage.gaussian_filter(line, 0.8 * n / 780, mode="nearest")
    lo, hi = window(line, head, p.window_jitter)
    clean = 1 - np.clip((line - lo) / (hi - lo), 0, 1) ** 0.8
    fov = synthetic_field(n)
    clean = np.where(fov, clean, 0.0)
    noisy = np.where(fov, clean + p.noise_sigma * rng.standard_normal((n, n)), 0.0)
    stored = (quantise(noisy, 256) * 16).astype(np.uint16)
    full = 255 * 16
    return Rendered(stored, (stored / full).astype(np.float32), clean.astype(np.float32), full,
                    (full / 2, float(full)))
