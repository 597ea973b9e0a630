"""Benchmarks of the synthetic face world: renderer speed (forward + backward, CPU time of this
process) at 64/128/256 px, the W+ change needed to move identity by one prior standard deviation,
and the oracle's baselines on held-out pairs. Prints one JSON object.
Usage: python bench/synthface_world.py [--threads 1] [--batch 32] [--repeats 10]
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from lsw_synthface.generator import synthface
from lsw_synthface.oracle import oracle_metrics
from lsw_synthface.world import FaceParams, render, sample_params


def render_ms(params: FaceParams, resolution: int, repeats: int) -> dict[str, float]:
    """Minimum and median CPU milliseconds of one render plus backward to every continuous field."""
    leaves = params.map(lambda t: t.clone().requires_grad_(True))
    times = []
    for _ in range(repeats):
        start = time.process_time()
        render(leaves, resolution).square().mean().backward()
        times.append((time.process_time() - start) * 1000)
    times.sort()
    return {"min_ms": round(times[0], 1), "median_ms": round(times[len(times) // 2], 1)}


def identity_step_mse(G, samples: int = 8) -> float:
    """Mean per-element MSE of the minimum-norm W+ step moving every identity coefficient by one
    standard deviation towards the mean face (Gauss-Newton through the read-out)."""
    mses = []
    for seed in range(samples):
        ws = G.mapping(torch.randn(1, G.z_dim, generator=torch.Generator().manual_seed(seed)))
        identity = G.params(ws).identity
        target, step = identity - torch.sign(identity), torch.zeros_like(ws)
        for _ in range(4):
            x = ws + step
            jac = torch.autograd.functional.jacobian(lambda w: G.params(w).identity, x).reshape(identity.shape[1], -1)
            residual = (target - G.params(x).identity).reshape(-1, 1)
            step = step + (torch.linalg.pinv(jac) @ residual).reshape_as(ws)
        mses.append(step.square().mean().item())
    return sum(mses) / len(mses)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    params = sample_params(args.batch, torch.Generator().manual_seed(0))
    speed = {
        f"{r}px": render_ms(params, r, args.repeats if r < 256 else max(2, args.repeats // 4)) for r in (64, 128, 256)
    }
    G = synthface(resolution=64)
    rng = torch.Generator().manual_seed(20_231_125)
    ws_s, ws_t = (
        G.mapping(torch.randn(200, 512, generator=rng), truncation_psi=0.5, truncation_cutoff=8) for _ in "st"
    )
    baselines = oracle_metrics(G, ws_s, ws_t, ws_t)["baselines"]
    print(
        json.dumps(
            {
                "bench": "synthface_world",
                "threads": args.threads,
                "batch": args.batch,
                "render_forward_backward": speed,
                "identity_one_std_wplus_mse": identity_step_mse(G),
                "wplus_mse_source_vs_target_psi0.5": (ws_s - ws_t).square().mean().item(),
                "baselines_psi0.5_200_pairs": baselines,
            }
        )
    )


if __name__ == "__main__":
    main()
