"""Video swapping on a synthetic clip against swapping every frame as a photo, as JSON.

The clip: one face of the synthetic world (a ψ-0.7 latent) whose head turns slowly (the yaw factor
from -1 to +1 prior standard deviations) while its expression changes (the first two expression
factors from 0 to 1.5), moved along the world's own read-out directions, rendered as aligned crops,
written to mp4 (libx264, crf 18) and decoded again. The source is another face.

Measured, both with the fast PTI schedule (pixel + SSIM loss: no LPIPS weights offline):
- `video`: `VideoSwapper.swap_clip` on the file (the source projected once, each frame from the
  previous frame's pivots, the generator tuned once, latents smoothed), decoding and encoding
  included; `photo`: `PhotoSwapper.swap` of the source onto every `--photo-every`-th frame from
  scratch. Seconds per frame (wall clock, and the process's CPU time, which a loaded machine
  disturbs less), and their ratios.
- target reconstruction PSNR (dB) of each frame's pivot;
- oracle ID retrieval per frame: the swap's ground-truth identity is nearest the source's among
  the source and `--distractors` other identities (photo: on the frames it swapped; video: on
  those and on all frames);
- flicker: mean absolute change between consecutive frames (grey levels, 0–255) of the swapped
  clip as decoded, and of the target clip; their difference and ratio; and of the swap of the
  clip's true latents (the mixer on the source's and each frame's W+ code, rendered by the world):
  how much the swapped face itself changes under the clip's motion, without inversion.

    python bench/video_swap.py --mixer demo_out/mixer [--resolution R] [--frames 24] [--photo-every 4]
                                [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from lsw_core.inversion.inverters import make_pti
from lsw_core.mixing.swapper import Swapper
from lsw_core.photo import PhotoSwapper, from_tensor
from lsw_core.photo.video import VideoSwapper
from lsw_core.photo.video_io import VideoInfo, VideoWriter, read_frames
from lsw_synthface.generator import GROUP_FACTORS, _factor_sizes


def factor_column(G, factor: str, index: int) -> tuple[range, int]:
    """The W+ rows and the read-out column of one factor of the world (see `SynthFaceGenerator.factors`)."""
    start = 0
    for group, factors in GROUP_FACTORS.items():
        for (name, part), size in zip(factors, _factor_sizes(group)):
            if name == factor and part == slice(None):
                return G.layer_groups[group], start + index
            start += size
    raise KeyError(factor)


def clip_latents(G, frames: int, seed: int) -> torch.Tensor:
    """W+ codes [frames, num_ws, w_dim] of a slow head turn and expression change."""
    z = torch.randn(1, G.z_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        base = G.mapping(z, truncation_psi=0.7)
    t = torch.linspace(0, 1, frames)
    ws = base.repeat(frames, 1, 1)
    for factor, index, begin, end in (("pose", 0, -1.0, 1.0), ("expression", 0, 0.0, 1.5), ("expression", 1, 0.0, 1.5)):
        rows, col = factor_column(G, factor, index)
        step = G.spread[col] * G.directions[:, col]
        amount = begin + (end - begin) * t
        ws[:, rows.start : rows.stop] += (amount[:, None] * step[None])[:, None]
    return ws


def id_retrieval(G, source_ws: torch.Tensor, swap_ws: torch.Tensor, distractors: int, seed: int) -> list[bool]:
    """Per swap: is its ground-truth identity nearest the source's among the source and the distractors?"""
    z = torch.randn(distractors, G.z_dim, generator=torch.Generator().manual_seed(seed + 1000))
    with torch.no_grad():
        gallery = torch.cat(
            [G.ground_truth(source_ws)["identity"], G.ground_truth(G.mapping(z, truncation_psi=0.7))["identity"]]
        )
        found = G.ground_truth(swap_ws)["identity"]
    return (torch.cdist(found, gallery).argmin(dim=1) == 0).tolist()


