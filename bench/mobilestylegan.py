"""MobileStyleGAN backend against OpenVINO running the same IR files; prints one JSON object.

- parity: the port against OpenVINO (f32 inference precision) on the random-face wheel's IR: the
  mapping on `--seeds` z, the synthesis at 1024 px on the same w in every W+ row; max and mean |Δ|
  over all values (images in [-1, 1]), the worst seed;
- timing: seconds per 1024-px image at batch 1 for each `--threads`, interleaved repeat by repeat so
  that load on the machine hits every contender alike (best and median of `--repeats`): OpenVINO,
  the port's reference path (module after module, as the export computes: "before"), the port's
  default path ("after"), and the port's forward + backward into W+; ratios to OpenVINO and
  after/before;
- peak_rss_mib: peak resident memory (VmHWM, Linux) of a fresh process that loads one contender and
  runs it three times on one thread (OpenVINO without torch imported).

Needs `pip install --no-deps random-face` and `pip install openvino`.
Usage: python bench/mobilestylegan.py [--threads 1 2] [--repeats 7] [--seeds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

OV_CONFIG = {"INFERENCE_PRECISION_HINT": "f32", "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY"}


def openvino_models(threads: int):
    import openvino as ov

    from lsw_mobilestylegan.loaders import wheel_ir_folder

    folder, core = wheel_ir_folder(), ov.Core()
    config = {**OV_CONFIG, "INFERENCE_NUM_THREADS": threads}
    return tuple(
        core.compile_model(core.read_model(folder / f"{n}.xml"), "CPU", config)
        for n in ("MappingNetwork", "SynthesisNetwork")
    )


def parity(G, mapping, synthesis, seeds: int) -> dict:
    import torch

    worst = {"mapping_max": 0.0, "mapping_mean": 0.0, "synthesis_max": 0.0, "synthesis_mean": 0.0}
    for seed in range(seeds):
        z = np.random.default_rng(seed).standard_normal((1, G.z_dim)).astype(np.float32)
        w_ov = mapping(z)[0]
        with torch.no_grad():
            w_pt = G.mapping_net(torch.from_numpy(z)).numpy()
            ws = torch.from_numpy(w_ov)[:, None].repeat(1, G.num_ws, 1)
            img_pt = G.synthesis(ws, noise_mode="const").numpy()
        img_ov = synthesis(w_ov)[0]
        for name, a, b in (("mapping", w_pt, w_ov), ("synthesis", img_pt, img_ov)):
            d = np.abs(a.astype(np.float64) - b.astype(np.float64))
            worst[f"{name}_max"] = max(worst[f"{name}_max"], float(d.max()))
            worst[f"{name}_mean"] = max(worst[f"{name}_mean"], float(d.mean()))
    return {k: float(f"{v:.3g}") for k, v in worst.items()} | {
        "seeds": seeds,
        "image_range": [float(img_ov.min()), float(img_ov.max())],
    }


def timing(G, threads: int, repeats: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    mapping, synthesis = openvino_models(threads)
    w = mapping(np.random.default_rng(0).standard_normal((1, G.z_dim)).astype(np.float32))[0]
    ws = torch.from_numpy(w)[:, None].repeat(1, G.num_ws, 1)

    def port(reference: bool):
        def run():
            with torch.no_grad():
                G.synthesis_net(ws, reference=reference)

        return run

    def backward():
        x = ws.clone().requires_grad_(True)
        G.synthesis(x).square().mean().backward()

    contenders = {
        "openvino": lambda: synthesis(w),
        "port_before": port(True),
        "port": port(False),
        "port_forward_backward": backward,
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for fn in contenders.values():
        fn()  # warm-up
    for _ in range(repeats):
        for name, fn in contenders.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    out = {name: {"best_s": round(min(t), 4), "median_s": round(statistics.median(t), 4)} for name, t in times.items()}
    for key in ("best_s", "median_s"):
        ov = out["openvino"][key]
        out[f"ratio_port_to_openvino_{key[:-2]}"] = round(out["port"][key] / ov, 3)
        out[f"ratio_port_before_to_openvino_{key[:-2]}"] = round(out["port_before"][key] / ov, 3)
        out[f"speedup_after_vs_before_{key[:-2]}"] = round(out["port_before"][key] / out["port"][key], 3)
    return out


def child(what: str) -> None:
    """Load one contender, run it three times on one thread, print the process's peak RSS in MiB."""
    if what == "openvino":
        mapping, synthesis = openvino_models(1)
        w = mapping(np.random.default_rng(0).standard_normal((1, 512)).astype(np.float32))[0]
        for _ in range(3):
            synthesis(w)
    else:
        import torch

        import lsw_core

        torch.set_num_threads(1)
        G = lsw_core.load_generator("mobilestylegan")
        ws = G.mapping(torch.randn(1, G.z_dim))
        for _ in range(3):
            if what == "port_forward_backward":
                G.synthesis(ws.clone().requires_grad_(True)).square().mean().backward()
            else:
                with torch.no_grad():
                    G.synthesis_net(ws, reference=what == "port_before")
    # VmHWM: this process's own peak (ru_maxrss would carry the parent's across exec)
    with open("/proc/self/status") as f:
        peak_kib = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    print(json.dumps(peak_kib / 1024))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child)
    import openvino
    import torch

    import lsw_core

    load = os.getloadavg()[0]
    torch.set_num_threads(args.threads[0])
    start = time.perf_counter()
    G = lsw_core.load_generator("mobilestylegan")
    load_s = time.perf_counter() - start
    mapping, synthesis = openvino_models(args.threads[0])
    result = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "load_average_1min_start": load,
        },
        "versions": {"torch": torch.__version__, "openvino": openvino.__version__},
        "generator": {
            "num_ws": G.num_ws,
            "resolution": G.resolution,
            "layer_groups": {k: [r.start, r.stop - 1] for k, r in G.layer_groups.items()},
            "load_seconds": round(load_s, 2),
        },  # fmt: skip
        "parity": parity(G, mapping, synthesis, args.seeds),
        "timing": {f"threads_{t}": timing(G, t, args.repeats) for t in args.threads},
        "peak_rss_mib": {
            what: round(
                float(
                    subprocess.run(
                        [sys.executable, __file__, "--child", what], check=True, capture_output=True, text=True
                    ).stdout
                ),
                1,
            )
            for what in ("openvino", "port_before", "port", "port_forward_backward")
        },  # fmt: skip
    }
    result["machine"]["load_average_1min_end"] = os.getloadavg()[0]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
