"""Layer-wise analysis (paper Fig. 10): use the swapped code on one layer group only, the target's
code elsewhere, and measure what each group carries.

Prints one JSON object (oracle errors per group) and writes a PNG grid: one row per pair with
source, target, full swap, then coarse / middle / fine1 / fine2-only swaps.
Usage: python bench/layer_groups.py --mixer DIR [--out layer_groups.png]
       python bench/layer_groups.py [--train-minutes 5]   (trains a mixer with the demo's CPU recipe first)
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch

from lsw_core.evaluation.latent_pairs import evaluate_mixer
from lsw_core.images import save_image, stack_rows
from lsw_core.mixing.swapper import Swapper
from lsw_core.training.recipes import SHOW_RESOLUTION, cpu_recipe
from lsw_core.training.trainer import MixerTrainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mixer", help="a trained mixer folder (default: train one)")
    parser.add_argument("--generator", default="synthface")
    parser.add_argument("--train-minutes", type=float, default=5.0)
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--out", default="layer_groups.png")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.mixer:
            swapper = Swapper.from_folder(args.mixer)
        else:
            config = cpu_recipe(
                args.generator, max_minutes=args.train_minutes, sample_every=10**9, checkpoint_every=10**9
            )
            mixer = MixerTrainer(config, Path(tmp) / "mixer", progress=False).train()
            swapper = Swapper.from_folder(mixer, resolution=SHOW_RESOLUTION)
        groups = list(swapper.generator.layer_groups)
        results = {"all": evaluate_mixer(swapper, pairs=args.pairs)}
        for g in groups:
            results[g] = evaluate_mixer(swapper, pairs=args.pairs, groups=[g])

        z_s, z_t = swapper.latents_from_seeds(range(300, 305)), swapper.latents_from_seeds(range(400, 405))
        columns = [swapper.wplus_from_z(z_s), swapper.wplus_from_z(z_t), swapper.mix_z(z_s, z_t)]
        columns += [swapper.mix_z(z_s, z_t, [g]) for g in groups]
        images = torch.stack([swapper.render(ws).cpu() for ws in columns], dim=1)  # [pairs, columns, 3, H, W]
        save_image(stack_rows(list(images)), args.out)
    keys = ("id_retrieval", "expression_error", "pose_error_deg", "appearance_error")
    summary = {g: {k: r[k] for k in keys if k in r} for g, r in results.items()}
    summary["return_target"] = results["all"]["baselines"]["return_target"]
    summary["return_source"] = results["all"]["baselines"]["return_source"]
    print(
        json.dumps(
            {
                "bench": "layer_groups",
                "columns": ["source", "target", "all", *groups],
                "grid": args.out,
                "groups": summary,
            }
        )
    )


if __name__ == "__main__":
    main()
