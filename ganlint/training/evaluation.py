"""The periodic evaluation: distance to the real data, diversity, modes and PRDC, from samples alone.

A pure function of tensors and the dataset description; the trainer decides when to call it.

Per dataset (each metric in ganlint.metrics):

| | gaussian1d, ring8, grid25 | mnist | reviews |
| --- | --- | --- | --- |
| distance | W1 (1D), sliced W1 (2D) | Frechet distance of classifier features | mean column JS |
| modes | mixture centres; a sample belongs to one within 3 std | digits, by the shipped classifier | the 3 preference clusters |
| modes_covered | modes with >= 1 sample | digits with > 2% of the samples | clusters with >= 1 row |
| high_quality | share within 3 std of a centre | share with top class probability > 0.9 and inside PRDC's real manifold | 1 (every row has a cluster) |
| mode_kl | KL(modes of the high-quality fakes, uniform) | KL(digits, the data's digit frequencies) | KL(clusters, the table's cluster shares) |
| PRDC space | the raw values | classifier features (64-d) | the encoded rows (59-d) |
| category_coverage | NaN | NaN | worst categorical column's covered share |

mode_kl is the "reverse" KL(P_fake || P_real) over modes (PacGAN's), in nats: 0 when the fakes spread
over the modes as the data does, log K when they all fall in one. The reference is the data's own mode
distribution: uniform for the mixtures (equal weights by construction), the label frequencies of the whole
table for mnist and reviews (the 5,000-digit subset shipped with ganlint has exactly 500 of each digit, so
there it is uniform).

Cost of one evaluation at the default 2,000 fakes vs 2,000 reals on the 2-core CPU (measured while other
jobs shared it, so upper bounds): 0.15-0.2 s for gaussian1d, 0.2-0.4 s for ring8, grid25 and reviews, ~1 s
for mnist (classifier on the fakes 0.5 s, pixel diversity 0.35 s, PRDC 0.08 s, Frechet 2 ms; the reals'
classifier pass is cached across evaluations, see _classify_real).
"""

from __future__ import annotations

import math
import weakref

import torch

from ganlint.data.base import Dataset, MixtureDataset
from ganlint.metrics import (
    column_js,
    diversity_ratio,
    high_quality_fraction,
    kl_to_reference,
    kl_to_uniform,
    mean_pairwise_distance,
    mode_histogram,
    modes_covered,
    sliced_wasserstein,
    wasserstein1d,
)
from ganlint.metrics.categories import category_coverage
from ganlint.metrics.classifier import class_statistics
from ganlint.metrics.frechet import frechet_distance_of_samples
from ganlint.metrics.prdc import K_DEFAULT, prdc
from ganlint.schema import CLASSIFIER_KIND  # the distance kind that routes through the MNIST classifier
from ganlint.training.telemetry import EVAL_COLUMNS

NAN = float("nan")


