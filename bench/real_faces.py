"""Real-face swaps judged by networks the mixer did and did not train with: identity, pose, expression.

A mixer is trained on a real face generator (`--generator dcgan-faces`: the 64-px DigiFace-1M DCGAN
of plugins/dcgan_faces; `mobilestylegan`: the 1024-px FFHQ MobileStyleGAN of the random-face wheel)
against one identity network (`--train-embedder dlib-resnet|sface`), or read from folders `lsw train`
wrote (`--mixer DIR`, repeatable, e.g. snapshots of one run for its trajectory). Its swaps of
`--pairs` held-out pairs (seeds training never draws: `--held-out-seed`, repeatable) are judged by
every `--judge` (default sface, dlib and facemesh) with `lsw_core.evaluation.judge_mixer`: per judge, of the
swap, of the source and of interpolation at the swap's own pixel distance to the target, the fraction
closer to the source than to the target, and the pose (degrees) and expression errors against the
target; `independent` says whether the mixer trained with the judge's identity network, and
`pose_expression_independent` whether its shape model was taught from the judge's landmarks (dlib's
are the `dlib-landmarks` net's teacher; MediaPipe Face Mesh's are no one's).

Training reports steps and seconds per step (the step alone, median), with the load average;
`--score-every N` judges the swap every N steps on the first held-out set (`--trajectory-pairs` pairs,
scoring time left out) and checkpoints the run folder there (`lsw train --resume` continues it).
Writes `<out>/real_faces.json` and `<out>/real_faces.png`: 256-px rows of sources, targets, swaps and
interpolation at the swap's pixel distance, labelled.

    pip install --no-deps gan-face-generate==1.1.1 ./plugins/dcgan_faces
    python bench/real_faces.py --variants paper,real-embedder --steps 2400 --threads 1 --out runs/real_faces
    python bench/real_faces.py --train-embedder sface --variants real-embedder --steps 2400 --judge dlib --judge sface
    python bench/real_faces.py --mixer runs/dcgan_swap --held-out-seed 987654321 --held-out-seed 1234 --held-out-seed 555
    pip install --no-deps random-face && pip install 'lsw-core[sface]'
    python bench/real_faces.py --generator mobilestylegan --steps 1000 --score-every 100 --trajectory-pairs 24 \\
        --pairs 100 --threads 1 --out runs/msg_dlib
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch

from lsw_core.cli.options import parse_options
from lsw_core.evaluation.judged import HELD_OUT_SEED, held_out_z, judge_mixer, trained_networks
from lsw_core.images import resize, save_image, stack_rows
from lsw_core.mixing.mixer import read_mixer_config
from lsw_core.mixing.swapper import Swapper
from lsw_core.plugins import load_judge
from lsw_core.training.config import TrainConfig
from lsw_core.training.recipes import recipe
from lsw_core.training.trainer import MixerTrainer

#: Every variant: no shape model on these generators, all pairs different.
COMMON = dict(mu_shape=0.0, same_pair_prob=0.0, batch_size=8)
GRID_PAIRS, GRID_SIZE = 8, 256

VARIANTS = {
    # The paper's loss and mixer, λ = 0.05, lr 1e-3: the reported failure on the DCGAN.
    "paper": dict(lambda_lp=0.05, lr=1e-3),
    # The gated mixer starting at interpolation α = 0.6, augmented L_id, λ relative to the scales.
    "gated-augmented": dict(lambda_lp=1.0, lambda_relative=True, lr=3e-3, identity_loss="augmented", id_views=1,
                            mixer_kind="gated", gate_init=0.6),
    # Slower, with a stronger pull to the target (after "gated-augmented" overshot interpolation α = 0.7's pixels).
    "gated-augmented-slow": dict(lambda_lp=2.0, lambda_relative=True, lr=1e-3, identity_loss="augmented", id_views=1,
                                 mixer_kind="gated", gate_init=0.6),
    # L_keep in place of λ: linear (keep_power 1) it has no resting point; squared it settles (κ = 1.1).
    "gated-keep": dict(steps=2400, lambda_lp=0.0, lambda_relative=True, keep_weight=1.1, keep_power=2.0, lr=1e-3,
                       identity_loss="augmented", id_views=1, mixer_kind="gated", gate_init=0.6),
    "gated": dict(lambda_lp=1.0, lambda_relative=True, lr=3e-3, mixer_kind="gated", gate_init=0.6),
    # `lsw train --recipe real-embedder` (the DCGAN's) and `--recipe real-embedder-1024` (MobileStyleGAN's).
    "real-embedder": dict(recipe("real-embedder"), steps=2400),
    "real-embedder-1024": recipe("real-embedder-1024"),
}  # fmt: skip
DEFAULT_VARIANTS = {"dcgan-faces": "paper,real-embedder", "mobilestylegan": "real-embedder-1024"}


def summary(report: dict) -> dict:
    """The figures of a `judge_mixer` report a reader compares, per judge."""
    keys = ("closer_to_source", "pose_error_deg", "expression_error", "found")
    out = {"pixel_to_target": round(report["pixel_to_target"]["swap"], 4)}
    for name, judged in report["judges"].items():
        at = judged["interpolation_at_swap_pixels"]
        out[name] = {
            "independent": judged["independent"],
            **(
                {"pose_expression_independent": judged["pose_expression_independent"]}
                if "pose_expression_independent" in judged
                else {}
            ),
            **{f"swap_{k}": round(judged["swap"][k], 3) for k in keys if k in judged["swap"]},
            **{f"interp_{k}": round(at[k], 3) for k in keys if k in at},
            **{f"source_{k}": round(judged["source"][k], 3) for k in keys[1:3] if k in judged["source"]},
            "interp_alpha": round(at["alpha"], 3),
        }
    return out


def judge(swapper: Swapper, judges: dict, pairs: int, seed: int, trained_with: list[str]) -> dict:
    report = judge_mixer(swapper, judges, pairs=pairs, seed=seed, trained_with=trained_with)
    return {"summary": summary(report), "report": report}


def grid_rows(swapper: Swapper, seed: int, label: str, alpha: float) -> dict[str, torch.Tensor]:
    """256-px rows of the first held-out pairs: source, target, swap, interpolation at α."""
    z_s, z_t = (z[:GRID_PAIRS] for z in held_out_z(swapper.generator.z_dim, GRID_PAIRS, seed))
    l_s, l_t = swapper.wplus_from_z(z_s), swapper.wplus_from_z(z_t)
    codes = {"source": l_s, "target": l_t, f"swap: {label}": swapper.mix_z(z_s, z_t),
             f"interpolation a={alpha:.2f}\n(pixels of {label})": l_t + alpha * (l_s - l_t)}  # fmt: skip
    return {name: resize(swapper.render(code).float().cpu(), GRID_SIZE) for name, code in codes.items()}


class Trajectory:
    """`on_step` of the trainer: judges the swap every `every` steps (time kept apart from training's)."""

    def __init__(self, judges: dict, pairs: int, seed: int, every: int, trained_with: list[str]) -> None:
        self.judges, self.pairs, self.seed, self.every, self.trained_with = judges, pairs, seed, every, trained_with
        self.points: list[dict] = []
        self.seconds = 0.0

    def __call__(self, trainer: MixerTrainer) -> None:
        if not self.every or trainer.step % self.every:
            return
        began = time.monotonic()
        cfg, mixer = trainer.config, trainer.swap_mixer
        learning = [p.requires_grad for p in mixer.parameters()]
        swapper = Swapper(trainer.generator, mixer, space=cfg.space, truncation_psi=cfg.truncation_psi,
                          truncation_cutoff=cfg.truncation_cutoff)  # fmt: skip
        point = {
            "step": trainer.step,
            **judge(swapper, self.judges, self.pairs, self.seed, self.trained_with)["summary"],
        }
        for p, flag in zip(mixer.parameters(), learning):
            p.requires_grad_(flag)
        mixer.train()
        self.points.append(point)
        self.seconds += time.monotonic() - began
        print(json.dumps({"trajectory": point}), flush=True)


def train(name: str, args: argparse.Namespace, judges: dict) -> tuple[Swapper, dict]:
    """Train variant `name` into <out>/<name>; its swapper and what the training cost."""
    settings = {**COMMON, **VARIANTS[name], "generator": args.generator, "embedder": args.train_embedder,
                "seed": args.seed, **parse_options(tuple(args.set))}  # fmt: skip
    if args.steps or "steps" not in settings:
        settings["steps"] = args.steps or 10**9
    every = args.score_every or 10**9
    settings.update(max_minutes=args.minutes, log_every=10, sample_every=every, checkpoint_every=every)
    config = TrainConfig(**settings)
    trained_with = trained_networks({"training": config.to_dict()})
    trajectory = Trajectory(judges, args.trajectory_pairs or args.pairs, args.held_out_seed[0], args.score_every,
                            trained_with)  # fmt: skip
    load = os.getloadavg()[0]
    trainer = MixerTrainer(config, Path(args.out) / name, progress=not args.quiet, existing="overwrite")
    began = time.monotonic()
    trainer.train(on_step=trajectory)
    seconds = time.monotonic() - began - trajectory.seconds
    cost = {
        "settings": {k: trainer.config.to_dict()[k] for k in settings if k in trainer.config.to_dict()},
        "steps": trainer.step,
        "train_seconds": round(seconds, 1),
        "seconds_per_step_median": round(statistics.median(trainer.step_seconds), 3),
        "load_average": [round(load, 2), round(os.getloadavg()[0], 2)],
        "calibration": trainer.calibration,
        "trajectory": trajectory.points,
        "trained_with": trained_with,
    }
    swapper = Swapper.from_folder(trainer.out, generator=trainer.generator)
    return swapper, cost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generator", default="dcgan-faces", choices=list(DEFAULT_VARIANTS))
    parser.add_argument("--train-embedder", default="dlib-resnet", choices=["dlib-resnet", "sface"])
    parser.add_argument("--variants", help=f"comma-separated, of {list(VARIANTS)} (default: the generator's)")
    parser.add_argument("--steps", type=int, help="steps per variant (default: the variant's own)")
    parser.add_argument("--minutes", type=float, help="training time budget per variant")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a setting, every variant")
    parser.add_argument("--seed", type=int, default=0, help="training seed")
    parser.add_argument("--mixer", action="append", default=[], metavar="DIR", help="judge this folder; no training")
    parser.add_argument("--judge", action="append", help="judge name, repeatable (default: sface, dlib, facemesh)")
    parser.add_argument("--judge-option", action="append", default=[], metavar="NAME:KEY=VALUE")
    parser.add_argument("--pairs", type=int, default=100, help="held-out pairs per set (≥ 100 for reported figures)")
    parser.add_argument("--held-out-seed", type=int, action="append", help=f"repeatable (default {HELD_OUT_SEED})")
    parser.add_argument("--score-every", type=int, default=0, help="judge the swap every N training steps")
    parser.add_argument("--trajectory-pairs", type=int, help="pairs of each trajectory point (default: --pairs)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="runs/real_faces")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    args.held_out_seed = args.held_out_seed or [HELD_OUT_SEED]
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    names = args.judge or ["sface", "dlib", "facemesh"]
    options = {n: {} for n in names}
    for pair in args.judge_option:
        name, _, option = pair.partition(":")
        options[name].update(parse_options((option,)))
    judges = {name: load_judge(name, **options[name]) for name in names}

    report: dict = {"generator": args.generator, "threads": args.threads, "pairs": args.pairs,
                    "held_out_seeds": args.held_out_seed, "judges": {n: j.network for n, j in judges.items()}, "runs": {}}  # fmt: skip
    rows: dict[str, torch.Tensor] = {}
    runs = args.mixer or (args.variants or DEFAULT_VARIANTS[args.generator]).split(",")
    for run in runs:
        if args.mixer:
            swapper, entry = Swapper.from_folder(run), {}
            config = read_mixer_config(run)
            entry["trained_with"], entry["step"] = trained_networks(config), config.get("step")
            report["generator"] = config["backend"]
        else:
            swapper, entry = train(run, args, judges)
        entry["held_out"] = {
            str(s): judge(swapper, judges, args.pairs, s, entry["trained_with"]) for s in args.held_out_seed
        }
        first = entry["held_out"][str(args.held_out_seed[0])]["report"]
        alpha = first["judges"][names[0]]["interpolation_at_swap_pixels"]["alpha"]
        label = Path(run).name if args.mixer else run
        more = grid_rows(swapper, args.held_out_seed[0], label, alpha)
        rows.update(more if not rows else {k: v for k, v in more.items() if k not in ("source", "target")})
        report["runs"][run] = entry
        print(json.dumps({run: {s: r["summary"] for s, r in entry["held_out"].items()}}), flush=True)
        (out / "real_faces.json").write_text(json.dumps(report, indent=1) + "\n")
    report["load_average_end"] = os.getloadavg()
    (out / "real_faces.json").write_text(json.dumps(report, indent=1) + "\n")
    save_image(stack_rows(list(rows.values()), labels=list(rows)), out / "real_faces.png")


if __name__ == "__main__":
    main()
