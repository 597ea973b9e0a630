"""LPIPS perceptual distance (AlexNet / VGG16 features with linear heads) from user-provided weights."""

from lsw_lpips.fallback import PixelSSIM
from lsw_lpips.loading import load_lpips
from lsw_lpips.networks import LPIPS

__all__ = ["LPIPS", "PixelSSIM", "load_lpips"]
