"""Distances between a generated sample and a real one. Pure functions of tensors; smaller is closer.

* 1D: the exact Wasserstein-1 distance (scipy).
* Any dimension: the sliced Wasserstein-1 distance, the mean over random unit directions of the 1D
  Wasserstein-1 distance of the projections (Rabin et al. 2011; Deshpande et al. 2018). ring8 and grid25
  use it; in 2D it is a faithful summary. (On MNIST pixels it would be a crude one.)
* Tables: the mean over columns of the Jensen-Shannon divergence (base 2, so within [0, 1]) between the
  real and generated marginal histograms.
* MNIST images (distance kind `classifier_frechet`): the Frechet distance between Gaussians fitted to the
  shipped classifier's 64-d features (ganlint.metrics.frechet and .mnist_classifier), the MNIST stand-in
  for FID since no Inception weights can be downloaded. It compares what the digits look like to a digit
  reader, not pixel positions.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial.distance import jensenshannon
from scipy.stats import wasserstein_distance

# Fixed so that two evaluations of the same samples give the same number.
SLICED_PROJECTIONS = 128
SLICED_SEED = 1234
NUMERIC_BINS = 20


def wasserstein1d(fake: torch.Tensor, real: torch.Tensor) -> float:
    """Exact W1 between two 1D samples (any shape, flattened)."""
    return float(wasserstein_distance(fake.detach().double().cpu().reshape(-1).numpy(), real.detach().double().cpu().reshape(-1).numpy()))


def sliced_wasserstein(
    fake: torch.Tensor, real: torch.Tensor, projections: int = SLICED_PROJECTIONS, seed: int = SLICED_SEED
) -> float:
    """Sliced W1 between two samples of the same size, flattened to (n, d)."""
    x = fake.detach().reshape(len(fake), -1).float()
    y = real.detach().reshape(len(real), -1).float().to(x.device)
    if len(x) != len(y):
        n = min(len(x), len(y))
        x, y = x[:n], y[:n]
    g = torch.Generator().manual_seed(seed)
    dirs = torch.randn(x.shape[1], projections, generator=g)
    dirs = (dirs / dirs.norm(dim=0, keepdim=True)).to(x.device)
    px, _ = torch.sort(x @ dirs, dim=0)
    py, _ = torch.sort(y @ dirs, dim=0)
    # With equal sizes, W1 in 1D is the mean gap between the sorted samples.
    return float((px - py).abs().mean())


def _js(p: np.ndarray, q: np.ndarray) -> float:
    return float(jensenshannon(p, q, base=2) ** 2)  # scipy returns the distance (the square root)


def column_js(fake: torch.Tensor, real: torch.Tensor, blocks) -> dict[str, float]:
    """Per-column JS divergence for encoded tables.

    Args:
        fake, real: encoded rows (n, d).
        blocks: (Column, slice) pairs as given by ReviewsDataset.blocks().

    Returns:
        {column name: JS divergence}; categorical columns compare category frequencies (argmax of the
        block), numeric columns compare histograms on bins set by the real data's range.
    """
    fake = fake.detach().float().cpu().reshape(len(fake), -1)
    real = real.detach().float().cpu().reshape(len(real), -1)
    out = {}
    for col, sl in blocks:
        if col.kind == "categorical":
            p = torch.bincount(real[:, sl].argmax(1), minlength=col.size).double().numpy()
            q = torch.bincount(fake[:, sl].argmax(1), minlength=col.size).double().numpy()
        else:
            r = real[:, sl].reshape(-1).double().numpy()
            f = fake[:, sl].reshape(-1).double().numpy()
            edges = np.quantile(r, np.linspace(0, 1, NUMERIC_BINS + 1))
            edges[0], edges[-1] = -np.inf, np.inf  # out-of-range fakes land in the end bins
            p = np.histogram(r, edges)[0].astype(float)
            q = np.histogram(f, edges)[0].astype(float)
        out[col.name] = _js(p / p.sum(), q / q.sum())
    return out
