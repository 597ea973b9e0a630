"""Cost of checking a mixer's weights for NaN/inf before each checkpoint write: `finite_weights`
(min/max reductions) against `isfinite(p).all()`, on the paper's 18x512 mixer (56.7 M parameters),
and the time to serialise the same weights for scale. Prints JSON."""

import json
import os
import time

import torch
from safetensors.torch import save

from lsw_core.mixing.mixer import LatentMixer
from lsw_core.training.trainer import finite_weights


def seconds(fn, repeat: int = 5) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def main() -> None:
    torch.set_num_threads(1)
    mixer = LatentMixer(num_rows=18, w_dim=512)
    params = list(mixer.parameters())
    flags = seconds(lambda: bool(torch.stack([torch.isfinite(p).all() for p in params]).all()))
    minmax = seconds(lambda: bool(finite_weights(mixer)))
    tensors = {k: v.contiguous() for k, v in mixer.state_dict().items()}
    write = seconds(lambda: save(tensors), repeat=2)
    print(json.dumps({
        "parameters": sum(p.numel() for p in params),
        "isfinite_all_s": round(flags, 4),
        "finite_weights_s": round(minmax, 4),
        "speedup": round(flags / minmax, 1),
        "serialise_s": round(write, 4),
        "load_average": os.getloadavg()[0],
    }))  # fmt: skip


if __name__ == "__main__":
    main()
