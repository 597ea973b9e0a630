"""Deep3DFaceRecon as a shape model: a ResNet-50 regressing the 257 coefficients of a face image —
identity 80, expression 64, texture 80, angles 3 (radians), lighting 27 (SH, 9 × RGB), translation
2 + 1 — and the BFM-2009 model turning them into 68 projected landmarks (`bfm.py`).

Checkpoints are Deep3DFaceRecon's `epoch_20.pth` (the regressor's weights under `net_recon`: a
torchvision-named `backbone` without fc, and `final_layers.0 … 6`, 1×1 convolutions producing the
seven coefficient groups). Input: aligned 224×224 RGB images in [0, 1].
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from lsw_core.errors import CheckpointError
from lsw_core.interfaces import ShapeModel
from lsw_faces.bfm import BFMLandmarks
from lsw_faces.resnet50 import ResNet50
from lsw_faces.state_dicts import load_exact, read_state_dict

INPUT_SIZE = 224
GROUPS = {"identity": 80, "expression": 64, "texture": 80, "angles": 3, "lighting": 27, "xy": 2, "z": 1}
SLICES: dict[str, slice] = {}
_start = 0
for _name, _size in GROUPS.items():
    SLICES[_name] = slice(_start, _start + _size)
    _start += _size
NUM_COEFFS = _start  # 257


def split_coeffs(coeffs: torch.Tensor) -> dict[str, torch.Tensor]:
    """[B, 257] → identity, expression, texture, angles, lighting and translation (xy and z joined)."""
    parts = {name: coeffs[:, s] for name, s in SLICES.items()}
    parts["translation"] = torch.cat([parts.pop("xy"), parts.pop("z")], dim=1)
    return parts


class Deep3DRegressor(nn.Module):
    """Images [B, 3, 224, 224] in [0, 1] → coefficients [B, 257]."""

    def __init__(self):
        super().__init__()
        self.backbone = ResNet50()
        self.final_layers = nn.ModuleList(nn.Conv2d(2048, size, 1) for size in GROUPS.values())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.backbone(x)[:, :, None, None]
        return torch.cat([layer(features) for layer in self.final_layers], dim=1).flatten(1)


class Deep3DShapeModel(ShapeModel):
    """Shape model `deep3d`: `checkpoint` is Deep3DFaceRecon's `epoch_20.pth`, `bfm` the user's
    `BFM_model_front.mat` (default: beside the checkpoint, or in a `BFM` folder next to it)."""

    num_coeffs = NUM_COEFFS

    def __init__(self, checkpoint: str | Path | None = None, bfm: str | Path | None = None):
        super().__init__()
        if checkpoint is None:
            raise CheckpointError(
                "deep3d: needs Deep3DFaceRecon's epoch_20.pth: checkpoint=PATH (lsw: --shape-model-checkpoint PATH)"
            )
        checkpoint = Path(checkpoint)
        self.regressor = Deep3DRegressor()
        load_exact(self.regressor, read_state_dict(checkpoint, nested=("net_recon",)), what=f"deep3d ({checkpoint})")
        self.bfm = BFMLandmarks.from_mat(bfm if bfm is not None else _find_bfm(checkpoint))
        self.eval().requires_grad_(False)

    def _regress(self, images: torch.Tensor) -> torch.Tensor:
        x = (images + 1) / 2
        if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        return self.regressor(x)

    def fuse(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Source identity coefficients with the target's expression, texture, pose, lighting and
        translation: what the swap's 3DMM fit should be."""
        ident = SLICES["identity"]
        return torch.cat([source[:, ident], target[:, ident.stop :]], dim=1)

    def landmarks(self, coeffs: torch.Tensor) -> torch.Tensor:
        p = split_coeffs(coeffs)
        return self.bfm(p["identity"], p["expression"], p["angles"], p["translation"])

    def parts(self, coeffs: torch.Tensor) -> dict[str, torch.Tensor]:
        """Identity and expression coefficients, and pose as (yaw, pitch, roll) in degrees."""
        p = split_coeffs(coeffs)
        pitch, yaw, roll = p["angles"].unbind(dim=1)
        pose = torch.stack([yaw, pitch, roll], dim=1) * (180.0 / math.pi)
        return {"identity": p["identity"], "expression": p["expression"], "pose": pose}


def _find_bfm(checkpoint: Path) -> Path:
    for candidate in (checkpoint.parent / "BFM_model_front.mat", checkpoint.parent / "BFM" / "BFM_model_front.mat"):
        if candidate.is_file():
            return candidate
    raise CheckpointError(
        f"deep3d: no BFM_model_front.mat beside {checkpoint} (nor in BFM/ there); pass bfm=PATH "
        "(built from the Basel Face Model 2009 by Deep3DFaceRecon's scripts)"
    )
