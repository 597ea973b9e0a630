"""λ sweep (paper Table 1): short training runs for several λ, measured on held-out pairs.

As λ grows the swap moves from the source towards the target: identity retrieval falls while the
expression and pose errors fall too. Every run trains the same number of steps with the demo's CPU
recipe (`lsw_core.cli.demo.cpu_recipe`). Prints one JSON object and a markdown table.
Usage: python bench/lambda_sweep.py [--generator synthface] [--lambdas 1,10,100,1000] [--steps 250]
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
    parser.add_argument("--steps", type=int, default=250, help="training steps per λ")
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
    print("\n" + markdown_table(rows))


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
