"""Judges built on landmark networks: dlib (`lsw eval --judge dlib`, and the landmarks other judges
align faces by) and MediaPipe Face Mesh (`--judge facemesh`).

`DlibJudge` measures identity with dlib's own face-recognition network (the C++ library's
`face_recognition_model_v1`, on the 150-px chip dlib cuts from the 68 landmarks), and head pose and
expression from those landmarks (`landmarks.LandmarkJudge`). `FaceLandmarks` finds the 68 landmarks
in the generator's framing (dlib's detector, else the face box the generator declares), once per
face box, for any judge that aligns by them. `FaceMeshJudge` measures pose and expression the same
way from Face Mesh's landmarks, a network a `dlib-landmarks` shape model never learnt from."""

from __future__ import annotations

import numpy as np
import torch

from lsw_core.interfaces import Judge, Judgement
from lsw_faces.dlib_resnet import default_dat_path
from lsw_faces.landmarks.dlib68 import to_uint8
from lsw_faces.landmarks.judge import LandmarkJudge, Measurement, measure_landmarks

Box = tuple[float, float, float, float]


class FaceLandmarks:
    """dlib's 68 landmarks with pose and expression of images [B, 3, H, W] in [-1, 1]; `face_box` is
    where the generator puts the face (fractions; None: FFHQ's framing), used where dlib's detector
    finds none."""

    def __init__(self, work_size: int = 256) -> None:
        self.work_size = work_size
        self._by_box: dict[Box | None, LandmarkJudge] = {}

    def __call__(self, images: torch.Tensor, face_box: Box | None = None) -> Measurement:
        if face_box not in self._by_box:
            box = "ffhq" if face_box is None else tuple(min(max(v, 0.0), 1.0) for v in face_box)
            self._by_box[face_box] = LandmarkJudge(aligned_box=box, work_size=self.work_size)
        return self._by_box[face_box].measure(images)


class DlibJudge(Judge):
    """dlib's face descriptor (128-d) on its own face chips, with pose and expression from the same
    68 landmarks."""

    network = "dlib face_recognition_model_v1 (ResNet, 128-d) + shape_predictor_68_face_landmarks"
    same_as = ("dlib-resnet",)
    same_shape_as = ("dlib-landmarks",)
    measures = ("identity", "pose", "expression")

    def __init__(self, work_size: int = 256) -> None:
        import dlib

        self.dlib = dlib
        self.model = dlib.face_recognition_model_v1(str(default_dat_path()))
        self.landmarks = FaceLandmarks(work_size)

    def _judge(self, images: torch.Tensor, face_box: Box | None) -> Judgement:
        marks = self.landmarks(images, face_box)
        descriptors = []
        for i in range(len(images)):
            pixels = to_uint8(images[i : i + 1], max(images.shape[-2:]))[0][0]  # full size: dlib cuts its chip
            points = marks.landmarks[i].numpy() - 0.5
            if not np.isfinite(points).all():
                descriptors.append(torch.full((128,), float("nan")))
                continue
            left, top = points.min(0)
            right, bottom = points.max(0)
            rect = self.dlib.rectangle(int(left), int(top), int(np.ceil(right)), int(np.ceil(bottom)))
            shape = self.dlib.full_object_detection(
                rect, [self.dlib.point(int(round(x)), int(round(y))) for x, y in points]
            )
            descriptors.append(torch.tensor(np.asarray(self.model.compute_face_descriptor(pixels, shape))))
        identity = torch.nn.functional.normalize(torch.stack(descriptors).float(), dim=1)
        return Judgement(found=marks.found, identity=identity, pose=marks.pose, expression=marks.expression)


class FaceMeshJudge(Judge):
    """Head pose and expression from MediaPipe Face Mesh's landmarks (its own detector; faces it does
    not find are counted and left out), by the same fit and features as `DlibJudge`'s."""

    network = "MediaPipe Face Mesh 0.10 (face_detection_short_range + face_landmark, 468 points as iBUG 68)"
    measures = ("pose", "expression")

    def __init__(self, work_size: int = 256) -> None:
        from lsw_faces.landmarks.facemesh import FaceMesh

        self.mesh = FaceMesh(work_size)

    def _judge(self, images: torch.Tensor, face_box: Box | None) -> Judgement:
        points, found = self.mesh.ibug(images)
        pose, expression, _ = measure_landmarks(points, images.shape[-2:])
        return Judgement(found=found, pose=pose, expression=expression)
