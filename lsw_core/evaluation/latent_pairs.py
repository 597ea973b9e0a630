"""Evaluate a trained mixer on held-out random latent pairs.

ID retrieval (a swap is correct when its nearest source among all sources is its own source),
expression error (swap vs target) and pose error in degrees (swap vs target), each also for the two
baselines "return the target" and "return the source". Generators that know the ground truth of
their latents (`ground_truth(ws) -> {identity, expression, pose[, appearance]}`, e.g. the synthetic
world) are measured exactly ("oracle"), with an `appearance_error` (mean absolute difference from the
target's appearance) where the ground truth has one; otherwise an identity embedder and a shape
model estimate the metrics; with an embedder alone, identity is measured (ID retrieval and the
fraction of swaps closer to their source than to their target) and pose and expression are not.
"""

from __future__ import annotations

from typing import Any

import torch

from lsw_core.errors import LswError
from lsw_core.evaluation.metrics import id_retrieval, mean_squared_error, pose_error_deg
from lsw_core.interfaces import IdentityEmbedder, ShapeModel
from lsw_core.mixing.latents import check_seeds
from lsw_core.mixing.swapper import Swapper, group_rows


def _by_distance(source_ids: torch.Tensor, swap_ids: torch.Tensor) -> float:
    nearest = torch.cdist(swap_ids, source_ids).argmin(dim=1)
    return (nearest == torch.arange(len(swap_ids))).float().mean().item()


def _scores(truth: dict[str, torch.Tensor], method: str) -> dict[str, dict[str, float]]:
    """Metrics of the swap and of both baselines from per-image attributes of sources, targets, swaps."""
    out = {}
    for name, result in (("swap", "swap"), ("target", "target"), ("source", "source")):
        if method == "oracle":
            ident = _by_distance(truth["source"]["identity"], truth[result]["identity"])
        else:
            ident = id_retrieval(truth["source"]["embedding"], truth[result]["embedding"])
        out[name] = {"id_retrieval": ident}
        if "embedding" in truth[result]:
            emb, src, tgt = truth[result]["embedding"], truth["source"]["embedding"], truth["target"]["embedding"]
            closer = (emb - src).norm(dim=1) < (emb - tgt).norm(dim=1)
            out[name]["closer_to_source"] = closer.float().mean().item()
        if "expression" in truth[result]:
            out[name]["expression_error"] = mean_squared_error(
                truth[result]["expression"], truth["target"]["expression"]
            )
            out[name]["pose_error_deg"] = pose_error_deg(truth[result]["pose"], truth["target"]["pose"])
        if "appearance" in truth[result]:
            difference = truth[result]["appearance"] - truth["target"]["appearance"]
            out[name]["appearance_error"] = difference.abs().mean().item()
    return out


@torch.no_grad()
def evaluate_mixer(
    swapper: Swapper,
    *,
    pairs: int = 200,
    seed: int = 20_231_125,
    batch_size: int = 50,
    embedder: IdentityEmbedder | None = None,
    shape_model: ShapeModel | None = None,
    groups: list[str] | None = None,
) -> dict[str, Any]:
    """Swap `pairs` held-out (source, target) pairs drawn from `seed` and measure them (using the
    swapped code only on the layer `groups`, when given)."""
    if isinstance(pairs, bool) or not isinstance(pairs, int) or pairs < 2:
        raise LswError(f"pairs: expected a whole number of at least 2 (ID retrieval compares pairs), got {pairs!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise LswError(f"batch_size: expected a whole number of at least 1, got {batch_size!r}")
    seed = check_seeds([seed])[0]
    G = swapper.generator
    rng = torch.Generator().manual_seed(seed)
    z_s = torch.randn(pairs, G.z_dim, generator=rng)
    z_t = torch.randn(pairs, G.z_dim, generator=rng)
    oracle = G.has_ground_truth
    if not oracle and embedder is None:
        raise LswError("this generator has no ground truth: pass an identity embedder (and a shape model for pose)")
    if groups is not None:
        group_rows(G, groups)
    collected: dict[str, dict[str, list[torch.Tensor]]] = {"source": {}, "target": {}, "swap": {}}
    for zs, zt in zip(z_s.split(batch_size), z_t.split(batch_size)):
        ws = {
            "source": swapper.wplus_from_z(zs),
            "target": swapper.wplus_from_z(zt),
            "swap": swapper.mix_z(zs, zt, groups),
        }
        for role, codes in ws.items():
            if oracle:
                attrs = G.ground_truth(codes)
                attrs = {k: attrs[k] for k in ("identity", "expression", "pose", "appearance") if k in attrs}
            else:
                images = swapper.render(codes)
                attrs = {"embedding": embedder(images)}
                if shape_model is not None:
                    parts = shape_model.parts(shape_model(images))
                    attrs.update(expression=parts["expression"], pose=parts["pose"])
            for k, v in attrs.items():
                collected[role].setdefault(k, []).append(v.float().cpu())
    truth = {role: {k: torch.cat(v) for k, v in d.items()} for role, d in collected.items()}
    scores = _scores(truth, "oracle" if oracle else "estimated")
    return {
        **scores["swap"],
        "n_pairs": pairs,
        "method": "oracle" if oracle else "estimated",
        "baselines": {"return_target": scores["target"], "return_source": scores["source"]},
    }
