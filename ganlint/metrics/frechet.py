"""The Frechet distance between two Gaussians fitted to feature samples (the distance behind FID).

    d^2 = ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2))

(Dowson & Landau 1982; Heusel et al. 2017). ganlint uses it on the MNIST classifier's 64-d features, where
it costs milliseconds; in Inception's 2048-d space the matrix square root takes seconds.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from scipy import linalg

# Added to both covariance diagonals when S1 S2 is singular (a collapsed sample has a rank-deficient
# covariance): the same fix as pytorch-fid's.
EPS = 1e-6
# A square root whose relative error ||X X - A|| / ||A|| exceeds this is recomputed with EPS.
SQRTM_TOLERANCE = 1e-4
# Imaginary parts of the root's diagonal larger than this mean the result cannot be trusted.
IMAG_TOLERANCE = 1e-3


def feature_statistics(x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mean (d,) and covariance (d, d) of the rows of x (n, d), in float64 on the host."""
    x = x.detach().reshape(len(x), -1).double().cpu().numpy()
    if len(x) < 2:
        raise ValueError(f"a covariance needs at least 2 samples, got {len(x)}")
    return x.mean(axis=0), np.cov(x, rowvar=False).reshape(x.shape[1], x.shape[1])


def _sqrtm(a: np.ndarray) -> tuple[np.ndarray, float]:
    with warnings.catch_warnings():  # scipy warns on singular input; the error estimate decides instead
        warnings.simplefilter("ignore")
        root = linalg.sqrtm(a)
    if not np.isfinite(root).all():
        return root, float("inf")
    denom = max(float(np.linalg.norm(a)), 1e-300)
    return root, float(np.linalg.norm(root @ root - a)) / denom


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = EPS) -> float:
    """Squared Frechet distance between N(mu1, sigma1) and N(mu2, sigma2).

    Numerics: sqrtm of S1 S2 (not symmetric) can fail or be inaccurate when the product is singular or
    ill-conditioned; it is then recomputed with `eps` added to both diagonals. Rounding can leave small
    imaginary parts, which are dropped when the diagonal's are below IMAG_TOLERANCE (else ValueError).
    A result below 0 by rounding (two identical samples) is returned as 0.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (len(mu1), len(mu1)):
        raise ValueError(f"shapes do not match: mu {mu1.shape}, {mu2.shape}; sigma {s1.shape}, {s2.shape}")
    covmean, err = _sqrtm(s1 @ s2)
    if err > SQRTM_TOLERANCE:
        offset = np.eye(len(mu1)) * eps
        covmean, err = _sqrtm((s1 + offset) @ (s2 + offset))
        if not np.isfinite(covmean).all():
            raise ValueError("the matrix square root is not finite even with eps added to the covariances")
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=IMAG_TOLERANCE):
            raise ValueError(f"the matrix square root has imaginary parts up to {np.abs(covmean.imag).max():.3g}")
        covmean = covmean.real
    diff = mu1 - mu2
    d2 = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))
    return max(d2, 0.0)


def frechet_distance_of_samples(x: torch.Tensor, y: torch.Tensor) -> float:
    """frechet_distance of the Gaussians fitted to two samples of feature rows."""
    return frechet_distance(*feature_statistics(x), *feature_statistics(y))
