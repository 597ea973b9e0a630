"""The scale of each loss term on a generator, measured before training.

How large L_id, L_lp and L_shape are depends on the generator and the networks: with dlib's
embedder on a 64-px face DCGAN, L_id between different faces is about 0.07 while L_lp of the
source as the swap is about 2, so the paper's λ = 100 (set for Smooth-Swap's embedder on
StyleGAN2's W+) weighs the latent penalty thousands of times over the identity. The trainer
measures, on a few sampled batches, each term at the two ends of the path a swap can take: L_id and
L_shape with the target as the swap (what training must remove), L_lp and L_keep (and, for a
relative μ, L_shape) with the source as the swap (what reaching the source would cost). A relative
λ, κ or μ is read against these.
"""

from __future__ import annotations

from typing import Any

import torch

from lsw_core.training.losses import keep_loss, latent_penalty, shape_loss

CALIBRATION_SEED = 2**31 - 2


@torch.no_grad()
def measure_scales(trainer: Any, batches: int) -> dict[str, float]:
    """{"id", "lp"[, "shape"][, "shape_source"][, "keep"]}: the loss terms at the ends of the swap path, averaged over `batches`
    batches drawn from a fixed seed (so a resumed run measures the same)."""
    cfg, loss = trainer.config, trainer.loss
    rng = torch.Generator().manual_seed(CALIBRATION_SEED)
    sums: dict[str, float] = {}
    for _ in range(batches):
        pairs = trainer.sample_pairs(cfg.batch_size, rng)
        different = pairs["z_s"].ne(pairs["z_t"]).any(1)
        if not different.any():
            continue
        out = trainer.swap_batch(**pairs, noise_mode="const")
        keep = {k: v[different].float() for k, v in out.items()}  # networks may have run in bf16
        terms = {
            "id": float(loss.identity_term(keep["source"], keep["target"])),
            "lp": float(latent_penalty(keep["l_t"], keep["l_s"])),
        }
        if loss.shape_model is not None and loss.mu_shape:
            terms["shape"] = float(shape_loss(loss.shape_model, keep["source"], keep["target"], keep["target"]))
            if trainer.config.mu_relative:
                terms["shape_source"] = float(
                    shape_loss(loss.shape_model, keep["source"], keep["target"], keep["source"])
                )
        if loss.keep_weight:
            terms["keep"] = float(keep_loss(keep["target"], keep["source"], loss.keep_centre, loss.keep_power))
        for k, v in terms.items():
            sums[k] = sums.get(k, 0.0) + v / batches
    return sums or {"id": 1.0, "lp": 1.0, **({"keep": 1.0} if loss.keep_weight else {})}


def describe(scales: dict[str, float], lambda_lp: float, mu_shape: float, keep_weight: float = 0.0) -> str:
    """One console line: the scales and the weighted terms they imply at the ends of the path."""
    parts = [
        f"L_id(target) {scales['id']:.4g}",
        f"L_lp(source) {scales['lp']:.4g} → λ·L_lp {lambda_lp * scales['lp']:.4g}",
    ]
    if "shape" in scales:
        parts.append(f"L_shape(target) {scales['shape']:.4g} → μ·L_shape {mu_shape * scales['shape']:.4g}")
    if "shape_source" in scales:
        parts.append(
            f"L_shape(source) {scales['shape_source']:.4g} → μ·L_shape {mu_shape * scales['shape_source']:.4g}"
        )
    if "keep" in scales:
        parts.append(f"L_keep(source) {scales['keep']:.4g} → κ·L_keep {keep_weight * scales['keep']:.4g}")
    return "loss scales: " + ", ".join(parts) + f" (λ = {lambda_lp:.4g})"
