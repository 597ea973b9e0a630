"""Real photos swapped at 1024 px on the CPU with MobileStyleGAN: reconstruction PSNR and seconds per
photo swap, per inversion schedule and thread count, as JSON.

A swap is what `lsw swap SRC TGT --mixer DIR` does: dlib-ffhq alignment at 1024 px, W projection of
both faces, PTI tuning of one generator copy on both, the mixer, paste-back into the target photo.
Nothing is cached (every swap projects and tunes). Reported per swap: wall and CPU seconds (the
process's, so a loaded machine shows in wall time but less in CPU time) by stage, projection and
tuning steps run, the reconstruction PSNR of source and target after projection and after tuning,
and the load average; then means per schedule and thread count, with the time as a fraction of the
authors' schedule on the same pairs.

The mixer does not change what is measured (reconstruction and time): without `--mixer` an untrained
gated mixer (gate 0.6, i.e. interpolation) is written to a temporary folder and used. Photos:
`astronaut` is scikit-image's sample photo; others are paths (e.g. the test photos of the
`face_recognition` sdist: `pip download --no-deps --no-binary :all: face-recognition==1.3.0`,
then `tests/test_images/` in the archive).

    python bench/photo_1024.py --photo astronaut --photo obama.jpg --pair 0:1 \\
        --schedule fast --schedule fast-encoder --encoder msg-encoder.safetensors --threads 1 --threads 2

Schedules: `fast`, `fast-encoder` (needs `--encoder`), `authors`; `--authors-pairs N` runs the
authors' schedule on the first N pairs only (it takes about ten times as long). Needs the
`random-face` wheel (`pip install --no-deps random-face`) and the `faces` and `test` extras.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

SCHEDULES = ("fast", "fast-encoder", "authors")


def load_photos(specs: list[str]) -> dict[str, np.ndarray]:
    """Name → RGB photo: `astronaut` (scikit-image) or an image file."""
    from lsw_core.images import load_photo

    photos = {}
    for spec in specs:
        if spec == "astronaut":
            from skimage.data import astronaut

            photos[spec] = astronaut()
        else:
            photos[Path(spec).name] = load_photo(spec)
    return photos


def make_inverter(schedule: str, encoder: str | None, options: dict[str, str]):
    from lsw_core.plugins import load_inverter

    extra = {"encoder": encoder} if schedule == "fast-encoder" else {}
    return load_inverter("pti", schedule="authors" if schedule == "authors" else "fast", perceptual="pixel-ssim",
                         **extra, **options)  # fmt: skip


def swap_once(photos, names: tuple[str, str], src: np.ndarray, tgt: np.ndarray):
    """One uncached photo swap: its row (times, steps, PSNRs, 1-minute load average before and after)
    and the result."""
    load = os.getloadavg()[0]
    began, cpu = time.perf_counter(), time.process_time()
    result = photos.swap(src, tgt)
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    assert result.aligned.shape == (1024, 1024, 3) and result.pasted.shape == tgt.shape
    m = result.metrics
    return {
        "pair": list(names),
        "seconds": round(wall, 1),
        "cpu_seconds": round(cpu, 1),
        "stage_seconds": {k: round(v, 1) for k, v in result.seconds.items() if k != "total"},
        "projection_steps": m.get("projection_steps"),
        "tuning_steps": m.get("steps"),
        "projection_psnr": [round(x, 2) for x in m.get("projection_psnr", [])],
        "psnr": [round(x, 2) for x in m.get("psnr", [])],
        "load_average": [round(load, 1), round(os.getloadavg()[0], 1)],
    }, result


def step_costs(generator, repeats: int = 2) -> dict:
    """CPU seconds of one projection step (gradients into W) and one tuning step (into the weights) at
    batch 2, in float32 and under bf16 autocast, and of the reconstruction loss alone at 1024² and at
    256² (what projecting against downsampled images could save): best of `repeats`."""
    import copy

    from lsw_core.inversion.loss import ReconstructionLoss
    from lsw_lpips.fallback import PixelSSIM

    G = copy.deepcopy(generator).requires_grad_(False)
    loss_fn = ReconstructionLoss(PixelSSIM(), pixel_weight=1.0, perceptual_weight=1.0, resolution=256)
    z = torch.randn(2, G.z_dim, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        target = G.synthesis(G.mapping(z, truncation_psi=0.7))
    w = G.w_avg[None].repeat(2, 1).requires_grad_(True)

    def best(fn) -> float:
        fn()
        times = []
        for _ in range(repeats):
            began = time.process_time()
            fn()
            times.append(time.process_time() - began)
        return round(min(times), 3)

    def step(bf16: bool, tuning: bool = False) -> None:
        ws = (w.detach() if tuning else w)[:, None].expand(-1, G.num_ws, -1)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            synth = G.synthesis(ws).float()
        loss_fn(synth, target).sum().backward()

    def loss_only(size: int) -> None:
        x = torch.nn.functional.interpolate(target, size=(size, size), mode="area") if size < 1024 else target
        x = x.clone().requires_grad_(True)
        loss_fn(x + 0.01, x.detach()).sum().backward()

    out = {"projection_step_fp32": best(lambda: step(False)), "projection_step_bf16": best(lambda: step(True))}
    out.update(loss_1024=best(lambda: loss_only(1024)), loss_256=best(lambda: loss_only(256)))
    G.requires_grad_(True)
    out.update(tuning_step_fp32=best(lambda: step(False, True)), tuning_step_bf16=best(lambda: step(True, True)))
    return out


def summarise(rows: list[dict]) -> list[dict]:
    """Means per (schedule, threads), and the time as a fraction of the authors' on the same pairs."""
    groups: dict[tuple[str, int], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["schedule"], row["threads"]), []).append(row)
    out = []
    for (schedule, threads), group in groups.items():
        psnr = [x for r in group for x in r["psnr"]]
        entry = {
            "schedule": schedule,
            "threads": threads,
            "swaps": len(group),
            "seconds_mean": round(float(np.mean([r["seconds"] for r in group])), 1),
            "cpu_seconds_mean": round(float(np.mean([r["cpu_seconds"] for r in group])), 1),
            "psnr_mean": round(float(np.mean(psnr)), 2),
            "psnr_min": round(float(np.min(psnr)), 2),
            "projection_psnr_mean": round(float(np.mean([x for r in group for x in r["projection_psnr"]])), 2),
        }
        authors = {tuple(r["pair"]): r for r in groups.get(("authors", threads), [])}
        shared = [r for r in group if tuple(r["pair"]) in authors]
        if shared and schedule != "authors":
            entry["cpu_seconds_vs_authors"] = round(
                sum(r["cpu_seconds"] for r in shared) / sum(authors[tuple(r["pair"])]["cpu_seconds"] for r in shared), 3
            )
            entry["psnr_vs_authors_db"] = round(
                float(np.mean([x for r in shared for x in r["psnr"]]))
                - float(np.mean([x for r in shared for x in authors[tuple(r["pair"])]["psnr"]])),
                2,
            )
        out.append(entry)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photo", action="append", default=[], help="`astronaut` or an image path (repeatable)")
    parser.add_argument("--pair", action="append", default=[], help="SRC:TGT photo numbers (repeatable) [0:1]")
    parser.add_argument("--schedule", action="append", choices=SCHEDULES, default=[])
    parser.add_argument("--threads", action="append", type=int, default=[])
    parser.add_argument("--authors-pairs", type=int, default=1, help="run the authors' schedule on this many pairs")
    parser.add_argument("--encoder", help="latent encoder file for `fast-encoder` (lsw encoder train)")
    parser.add_argument("--mixer", help="mixer folder (default: an untrained gated mixer, gate 0.6)")
    parser.add_argument("--inverter-option", action="append", default=[], metavar="KEY=VALUE",
                        help="extra option of the pti inverter for every schedule (e.g. tuning_steps=50)")  # fmt: skip
    parser.add_argument("--step-costs", action="store_true",
                        help="also time single projection and tuning steps (fp32, bf16) and the loss alone")  # fmt: skip
    parser.add_argument("--save", help="folder to write each swap's pasted photo into")
    parser.add_argument("--out", help="also write the JSON report here")
    args = parser.parse_args()
    photos_in = args.photo or ["astronaut"]
    pairs = [tuple(int(i) for i in p.split(":")) for p in args.pair] or [(0, 1)]
    schedules = args.schedule or ([] if args.step_costs else ["fast"])  # --step-costs alone: no swaps
    if "fast-encoder" in schedules and not args.encoder:
        parser.error("--schedule fast-encoder needs --encoder FILE")
    from lsw_core.cli.options import parse_options

    options = parse_options(tuple(args.inverter_option))

    from lsw_core.images import save_photo
    from lsw_core.interfaces import LatentLayout
    from lsw_core.mixing.mixer import GatedLatentMixer
    from lsw_core.mixing.swapper import Swapper
    from lsw_core.photo import PhotoSwapper
    from lsw_core.plugins import load_aligner, load_generator

    photos = load_photos(photos_in)
    names = list(photos)
    began = time.perf_counter()
    generator = load_generator("mobilestylegan").eval()
    load_seconds = time.perf_counter() - began
    with tempfile.TemporaryDirectory() as tmp:
        mixer = args.mixer
        if mixer is None:
            torch.manual_seed(0)
            mixer = os.path.join(tmp, "mixer")
            GatedLatentMixer(num_rows=generator.num_ws, w_dim=generator.w_dim, gate_init=0.6).save_pretrained(
                mixer, backend="mobilestylegan", layout=LatentLayout(generator.num_ws, generator.w_dim)
            )
        swapper = Swapper.from_folder(mixer, generator)
    aligner = load_aligner("dlib-ffhq")
    aligner.count(photos[names[0]])  # loads dlib's models outside the timed swaps
    report = {
        "bench": "photo_1024",
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "generator": "mobilestylegan (random-face wheel, 1024 px, 23 W+ rows)",
        "generator_load_seconds": round(load_seconds, 1),
        "perceptual": "pixel-ssim",
        "mixer": args.mixer or "untrained gated mixer, gate 0.6",
        "encoder": args.encoder,
        "inverter_options": options,
        "photos": names,
        "swaps": [],
    }
    for threads in args.threads or [1]:
        torch.set_num_threads(threads)
        if args.step_costs:
            report.setdefault("step_cpu_seconds", {})[f"{threads} thread(s)"] = step_costs(generator)
        for schedule in schedules:
            inverter = make_inverter(schedule, args.encoder, options)
            swapper_photos = PhotoSwapper(swapper, inverter, aligner=aligner)
            todo = pairs[: args.authors_pairs] if schedule == "authors" else pairs
            for s, t in todo:
                row, result = swap_once(swapper_photos, (names[s], names[t]), photos[names[s]], photos[names[t]])
                row = {"schedule": schedule, "threads": threads, **row}
                print(json.dumps(row), file=sys.stderr, flush=True)
                report["swaps"].append(row)
                if args.save:
                    stem = f"{Path(names[s]).stem}__{Path(names[t]).stem}__{schedule}_{threads}t.jpg"
                    save_photo(Path(args.save) / stem, result.pasted)
    report["summary"] = summarise(report["swaps"])
    text = json.dumps(report, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
