"""A mixer judged on held-out latent pairs by `Judge`s — networks it may not have trained with.

For every pair the source, the target, the swap and interpolations l_t + α (l_s − l_t) are rendered
and each judge measures them. Per judge, of the swap (and of each interpolation and of the source,
for scale):

- `closer_to_source`: the fraction of pairs whose image the judge's identity network puts closer
  (cosine) to the source than to the target;
- `pose_error_deg`, `expression_error`: the mean difference from the target's head pose (yaw, pitch,
  roll; degrees) and expression features, over the pairs whose faces the judge measured;
- `found`: the fraction of faces the judge's detector found.

`pixel_to_target` is the mean absolute pixel difference from the target (images in [0, 1]). Since
interpolation moves identity and pixels together, the swap is compared with interpolation *at the
swap's own pixel distance* (`interpolation_at_swap_pixels`: each measure interpolated linearly
between the α whose pixel distances bracket the swap's): a mixer that transfers identity does so
with fewer pixels changed. A judge whose identity network the mixer trained with is marked
`independent: false` — it can be fooled by what the mixer learned against it — and one whose
landmark network the mixer's shape model was taught from `pose_expression_independent: false`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from lsw_core.errors import LswError
from lsw_core.interfaces import IdentityEmbedder, Judge, Judgement, ShapeModel
from lsw_core.mixing.latents import check_seeds
from lsw_core.mixing.swapper import Swapper, group_rows

#: Held-out pairs: a seed far from any a trainer's generator (seeded by TrainConfig.seed) uses.
HELD_OUT_SEED = 987_654_321
ALPHAS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


@torch.no_grad()
def judge_mixer(
    swapper: Swapper,
    judges: Mapping[str, Judge],
    *,
    pairs: int = 100,
    seed: int = HELD_OUT_SEED,
    batch_size: int = 8,
    alphas: Sequence[float] = ALPHAS,
    groups: list[str] | None = None,
    trained_with: Sequence[str] = (),
) -> dict[str, Any]:
    """Judge `swapper`'s swaps of `pairs` held-out pairs drawn from `seed` (see the module's text).
    `trained_with`: the identity embedders and shape model the mixer trained against (marks dependent
    judges; `trained_networks` reads them from a mixer folder's config)."""
    if isinstance(pairs, bool) or not isinstance(pairs, int) or pairs < 2:
        raise LswError(f"pairs: expected a whole number of at least 2, got {pairs!r}")
    if not judges:
        raise LswError("judge_mixer: expected at least one judge")
    alphas = sorted({float(a) for a in alphas})
    if not alphas or not all(0 < a < 1 for a in alphas):
        raise LswError(f"alphas: expected interpolation weights strictly between 0 and 1, got {alphas}")
    G = swapper.generator
    if groups is not None:
        group_rows(G, groups)
    z_s, z_t = held_out_z(G.z_dim, pairs, seed)
    roles = ["source", "target", "swap", *(f"interpolation {a:g}" for a in alphas)]
    pixels: dict[str, list[torch.Tensor]] = {r: [] for r in roles}
    measured: dict[str, dict[str, list[Judgement]]] = {name: {r: [] for r in roles} for name in judges}
    for zs, zt in zip(z_s.split(batch_size), z_t.split(batch_size)):
        l_s, l_t = swapper.wplus_from_z(zs), swapper.wplus_from_z(zt)
        codes = {"source": l_s, "target": l_t, "swap": swapper.mix_z(zs, zt, groups)}
        codes.update({f"interpolation {a:g}": l_t + a * (l_s - l_t) for a in alphas})
        images = {role: swapper.render(code).float() for role, code in codes.items()}
        for role, image in images.items():
            pixels[role].append(((image - images["target"]).abs() / 2).flatten(1).mean(1).cpu())
            for name, judge in judges.items():
                measured[name][role].append(judge(image, face_box=G.face_box))
    distance = {role: float(torch.cat(values).mean()) for role, values in pixels.items()}
    report: dict[str, Any] = {
        "n_pairs": pairs,
        "seed": seed,
        "trained_with": list(trained_with),
        "pixel_to_target": {
            "swap": distance["swap"],
            **{f"interpolation {a:g}": distance[f"interpolation {a:g}"] for a in alphas},
        },  # fmt: skip
        "judges": {},
    }
    for name, judge in judges.items():
        joined = {role: _join(parts) for role, parts in measured[name].items()}
        scores = {role: _scores(joined[role], joined["source"], joined["target"]) for role in roles if role != "target"}
        curve = [(distance[f"interpolation {a:g}"], a, scores[f"interpolation {a:g}"]) for a in alphas]
        report["judges"][name] = {
            "network": judge.network,
            "independent": not set(judge.same_as) & set(trained_with),
            **(
                {"pose_expression_independent": not set(judge.same_shape_as) & set(trained_with)}
                if {"pose", "expression"} & set(judge.measures)
                else {}
            ),
            "swap": scores["swap"],
            "source": scores["source"],
            "interpolation": {f"{a:g}": scores[f"interpolation {a:g}"] for a in alphas},
            "interpolation_at_swap_pixels": _at_distance(curve, distance["swap"]),
            "target_found": float(joined["target"].found.float().mean()),
        }
    return report


def held_out_z(z_dim: int, pairs: int, seed: int = HELD_OUT_SEED) -> tuple[torch.Tensor, torch.Tensor]:
    """The source and target z [pairs, z_dim] of the held-out pairs `judge_mixer` judges."""
    rng = torch.Generator().manual_seed(check_seeds([seed])[0])
    return torch.randn(pairs, z_dim, generator=rng), torch.randn(pairs, z_dim, generator=rng)


def _join(parts: list[Judgement]) -> Judgement:
    def cat(name: str) -> torch.Tensor | None:
        values = [getattr(p, name) for p in parts]
        return None if values[0] is None else torch.cat([v.float().cpu() for v in values])

    return Judgement(found=torch.cat([p.found.cpu() for p in parts]), identity=cat("identity"), pose=cat("pose"),
                     expression=cat("expression"))  # fmt: skip


def _scores(image: Judgement, source: Judgement, target: Judgement) -> dict[str, float]:
    out = {"found": float(image.found.float().mean())}
    if image.identity is not None:
        to_source = (image.identity * source.identity).sum(1)
        to_target = (image.identity * target.identity).sum(1)
        out["closer_to_source"] = float((to_source > to_target).float().mean())
        out["cosine_to_source"] = float(to_source.mean())
        out["cosine_to_target"] = float(to_target.mean())
    if image.pose is not None:
        difference = torch.remainder(image.pose - target.pose + 180, 360) - 180
        out["pose_error_deg"] = _finite_mean(difference.abs().mean(1))
    if image.expression is not None:
        out["expression_error"] = _finite_mean((image.expression - target.expression).abs().mean(1))
    return out


def _finite_mean(values: torch.Tensor) -> float:
    """The mean over the pairs the judge measured (NaN rows are faces it could not measure)."""
    kept = values[torch.isfinite(values)]
    return float(kept.mean()) if len(kept) else float("nan")


def _at_distance(curve: list[tuple[float, float, dict[str, float]]], target: float) -> dict[str, Any]:
    """Each measure of interpolation at pixel distance `target`, linear between the two α whose
    distances bracket it (the nearest end, marked `outside`, when none do)."""
    curve = sorted(curve)
    distances = np.array([d for d, _, _ in curve])
    if target <= distances[0] or target >= distances[-1]:
        d, a, scores = curve[0] if target <= distances[0] else curve[-1]
        return {"alpha": a, "pixel_to_target": d, "outside": True, **scores}
    hi = int(np.searchsorted(distances, target))
    (d0, a0, s0), (d1, a1, s1) = curve[hi - 1], curve[hi]
    w = (target - d0) / (d1 - d0)
    mixed = {k: (1 - w) * s0[k] + w * s1[k] for k in s0 if k in s1}
    return {"alpha": (1 - w) * a0 + w * a1, "pixel_to_target": target, "outside": False, **mixed}


class ComponentJudge(Judge):
    """A judge made of an identity embedder and, for pose and expression, a shape model (its `parts`:
    "pose" in degrees, "expression" coefficients) — e.g. the synthetic world's own networks. It
    finds every face (the components take aligned crops as they come)."""

    def __init__(
        self, embedder: IdentityEmbedder, shape_model: ShapeModel | None = None, *, network: str, same_as: Sequence[str]
    ) -> None:
        self.embedder, self.shape_model = embedder.eval(), shape_model.eval() if shape_model is not None else None
        self.network, self.same_as = network, tuple(same_as)
        self.measures = ("identity", "pose", "expression") if shape_model is not None else ("identity",)

    def to(self, device: torch.device | str) -> ComponentJudge:
        for module in (self.embedder, self.shape_model):
            if module is not None:
                module.to(device)
        return self

    @torch.no_grad()
    def _judge(self, images: torch.Tensor, face_box: tuple[float, float, float, float] | None) -> Judgement:
        found = torch.ones(len(images), dtype=torch.bool)
        identity = self.embedder(images).float().cpu()
        if self.shape_model is None:
            return Judgement(found=found, identity=identity)
        parts = self.shape_model.parts(self.shape_model(images))
        return Judgement(found=found, identity=identity, pose=parts["pose"].float().cpu(),
                         expression=parts["expression"].float().cpu())  # fmt: skip


def trained_networks(config: Mapping[str, Any]) -> list[str]:
    """The identity embedders, and the shape model when L_shape was on, that a mixer folder's config
    (or {"training": TrainConfig settings}) says it trained against."""
    training = config.get("training") or {}
    names = [training.get("embedder") or (config.get("components") or {}).get("embedder")]
    names += list((training.get("extra_embedders") or {}).keys())
    if training.get("mu_shape", 0.1):
        names.append(training.get("shape_model") or (config.get("components") or {}).get("shape_model"))
    return [n for n in names if isinstance(n, str)]
