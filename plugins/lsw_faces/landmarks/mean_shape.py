"""The 3D mean face of the 68 iBUG landmarks that head poses are fitted to, shipped as exact data.

It is the synthetic face world's landmark model at zero identity and expression
(`lsw_synthface.shape3d.MEAN[:68]`): both coefficient priors have mean zero and the model is
linear, so this is the mean shape over the world's faces. Head frame as in the world: x to the
viewer's right, y up, z towards the viewer; one unit is about half the face width at the ears (the
eye centres sit 0.66 apart). The values are copies of the world's shipped float32 constants (no
arithmetic), written to `mean_shape68.json` once by

    python -m lsw_faces.landmarks.mean_shape --write      # needs lsw_synthface (installed with lsw-core)
    python -m lsw_faces.landmarks.mean_shape --check      # the file equals what the world holds

At run time only the JSON file is read: the judge does not import the synthetic world.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from importlib import resources
from pathlib import Path

import numpy as np

from lsw_core.errors import CheckpointError

FILE_NAME = "mean_shape68.json"
N_LANDMARKS = 68


def shipped_path() -> Path:
    return Path(str(resources.files("lsw_faces.landmarks").joinpath(FILE_NAME)))


@functools.cache
def mean_shape() -> np.ndarray:
    """The shipped mean shape [68, 3] (float64 holding the float32 values exactly); read-only."""
    text = shipped_path().read_text()
    if len(text) > 100_000:
        raise CheckpointError(f"{FILE_NAME}: expected a small JSON file, got {len(text)} characters")
    points = np.asarray(json.loads(text)["points"], dtype=np.float32)
    if points.shape != (N_LANDMARKS, 3) or not np.isfinite(points).all():
        raise CheckpointError(f"{FILE_NAME}: expected 68 finite 3D points, got shape {list(points.shape)}")
    points = points.astype(np.float64)
    points.flags.writeable = False
    return points


def world_mean_shape() -> np.ndarray:
    """What the synthetic world holds: its shipped `shape.mean` constant, first 68 points, float32."""
    from lsw_synthface import constants

    return constants.shipped()["shape.mean"][:N_LANDMARKS].numpy().astype(np.float32)


def document(points: np.ndarray) -> dict:
    """The JSON document for float32 points [68, 3]: each value as the shortest decimal that reads
    back to the same float32."""
    rows = [[float(np.format_float_positional(v, unique=True)) for v in row] for row in points.astype(np.float32)]
    return {
        "what": "3D mean shape of the 68 iBUG landmarks (lsw_synthface.shape3d.MEAN[:68]); head frame x right, y up, "
        "z towards the viewer; written by `python -m lsw_faces.landmarks.mean_shape --write`",
        "points": rows,
    }


def dumps(doc: dict) -> str:
    """The document as JSON text, one point a line."""
    rows = ",\n  ".join(json.dumps(row) for row in doc["points"])
    return f'{{\n "what": {json.dumps(doc["what"])},\n "points": [\n  {rows}\n ]\n}}\n'


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lsw_faces.landmarks.mean_shape", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--write", nargs="?", const=shipped_path(), type=Path, metavar="PATH",
                        help=f"write the world's mean shape (default: the shipped {FILE_NAME})")  # fmt: skip
    parser.add_argument("--check", action="store_true", help="compare the shipped file with the world, bit for bit")
    args = parser.parse_args(argv)
    if args.write is None and not args.check:
        parser.error("give --write [PATH] and/or --check")
    if args.write is not None:
        args.write.write_text(dumps(document(world_mean_shape())))
        print(f"wrote {args.write}")
    if args.check:
        mean_shape.cache_clear()
        same = np.array_equal(mean_shape().astype(np.float32), world_mean_shape())
        print(json.dumps({"bit_identical": bool(same)}))
        return 0 if same else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