def _classify(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    from ganlint.metrics.classifier import to_mnist_input
    from ganlint.metrics.mnist_classifier import classify  # lazy: only MNIST loads the classifier

    # Images of another size or colour (a 64 px DCGAN's, 3 channels) are brought to 1x28x28 first: the one
    # resize rule, ganlint.metrics.classifier.to_mnist_input; flat rows of 784 values pass as they are.
    if x.dim() >= 3 and math.prod(x.shape[1:]) != 28 * 28:
        x = to_mnist_input(x)
    return classify(x)


# The trainer evaluates against one fixed real batch, so what depends on the reals alone (the classifier's
# verdict, a third of an MNIST evaluation; their mean pairwise distance, another sixth) is kept between
# evaluations, one entry per quantity. An entry matches only the very same tensor object, alive (a weak
# reference, so a new tensor at a recycled address never hits) and unmodified (its in-place version
# counter).
_real_cache: dict[str, tuple] = {}


def _on_real(name: str, real: torch.Tensor, compute):
    entry = _real_cache.get(name)
    if entry is not None and entry[0]() is real and entry[1] == real._version:
        return entry[2]
    value = compute(real)
    _real_cache[name] = (weakref.ref(real), real._version, value)
    return value


def _classify_real(real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return _on_real("classify", real, _classify)


def mode_reference(dataset: Dataset) -> torch.Tensor | None:
    """Counts of the real data's modes for mode_kl, or None when the modes are equal-weight (uniform).

    Mixtures are equal-weight by construction. Tables with labels (mnist digits, reviews clusters) use
    their label counts over the whole table: for those datasets the labels are the modes.
    """
    labels = getattr(dataset, "labels", None)
    if isinstance(dataset, MixtureDataset) or labels is None or not dataset.num_modes:
        return None
    return torch.bincount(labels.reshape(-1).cpu(), minlength=dataset.num_modes)[: dataset.num_modes]


def _mode_kl(hist: torch.Tensor, reference: torch.Tensor | None) -> float:
    return kl_to_uniform(hist) if reference is None else kl_to_reference(hist, reference)


def _column_js_mean(fake: torch.Tensor, real: torch.Tensor, dataset: Dataset) -> float:
    per_column = column_js(fake, real, dataset.blocks())
    return sum(per_column.values()) / len(per_column)


# Each distance kind (ganlint.data.base.DISTANCE_KINDS, a Dataset's distance_kind) and how it is measured;
# tests/test_data.py keeps the two in step.
DISTANCES = {
    "wasserstein1d": lambda fake, real, dataset: wasserstein1d(fake, real),
    "sliced_wasserstein": lambda fake, real, dataset: sliced_wasserstein(fake, real),
    "column_js": _column_js_mean,
    CLASSIFIER_KIND: lambda fake, real, dataset: frechet_distance_of_samples(_classify(fake)[0], _classify(real)[0]),
}


def distance_to_real(fake: torch.Tensor, real: torch.Tensor, dataset: Dataset) -> float:
    """The dataset's own distance (see ganlint.metrics.distance for each kind)."""
    measure = DISTANCES.get(dataset.distance_kind)
    if measure is None:
        raise ValueError(f"unknown distance kind {dataset.distance_kind!r}; known: {', '.join(DISTANCES)}")
    return measure(fake, real, dataset)


def _enough(fake: torch.Tensor, real: torch.Tensor) -> bool:
    return min(len(fake), len(real)) > K_DEFAULT  # PRDC's k-NN radii need more than k points


def classify_samples(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The MNIST classifier's (features, probabilities) of x, kept while x lives: a caller that needs the
    class histogram of the very samples `evaluate` just measured (ganlint check) pays for one pass."""
    return _on_real("classify_fake", x, _classify)


def _classifier_columns(fake: torch.Tensor, real: torch.Tensor, dataset: Dataset) -> dict[str, float]:
    """MNIST: one classifier pass per sample gives the features (distance, PRDC) and the digits (modes)."""
    fake_feat, fake_probs = classify_samples(fake)
    real_feat, _ = _classify_real(real)
    out = {"distance": frechet_distance_of_samples(fake_feat, real_feat)}
    realistic = None
    if _enough(fake, real):
        pr = prdc(fake_feat, real_feat, k=K_DEFAULT, per_sample=True)
        realistic = pr.pop("fake_in_real_ball")
        del pr["real_covered"]
        out.update(pr)
    ref = mode_reference(dataset)
    stats = class_statistics(fake_probs, ref, realistic)
    out["modes_covered"] = float(stats["classes_covered"])
    out["high_quality"] = stats["high_quality"]
    out["mode_kl"] = stats["kl_uniform"] if ref is None else stats["kl_reference"]
    return out


def _sample_columns(fake: torch.Tensor, real: torch.Tensor, dataset: Dataset) -> dict[str, float]:
    """Mixtures and tables: modes from the dataset's own mode_index, PRDC on the samples themselves."""
    out = {"distance": distance_to_real(fake, real, dataset)}
    idx = dataset.mode_index(fake)
    if idx is not None and dataset.num_modes:
        out["modes_covered"] = float(modes_covered(idx, dataset.num_modes))
        out["high_quality"] = high_quality_fraction(idx)
        # Only samples that belong to a mode count (mixtures: the high-quality ones); NaN when none do.
        out["mode_kl"] = _mode_kl(mode_histogram(idx, dataset.num_modes), mode_reference(dataset))
    if _enough(fake, real):
        out.update(prdc(fake, real, k=K_DEFAULT))
    return out


def evaluate(fake: torch.Tensor, real: torch.Tensor, dataset: Dataset) -> dict[str, float]:
    """Every evaluation column (ganlint.training.telemetry.EVAL_COLUMNS) for one batch of fakes against reals.

    See the module docstring for what each column means per dataset; a column that does not apply to
    the dataset is NaN. Non-finite fakes (a diverged generator) give NaN everywhere instead of an
    exception.
    """
    out = dict.fromkeys(EVAL_COLUMNS, NAN)
    if not torch.isfinite(fake).all():
        return out
    columns = _classifier_columns if dataset.distance_kind == CLASSIFIER_KIND else _sample_columns
    out.update(columns(fake, real, dataset))
    out["diversity"] = diversity_ratio(fake, real, _on_real("pairwise", real, mean_pairwise_distance))
    if hasattr(dataset, "blocks"):
        out["category_coverage"] = category_coverage(fake, real, dataset.blocks())["coverage"]
    return {k: (float(v) if math.isfinite(v) else NAN) for k, v in out.items()}
