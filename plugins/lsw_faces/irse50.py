"""ArcFace IR-SE50 (InsightFace's improved residual units with squeeze-and-excitation), with the
module and key names of `model_ir_se50.pth` as used by pSp, e4e and PTI for their identity loss.

Layout: `input_layer` (conv 3×3 → BN → PReLU) at 112×112, `body.0 … body.23` (3, 4, 14, 3 units of
64, 128, 256, 512 channels, the first of each stage with stride 2), `output_layer` (BN → dropout →
flatten → Linear 512·7·7 → 512 → BN1d), then L2 normalisation.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from lsw_core.errors import CheckpointError
from lsw_core.interfaces import IdentityEmbedder
from lsw_faces.state_dicts import load_exact, read_state_dict, strip_prefix

STAGES = ((64, 64, 3), (64, 128, 4), (128, 256, 14), (256, 512, 3))  # (in, depth, units)


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1, bias=False)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(self.fc2(F.relu(self.fc1(x.mean(dim=(2, 3), keepdim=True)))))
        return x * gate


class IRSEUnit(nn.Module):
    """BN → conv 3×3 → PReLU → conv 3×3 (stride) → BN → SE, plus a shortcut (strided identity, or
    a 1×1 conv + BN when the channel count changes)."""

    def __init__(self, *, in_channels: int, depth: int, stride: int):
        super().__init__()
        if in_channels == depth:
            self.shortcut_layer = nn.MaxPool2d(1, stride)
        else:
            self.shortcut_layer = nn.Sequential(
                nn.Conv2d(in_channels, depth, 1, stride, bias=False), nn.BatchNorm2d(depth)
            )
        self.res_layer = nn.Sequential(
            nn.BatchNorm2d(in_channels),
            nn.Conv2d(in_channels, depth, 3, 1, 1, bias=False),
            nn.PReLU(depth),
            nn.Conv2d(depth, depth, 3, stride, 1, bias=False),
            nn.BatchNorm2d(depth),
            SqueezeExcite(depth),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.res_layer(x) + self.shortcut_layer(x)


class IRSE50(nn.Module):
    """Aligned faces [B, 3, 112, 112] normalised to [-1, 1] → unit embeddings [B, 512]."""

    def __init__(self, *, drop_ratio: float = 0.4):
        super().__init__()
        self.input_layer = nn.Sequential(nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.PReLU(64))
        units = []
        for in_channels, depth, count in STAGES:
            units.append(IRSEUnit(in_channels=in_channels, depth=depth, stride=2))
            units += [IRSEUnit(in_channels=depth, depth=depth, stride=1) for _ in range(count - 1)]
        self.body = nn.Sequential(*units)
        self.output_layer = nn.Sequential(
            nn.BatchNorm2d(512),
            nn.Dropout(drop_ratio),
            nn.Flatten(),
            nn.Linear(512 * 7 * 7, 512),
            nn.BatchNorm1d(512),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.output_layer(self.body(self.input_layer(x))), dim=1)


def psp_preprocess(images: torch.Tensor) -> torch.Tensor:
    """pSp's `IDLoss.extract_feats` input: pool to 256×256, crop rows 35:223 and columns 32:220
    (the face region of an FFHQ-aligned image), pool to 112×112. Values stay in [-1, 1]."""
    if images.shape[-2:] != (256, 256):
        images = F.adaptive_avg_pool2d(images, (256, 256))
    return F.adaptive_avg_pool2d(images[:, :, 35:223, 32:220], (112, 112))


class ArcFaceIRSE50Embedder(IdentityEmbedder):
    """Identity embedder `arcface-ir-se50` on FFHQ-aligned images in [-1, 1] of any size, with
    pSp's crop-and-pool preprocessing, loading `model_ir_se50.pth`."""

    dim = 512

    def __init__(self, checkpoint: str | Path | None = None):
        super().__init__()
        if checkpoint is None:
            raise CheckpointError(
                "arcface-ir-se50: needs model_ir_se50.pth (as distributed with pSp/e4e): checkpoint=PATH "
                "(lsw: --embedder-checkpoint PATH)"
            )
        self.net = IRSE50()
        state = strip_prefix(strip_prefix(read_state_dict(checkpoint), "module."), "facenet.")
        load_exact(self.net, state, what=f"arcface-ir-se50 ({checkpoint})")
        self.eval().requires_grad_(False)

    def _embed(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(psp_preprocess(images))
