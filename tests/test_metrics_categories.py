"""Category coverage of generated review tables."""

from __future__ import annotations

import pytest
import torch

from ganlint.data import ReviewsDataset
from ganlint.metrics import category_coverage, column_js


@pytest.fixture(scope="module")
def reviews() -> ReviewsDataset:
    return ReviewsDataset()


def _set_category(rows: torch.Tensor, block: slice, codes: torch.Tensor) -> torch.Tensor:
    rows = rows.clone()
    rows[:, block] = 0.0
    rows[torch.arange(len(rows)), block.start + codes] = 1.0
    return rows


def test_identical_table_is_fully_covered(reviews: ReviewsDataset) -> None:
    real = reviews.data[:2000]
    out = category_coverage(real, real, reviews.blocks())
    assert out["columns"] == {"product_id": 1.0, "rating": 1.0, "cluster": 1.0}  # numeric column skipped
    assert out["present"] == out["columns"]
    assert out["coverage"] == 1.0


def test_another_real_sample_is_covered_up_to_noise(reviews: ReviewsDataset) -> None:
    """Sampling noise on the rarest products (~5 of 2,000 rows) at most drops one of 50 now and then."""
    coverages = []
    for i in range(4):
        fake = reviews.data[2000 * i : 2000 * (i + 1)]
        coverages.append(category_coverage(fake, reviews.data[8000:], reviews.blocks())["coverage"])
    assert min(coverages) >= 0.96


def test_only_five_stars_of_the_top_products_is_low_coverage(reviews: ReviewsDataset) -> None:
    """The collapsed table: 5 stars only, products 0-4 only (the most popular); clusters untouched."""
    real = reviews.data[:2000]
    blocks = dict((c.name, sl) for c, sl in reviews.blocks())
    fake = _set_category(real, blocks["rating"], torch.full((2000,), 4))
    fake = _set_category(fake, blocks["product_id"], torch.arange(2000) % 5)
    out = category_coverage(fake, real, reviews.blocks())
    assert out["columns"]["rating"] == pytest.approx(1 / 5)
    assert out["columns"]["product_id"] == pytest.approx(5 / 50)
    assert out["columns"]["cluster"] == 1.0
    assert out["coverage"] == pytest.approx(0.1)  # the worst column decides
    # the JS divergence sees the same columns move
    js = column_js(fake, real, reviews.blocks())
    assert js["rating"] > 0.2 and js["product_id"] > 0.2 and js["cluster"] < 1e-12


def test_rare_categories_count_as_dropped_below_a_quarter_of_their_share(reviews: ReviewsDataset) -> None:
    """Every product still appears, but the tail ones far too rarely: present, not covered."""
    real = reviews.data[:2000]
    blocks = dict((c.name, sl) for c, sl in reviews.blocks())
    # 1,950 rows of products 0-4, then one row each of products 0-49
    codes = torch.cat([torch.arange(1950) % 5, torch.arange(50)])
    fake = _set_category(real, blocks["product_id"], codes)
    out = category_coverage(fake, real, reviews.blocks())
    assert out["present"]["product_id"] == 1.0
    assert out["columns"]["product_id"] <= 0.2
    # plain presence would call it covered: that is what min_ratio=0 gives
    assert category_coverage(fake, real, reviews.blocks(), min_ratio=0.0)["columns"]["product_id"] == 1.0
