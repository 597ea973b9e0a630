"""Blending a swapped face into its photo: colour matching to the target's crop (in CIE Lab: mean and
spread, or the whole histogram), multi-band (Laplacian pyramid) blending along the mask, the occlusion
mask from the target's reconstruction error, and grayscale photos.

Images here are float or uint8 RGB [H, W, 3] in 0..255; masks [H, W] in [0, 1]."""

from __future__ import annotations

import numpy as np

from lsw_core.errors import ImageError

BLENDS = ("feather", "multiband")
COLOR_MATCHES = ("none", "lab", "histogram")

# sRGB (D65) → XYZ, and the D65 white point
_RGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750],
                        [0.0193339, 0.1191920, 0.9503041]])  # fmt: skip
_WHITE = _RGB_TO_XYZ.sum(axis=1)
_EPS, _KAPPA = 216 / 24389, 24389 / 27


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB in 0..255 → CIE L*a*b* (D65)."""
    c = np.asarray(rgb, dtype=np.float64) / 255
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    t = linear @ _RGB_TO_XYZ.T / _WHITE
    f = np.where(t > _EPS, np.cbrt(t), (_KAPPA * t + 16) / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """CIE L*a*b* (D65) → sRGB in 0..255 (float, clipped)."""
    fy = (lab[..., 0] + 16) / 116
    f = np.stack([fy + lab[..., 1] / 500, fy, fy - lab[..., 2] / 200], axis=-1)
    t = np.where(f**3 > _EPS, f**3, (116 * f - 16) / _KAPPA)
    linear = np.clip((t * _WHITE) @ np.linalg.inv(_RGB_TO_XYZ).T, 0, 1)
    c = np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)
    return np.clip(c * 255, 0, 255)


def match_colors(image: np.ndarray, reference: np.ndarray, weight: np.ndarray, method: str = "lab") -> np.ndarray:
    """`image` with its colours moved to those of `reference` (same size), statistics taken where
    `weight` is large: "lab" matches each Lab channel's weighted mean and standard deviation,
    "histogram" each Lab channel's weighted distribution; "none" returns the image as float."""
    if method not in COLOR_MATCHES:
        raise ImageError(f"colour match: expected one of {', '.join(COLOR_MATCHES)}, got {method!r}")
    if method == "none" or float(weight.sum()) <= 0:
        return np.asarray(image, dtype=np.float32)
    src, ref = rgb_to_lab(image), rgb_to_lab(reference)
    w = (weight / weight.sum()).reshape(-1)
    out = np.empty_like(src)
    for c in range(3):
        x, y = src[..., c].reshape(-1), ref[..., c].reshape(-1)
        if method == "lab":
            mx, my = x @ w, y @ w
            sx, sy = np.sqrt(((x - mx) ** 2) @ w), np.sqrt(((y - my) ** 2) @ w)
            out[..., c] = ((x - mx) * (sy / max(sx, 1e-6)) + my).reshape(src.shape[:2])
        else:
            out[..., c] = _match_distribution(x, y, w).reshape(src.shape[:2])
    return lab_to_rgb(out).astype(np.float32)


def _match_distribution(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """x mapped through its weighted CDF and the inverse weighted CDF of y."""

    def cdf(v):
        order = np.argsort(v, kind="stable")
        cum = np.cumsum(w[order])
        return v[order], cum - w[order] / 2  # mid-point ranks: ties and the ends stay inside (0, 1)

    xs, xq = cdf(x)
    ys, yq = cdf(y)
    return np.interp(np.interp(x, xs, xq), yq, ys)


def laplacian_blend(base: np.ndarray, top: np.ndarray, mask: np.ndarray, levels: int | None = None) -> np.ndarray:
    """Multi-band blend (Burt & Adelson): each band of the Laplacian pyramids of `base` and `top`
    [H, W, C] mixed by the mask's Gaussian pyramid, so that fine detail switches over sharply along
    the mask's edge and broad shading over a wide seam. Returns float [H, W, C]."""
    h, w = mask.shape
    if levels is None:
        levels = int(np.clip(np.log2(max(min(h, w), 1)) - 3, 1, 6))
    a, b, m = (
        _gaussian_pyramid(base, levels),
        _gaussian_pyramid(top, levels),
        _gaussian_pyramid(mask[..., None], levels),
    )
    out = a[-1] + (b[-1] - a[-1]) * m[-1]
    for i in range(levels - 1, -1, -1):
        band_a, band_b = a[i] - _upsample(a[i + 1], a[i].shape), b[i] - _upsample(b[i + 1], b[i].shape)
        out = _upsample(out, a[i].shape) + band_a + (band_b - band_a) * m[i]
    return out


def _gaussian_pyramid(image: np.ndarray, levels: int) -> list[np.ndarray]:
    from scipy.ndimage import gaussian_filter

    pyramid = [np.asarray(image, dtype=np.float32)]
    for _ in range(levels):
        smooth = gaussian_filter(pyramid[-1], sigma=(1, 1, 0), mode="nearest")
        pyramid.append(smooth[::2, ::2])
    return pyramid


def _upsample(image: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    from scipy.ndimage import zoom

    factors = (shape[0] / image.shape[0], shape[1] / image.shape[1], 1)
    return zoom(image, factors, order=1, mode="nearest", grid_mode=True)[: shape[0], : shape[1]]


def occlusion_mask(target: np.ndarray, reconstruction: np.ndarray, threshold: float = 3.0) -> np.ndarray:
    """[R, R] in [0, 1]: 0 where the target's reconstruction (its own inversion) misses the target by
    more than `threshold` times the image's median error, so that an occluder the generator cannot
    draw (a hand, a microphone) keeps the target's pixels; 1 elsewhere, with a soft edge."""
    from scipy.ndimage import gaussian_filter, grey_dilation

    if target.shape != reconstruction.shape:
        raise ImageError(f"occlusion mask: target {target.shape} and reconstruction {reconstruction.shape} differ")
    r = target.shape[0]
    err = np.sqrt(((target.astype(np.float32) - reconstruction.astype(np.float32)) ** 2).sum(axis=-1))
    err = gaussian_filter(err, sigma=max(r / 128, 0.5))
    tau = max(threshold * float(np.median(err)), 2.0)  # a near-perfect reconstruction flags nothing
    occluded = np.clip(err / tau - 1, 0, 1)  # 0 up to τ, 1 from 2τ
    occluded = grey_dilation(occluded, size=max(3, r // 32))  # covers the occluder's blurred rim too
    return (1 - gaussian_filter(occluded, sigma=max(r / 128, 0.5))).clip(0, 1).astype(np.float32)


def is_grayscale(image: np.ndarray) -> bool:
    return bool(np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 1], image[..., 2]))


def to_grayscale(image: np.ndarray) -> np.ndarray:
    """Luma (ITU-R BT.601) in all three channels, same dtype."""
    luma = image[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    if image.dtype == np.uint8:
        luma = np.clip(np.round(luma), 0, 255)
    return np.repeat(luma[..., None], 3, axis=-1).astype(image.dtype)
