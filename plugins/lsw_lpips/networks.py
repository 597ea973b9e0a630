"""The LPIPS network (Zhang et al. 2018): a frozen AlexNet or VGG16 trunk, unit-normalised features at
five depths, squared differences weighted per channel by 1×1 "linear heads", averaged over space and
summed over depths.

The trunks are `nn.Sequential` stacks laid out exactly like torchvision's `features`, so that a
torchvision state dict (`features.<index>.weight`) loads by index; the five taps sit after the same
ReLUs as the `lpips` package's slices.
"""

from __future__ import annotations

import torch
from torch import nn

from lsw_core.interfaces import PerceptualLoss

# Layer index (in `features`) after which each of the five feature maps is taken.
ALEX_TAPS = (1, 4, 7, 9, 11)
VGG_TAPS = (3, 8, 15, 22, 29)
ALEX_CHANNELS = (64, 192, 384, 256, 256)
VGG_CHANNELS = (64, 128, 256, 512, 512)
# Input scaling of LPIPS v0.1, from [-1, 1] to roughly ImageNet statistics.
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)


def alexnet_features() -> nn.Sequential:
    """torchvision's AlexNet `features` (indices 0–12)."""
    return nn.Sequential(
        nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
    )  # fmt: skip


def vgg16_features() -> nn.Sequential:
    """torchvision's VGG16 `features` (indices 0–30), 3×3 convolutions and 2×2 max pools."""
    layers: list[nn.Module] = []
    in_ch = 3
    for width in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"):
        if width == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(in_ch, width, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            in_ch = width
    return nn.Sequential(*layers)


def _unit_normalise(x: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    return x / (x.square().sum(dim=1, keepdim=True).sqrt() + eps)


class LPIPS(PerceptualLoss):
    """Learned perceptual distance between two image batches in [-1, 1] → [B].

    `trunk` is "alex" or "vgg". All parameters are frozen; gradients still flow to the inputs, so the
    distance serves as a loss.
    """

    def __init__(self, *, trunk: str = "alex") -> None:
        super().__init__()
        if trunk not in ("alex", "vgg"):
            raise ValueError(f"LPIPS trunk: expected 'alex' or 'vgg', got {trunk!r}")
        self.trunk = trunk
        self.features = alexnet_features() if trunk == "alex" else vgg16_features()
        self.taps = ALEX_TAPS if trunk == "alex" else VGG_TAPS
        self.channels = ALEX_CHANNELS if trunk == "alex" else VGG_CHANNELS
        # One 1×1 convolution per tap, no bias: the per-channel weights of the linear heads.
        self.heads = nn.ParameterList([nn.Parameter(torch.zeros(1, c, 1, 1)) for c in self.channels])
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1))
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()

    def feature_maps(self, images: torch.Tensor) -> list[torch.Tensor]:
        """The five unit-normalised feature maps of `images` in [-1, 1]."""
        x = (images - self.shift) / self.scale
        out = []
        last_tap = self.taps[-1]
        for i, layer in enumerate(self.features):
            # inplace ReLU would overwrite the tap we just stored
            x = torch.relu(x) if isinstance(layer, nn.ReLU) else layer(x)
            if i in self.taps:
                out.append(_unit_normalise(x))
            if i == last_tap:
                break
        return out

    def _distance(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        dist = a.new_zeros(a.shape[0])
        for fa, fb, w in zip(self.feature_maps(a), self.feature_maps(b), self.heads):
            dist = dist + ((fa - fb).square() * w).sum(dim=1).mean(dim=(1, 2))
        return dist
