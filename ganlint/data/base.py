"""What every named dataset provides: a real-sample sampler, its known modes and a plot kind.

Two kinds cover everything ganlint ships:

* `MixtureDataset`: an analytic mixture of isotropic Gaussians (gaussian1d, ring8, grid25). Sampling is
  done directly on the training device, so the CUDA loop never copies data from the host.
* `TableDataset`: a fixed tensor of rows (MNIST images, the reviews table). The whole table is moved to
  the device once and batches are drawn by index there, for the same reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

# How each dataset's samples are pictured (the trainer's sample pictures and later the reports).
PLOT_KINDS = ("hist", "scatter", "image", "bars")
# Which distance to the real data the evaluation uses (see ganlint.metrics.distance).
DISTANCE_KINDS = ("wasserstein1d", "sliced_wasserstein", "column_js", "classifier_frechet")


@dataclass(frozen=True)
class Column:
    """One column of a tabular dataset as laid out in its encoded (flat) vector."""

    name: str
    kind: str  # "categorical" (one-hot block) or "numeric" (one standardised value)
    size: int  # width of the block in the encoded vector
    categories: tuple[str, ...] = ()


class Dataset:
    """Base class. Subclasses set the attributes and implement `sample`."""

    name: str
    description: str
    shape: tuple[int, ...]  # shape of one sample
    plot_kind: str
    distance_kind: str
    num_modes: int | None = None  # known modes (mixture centres, digit classes, clusters) or None
    source: str = "generated"  # where the data came from (recorded in the run's config)
    bounded: bool = False  # samples lie in [-1, 1], so G ends in tanh

    def blocks_spec(self) -> list[list]:
        """[kind, size] per column for tabular data (the tabular G's heads); empty for other data."""
        return []

    def model_spec(self) -> dict:
        """What the networks need to know about the data; stored in the run so models rebuild without it."""
        return {"shape": list(self.shape), "bounded": self.bounded, "blocks": self.blocks_spec()}

    @property
    def dim(self) -> int:
        """Number of values in one flattened sample."""
        n = 1
        for s in self.shape:
            n *= s
        return n

    def sample(self, n: int, generator: torch.Generator | None = None, device: torch.device | str = "cpu") -> torch.Tensor:
        """Draw `n` real samples of shape (n, *shape) on `device`, using `generator` (on that device)."""
        raise NotImplementedError

    def mode_index(self, x: torch.Tensor) -> torch.Tensor | None:
        """The mode each sample belongs to (-1 when it is in none), or None when modes cannot be assigned."""
        return None

    def info(self) -> dict:
        """A JSON-able description recorded in every run's config."""
        return {
            "name": self.name,
            "shape": list(self.shape),
            "plot_kind": self.plot_kind,
            "distance_kind": self.distance_kind,
            "num_modes": self.num_modes,
            "source": self.source,
            "model_spec": self.model_spec(),
        }


@dataclass
class MixtureDataset(Dataset):
    """Equal-weight mixture of isotropic Gaussians with known centres and one standard deviation."""

    name: str
    description: str
    centres: torch.Tensor  # (K, d)
    std: float
    plot_kind: str
    distance_kind: str
    # Standard criterion (VEEGAN, PacGAN): a sample is "high quality" within this many std of its centre.
    quality_radius_std: float = 3.0
    _device_centres: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.shape = (self.centres.shape[1],)
        self.num_modes = self.centres.shape[0]

    def _centres_on(self, device: torch.device | str) -> torch.Tensor:
        key = str(device)
        if key not in self._device_centres:
            self._device_centres[key] = self.centres.to(device)
        return self._device_centres[key]

    def sample(self, n, generator=None, device="cpu"):
        centres = self._centres_on(device)
        k = torch.randint(len(centres), (n,), generator=generator, device=device)
        noise = torch.randn(n, centres.shape[1], generator=generator, device=device)
        return centres[k] + self.std * noise

    def mode_index(self, x):
        centres = self._centres_on(x.device).to(x.dtype)
        d = torch.cdist(x.reshape(len(x), -1), centres)
        dist, idx = d.min(dim=1)
        return torch.where(dist <= self.quality_radius_std * self.std, idx, torch.full_like(idx, -1))

    def info(self):
        return {**super().info(), "std": self.std, "centres": self.centres.tolist()}


class TableDataset(Dataset):
    """A fixed table of samples (already scaled), with optional integer labels."""

    def __init__(
        self,
        name: str,
        description: str,
        data: torch.Tensor,
        plot_kind: str,
        distance_kind: str,
        labels: torch.Tensor | None = None,
        num_modes: int | None = None,
        source: str = "generated",
        bounded: bool = False,
    ) -> None:
        self.name = name
        self.description = description
        self.data = data
        self.labels = labels
        self.shape = tuple(data.shape[1:])
        self.plot_kind = plot_kind
        self.distance_kind = distance_kind
        self.num_modes = num_modes
        self.source = source
        self.bounded = bounded
        self._on_device: dict[str, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.data)

    def data_on(self, device: torch.device | str) -> torch.Tensor:
        key = str(device)
        if key not in self._on_device:
            self._on_device[key] = self.data.to(device)
        return self._on_device[key]

    def sample(self, n, generator=None, device="cpu"):
        data = self.data_on(device)
        idx = torch.randint(len(data), (n,), generator=generator, device=device)
        return data[idx]

    def info(self):
        return {**super().info(), "rows": len(self)}