def change(frames: list[np.ndarray]) -> float:
    """Mean absolute change between consecutive frames, in grey levels."""
    return float(np.mean([np.abs(b.astype(np.float64) - a).mean() for a, b in zip(frames, frames[1:])]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mixer", required=True, help="a mixer trained on synthface (e.g. `lsw demo`'s OUT/mixer)")
    parser.add_argument("--resolution", type=int, help="the world's resolution (default: the mixer's)")
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--fps", type=int, default=12)
    parser.add_argument("--photo-every", type=int, default=4, help="photo-swap every N-th frame (all: 1)")
    parser.add_argument("--smooth", type=int, default=9)
    parser.add_argument("--tune-frames", type=int, default=4)
    parser.add_argument("--warm-steps", type=int, help="projection steps per frame from the previous one")
    parser.add_argument("--warm-lr", type=float, help="their learning rate (0: the projection's own)")
    parser.add_argument("--warm-pull", type=float, help="weight of ‖w − w_previous‖² in them")
    parser.add_argument("--distractors", type=int, default=99)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    swapper = Swapper.from_folder(args.mixer, **({"resolution": args.resolution} if args.resolution else {}))
    G = swapper.generator
    if not G.has_ground_truth:
        raise SystemExit(f"{args.mixer}: needs a mixer trained on the synthetic world (oracle identity)")
    ws = clip_latents(G, args.frames, args.seed)
    z_source = torch.randn(1, G.z_dim, generator=torch.Generator().manual_seed(args.seed + 500))
    with torch.no_grad():
        target_frames = [from_tensor(G.synthesis(w[None], noise_mode="const")) for w in ws]
        source_ws = G.mapping(z_source, truncation_psi=0.7)
        source = from_tensor(G.synthesis(source_ws, noise_mode="const"))
        true_swap = swapper.mix(source_ws.expand(len(ws), -1, -1), ws)
        true_swap_frames = [from_tensor(G.synthesis(w[None], noise_mode="const")) for w in true_swap]
    r = G.resolution
    report: dict = {
        "machine": platform.processor() or "cpu", "threads": args.threads, "torch": torch.__version__,
        "load_average": os.getloadavg(), "generator": f"{G.backend_name} {r} px", "frames": args.frames,
        "schedule": "pti fast, pixel-ssim", "smooth": args.smooth, "tune_frames": args.tune_frames,
    }  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        clip, out = Path(folder) / "clip.mp4", Path(folder) / "swap.mp4"
        info = VideoInfo(r, r, Fraction(args.fps), args.frames, args.frames / args.fps, "libx264", False)
        with VideoWriter(clip, info) as writer:
            for frame in target_frames:
                writer.write(frame)
            writer.close()
        decoded = list(read_frames(clip))
        warm = {
            f"projection_warm_{k}": v
            for k, v in (("steps", args.warm_steps), ("lr", args.warm_lr), ("pull", args.warm_pull))
            if v is not None
        }
        if warm.get("projection_warm_lr") == 0:
            warm["projection_warm_lr"] = None
        inverter = make_pti("fast", perceptual="pixel-ssim", **warm)
        config = inverter.projection
        report.update(warm_steps=config.warm_steps, warm_lr=config.warm_lr or config.lr, warm_pull=config.warm_pull)
        video = VideoSwapper(swapper, inverter, smooth=args.smooth, tune_frames=args.tune_frames)
        t0, c0 = time.perf_counter(), time.process_time()
        summary = video.swap_clip(source, clip, out, progress=False)
        video_seconds, video_cpu = time.perf_counter() - t0, time.process_time() - c0
        swapped = list(read_frames(out))
    photo_frames = list(range(0, args.frames, args.photo_every))
    photo = PhotoSwapper(swapper, make_pti("fast", perceptual="pixel-ssim"))
    photo_seconds, photo_cpu, photo_psnr, photo_ws = [], [], [], []
    for i in photo_frames:
        c0 = time.process_time()
        result = photo.swap(source, decoded[i])
        photo_cpu.append(time.process_time() - c0)
        photo_seconds.append(result.seconds["total"])
        photo_psnr.append(result.metrics["psnr"][1])
        photo_ws.append(result.ws)
    video_id = id_retrieval(G, source_ws, summary.ws, args.distractors, args.seed)
    photo_id = id_retrieval(G, source_ws, torch.cat(photo_ws), args.distractors, args.seed)
    per_frame = video_seconds / args.frames
    report["video"] = {
        "seconds_per_frame": round(per_frame, 3), "cpu_seconds_per_frame": round(video_cpu / args.frames, 3),
        "seconds": {k: round(v, 2) for k, v in summary.seconds.items()},
        "psnr_mean": round(summary.psnr_mean, 2), "psnr_min": round(summary.psnr_min, 2),
        "id_retrieval_all_frames": round(float(np.mean(video_id)), 3),
        "id_retrieval_photo_frames": round(float(np.mean([video_id[i] for i in photo_frames])), 3),
        "tuned_on": summary.tuned_on,
    }  # fmt: skip
    report["photo"] = {
        "frames": photo_frames, "seconds_per_frame": round(float(np.mean(photo_seconds)), 3),
        "cpu_seconds_per_frame": round(float(np.mean(photo_cpu)), 3),
        "psnr_mean": round(float(np.mean(photo_psnr)), 2), "psnr_min": round(float(np.min(photo_psnr)), 2),
        "id_retrieval": round(float(np.mean(photo_id)), 3),
    }  # fmt: skip
    report["video_cost_vs_photo"] = round(per_frame / report["photo"]["seconds_per_frame"], 3)
    report["video_cpu_vs_photo"] = round(video_cpu / args.frames / report["photo"]["cpu_seconds_per_frame"], 3)
    flicker, own, latent = change(swapped), change(decoded), change(true_swap_frames)
    report["flicker"] = {"swap": round(flicker, 3), "target": round(own, 3), "swap_minus_target": round(flicker - own, 3),
                         "swap_over_target": round(flicker / own, 3), "swap_of_true_latents": round(latent, 3),
                         "swap_over_swap_of_true_latents": round(flicker / latent, 3)}  # fmt: skip
    report["load_average_after"] = os.getloadavg()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
