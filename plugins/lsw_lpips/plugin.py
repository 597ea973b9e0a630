"""Plugin registration for lsw_lpips: perceptual distances "lpips-alex", "lpips-vgg", "pixel-ssim"."""

from __future__ import annotations

import os
import warnings
from functools import partial
from typing import TYPE_CHECKING

from lsw_core.plugins import hookimpl

if TYPE_CHECKING:  # torch loads when a distance is built, not when plugins are listed
    from torch import nn


def make_lpips(
    trunk: str, checkpoint: str | os.PathLike | None = None, backbone: str | os.PathLike | None = None
) -> nn.Module:
    """LPIPS with trunk `trunk` from `checkpoint` (the lpips package's linear heads, or a whole
    `lpips.LPIPS` state dict) and `backbone` (torchvision trunk weights, unless inside `checkpoint`).
    With no files at all: a warning and the pixel + SSIM fallback."""
    if checkpoint is None and backbone is None:
        from lsw_lpips.fallback import PixelSSIM

        warnings.warn(
            f"lpips-{trunk}: no weights given (checkpoint= linear heads, backbone= torchvision trunk);"
            " using the pixel + SSIM fallback instead",
            stacklevel=3,
        )
        return PixelSSIM()
    from lsw_lpips.loading import load_lpips

    return load_lpips(trunk, checkpoint, backbone)


def make_pixel_ssim(checkpoint: str | os.PathLike | None = None) -> nn.Module:
    from lsw_lpips.fallback import PixelSSIM

    return PixelSSIM()


@hookimpl
def register_perceptual_losses(register):
    register("lpips-alex", partial(make_lpips, "alex"), description="LPIPS, AlexNet trunk (user-provided weights)")
    register("lpips-vgg", partial(make_lpips, "vgg"), description="LPIPS, VGG16 trunk (user-provided weights)")
    register("pixel-ssim", make_pixel_ssim, description="pixel MSE + SSIM distance, needs no weights")
