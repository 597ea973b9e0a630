"""Timing shared by the benchmarks: the best of several runs after warm-up, synchronised on CUDA."""

from __future__ import annotations

import time

import torch


def sync(device: str) -> None:
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def best_time(fn, device: str, repeats: int, warmup: int = 1) -> float:
    """Seconds of the fastest of `repeats` calls of `fn`, after `warmup` calls (CUDA kernel builds)."""
    for _ in range(warmup):
        fn()
    sync(device)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync(device)
        best = min(best, time.perf_counter() - t0)
    return best
