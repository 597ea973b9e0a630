"""The Smooth-Swap identity embedder in the layout the LatentSwap authors trained with
(`model/embedder.py` of their code): `resnet`, a torchvision-named ResNet-50 whose `fc` maps to 2048,
then `last` = Linear 2048→1024 → BatchNorm → LeakyReLU (slope 0.01, PyTorch's default) → Linear
1024→512 → BatchNorm, then L2 normalisation. Checkpoints are PyTorch Lightning files whose
`state_dict` keys carry a `net.` prefix (`net.resnet.*`, `net.last.*`); the authors strip it.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from lsw_core.errors import CheckpointError
from lsw_core.interfaces import IdentityEmbedder
from lsw_faces.resnet50 import ResNet50
from lsw_faces.state_dicts import load_exact, read_state_dict, strip_prefix

INPUT_SIZE = 256  # the authors feed [0, 1] images resized (bilinear) to 256, without ImageNet normalisation


class SmoothSwapNet(nn.Module):
    """Images [B, 3, H, W] in [0, 1] → unit identity embeddings [B, 512]."""

    def __init__(self):
        super().__init__()
        self.resnet = ResNet50(num_classes=2048)
        self.last = nn.Sequential(
            nn.Linear(2048, 1024),
            nn.BatchNorm1d(1024),
            nn.LeakyReLU(0.01),
            nn.Linear(1024, 512),
            nn.BatchNorm1d(512),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.last(self.resnet(x)), dim=1)


class SmoothSwapEmbedder(IdentityEmbedder):
    """Identity embedder `smoothswap`: images in [-1, 1] of any size → [0, 1], bilinear to 256×256
    → Smooth-Swap embedding [B, 512]."""

    dim = 512

    def __init__(self, checkpoint: str | Path | None = None):
        super().__init__()
        if checkpoint is None:
            raise CheckpointError(
                "smoothswap: needs the Smooth-Swap identity embedder (.ckpt/.pth): checkpoint=PATH "
                "(lsw: --embedder-checkpoint PATH)"
            )
        self.net = SmoothSwapNet()
        load_exact(self.net, strip_prefix(read_state_dict(checkpoint), "net."), what=f"smoothswap ({checkpoint})")
        self.eval().requires_grad_(False)

    def _embed(self, images: torch.Tensor) -> torch.Tensor:
        x = (images + 1) / 2
        if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        return self.net(x)
