"""Signal helpers every tier shares: the Immerkaer noise filter, the saturation limits and
the one definition of the texture region, in torch (training, the decoder's calibration)
and numpy (reports, the simulator's QC). Imports nothing from medshift.

The texture region is where a noise filter measures noise rather than structure: pixels
strictly inside ``UNSATURATED`` whose ``(2 margin + 1)``-square neighbourhood lies inside
the image and holds no saturated pixel. Square, because the filters' supports are square
(the Immerkaer kernel dilated by 2 reaches 2 px diagonally); the image border counts as
saturated, because a filter there sees padding, not the image.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

IMMERKAER = np.array([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]])
UNSATURATED = (0.03, 0.97)  # pixel values between which noise is measurable
TEXTURE_MARGIN = 3  # px: beyond the widest noise filter's reach (2 px, band 2)


def noise_filter(x: torch.Tensor, dilation: int = 1) -> torch.Tensor:
    """Immerkaer noise filter of ``x`` (B, 1, H, W), zero padded: anatomy (planes) cancels
    and white noise of std s keeps std s (Immerkaer 1996, kernel / 6); dilated, it passes
    the band around 0.5 / ``dilation`` cycles/pixel instead of the finest."""
    import torch

    kernel = torch.as_tensor(IMMERKAER / 6.0, dtype=x.dtype, device=x.device)
    return torch.nn.functional.conv2d(x, kernel[None, None], padding=dilation,
                                      dilation=dilation)


def texture_region(x: torch.Tensor, margin: int = TEXTURE_MARGIN) -> torch.Tensor:
    """The texture region (module docstring) of ``x`` (B, 1, H, W) in [0, 1]: 1 inside,
    0 outside, same shape and dtype."""
    import torch

    low, high = UNSATURATED
    outside = ((x <= low) | (x >= high)).to(x.dtype)
    padded = torch.nn.functional.pad(outside, (margin,) * 4, value=1.0)
    return 1 - torch.nn.functional.max_pool2d(padded, 2 * margin + 1, stride=1)


def texture_mask(img: np.ndarray, margin: int = TEXTURE_MARGIN) -> np.ndarray:
    """The texture region (module docstring) of one image (H, W) in [0, 1], as a boolean
    mask; equals ``texture_region`` of the same image."""
    from scipy import ndimage

    inside = (img > UNSATURATED[0]) & (img < UNSATURATED[1])
    return ndimage.minimum_filter(inside, size=2 * margin + 1, mode="constant", cval=False)
