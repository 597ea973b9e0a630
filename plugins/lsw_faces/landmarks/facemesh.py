"""A second landmark network: MediaPipe Face Mesh (its own face detector and a 468-point mesh
regressor, trained by Google on data of its own), read as the 68 iBUG points so that head pose and
expression come from the same fit and features as dlib's (`judge.measure_landmarks`).

A mixer taught with the `dlib-landmarks` shape model has learnt from dlib's landmarks; judging its
pose and expression by dlib again could reward what it learnt to please. Face Mesh shares no network
with dlib, so `lsw eval --judge facemesh` judges such a mixer independently.

`mesh_to_ibug()` (facemesh68.json) names, for each iBUG point, the mesh vertex nearest it on average
over the synthetic world's renders with their exact landmarks (`bench/landmark_judge.py facemesh-map`
derives it again). iBUG's jaw points follow the face's outline as the head turns, while mesh vertices
stay on one spot of the face; so the jaw points are read from the vertices nearest them on average.

MediaPipe 0.10's wheels ship the Face Mesh model; it is installed without its declared dependencies
(it asks for JAX and opencv-contrib, which Face Mesh does not use):

    pip install --no-deps 'mediapipe==0.10.14' && pip install absl-py flatbuffers 'protobuf>=4.25.3,<5' matplotlib
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from lsw_core.errors import SettingError
from lsw_faces.landmarks.dlib68 import check_batch, to_uint8

MESH_VERTICES = 468
INSTALL = (
    "pip install --no-deps 'mediapipe==0.10.14' && pip install absl-py flatbuffers 'protobuf>=4.25.3,<5' matplotlib"
)


@functools.cache
def mesh_to_ibug() -> np.ndarray:
    """[68] mesh vertex per iBUG point (facemesh68.json)."""
    table = json.loads((Path(__file__).with_name("facemesh68.json")).read_text())["mesh_vertex"]
    return np.asarray(table, dtype=np.int64)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Standard error closed, for the duration, to MediaPipe's C++ logs (written to the file
    descriptor, from its own threads)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class FaceMesh:
    """Face Mesh on images [B, 3, H, W] in [-1, 1]: `mesh(images)` → points [B, 468, 2] (x, y in input
    pixels; NaN rows where it found no face) and found [B]; `ibug(images)` the same as 68 iBUG points.
    `work_size`: the longer side the images are handed over at."""

    def __init__(self, work_size: int = 256, min_detection_confidence: float = 0.3) -> None:
        try:
            from mediapipe.python.solutions import face_mesh
        except ImportError:
            raise SettingError(
                f"the facemesh judge needs MediaPipe 0.10 (its wheel ships Face Mesh): {INSTALL}"
            ) from None
        self.work_size = work_size
        self._mesh = face_mesh.FaceMesh(
            static_image_mode=True, max_num_faces=1, refine_landmarks=False,
            min_detection_confidence=min_detection_confidence,
        )  # fmt: skip
        with _quiet():  # the graph starts on the first image, logging its delegates on stderr
            self._mesh.process(np.zeros((64, 64, 3), np.uint8))

    def mesh(self, images: torch.Tensor) -> tuple[np.ndarray, torch.Tensor]:
        images = check_batch(images)
        h, w = images.shape[-2:]
        points = np.full((len(images), MESH_VERTICES, 2), np.nan)
        for i in range(len(images)):
            pixels, _ = to_uint8(images[i : i + 1], self.work_size)
            with warnings.catch_warnings():  # protobuf's deprecation of a call MediaPipe 0.10 makes per face
                warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype", category=UserWarning)
                faces = self._mesh.process(pixels[0]).multi_face_landmarks
            if faces:
                marks = faces[0].landmark
                points[i] = [(p.x * w, p.y * h) for p in marks][:MESH_VERTICES]
        return points, torch.from_numpy(np.isfinite(points).all(axis=(1, 2)))

    def ibug(self, images: torch.Tensor) -> tuple[np.ndarray, torch.Tensor]:
        points, found = self.mesh(images)
        return points[:, mesh_to_ibug()], found
