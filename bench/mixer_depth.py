"""Mixer depth ablation (paper: 2, 3, 5 and 7 fully connected layers; 5 is its choice): the same
number of training steps per depth with the demo's CPU recipe, then the oracle metrics on held-out
pairs, the mixer's parameter count and the time per training step.

Widths per depth follow `lsw_core.mixing.mixer.layer_widths` (2w in, w out; the first half of the hidden
layers 2w wide). Prints one JSON object and a markdown table.
Usage: python bench/mixer_depth.py [--generator synthface] [--depths 2,3,5,7] [--steps 250]
       [--batch-size 64] [--pairs 200] [--lambda 100] [--set KEY=VALUE ...]
`--set` overrides a training setting for every depth (e.g. `--depths 5 --set keep_weight=2.9`).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from lsw_core.cli.options import parse_options
from lsw_core.evaluation.latent_pairs import evaluate_mixer
from lsw_core.mixing.swapper import Swapper
from lsw_core.training.recipes import TRAIN_RESOLUTION, cpu_recipe
from lsw_core.training.trainer import MixerTrainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator", default="synthface")
    parser.add_argument("--depths", default="2,3,5,7")
    parser.add_argument("--steps", type=int, default=250, help="training steps per depth")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--resolution", type=int, default=TRAIN_RESOLUTION, help="training render size (px)")
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--lambda", dest="lambda_lp", type=float, default=100.0)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting")
    args = parser.parse_args()
    overrides = parse_options(tuple(args.set))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for depth in [int(x) for x in args.depths.split(",")]:
            config = cpu_recipe(
                args.generator,
                mixer_depth=depth,
                lambda_lp=args.lambda_lp,
                steps=args.steps,
                batch_size=args.batch_size,
                generator_options={"resolution": args.resolution},
                sample_every=10**9,
                checkpoint_every=10**9,
                **overrides,
            )
            trainer = MixerTrainer(config, Path(tmp) / f"depth_{depth}", progress=False)
            t0 = time.monotonic()
            out = trainer.train()
            train_seconds = time.monotonic() - t0
            swapper = Swapper.from_folder(out)
            metrics = evaluate_mixer(swapper, pairs=args.pairs)
            rows.append(
                {
                    "depth": depth,
                    "parameters": sum(p.numel() for p in swapper.mixer.parameters()),
                    "steps": args.steps,
                    "seconds_per_step": round(train_seconds / args.steps, 3),
                    **metrics,
                }
            )
            print(json.dumps({"run": rows[-1]}), flush=True)  # kept if a long ablation is stopped early
    print(
        json.dumps(
            {
                "bench": "mixer_depth",
                "generator": args.generator,
                "batch_size": args.batch_size,
                "resolution": args.resolution,
                "settings": overrides,
                "runs": rows,
            }
        )
    )
    print("\n" + markdown_table(rows))


def markdown_table(rows: list[dict]) -> str:
    lines = [
        "| depth | parameters | s / step | ID retrieval ↑ | expression error ↓ | pose error (°) ↓ | appearance error ↓ |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cells = [str(r["depth"]), f"{r['parameters'] / 1e6:.2f} M", f"{r['seconds_per_step']:.2f}"]
        cells += [f"{r['id_retrieval']:.3f}", f"{r['expression_error']:.4f}", f"{r['pose_error_deg']:.2f}"]
        cells += [f"{r.get('appearance_error', float('nan')):.4f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
