"""Batched latent mixer vs the authors' structure (a Python loop over per-row nn.Sequential).

Prints one JSON object. Both run in the same process on the same weights:
  speedup_train_b64 = loop time / batched time for forward+backward at batch 64,
  speedup_infer_b1  = loop time / batched time for inference at batch 1.
Usage: python bench/mixer.py [--rows 18] [--device cpu|cuda] [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import platform

import torch
from timing import best_time
from torch import nn

from lsw_core.mixing.mixer import LatentMixer, layer_widths


class LoopMixer(nn.Module):
    """The authors' layout: one nn.Sequential per row, applied in a Python loop."""

    def __init__(self, mixer: LatentMixer) -> None:
        super().__init__()
        self.residual_coefficient = mixer.residual_coefficient
        self.rows = nn.ModuleList()
        for r in range(mixer.num_rows):
            layers: list[nn.Module] = []
            for i, (fan_in, fan_out) in enumerate(layer_widths(mixer.w_dim)):
                lin = nn.Linear(fan_in, fan_out)
                with torch.no_grad():
                    lin.weight.copy_(mixer.weights[i][r].t())
                    lin.bias.copy_(mixer.biases[i][r, 0])
                layers += [lin, nn.SiLU()]
            self.rows.append(nn.Sequential(*layers[:-1]))

    def forward(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        out = [row(torch.cat([source[:, i], target[:, i]], dim=1)) for i, row in enumerate(self.rows)]
        return torch.stack(out, dim=1) + self.residual_coefficient * target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=18)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    batched = LatentMixer(num_rows=args.rows).to(args.device)
    loop = LoopMixer(batched).to(args.device)

    def make(b):
        return torch.randn(b, args.rows, 512, device=args.device), torch.randn(b, args.rows, 512, device=args.device)

    s64, t64 = make(64)
    s1, t1 = make(1)
    max_diff = (batched(s64, t64) - loop(s64, t64)).abs().max().item()

    def train(m):
        def step():
            m.zero_grad(set_to_none=True)
            m(s64, t64).square().mean().backward()

        return step

    def infer(m):
        def step():
            with torch.no_grad():
                m(s1, t1)

        return step

    t_train_b, t_train_l = (
        best_time(train(batched), args.device, args.repeats, warmup=2),
        best_time(train(loop), args.device, args.repeats, warmup=2),
    )
    t_inf_b = best_time(infer(batched), args.device, args.repeats * 4, warmup=2)
    t_inf_l = best_time(infer(loop), args.device, args.repeats * 4, warmup=2)
    print(
        json.dumps(
            {
                "bench": "mixer",
                "device": args.device if args.device == "cpu" else torch.cuda.get_device_name(),
                "threads": torch.get_num_threads(),
                "cpu": platform.processor() or platform.machine(),
                "rows": args.rows,
                "params": sum(p.numel() for p in batched.parameters()),
                "max_abs_diff_vs_loop": max_diff,
                "train_b64_s": {"batched": t_train_b, "loop": t_train_l},
                "infer_b1_s": {"batched": t_inf_b, "loop": t_inf_l},
                "speedup_train_b64": t_train_l / t_train_b,
                "speedup_infer_b1": t_inf_l / t_inf_b,
            }
        )
    )


if __name__ == "__main__":
    main()
