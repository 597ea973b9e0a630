"""The Fréchet distance between two Gaussians fitted to feature sets (Heusel et al. 2017):

    d² = |μ₁ − μ₂|² + Tr(Σ₁ + Σ₂ − 2 (Σ₁ Σ₂)^½).

Tr (Σ₁ Σ₂)^½ is computed exactly from symmetric eigendecompositions in float64: Σ₁ Σ₂ is similar to
the symmetric positive semi-definite Σ₁^½ Σ₂ Σ₁^½, so both have the same non-negative eigenvalues,
and the trace of the square root is the sum of their square roots. This needs no general (Schur)
`sqrtm`, no complex parts to discard and no regularising ε, and no scipy.
"""

from __future__ import annotations

import numpy as np

from lsw_core.errors import LswError


def sqrtm_psd(a: np.ndarray) -> np.ndarray:
    """The symmetric positive semi-definite square root of a symmetric PSD matrix (float64)."""
    a = np.asarray(a, dtype=np.float64)
    values, vectors = np.linalg.eigh((a + a.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """Tr (Σ₁ Σ₂)^½ for symmetric PSD Σ₁, Σ₂."""
    root = sqrtm_psd(sigma1)
    inner = root @ np.asarray(sigma2, dtype=np.float64) @ root
    values = np.linalg.eigvalsh((inner + inner.T) / 2)
    return float(np.sqrt(np.clip(values, 0, None)).sum())


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, covariance with N − 1) of features [N, D], as FID implementations compute them."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] < 2 or not np.isfinite(features).all():
        raise LswError(f"FID needs at least 2 finite feature vectors [N, D], got shape {list(features.shape)}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    mu1, mu2 = np.asarray(mu1, dtype=np.float64), np.asarray(mu2, dtype=np.float64)
    if mu1.shape != mu2.shape or np.shape(sigma1) != np.shape(sigma2) or np.shape(sigma1) != mu1.shape * 2:
        raise LswError(f"Fréchet distance: statistics of different sizes ({mu1.shape} vs {mu2.shape})")
    diff = mu1 - mu2
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt_product(sigma1, sigma2)
    return float(max(value, 0.0))  # a distance; rounding can leave it a hair below 0 for equal sets
