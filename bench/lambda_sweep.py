"""λ sweep (paper Table 1): short training runs for several λ, measured on held-out pairs.

As λ grows the swap moves from the source towards the target: identity retrieval falls while the
expression and pose errors fall too. Every run trains the same number of steps with the demo's CPU
recipe (`lsw_core.cli.demo.cpu_recipe`). Prints one JSON object and a markdown table.
Usage: python bench/lambda_sweep.py [--generator synthface] [--lambdas 1,10,100,1000] [--steps 400]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from lsw_core.cli.demo import cpu_recipe
from lsw_core.mixer_eval import evaluate_mixer
from lsw_core.swapper import Swapper
from lsw_core.trainer import MixerTrainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator", default="synthface")
    parser.add_argument("--lambdas", default="1,10,100,1000")
    parser.add_argument("--steps", type=int, default=400, help="training steps per λ")
    parser.add_argument("--pairs", type=int, default=200)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for lam in [float(x) for x in args.lambdas.split(",")]:
            t0 = time.monotonic()
            config = cpu_recipe(
                args.generator, lambda_lp=lam, steps=args.steps, sample_every=10**9, checkpoint_every=10**9
            )
            out = MixerTrainer(config, Path(tmp) / f"lambda_{lam:g}", progress=False).train()
            metrics = evaluate_mixer(Swapper.from_folder(out), pairs=args.pairs)
            step = json.loads((out / "config.json").read_text())["step"]
            rows.append({"lambda": lam, "steps": step, "seconds": round(time.monotonic() - t0, 1), **metrics})
    print(json.dumps({"bench": "lambda_sweep", "generator": args.generator, "runs": rows}))
    print("\n| λ | steps | ID retrieval ↑ | expression error ↓ | pose error (°) ↓ |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['lambda']:g} | {r['steps']} | {r['id_retrieval']:.3f} | {r['expression_error']:.4f} | {r['pose_error_deg']:.2f} |"
        )
    base = rows[0]["baselines"]
    for name in ("return_source", "return_target"):
        b = base[name]
        print(f"| {name} | – | {b['id_retrieval']:.3f} | {b['expression_error']:.4f} | {b['pose_error_deg']:.2f} |")


if __name__ == "__main__":
    main()
