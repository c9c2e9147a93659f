"""MedShift translation: invert with the source label to tau, generate with the target label.

    z1 = normalise(encode(x));  dz/dt = v_a from t = 1 down to tau  (z_tau, the shared latent);
    dz/dt = v_b from tau up to 1;  decode.

This deterministic encode-then-decode through a shared latent is a concatenation of two
probability-flow bridges, as in dual diffusion implicit bridges (Su et al., ICLR 2023); the
MedShift paper (arXiv 2508.21435) calls it implicit conditional transport. The ODE legs are
noise-free; only the decoder's texture noise is random, drawn per image from a generator
seeded by (seed, key), so an image's translation never depends on its batch.

NFE: network evaluations per image over both legs; a guided evaluation (conditional and
null label in one batch) counts as two.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from medshift.flow.guidance import guided_velocity
from medshift.flow.solvers import METHODS, VelocityFn, check_method, solve, time_grid
from medshift.latents import decode, encode
from medshift.models.export import MedShiftModel
from medshift.precision import bf16_autocast, use_bf16
from medshift.seeding import image_generators


@dataclass(frozen=True)
class TranslationRequest:
    """How to translate. The defaults are params.translate's (a test holds them equal): the
    validation sweep's choice (docs/decisions.md), which carried every direction of the
    benchmark (synthetic <-> real and the dose pairs within a domain) into its target class.

    Attributes:
        tau: intermediate time in (0, 1]; high keeps structure, low changes style more.
        nfe: network evaluations per image over both legs (guided ones count twice); the
            fixed-step solvers take as many steps as fit (at least one per leg).
        solver: "euler", "midpoint", "heun", "rk4" or the adaptive "dopri5".
        guidance: classifier-free guidance scale w (1 = plain conditional velocity).
        seed: run seed of the decoder's per-image texture noise (and SDEdit's noise).
        batch_size: images per forward pass; bounds peak memory.
        rtol, atol: tolerances of the adaptive solver.
        bf16: bf16 autocast for the velocity network and the decoder's trunk (True, False,
            or "auto": where the device computes bf16 natively, as in training); the ODE
            state, the decoder's heads, noise and calibration stay fp32. 3.3x the images/s on
            this project's AMX CPU; False for fp32 throughout.
    """

    tau: float = 0.2
    nfe: int = 24
    solver: str = "midpoint"
    guidance: float = 1.5
    seed: int = 0
    batch_size: int = 64
    rtol: float = 1e-3
    atol: float = 1e-4
    bf16: bool | str = "auto"

    def __post_init__(self) -> None:
        check_method(self.solver)
        if not 0.0 < self.tau <= 1.0:
            raise ValueError(f"tau must be in (0, 1], got {self.tau}")
        if self.nfe < 1 or self.batch_size < 1:
            raise ValueError("nfe and batch_size must be >= 1")
        if not math.isfinite(self.guidance) or self.guidance < 0:
            raise ValueError(f"guidance must be a finite number >= 0, got {self.guidance}")
        if self.bf16 not in (True, False, "auto"):
            raise ValueError(f"bf16 must be true, false or auto, got {self.bf16!r}")

    @property
    def cost(self) -> int:
        """Network evaluations per velocity evaluation (2 when guided)."""
        return 1 if self.guidance == 1.0 else 2

    @property
    def min_nfe(self) -> int:
        """The fewest NFE that give each of two legs one full solver step (0 for the
        adaptive solver); below it the fixed-step solvers still take one step a leg, so
        user-facing entry points refuse such a budget instead of spending more than asked."""
        per_step = METHODS[self.solver][1]
        return 0 if per_step is None else 2 * self.cost * per_step

    def require_full_steps(self) -> None:
        """Refuse a budget below ``min_nfe`` (the user-facing entry points call this).

        Raises:
            ValueError: ``nfe`` gives a fixed-step solver less than one step per leg.
        """
        if self.nfe < self.min_nfe:
            why = " (guided evaluations count twice)" if self.cost == 2 else ""
            raise ValueError(f"nfe {self.nfe} is below one {self.solver} step per leg: at "
                             f"least {self.min_nfe} with guidance {self.guidance}{why}")

    def leg_budget(self, legs: int = 2) -> int:
        """Velocity evaluations available to each of ``legs`` integration legs."""
        return max(1, self.nfe // (legs * self.cost))


@dataclass(frozen=True)
class Translation:
    """A translated batch.

    Attributes:
        images: (B, 1, H, W) float32 in [0, 1], on the CPU.
        source_labels: (B,) int64 label used for the inversion (null = unknown source).
        nfe: network evaluations per image over both legs, as counted.
    """

    images: np.ndarray
    source_labels: np.ndarray
    nfe: int


class _Counted:
    """A velocity function that counts network evaluations per image and runs the network
    under bf16 autocast when asked (the ODE state stays fp32)."""

    def __init__(self, fn: VelocityFn, cost: int, bf16: bool, device: torch.device) -> None:
        self.fn, self.cost, self.count = fn, cost, 0
        self.bf16, self.device = bf16, device

    def __call__(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        self.count += self.cost
        with bf16_autocast(self.bf16, self.device):
            return self.fn(t, x).to(x.dtype)


def _integrate(model: MedShiftModel, z: torch.Tensor, labels: torch.Tensor, t0: float,
               t1: float, request: TranslationRequest, legs: int) -> tuple[torch.Tensor, int]:
    """z at t1 from z at t0 under the guided velocity of ``labels``; (z, NFE per image).

    The adaptive solver's step sizes depend on an error norm over the whole state, so it
    integrates each image alone: its results stay batch-independent too.
    """
    if t0 == t1:  # tau = 1: the latent itself is the shared point
        return z, 0
    grid = time_grid(t0, t1, request.leg_budget(legs), request.solver)
    null = model.velocity.spec.null_label
    bf16 = use_bf16(request.bf16, z.device)
    if METHODS[request.solver][1] is not None:
        field = _Counted(guided_velocity(model.velocity, labels, request.guidance, null),
                         request.cost, bf16, z.device)
        return solve(field, z, grid, request.solver), field.count
    outs, counts = [], []
    for k in range(len(z)):
        field = _Counted(guided_velocity(model.velocity, labels[k:k + 1], request.guidance,
                                         null), request.cost, bf16, z.device)
        outs.append(solve(field, z[k:k + 1], grid, request.solver, rtol=request.rtol,
                          atol=request.atol))
        counts.append(field.count)
    return torch.cat(outs), int(round(float(np.mean(counts))))


@torch.no_grad()
def invert(model: MedShiftModel, images: torch.Tensor, source: torch.Tensor,
           request: TranslationRequest) -> tuple[torch.Tensor, int]:
    """The shared latent z_tau of images under source labels, and the NFE spent.

    Args:
        images: (B, 1, H, W) float32 in [0, 1] on the model's device.
        source: (B,) int64 labels (the null label for an unknown source).

    Returns:
        z_tau (B, C, H/f, W/f) normalised latent at time tau, and NFE per image.
    """
    with bf16_autocast(use_bf16(request.bf16, images.device), images.device):
        z = encode(model.autoencoder, images, model.stats).float()
    return _integrate(model, z, source, 1.0, request.tau, request, legs=2)


@torch.no_grad()
def generate(model: MedShiftModel, z_tau: torch.Tensor, target: torch.Tensor,
             request: TranslationRequest, keys: Sequence[str | int], legs: int = 2
             ) -> tuple[torch.Tensor, int]:
    """Images of the target classes from z_tau (time tau), and the NFE spent.

    Args:
        z_tau: (B, C, h, w) normalised latents at time tau, on the model's device.
        target: (B,) int64 target labels.
        keys: B per-image keys seeding the decoder's texture noise.
        legs: legs sharing the request's NFE budget (2 for MedShift, 1 for SDEdit).

    Returns:
        (B, 1, H, W) images in [0, 1] on the model's device, and NFE per image.
    """
    z, nfe = _integrate(model, z_tau, target, request.tau, 1.0, request, legs)
    gens = image_generators(request.seed, keys, z.device)
    with bf16_autocast(use_bf16(request.bf16, z.device), z.device):
        return decode(model.autoencoder, z, model.stats, gens).float(), nfe


def _labels(model: MedShiftModel, names: str | Sequence[str], n: int) -> torch.Tensor:
    if isinstance(names, str):
        names = [names] * n
    if len(names) != n:
        raise ValueError(f"{len(names)} class names for {n} images")
    return torch.tensor([model.label(name) for name in names], device=model.device)


def batch_slices(n: int, size: int) -> list[slice]:
    return [slice(k, min(n, k + size)) for k in range(0, n, size)]


def translate_to_targets(model: MedShiftModel, images: np.ndarray | torch.Tensor,
                         source: torch.Tensor | Sequence[int], targets: Sequence[int],
                         request: TranslationRequest, keys: Sequence[str | int] | None = None
                         ) -> tuple[dict[int, np.ndarray], int]:
    """Translate each image to every target label, inverting each batch once.

    Args:
        images: (N, 1, H, W) float32 in [0, 1] at the model's working size (any device).
        source: (N,) source labels (the null label where unknown).
        targets: target labels; each gets the whole set.
        request: the translation settings; ``batch_size`` bounds memory.
        keys: N per-image keys for the decoder noise (default: the input indices).

    Returns:
        ({target label: (N, 1, H, W) float32 in [0, 1] on the CPU}, NFE per image and target).
    """
    n = len(images)
    keys = list(range(n)) if keys is None else list(keys)
    source = torch.as_tensor(source, dtype=torch.int64)
    out: dict[int, list[np.ndarray]] = {t: [] for t in targets}
    nfe = 0
    for part in batch_slices(n, request.batch_size):
        x = torch.as_tensor(images[part], dtype=torch.float32).to(model.device)
        z_tau, nfe_in = invert(model, x, source[part].to(model.device), request)
        for t in targets:
            labels = torch.full((len(x),), t, dtype=torch.int64, device=model.device)
            y, nfe_out = generate(model, z_tau, labels, request, keys[part])
            out[t].append(y.float().cpu().numpy())
            nfe = nfe_in + nfe_out
    return {t: np.concatenate(v) for t, v in out.items()}, nfe


def translate(model: MedShiftModel, images: np.ndarray | torch.Tensor,
              source: str | Sequence[str], target: str | Sequence[str],
              request: TranslationRequest, keys: Sequence[str | int] | None = None,
              source_labels: np.ndarray | None = None) -> Translation:
    """Translate images from their source classes to target classes (MedShift transport).

    Args:
        images: (N, 1, H, W) float32 in [0, 1] at the model's working size.
        source: a class name, "unknown" (null label), or one name per image.
        target: a class name or one per image.
        request: the translation settings.
        keys: N per-image keys for the decoder noise (default: the input indices).
        source_labels: (N,) labels that override ``source`` (e.g. predicted by a classifier).

    Returns:
        The translated images (CPU) with the labels used and the NFE per image.

    Raises:
        ValueError: an unknown class name, or lists of the wrong length.
    """
    n = len(images)
    keys = list(range(n)) if keys is None else list(keys)
    src = (torch.as_tensor(source_labels, dtype=torch.int64, device=model.device)
           if source_labels is not None else _labels(model, source, n))
    tgt = _labels(model, target, n)
    outs, nfe = [], 0
    for part in batch_slices(n, request.batch_size):
        x = torch.as_tensor(images[part], dtype=torch.float32).to(model.device)
        z_tau, nfe_in = invert(model, x, src[part], request)
        y, nfe_out = generate(model, z_tau, tgt[part], request, keys[part])
        outs.append(y.float().cpu().numpy())
        nfe = nfe_in + nfe_out
    return Translation(np.concatenate(outs), src.cpu().numpy(), nfe)
