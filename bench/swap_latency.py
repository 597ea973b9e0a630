"""Seconds per photo-level swap against inversion steps, as JSON.

A swap here is what `lsw swap` does after alignment: invert source and target together (W pivots,
then PTI tuning of one generator copy on both), mix the pivots, synthesise the swap. Reported per
schedule: projection / tuning steps asked for and run, seconds per swap, and the reconstruction
PSNR of the two inputs (what the swap's fidelity rests on). The mixer is randomly initialised: its
cost (one forward pass) does not depend on training. The "encoder" schedules start projection from
the generator's registered latent encoder (synthface ships one; its one-off training is not in the
per-swap time).

Parts:
- `synthface` (CPU, 128 px): targets are the world's own images of known latents (ψ 0.5).
- `stylegan2` (1024 px config-f, random weights; GPU only unless `--stylegan2 run`): targets are
  the random generator's own images; timings matter here, the PSNR only shows convergence.

    python bench/swap_latency.py [--device cuda] [--threads 2] [--pairs 1] [--seed 1] [--quick]
                                 [--stylegan2 auto|run|skip]
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import attrs
import torch

from lsw_core.inversion import ProjectionConfig, TuningConfig, authors_schedule, fast_schedule
from lsw_core.inversion.inverters import PTIInverter
from lsw_core.mixing.mixer import LatentMixer
from lsw_core.plugins import load, load_generator, registry
from lsw_lpips.fallback import PixelSSIM


def schedules(quick: bool) -> dict[str, tuple[ProjectionConfig, TuningConfig]]:
    proj, tune = authors_schedule()
    fast_p, fast_t = fast_schedule()
    out = {"authors 450+350": (proj, tune)}
    for steps in [] if quick else [100]:
        out[f"authors, {steps}+{steps * 350 // 450}"] = (
            attrs.evolve(proj, steps=steps),
            attrs.evolve(tune, steps=steps * 350 // 450),
        )
    out["fast"] = (fast_p, fast_t)
    for steps in [] if quick else [45, 60]:
        out[f"fast, {steps} projection steps"] = (attrs.evolve(fast_p, steps=steps), fast_t)
    if not quick:  # what the initialisation is worth: the same 50 steps from an estimated mean or a search
        out["fast from the mean of 10000 samples"] = (attrs.evolve(fast_p, init="mean"), fast_t)
        out["fast from the best of 32 samples"] = (attrs.evolve(fast_p, init="search", init_candidates=32), fast_t)
    enc_p, enc_t = fast_schedule(encoder=True)
    out["fast from the encoder"] = (enc_p, enc_t)
    for steps in [] if quick else [20, 40]:
        out[f"fast from the encoder, {steps} projection steps"] = (attrs.evolve(enc_p, steps=steps), enc_t)
    return out


def time_swaps(G, images: torch.Tensor, mixer: LatentMixer, projection, tuning, pairs: int, encoder) -> dict:
    inverter = PTIInverter(projection, tuning, PixelSSIM().to(images.device), encoder=encoder)
    seconds, psnrs, proj_steps, tune_steps = [], [], [], []
    for p in range(pairs):
        pair = images[2 * p : 2 * p + 2]
        if images.is_cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        inv = inverter.invert(G, pair)
        with torch.no_grad():
            ws = mixer(inv.ws[:1], inv.ws[1:])
            swap = inv.generator.synthesis(ws, camera=inv.camera[[1]] if inv.camera is not None else None)
        if images.is_cuda:
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - t0)
        assert swap.shape[-1] == G.resolution
        psnrs += inv.metrics["psnr"]
        proj_steps.append(inv.metrics["projection_steps"])
        tune_steps.append(inv.metrics["steps"])
    return {
        "projection_steps": projection.steps,
        "tuning_steps": tuning.steps,
        "projection_steps_run": proj_steps,
        "tuning_steps_run": tune_steps,
        "seconds_per_swap": round(sum(seconds) / len(seconds), 3),
        "seconds_median": round(sorted(seconds)[len(seconds) // 2], 3),
        "psnr_mean": round(sum(psnrs) / len(psnrs), 2),
        "psnr_min": round(min(psnrs), 2),
    }


def run_part(G, device: torch.device, pairs: int, configs: dict, psi: float, seed: int = 1) -> list[dict]:
    G = G.to(device).eval()
    z = torch.randn(2 * pairs, G.z_dim, generator=torch.Generator().manual_seed(seed)).to(device)
    with torch.no_grad():
        images = G.synthesis(G.mapping(z, truncation_psi=psi)).float()
    mixer = LatentMixer(num_rows=G.num_ws, w_dim=G.w_dim).to(device)
    encoder = load("latent_encoder", G.backend_name) if G.backend_name in registry("latent_encoder") else None
    results = []
    for name, (projection, tuning) in configs.items():
        if projection.init == "encoder" and encoder is None:
            continue
        row = {"schedule": name, **time_swaps(G, images, mixer, projection, tuning, pairs, encoder)}
        if results:  # the authors' schedule comes first
            row["time_vs_authors"] = round(row["seconds_per_swap"] / results[0]["seconds_per_swap"], 3)
        print(json.dumps(row), flush=True)
        results.append(row)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--pairs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1, help="seed of the target latents")
    parser.add_argument(
        "--quick", action="store_true", help="only the authors', the fast and the fast-from-the-encoder schedules"
    )
    parser.add_argument("--stylegan2", choices=["auto", "run", "skip"], default="auto")
    parser.add_argument("--skip-synthface", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    report: dict = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "threads": args.threads,
        "torch": torch.__version__,
        "perceptual": "pixel-ssim (no LPIPS weights on this machine)",
    }
    configs = schedules(args.quick)
    if not args.skip_synthface:
        report["synthface_128"] = run_part(load_generator("synthface"), device, args.pairs, configs, 0.5, args.seed)
    if args.stylegan2 == "skip" or (args.stylegan2 == "auto" and device.type != "cuda"):
        report["stylegan2_1024"] = {"skipped": "needs a GPU (or --stylegan2 run)"}
    else:
        try:
            G = load_generator("stylegan2")
        except Exception as exc:  # the backend is optional
            report["stylegan2_1024"] = {"skipped": f"stylegan2 backend unavailable: {exc}"}
        else:
            sg_configs = {k: v for k, v in configs.items() if k in ("authors 450+350", "fast", "fast from the encoder")}
            report["stylegan2_1024"] = run_part(G, device, args.pairs, sg_configs, 0.7, args.seed)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
