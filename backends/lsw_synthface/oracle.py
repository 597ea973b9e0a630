"""Exact swap metrics in the synthetic world: every latent decodes to known face parameters, so the
identity, expression and pose errors of a swap are measured, not estimated by networks.

Identity is the identity shape coefficients (see `world`). ID retrieval follows the paper's
protocol: a swap counts as correct when, among all the sources, its nearest one by identity
distance (Euclidean, between identity coefficient vectors) is its own source; `id_retrieval_cosine`
ranks by the cosine of the coefficient vectors instead (blind to how pronounced an identity is, as a
face-recognition embedding's cosine tends to be). Expression error is the mean squared error of the expression
coefficients against the target's, pose error the mean absolute yaw/pitch/roll difference in
degrees (and the geodesic angle between the head rotations), appearance error the mean absolute
difference of the appearance a swap must keep (`FaceParams.appearance`). All are properties of the
latent, the same from every camera.
"""

from __future__ import annotations

from typing import Any

import torch

from lsw_core.checks import check_shape
from lsw_core.errors import ShapeError
from lsw_synthface import shape3d
from lsw_synthface.params import FaceParams


def face_params(generator: Any, codes: torch.Tensor | FaceParams, chunk: int = 512) -> FaceParams:
    """W+ codes [N, num_ws, w_dim] (decoded by `generator.params`) or FaceParams → FaceParams."""
    if isinstance(codes, FaceParams):
        return codes
    check_shape("ws", codes, [None, generator.num_ws, generator.w_dim])
    with torch.no_grad():
        return FaceParams.cat([generator.params(codes[i : i + chunk]) for i in range(0, codes.shape[0], chunk)])


def pair_metrics(source: FaceParams, target: FaceParams, swap: FaceParams) -> dict[str, float]:
    """The metrics of `swap` against `source` (identity) and `target` (expression, pose); N pairs."""
    n = len(source)
    if not n == len(target) == len(swap):
        raise ShapeError(
            f"oracle: expected equally many sources, targets and swaps, got {n}, {len(target)}, {len(swap)}"
        )
    ids, idw = source.identity.double(), swap.identity.double()
    nearest = torch.cdist(idw, ids).argmin(dim=1)
    nearest_cos = (torch.nn.functional.normalize(idw, dim=1) @ torch.nn.functional.normalize(ids, dim=1).T).argmax(1)
    own = torch.arange(n, device=nearest.device)
    rot_w, rot_t = shape3d.rotation(swap.pose.double()), shape3d.rotation(target.pose.double())
    cos = ((rot_w.transpose(1, 2) @ rot_t).diagonal(dim1=1, dim2=2).sum(-1) - 1) / 2
    return {
        "id_retrieval": (nearest == own).double().mean().item(),
        "id_retrieval_cosine": (nearest_cos == own).double().mean().item(),
        "identity_error": (idw - ids).norm(dim=1).mean().item(),
        "expression_error": (swap.expression.double() - target.expression.double()).square().mean().item(),
        "pose_error_deg": (swap.pose.double() - target.pose.double()).abs().mean().item(),
        "pose_angle_deg": torch.rad2deg(torch.acos(cos.clamp(-1, 1))).mean().item(),
        "appearance_error": (swap.appearance().double() - target.appearance().double()).abs().mean().item(),
        "n_pairs": n,
    }


def oracle_metrics(
    generator: Any,
    source: torch.Tensor | FaceParams,
    target: torch.Tensor | FaceParams,
    swap: torch.Tensor | FaceParams,
) -> dict[str, Any]:
    """Oracle metrics of N swaps (W+ codes of `generator`, or FaceParams): `id_retrieval`,
    `id_retrieval_cosine`, `identity_error`, `expression_error`, `pose_error_deg`, `pose_angle_deg`,
    `appearance_error`, `n_pairs`, and the same for the two baselines under `baselines`: `target`
    (swap := target) and `source` (swap := source)."""
    ps, pt, pw = (face_params(generator, x) for x in (source, target, swap))
    result: dict[str, Any] = pair_metrics(ps, pt, pw)
    result["baselines"] = {"target": pair_metrics(ps, pt, pt), "source": pair_metrics(ps, pt, ps)}
    return result
