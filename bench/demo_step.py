"""Seconds per training step of `lsw demo`'s recipe (batch 64, 96 px, the world's own networks),
and CPU seconds of this process per step (less sensitive to a shared machine's load), with the load
average. Prints one JSON object.

Usage: python bench/demo_step.py [--steps 8] [--warmup 2] [--threads 2] [--profile]

To compare two versions of the code, run it alternately from each checkout (the cores are shared,
so alternate runs and compare medians): `for i in 1 2 3; do (cd OLD && python bench/demo_step.py);
python bench/demo_step.py; done`.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import torch

from lsw_core.training.recipes import cpu_recipe
from lsw_core.training.trainer import MixerTrainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--profile", action="store_true", help="also print the top operators by self CPU time")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        trainer = MixerTrainer(cpu_recipe(), tmp, progress=False)
        for _ in range(args.warmup):
            trainer.train_step()
        times, cpu = [], []
        for _ in range(args.steps):
            t0, c0 = time.perf_counter(), time.process_time()
            trainer.train_step()
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        if args.profile:
            with torch.profiler.profile() as prof:
                trainer.train_step()
            print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))
    times.sort()
    cpu.sort()
    print(json.dumps({
        "seconds_per_step_median": round(times[len(times) // 2], 3),
        "seconds_per_step_min": round(times[0], 3),
        "cpu_seconds_per_step_median": round(cpu[len(cpu) // 2], 3),  # less sensitive to other processes
        "steps": args.steps,
        "threads": args.threads,
        "load_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }))  # fmt: skip


if __name__ == "__main__":
    main()
