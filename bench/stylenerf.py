"""StyleNeRF render time per view at 256 / 512 / 1024 px (full FFHQ architecture, random weights).

Renders one view of one latent (batch 1) and also a batch of views of one latent; reports the median
seconds per view. Runs on CPU, and on CUDA too when present. Prints one JSON object.
Usage: python bench/stylenerf.py [--resolutions 256,512,1024] [--repeats 3] [--views 4] [--threads 2]
       [--checkpoint PATH]   (a real checkpoint instead of random weights; its resolution only)
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch

import lsw_core


def time_views(G, device: str, repeats: int, views: int) -> dict[str, float]:
    G = G.to(device)
    ws = G.mapping(torch.randn(1, G.z_dim, device=device), truncation_psi=0.7)
    cams = G.camera.yaw_sweep(views)

    def run(fn) -> float:
        times = []
        for _ in range(repeats + 1):  # the first run warms up
            if device == "cuda":
                torch.cuda.synchronize()
            t = time.perf_counter()
            with torch.no_grad():
                fn()
            if device == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t)
        return statistics.median(times[1:])

    one = run(lambda: G.synthesis(ws, camera=cams[0]))
    batch = run(lambda: G.synthesis(ws.expand(views, -1, -1), camera=cams))
    return {"s_per_view_batch1": round(one, 4), f"s_per_view_batch{views}": round(batch / views, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolutions", default="256,512,1024")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--views", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--checkpoint", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    results = []
    if args.checkpoint:
        models = [lsw_core.load_generator("stylenerf", checkpoint=args.checkpoint)]
    else:
        models = (lsw_core.load_generator("stylenerf", resolution=int(r)) for r in args.resolutions.split(","))
    for G in models:
        for device in devices:
            row = {
                "resolution": G.resolution,
                "num_ws": G.num_ws,
                "device": device,
                "params_M": round(sum(p.numel() for p in G.parameters()) / 1e6, 2),
            }
            row.update(time_views(G, device, args.repeats, args.views))
            results.append(row)
            print(json.dumps(row), flush=True)
    env = {
        "torch": torch.__version__,
        "cpu_threads": args.threads,
        "machine": platform.machine(),
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }
    print(json.dumps({"benchmark": "stylenerf_render", "env": env, "results": results}))


if __name__ == "__main__":
    main()
