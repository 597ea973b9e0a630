"""StyleGAN2 backend benchmark; prints one JSON object.

- synthesis: seconds per image at each resolution with NVIDIA config-f widths and random weights,
  in fp32 and in mixed precision (the 4 highest resolutions in fp16, as NVIDIA's config-f; CUDA
  only: on CPU the generator forces fp32), on every requested device;
- mixer_step: one LatentMixer training step (mixer forward, G synthesis of source/target/swap,
  loss, backward through G into the mixer, AdamW) at `--mixer-batch` (default 64, the paper's) on
  the 1024 px generator. The identity network is a fixed random conv net standing in for a real
  embedder (the step's cost is dominated by G); the shape term is off.

Usage: python bench/stylegan2.py [--devices cpu cuda] [--resolutions 256 1024] [--batch 1]
                                 [--repeats 3] [--mixer-batch 64] [--mixer-device cuda] [--no-mixer]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile

import torch
import torch.nn.functional as F
from timing import best_time
from torch import nn

import lsw_core
from lsw_core.interfaces import IdentityEmbedder


def bench_synthesis(resolution: int, device: str, precision: str, batch: int, repeats: int) -> dict:
    G = lsw_core.load_generator("stylegan2", img_resolution=resolution).to(device)
    ws = G.mapping(torch.randn(batch, G.z_dim, device=device), truncation_psi=0.7)
    force_fp32 = precision == "fp32"

    @torch.no_grad()
    def run():
        return G.synthesis(ws, noise_mode="const", force_fp32=force_fp32)

    seconds = best_time(run, device, repeats)
    return {
        "resolution": resolution,
        "num_ws": G.num_ws,
        "device": device,
        "precision": precision,
        "batch": batch,
        "seconds_per_image": round(seconds / batch, 5),
    }


class RandomConvEmbedder(IdentityEmbedder):
    """Stand-in identity network: images resized to 256 (as the paper's L_id), 4 strided convs."""

    dim = 512

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        chans = [3, 32, 64, 128, 256]
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, stride=2, padding=1) for a, b in zip(chans, chans[1:]))
        self.head = nn.Linear(256, self.dim)

    def _embed(self, images: torch.Tensor) -> torch.Tensor:
        x = F.interpolate((images + 1) / 2, size=(256, 256), mode="bilinear", align_corners=False)
        for conv in self.convs:
            x = F.silu(conv(x))
        return self.head(x.mean(dim=[2, 3]))


def bench_mixer_step(device: str, batch: int, repeats: int) -> dict:
    from lsw_core.training.config import TrainConfig
    from lsw_core.training.trainer import MixerTrainer

    G = lsw_core.load_generator("stylegan2")  # config-f, 1024 px, 18 ws
    config = TrainConfig(generator="stylegan2", batch_size=batch, mu_shape=0.0, device=device)
    with tempfile.TemporaryDirectory() as out:
        trainer = MixerTrainer(config, out, generator=G, embedder=RandomConvEmbedder(), progress=False)
        if device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        seconds = best_time(trainer.train_step, device, repeats)
    result = {
        "device": device,
        "batch": batch,
        "resolution": G.resolution,
        "num_ws": G.num_ws,
        "mixer_parameters": sum(p.numel() for p in trainer.mixer.parameters()),
        "seconds_per_step": round(seconds, 4),
        "embedder": "random conv stand-in",
        "shape_term": False,
    }
    if device.startswith("cuda"):
        result["peak_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", nargs="+", default=["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    parser.add_argument("--resolutions", nargs="+", type=int, default=[256, 1024])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mixer-batch", type=int, default=64)
    parser.add_argument("--mixer-device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--no-mixer", action="store_true")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    report: dict = {
        "benchmark": "stylegan2",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "synthesis": [],
        "skipped": [],
    }
    for device in args.devices:
        for resolution in args.resolutions:
            for precision in ("fp32", "mixed"):
                if precision == "mixed" and not device.startswith("cuda"):
                    report["skipped"].append(
                        f"synthesis {resolution} px mixed on {device}: fp16 layers run on CUDA only"
                    )
                    continue
                report["synthesis"].append(bench_synthesis(resolution, device, precision, args.batch, args.repeats))
    if not args.no_mixer:
        report["mixer_step"] = bench_mixer_step(args.mixer_device, args.mixer_batch, max(1, args.repeats - 2))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
