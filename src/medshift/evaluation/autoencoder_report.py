"""Does the autoencoder keep what separates the classes? Per-class fidelity and texture."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import torch

from medshift.evaluation.texture import (
    mean_highpass_nps,
    noise_sigma,
    nps_distance,
    texture_mask,
)


def _psnr_ssim(recon: np.ndarray, inputs: np.ndarray) -> tuple[float, float]:
    from torchmetrics.functional.image import (
        peak_signal_noise_ratio,
        structural_similarity_index_measure,
    )

    r, x = torch.from_numpy(recon).float(), torch.from_numpy(inputs).float()
    psnr = float(peak_signal_noise_ratio(r, x, data_range=1.0))
    ssim = cast(torch.Tensor, structural_similarity_index_measure(r, x, data_range=1.0))
    return psnr, float(ssim)


def autoencoder_report(inputs: np.ndarray, recon: np.ndarray, labels: np.ndarray,
                       classes: tuple[str, ...], pred_inputs: np.ndarray,
                       pred_recon: np.ndarray, texture_tolerance: float = 0.2,
                       accuracy_tolerance: float = 0.10) -> dict:
    """Per class: PSNR, SSIM, noise sigma ratio, high-pass NPS relative L1 error, and the
    domain classifier's accuracy on inputs vs reconstructions; plus pass/fail checks.

    ``recon`` (D, N, 1, H, W) holds D decodings of the N ``inputs``, one per draw of the
    decoder's noise, and ``pred_recon`` (D, N) the classifier's labels for them; a single
    draw may come as (N, 1, H, W) and (N,). Every reconstruction metric is the expectation
    over draws: texture statistics pool all draws, and the accuracy is the mean of the
    per-draw accuracies (also listed), since one draw moves it by whole images.
    """
    recon = recon[None] if recon.ndim == inputs.ndim else recon
    pred_recon = pred_recon[None] if pred_recon.ndim == 1 else pred_recon
    if recon.shape[1:] != inputs.shape or pred_recon.shape != recon.shape[:2]:
        raise ValueError(f"reconstructions {recon.shape} / predictions {pred_recon.shape} "
                         f"do not match inputs {inputs.shape}")
    per_class: dict[str, dict[str, Any]] = {}
    for k, name in enumerate(classes):
        idx = np.flatnonzero(labels == k)
        if idx.size == 0:
            continue
        masks = [texture_mask(inputs[i, 0]) for i in idx]
        sigma_in = np.mean([noise_sigma(inputs[i, 0], m) for i, m in zip(idx, masks,
                                                                        strict=True)])
        class_recon = recon[:, idx].reshape(-1, *inputs.shape[1:])  # draw-major
        class_masks = masks * len(recon)
        sigma_rec = np.mean([noise_sigma(r[0], m) for r, m in zip(class_recon, class_masks,
                                                                   strict=True)])
        nps_in = mean_highpass_nps(inputs[idx], masks)
        nps_rec = mean_highpass_nps(class_recon, class_masks)
        nps_error = (nps_distance(nps_rec, nps_in)
                     if nps_in is not None and nps_rec is not None else None)
        psnr, ssim = _psnr_ssim(class_recon, np.concatenate([inputs[idx]] * len(recon)))
        acc_in = float((pred_inputs[idx] == k).mean())
        acc_draws = (pred_recon[:, idx] == k).mean(axis=1)
        per_class[name] = {
            "images": int(idx.size), "psnr": round(psnr, 3), "ssim": round(ssim, 4),
            "noise_sigma_input": round(float(sigma_in), 6),
            "noise_sigma_recon": round(float(sigma_rec), 6),
            "noise_sigma_ratio": round(float(sigma_rec / sigma_in), 4),
            "nps_relative_error": None if nps_error is None else round(nps_error, 4),
            "classifier_accuracy_input": round(acc_in, 4),
            "classifier_accuracy_recon": round(float(acc_draws.mean()), 4),
            "classifier_accuracy_recon_per_draw": [round(float(a), 4) for a in acc_draws],
        }
    checks = {
        "noise_sigma_within_tolerance": all(
            abs(v["noise_sigma_ratio"] - 1) <= texture_tolerance for v in per_class.values()),
        "nps_within_tolerance": all(
            v["nps_relative_error"] is not None and v["nps_relative_error"] <= texture_tolerance
            for v in per_class.values()),
        "classifier_drop_within_tolerance": all(
            v["classifier_accuracy_input"] - v["classifier_accuracy_recon"]
            <= accuracy_tolerance + 1e-9 for v in per_class.values()),
    }
    return {"per_class": per_class, "checks": checks, "noise_draws": int(len(recon)),
            "tolerances": {"texture": texture_tolerance, "accuracy_points": accuracy_tolerance}}


def autoencoder_figure(inputs: np.ndarray, recon: np.ndarray, labels: np.ndarray,
                       classes: tuple[str, ...], path, crop: int = 48) -> None:
    """Per class: a zoomed input crop, its reconstruction, and both high-pass NPS curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from medshift.io import write_figure

    fig, axes = plt.subplots(3, len(classes), figsize=(2.8 * len(classes), 8.4))
    for k, name in enumerate(classes):
        idx = np.flatnonzero(labels == k)
        if idx.size == 0:
            continue
        size = inputs.shape[-1]
        lo = (size - crop) // 2
        for row, (images, title) in enumerate(((inputs, "input"), (recon, "reconstruction"))):
            axes[row, k].imshow(images[idx[0], 0, lo:lo + crop, lo:lo + crop], cmap="gray",
                                vmin=0, vmax=1, interpolation="nearest")
            axes[row, k].set_title(f"{name}: {title}", fontsize=9)
            axes[row, k].set_axis_off()
        masks = [texture_mask(inputs[i, 0]) for i in idx]
        nps_in = mean_highpass_nps(inputs[idx], masks)
        nps_rec = mean_highpass_nps(recon[idx], masks)
        if nps_in is not None and nps_rec is not None:
            f = np.arange(1, len(nps_in) + 1) / (2.0 * len(nps_in))
            axes[2, k].semilogy(f, nps_in, label="input")
            axes[2, k].semilogy(f, nps_rec, "--", label="reconstruction")
            axes[2, k].legend(fontsize=7)
        axes[2, k].set_xlabel("cycles / pixel", fontsize=8)
    axes[2, 0].set_ylabel("high-pass NPS")
    fig.suptitle("Autoencoder on the test split: centre crops and noise power spectra")
    fig.tight_layout()
    write_figure(path, fig)
