"""A photo swap through `lsw ui`'s HTTP API against the same swap through the Python API, in the same
process, as JSON; and what the app loads on its first and second request.

The app (`lsw_core.ui`) is served on a free 127.0.0.1 port in this process and called with
`gradio_client` (`/swap_photo`: upload two photos, queue, swap, write the result, aligned swap and
strip, download them). The Python API is what a script would write: `PhotoSwapper(...).swap(a, b)`
and `write_result`, its models loaded beforehand. Both swap the same pairs of aligned crops the
generator renders from seeds (a new pair each time, so neither finds a cached pivot; the two requests
that count loads use pairs of their own), with the same
inverter (PTI's fast schedule, pixel + SSIM loss unless `--inverter-option` says otherwise),
alternating which goes first. Reported: seconds per swap (wall clock and this process's CPU time,
which a loaded machine disturbs less), their medians and ratios (HTTP / Python), and the models
loaded by the first and by the second request (counted at every plugin loader call, and by the app).

    python bench/ui_api.py [--mixer DIR | --models DIR] [--pairs 3] [--threads 2] [--device cpu]
                           [--inverter-option KEY=VALUE ...]

Without --mixer or --models, a tiny mixer is trained first (two steps on the synthetic world at 64 px).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mixer", help="A mixer folder.")
    parser.add_argument("--models", help="A folder with a demo run (DIR/mixer), e.g. demo_out.")
    parser.add_argument("--pairs", type=int, default=3, help="Timed pairs (after the two requests counting loads).")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--inverter-option", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory(prefix="ui-bench-") as tmp:
        tmp = Path(tmp)
        os.environ["GRADIO_TEMP_DIR"] = str(tmp / "gradio")  # Gradio reads it on import too
        import lsw_core.plugins
        from lsw_core.cli.options import parse_options
        from lsw_core.images import from_tensor, save_photo
        from lsw_core.inversion.cache import PivotCache
        from lsw_core.mixing.swapper import Swapper
        from lsw_core.photo.swapper import PhotoSwapper, write_result
        from lsw_core.plugins import load_aligner, load_inverter
        from lsw_core.training.config import TrainConfig
        from lsw_core.training.trainer import MixerTrainer
        from lsw_core.ui import Engine, UiSettings, launch

        options = {"perceptual": "pixel-ssim", **parse_options(tuple(args.inverter_option))}
        if args.mixer is None and args.models is None:
            config = TrainConfig(generator="synthface", generator_options={"resolution": 64}, batch_size=2, steps=2,
                                 calibration_batches=1)  # fmt: skip
            args.mixer = str(MixerTrainer(config, tmp / "tiny", progress=False).train())
        settings = UiSettings(mixers=[args.mixer] if args.mixer else [], models=[args.models] if args.models else [],
                              inverter_options=options, device=args.device)  # fmt: skip
        engine = Engine(settings, root=tmp / "app")
        entry = engine.entry(None)

        # The Python API, loaded once, outside the timings.
        swapper = Swapper.from_folder(entry.folder, **entry.generator_options).to(args.device)
        inverter = load_inverter("pti", schedule="fast", **options)
        try:
            aligner = load_aligner("dlib-ffhq")
        except lsw_core.LswError:
            aligner = None
        photos = PhotoSwapper(swapper, inverter, aligner=aligner, cache=PivotCache(tmp / "pivots"), cache_tuned=True)
        pairs = []
        for i in range(args.pairs + 2):
            z = swapper.latents_from_seeds([1000 + 2 * i, 1001 + 2 * i])
            crops = [from_tensor(image) for image in swapper.render(swapper.wplus_from_z(z))]
            paths = [tmp / "inputs" / f"{i}-{side}.png" for side in ("source", "target")]
            for path, crop in zip(paths, crops):
                save_photo(path, crop)
            pairs.append(paths)

        from gradio_client import Client, handle_file

        blocks, url = launch(engine, port=None, block=False, quiet=True)
        client = Client(url, verbose=False, download_files=str(tmp / "downloads"))
        calls: list[str] = []
        loader = lsw_core.plugins.load
        lsw_core.plugins.load = lambda kind, name, **kw: calls.append(f"{kind} {name}") or loader(kind, name, **kw)

        def http(i: int):
            source, target = pairs[i]
            return lambda: client.predict(source=handle_file(source), target=handle_file(target), schedule="fast",
                                          mixer=entry.key, api_name="/swap_photo")  # fmt: skip

        def python(i: int):
            source, target = pairs[i]
            return lambda: write_result(photos.swap(source, target), tmp / "python" / f"{i}.png")

        loads = []
        for i in (0, 1):  # the app's first and second request
            before, calls[:] = dict(engine.cache.loads), []
            timed(http(i))
            loads.append({"plugin_loader_calls": list(calls),
                          "app_loads": {k: v - before.get(k, 0) for k, v in engine.cache.loads.items()
                                        if v != before.get(k, 0)}})  # fmt: skip
        timed(python(0))  # warm-up (the HTTP API's warm-up was its first request)
        seconds = {"http_api": [], "python_api": []}
        for i in range(2, args.pairs + 2):
            order = [("python_api", python), ("http_api", http)]
            for name, make in order if i % 2 else order[::-1]:
                seconds[name].append(timed(make(i)))
        lsw_core.plugins.load = loader
        client.close()
        with contextlib.redirect_stdout(sys.stderr):  # Gradio says it is closing: stdout is the JSON's
            blocks.close()
        engine.close()

    median = {name: {"wall_s": round(statistics.median(w for w, _ in runs), 3),
                     "cpu_s": round(statistics.median(c for _, c in runs), 3)} for name, runs in seconds.items()}  # fmt: skip
    print(json.dumps({
        "mixer": str(entry.folder), "backend": swapper.generator.backend_name, "resolution": swapper.generator.resolution,
        "schedule": "fast", "inverter_options": options, "device": args.device, "threads": args.threads,
        "timed_pairs": args.pairs,
        "seconds_per_swap": {name: [[round(w, 3), round(c, 3)] for w, c in runs] for name, runs in seconds.items()},
        "median": median,
        "ratio_http_over_python": {"wall": round(median["http_api"]["wall_s"] / median["python_api"]["wall_s"], 3),
                                   "cpu": round(median["http_api"]["cpu_s"] / median["python_api"]["cpu_s"], 3)},
        "first_request_loads": loads[0], "second_request_loads": loads[1],
        "load_average": os.getloadavg(), "platform": platform.platform(), "torch": torch.__version__,
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
