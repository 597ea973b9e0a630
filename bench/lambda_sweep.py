"""λ sweep (paper Table 1): short training runs for several λ, measured on held-out pairs.

As λ grows the swap moves from the source towards the target: identity retrieval falls while the
expression and pose errors fall too. Every run trains the same number of steps with the demo's CPU
recipe (`lsw_core.training.recipes.cpu_recipe`); `--space z,w,w+` gives all three blocks of Table 1 (the
mixer reading z, the single w, or the W+ rows). Prints one JSON object and a markdown table per space.
Usage: python bench/lambda_sweep.py [--generator synthface] [--space w+] [--lambdas 1,10,100,1000]
       [--steps 250] [--batch-size 64] [--pairs 200]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from lsw_core.evaluation.latent_pairs import evaluate_mixer
from lsw_core.mixing.latents import check_space
from lsw_core.mixing.swapper import Swapper
from lsw_core.training.recipes import TRAIN_RESOLUTION, cpu_recipe
from lsw_core.training.trainer import MixerTrainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator", default="synthface")
    parser.add_argument("--lambdas", default="1,10,100,1000")
    parser.add_argument("--steps", type=int, default=250, help="training steps per λ")
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--space", default="w+", help="latent space(s) of the mixer: z, w, w+ or a list (z,w,w+)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--resolution", type=int, default=TRAIN_RESOLUTION, help="training render size (px)")
    args = parser.parse_args()
    spaces = [check_space(s.strip()) for s in args.space.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for space in spaces:
            for lam in [float(x) for x in args.lambdas.split(",")]:
                t0 = time.monotonic()
                config = cpu_recipe(
                    args.generator,
                    space=space,
                    lambda_lp=lam,
                    steps=args.steps,
                    batch_size=args.batch_size,
                    generator_options={"resolution": args.resolution},
                    sample_every=10**9,
                    checkpoint_every=10**9,
                )
                out = MixerTrainer(config, Path(tmp) / f"{space}_lambda_{lam:g}", progress=False).train()
                metrics = evaluate_mixer(Swapper.from_folder(out), pairs=args.pairs)
                step = json.loads((out / "config.json").read_text())["step"]
                seconds = round(time.monotonic() - t0, 1)
                rows.append({"space": space, "lambda": lam, "steps": step, "seconds": seconds, **metrics})
                print(json.dumps({"run": rows[-1]}), flush=True)  # kept if a long sweep is stopped early
    print(
        json.dumps(
            {
                "bench": "lambda_sweep",
                "generator": args.generator,
                "batch_size": args.batch_size,
                "resolution": args.resolution,
                "runs": rows,
            }
        )
    )
    for space in spaces:
        print(f"\n{space.upper()}:\n" + markdown_table([r for r in rows if r["space"] == space]))


def markdown_table(rows: list[dict]) -> str:
    """The runs and the two baselines as a table like the paper's Table 1."""
    base = rows[0]["baselines"]
    appearance = "appearance_error" in rows[0]
    lines = [
        "| λ | steps | ID retrieval ↑ | expression error ↓ | pose error (°) ↓ |" + " appearance error ↓ |" * appearance,
        "|---|---|---|---|---|" + "---|" * appearance,
    ]
    for name, r in [(f"{r['lambda']:g}", r) for r in rows] + [(name, base[name]) for name in base]:
        cells = [name, str(r.get("steps", "–")), f"{r['id_retrieval']:.3f}", f"{r['expression_error']:.4f}"]
        cells += [f"{r['pose_error_deg']:.2f}"] + ([f"{r['appearance_error']:.4f}"] if appearance else [])
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
