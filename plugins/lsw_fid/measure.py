"""FID of a mixer's swaps against their targets on held-out sampled pairs."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from lsw_core.mixing.swapper import Swapper
from lsw_fid.frechet import frechet_distance, gaussian_stats
from lsw_fid.inception import FIDInceptionV3


@torch.no_grad()
def swap_fid(
    swapper: Swapper, inception: FIDInceptionV3, *, pairs: int = 1000, seed: int = 20_231_125, batch_size: int = 25
) -> dict[str, Any]:
    """FID between the swaps and the targets of `pairs` (source, target) pairs drawn from `seed`
    (also the sources against the targets, a reference for how far two unrelated face sets are)."""
    G = swapper.generator
    rng = torch.Generator().manual_seed(seed)
    z_s, z_t = torch.randn(pairs, G.z_dim, generator=rng), torch.randn(pairs, G.z_dim, generator=rng)
    feats: dict[str, list[torch.Tensor]] = {"swap": [], "target": [], "source": []}
    for zs, zt in zip(z_s.split(batch_size), z_t.split(batch_size)):
        ws = {"swap": swapper.mix_z(zs, zt), "target": swapper.wplus_from_z(zt), "source": swapper.wplus_from_z(zs)}
        for role, codes in ws.items():
            images = ((swapper.render(codes) + 1) / 2).clamp(0, 1)
            feats[role].append(inception(images.float().cpu()))
    stats = {role: gaussian_stats(torch.cat(f).double().numpy()) for role, f in feats.items()}
    return {
        "fid_swap_vs_target": frechet_distance(*stats["swap"], *stats["target"]),
        "fid_source_vs_target": frechet_distance(*stats["source"], *stats["target"]),
        "pairs": pairs,
        "seed": seed,
        "feature_dim": int(np.shape(stats["swap"][0])[0]),
    }
