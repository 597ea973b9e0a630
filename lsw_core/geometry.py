"""The aligned face crop and its geometry: affine maps between photo and crop, bilinear sampling
and the warp of a photo into the crop.

Coordinates are continuous pixel coordinates: pixel (i, j) covers [j, j+1) × [i, i+1), its centre at
(j + 0.5, i + 0.5). `AlignedFace.to_aligned` is the 2×3 affine map photo (x, y) → crop (u, v).
"""

from __future__ import annotations

import attrs
import numpy as np
from PIL import Image


@attrs.define
class AlignedFace:
    """One face of a photo, aligned: the crop [R, R, 3], the affine map from photo to crop, the photo's
    size (width, height), the 68 landmarks and detection box in photo coordinates, and which face of
    the photo it is (faces are numbered by decreasing size)."""

    image: np.ndarray
    to_aligned: np.ndarray
    photo_size: tuple[int, int]
    landmarks: np.ndarray | None = None
    box: tuple[int, int, int, int] | None = None
    face_index: int = 0

    @property
    def resolution(self) -> int:
        return int(self.image.shape[0])

    @property
    def aligned_landmarks(self) -> np.ndarray | None:
        """The landmarks in crop coordinates."""
        if self.landmarks is None:
            return None
        return apply_affine(self.to_aligned, self.landmarks)


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Points [N, 2] through a 2×3 affine map."""
    return points @ matrix[:, :2].T + matrix[:, 2]


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    linear = np.linalg.inv(matrix[:, :2])
    return np.concatenate([linear, -linear @ matrix[:, 2:]], axis=1)


def quad_to_affine(quad: np.ndarray, resolution: int) -> np.ndarray:
    """The affine map sending the quad's corners (upper-left, lower-left, lower-right, upper-right, in
    photo coordinates) to the corners of the [0, R]² crop."""
    src = np.asarray(quad, dtype=np.float64)[[0, 1, 3]]
    dst = np.array([[0, 0], [0, resolution], [resolution, 0]], dtype=np.float64)
    a = np.concatenate([src, np.ones((3, 1))], axis=1)
    return np.linalg.solve(a, dst).T


def sample(image: np.ndarray, points: np.ndarray, *, outside: str = "reflect") -> np.ndarray:
    """Bilinear samples of image [H, W, C] at continuous points [..., 2] (x, y); `outside` is "reflect"
    or "zero" (zero beyond half a pixel outside the image)."""
    from scipy.ndimage import map_coordinates

    coords = [points[..., 1] - 0.5, points[..., 0] - 0.5]
    mode = "mirror" if outside == "reflect" else "constant"
    img = image.astype(np.float32)
    if img.ndim == 2:
        return map_coordinates(img, coords, order=1, mode=mode, cval=0.0)
    return np.stack(
        [map_coordinates(img[..., c], coords, order=1, mode=mode, cval=0.0) for c in range(img.shape[2])], axis=-1
    )


def pixel_centres(width: int, height: int, x0: int = 0, y0: int = 0) -> np.ndarray:
    ys, xs = np.mgrid[y0 : y0 + height, x0 : x0 + width]
    return np.stack([xs + 0.5, ys + 0.5], axis=-1).astype(np.float64)


def warp_to_aligned(photo: np.ndarray, to_aligned: np.ndarray, resolution: int) -> np.ndarray:
    """The aligned crop [R, R, 3] of `photo` under `to_aligned`, area-prefiltered when it shrinks.

    Beyond the photo's border the crop is filled by reflection and faded towards a blurred, then flat
    (median) colour with the distance from the border, as in the FFHQ dataset's recipe."""
    from scipy.ndimage import gaussian_filter

    scale = float(np.sqrt(abs(np.linalg.det(to_aligned[:, :2]))))  # crop pixels per photo pixel
    shrink = int(np.floor(1.0 / scale)) if scale < 1 else 1
    matrix = to_aligned
    if shrink > 1:  # integer box-filter reduction first, so bilinear sampling does not alias
        small = Image.fromarray(photo).reduce(shrink)
        photo = np.asarray(small)
        matrix = to_aligned @ np.diag([shrink, shrink, 1.0])
    points = apply_affine(invert_affine(matrix), pixel_centres(resolution, resolution).reshape(-1, 2))
    crop = sample(photo, points).reshape(resolution, resolution, 3)
    h, w = photo.shape[:2]
    outside = np.maximum.reduce(
        [-points[:, 0], points[:, 0] - w, -points[:, 1], points[:, 1] - h, np.zeros(len(points))]
    )
    if outside.max() > 0:
        size = resolution / float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))  # crop side in photo pixels
        fade = (outside / (0.3 * size)).reshape(resolution, resolution, 1)
        blurred = gaussian_filter(crop, sigma=(0.02 * resolution, 0.02 * resolution, 0))
        crop = crop + (blurred - crop) * np.clip(fade * 3, 0, 1)
        crop = crop + (np.median(crop, axis=(0, 1)) - crop) * np.clip(fade, 0, 1)
    return np.clip(np.round(crop), 0, 255).astype(np.uint8)
