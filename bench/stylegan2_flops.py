"""FLOPs and memory of a StyleGAN2 render that needs gradients (forward + backward into W+), per
image, for the two modulated-convolution paths and with activation checkpointing; prints one JSON.

`fused` folds the styles into per-sample weights and runs one grouped convolution: its backward
also computes the gradient of every per-sample weight. `per_sample` scales the activations and
convolves with the shared weight: its backward skips that. The trainer's swap render (G in eval
mode, gradients into the mixer's output) takes the per-sample path. Counted with
torch.utils.flop_counter.FlopCounterMode on the meta device (no arithmetic runs, so 1024 px is
instant), NVIDIA config-f widths. `saved_mib` is what autograd keeps from the forward pass for the
backward (fp32), counted with saved-tensor hooks: with activation checkpointing only the blocks'
inputs are kept and each block is recomputed in the backward pass (its forward FLOPs once more).

Usage: python bench/stylegan2_flops.py [--resolutions 256 1024] [--batch 1]
"""

from __future__ import annotations

import argparse
import json

import torch
from torch.utils.flop_counter import FlopCounterMode

from lsw_stylegan2.loaders import load_stylegan2


def count(resolution: int, batch: int, fused: bool | None, checkpointing: bool = False) -> dict:
    G = load_stylegan2(img_resolution=resolution).to("meta").eval()
    G.set_activation_checkpointing(checkpointing)
    ws = torch.zeros(batch, G.num_ws, G.w_dim, device="meta", requires_grad=True)
    saved = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal saved
        saved += t.numel() * t.element_size()
        return t

    with FlopCounterMode(display=False) as forward, torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        img = G.synthesis(ws, noise_mode="random", fused=fused)
    with FlopCounterMode(display=False) as backward:
        img.sum().backward()
    f, b = forward.get_total_flops() / batch, backward.get_total_flops() / batch
    return {
        "forward_gflop": round(f / 1e9, 2),
        "backward_gflop": round(b / 1e9, 2),
        "total_gflop": round((f + b) / 1e9, 2),
        "saved_mib": round(saved / batch / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--resolutions", nargs="+", type=int, default=[256, 1024])
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()
    report = {"benchmark": "stylegan2_flops", "torch": torch.__version__, "batch": args.batch, "per_image": {}}
    for res in args.resolutions:
        paths = {"fused": count(res, args.batch, True), "per_sample": count(res, args.batch, False),
                 "default_with_gradients": count(res, args.batch, None),
                 "default_with_activation_checkpointing": count(res, args.batch, None, checkpointing=True)}  # fmt: skip
        paths["fused_vs_per_sample"] = round(paths["fused"]["total_gflop"] / paths["per_sample"]["total_gflop"], 3)
        report["per_image"][str(res)] = paths
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
