"""Fuzz the `sface` ONNX reader and loader: random bit flips, byte changes and deletions in a small
model written by the tests (read, fold constants, walk the graph), and bit flips in SFace's own file
near its nodes and its tail (full load). Every damaged file must raise `CheckpointError` or load;
prints JSON with the counts and any other exception met.

    python bench/sface_fuzz.py --small 40000 --real 300
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import sys
import tempfile
import warnings
from pathlib import Path

from lsw_core.errors import CheckpointError
from lsw_sface.constants import fold_constants
from lsw_sface.embedder import default_onnx_path
from lsw_sface.network import activation_path, load_sface_net
from lsw_sface.onnx_reader import parse_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.sface.onnx_writer import small_model  # noqa: E402


def mutate(data: bytes, rnd: random.Random, region: tuple[int, int] | None = None) -> bytes:
    out = bytearray(data)
    lo, hi = region or (0, len(out))
    for _ in range(rnd.randint(1, 4)):
        pos, kind = rnd.randrange(lo, min(hi, len(out))), rnd.random()
        if kind < 0.5 or region is not None:
            out[pos] ^= 1 << rnd.randrange(8)
        elif kind < 0.75:
            out[pos] = rnd.randrange(256)
        else:
            del out[pos : pos + rnd.randint(1, 8)]
    return bytes(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=40_000)
    parser.add_argument("--real", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    warnings.simplefilter("error")  # a numpy overflow warning counts as a finding too
    rnd = random.Random(args.seed)
    report = {}

    data, other = small_model()[0], collections.Counter()
    accepted = 0
    for _ in range(args.small):
        try:
            graph = parse_model(mutate(data, rnd)).graph
            activation_path(graph, fold_constants(graph))
            accepted += 1
        except CheckpointError:
            pass
        except Exception as exc:  # what this script looks for
            other[f"{type(exc).__name__}: {exc}"[:120]] += 1
    report["small_model"] = {"mutations": args.small, "accepted": accepted, "other_exceptions": dict(other)}

    real, other, accepted = default_onnx_path().read_bytes(), collections.Counter(), 0
    regions = [(0, 4096), (len(real) - 60_000, len(real))]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "damaged.onnx"
        for _ in range(args.real):
            path.write_bytes(mutate(real, rnd, rnd.choice(regions)))
            try:
                load_sface_net(path)
                accepted += 1
            except CheckpointError:
                pass
            except Exception as exc:
                other[f"{type(exc).__name__}: {exc}"[:120]] += 1
    report["sface_file"] = {"mutations": args.real, "loaded": accepted, "other_exceptions": dict(other)}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
