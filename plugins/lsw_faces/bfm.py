"""The BFM-2009 parametric face model in Deep3DFaceRecon's layout (`BFM_model_front.mat`) reduced to
what the shape loss needs: the 68 landmark vertices as a differentiable function of the identity,
expression, pose and translation coefficients, projected by Deep3DFaceRecon's pinhole camera.

Deep3DFaceRecon conventions kept here: the mean shape is re-centred on its centroid; rotation
R = Rz(γ)·Ry(β)·Rx(α) from the angles (α, β, γ) in radians; vertex v ↦ R·v + t; the camera sits at
z = 10 looking down −z (z ↦ 10 − z); projection x = f·X/Z + c with f = 1015, c = 112 on a 224×224
image. Landmark y grows upwards, as in Deep3DFaceRecon (its data loader flips ground-truth rows).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from lsw_core.checks import check_shape
from lsw_core.errors import CheckpointError

FOCAL = 1015.0
CENTER = 112.0
CAMERA_DISTANCE = 10.0
ID_DIM, EXP_DIM = 80, 64
REQUIRED_KEYS = ("meanshape", "idBase", "exBase", "keypoints")


def rotation_matrices(angles: torch.Tensor) -> torch.Tensor:
    """Angles [B, 3] (rotation about x, y, z in radians) → R = Rz·Ry·Rx [B, 3, 3]."""
    x, y, z = angles.unbind(dim=1)
    one, zero = torch.ones_like(x), torch.zeros_like(x)
    rx = torch.stack([one, zero, zero, zero, x.cos(), -x.sin(), zero, x.sin(), x.cos()], dim=1).view(-1, 3, 3)
    ry = torch.stack([y.cos(), zero, y.sin(), zero, one, zero, -y.sin(), zero, y.cos()], dim=1).view(-1, 3, 3)
    rz = torch.stack([z.cos(), -z.sin(), zero, z.sin(), z.cos(), zero, zero, zero, one], dim=1).view(-1, 3, 3)
    return rz @ ry @ rx


class BFMLandmarks(nn.Module):
    """Identity [B, 80], expression [B, 64], angles [B, 3], translation [B, 3] → the 68 iBUG
    landmarks [B, 68, 2] in Deep3DFaceRecon's 224×224 image frame."""

    def __init__(self, mean: np.ndarray, id_base: np.ndarray, exp_base: np.ndarray):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))  # [68, 3]
        self.register_buffer("id_base", torch.as_tensor(id_base, dtype=torch.float32))  # [68, 3, 80]
        self.register_buffer("exp_base", torch.as_tensor(exp_base, dtype=torch.float32))  # [68, 3, 64]

    @classmethod
    def from_mat(cls, path: str | Path) -> BFMLandmarks:
        """Read `BFM_model_front.mat` (meanshape [1, 3N], idBase [3N, 80], exBase [3N, 64],
        keypoints [1, 68], 1-based vertex indices)."""
        from scipy.io import loadmat

        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"BFM model: expected an existing BFM_model_front.mat, got {str(path)!r}")
        try:
            mat = loadmat(str(path))
        except Exception as exc:
            raise CheckpointError(f"{path}: not a readable MATLAB file ({exc})") from exc
        missing = [k for k in REQUIRED_KEYS if k not in mat]
        if missing:
            raise CheckpointError(
                f"{path}: expected Deep3DFaceRecon's BFM_model_front.mat keys {REQUIRED_KEYS}, missing {missing}"
            )
        mean = np.asarray(mat["meanshape"], dtype=np.float64).reshape(-1, 3)
        n = mean.shape[0]
        id_base = np.asarray(mat["idBase"], dtype=np.float64)
        exp_base = np.asarray(mat["exBase"], dtype=np.float64)
        keypoints = np.asarray(mat["keypoints"]).reshape(-1).astype(np.int64) - 1
        if id_base.shape != (3 * n, ID_DIM) or exp_base.shape != (3 * n, EXP_DIM):
            raise CheckpointError(
                f"{path}: expected idBase [{3 * n}, {ID_DIM}] and exBase [{3 * n}, {EXP_DIM}] for {n} vertices, "
                f"found {list(id_base.shape)} and {list(exp_base.shape)}"
            )
        if keypoints.shape != (68,) or keypoints.min() < 0 or keypoints.max() >= n:
            raise CheckpointError(
                f"{path}: expected 68 keypoints indexing vertices 1…{n}, found {keypoints.size} "
                f"in [{keypoints.min() + 1}, {keypoints.max() + 1}]"
            )
        mean = mean - mean.mean(axis=0, keepdims=True)
        id_base = id_base.reshape(n, 3, ID_DIM)[keypoints]
        exp_base = exp_base.reshape(n, 3, EXP_DIM)[keypoints]
        return cls(mean[keypoints], id_base, exp_base)

    def forward(
        self, identity: torch.Tensor, expression: torch.Tensor, angles: torch.Tensor, translation: torch.Tensor
    ) -> torch.Tensor:
        b = identity.shape[0]
        check_shape("identity", identity, [b, ID_DIM])
        check_shape("expression", expression, [b, EXP_DIM])
        check_shape("angles", angles, [b, 3])
        check_shape("translation", translation, [b, 3])
        shape = (
            self.mean
            + torch.einsum("l d i, b i -> b l d", self.id_base, identity)
            + torch.einsum("l d e, b e -> b l d", self.exp_base, expression)
        )
        posed = shape @ rotation_matrices(angles).transpose(1, 2) + translation[:, None, :]
        depth = CAMERA_DISTANCE - posed[..., 2:]
        return FOCAL * posed[..., :2] / depth + CENTER
