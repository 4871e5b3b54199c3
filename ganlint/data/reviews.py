"""A synthetic customer-review table: the tabular GAN case (CTGAN-style data with skewed categories).

The generator is documented here so the table is reproducible anywhere (seed 0, 10,000 rows):

* ``cluster``: one of 3 preference clusters with shares 0.5 / 0.3 / 0.2
  (``enthusiast``, ``critic``, ``casual``).
* ``product_id``: 50 ids with Zipf popularity p(k) ~ 1 / (k + 1)^1.1, and each cluster favours the ids
  with ``k % 3 == cluster`` three times as much (so the columns are dependent, as real ones are).
* ``rating``: 1-5 drawn from a per-cluster distribution; every cluster peaks at 4 or 5
  (enthusiast 2/3/10/35/50 %, critic 10/15/25/30/20 %, casual 3/5/12/40/40 %).
* ``review_length``: words, log-normal with log-mean 3.8 / 4.6 / 3.2 by cluster plus 0.2 per star away
  from 3 (strong opinions are longer), log-std 0.5, at least 1 word.

Encoding for the networks: each categorical column one-hot (50 + 5 + 3), review_length as the
standardised log length (1 value): 59 values per row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ganlint.data.base import Column, TableDataset

N_ROWS = 10_000
DATA_SEED = 0
N_PRODUCTS = 50
CLUSTERS = ("enthusiast", "critic", "casual")
CLUSTER_SHARES = (0.5, 0.3, 0.2)
RATING_PROBS = (
    (0.02, 0.03, 0.10, 0.35, 0.50),
    (0.10, 0.15, 0.25, 0.30, 0.20),
    (0.03, 0.05, 0.12, 0.40, 0.40),
)
LOG_LENGTH_MEAN = (3.8, 4.6, 3.2)
LOG_LENGTH_STD = 0.5


def generate_reviews(n: int = N_ROWS, seed: int = DATA_SEED) -> pd.DataFrame:
    """The raw table (one row per review) from the documented generator."""
    rng = np.random.default_rng(seed)
    cluster = rng.choice(3, size=n, p=CLUSTER_SHARES)
    base = 1.0 / np.arange(1, N_PRODUCTS + 1) ** 1.1
    product = np.empty(n, dtype=np.int64)
    for c in range(3):
        w = base * np.where(np.arange(N_PRODUCTS) % 3 == c, 3.0, 1.0)
        rows = cluster == c
        product[rows] = rng.choice(N_PRODUCTS, size=rows.sum(), p=w / w.sum())
    rating = np.empty(n, dtype=np.int64)
    for c in range(3):
        rows = cluster == c
        rating[rows] = rng.choice(5, size=rows.sum(), p=RATING_PROBS[c]) + 1
    log_len = np.array(LOG_LENGTH_MEAN)[cluster] + 0.2 * np.abs(rating - 3) + LOG_LENGTH_STD * rng.standard_normal(n)
    length = np.maximum(1, np.round(np.exp(log_len))).astype(np.int64)
    return pd.DataFrame(
        {
            "product_id": product,
            "rating": rating,
            "cluster": pd.Categorical.from_codes(cluster, CLUSTERS),
            "review_length": length,
        }
    )


class ReviewsDataset(TableDataset):
    """The encoded reviews table plus its column layout, to decode generated rows back to a table."""

    def __init__(self, n: int = N_ROWS, seed: int = DATA_SEED) -> None:
        table = generate_reviews(n, seed)
        log_len = np.log(table["review_length"].to_numpy(dtype=np.float64))
        self.length_mean = float(log_len.mean())
        self.length_std = float(log_len.std())
        self.columns = (
            Column("product_id", "categorical", N_PRODUCTS, tuple(str(i) for i in range(N_PRODUCTS))),
            Column("rating", "categorical", 5, ("1", "2", "3", "4", "5")),
            Column("cluster", "categorical", 3, CLUSTERS),
            Column("review_length", "numeric", 1),
        )
        parts = [
            np.eye(N_PRODUCTS)[table["product_id"].to_numpy()],
            np.eye(5)[table["rating"].to_numpy() - 1],
            np.eye(3)[table["cluster"].cat.codes.to_numpy()],
            ((log_len - self.length_mean) / self.length_std)[:, None],
        ]
        data = torch.as_tensor(np.concatenate(parts, axis=1), dtype=torch.float32)
        super().__init__(
            name="reviews",
            description="synthetic review table: 50 skewed product ids, rating 1-5, 3 clusters, length",
            data=data,
            labels=torch.tensor(table["cluster"].cat.codes.to_numpy(), dtype=torch.long),
            plot_kind="bars",
            distance_kind="column_js",
            num_modes=len(CLUSTERS),
            source=f"generated:seed={seed},rows={n}",
        )

    def blocks(self) -> list[tuple[Column, slice]]:
        """Each column with its slice of the encoded vector."""
        out, start = [], 0
        for col in self.columns:
            out.append((col, slice(start, start + col.size)))
            start += col.size
        return out

    def decode(self, x: torch.Tensor) -> pd.DataFrame:
        """Encoded rows (n, 59) back to a table: argmax per categorical block, un-standardised length."""
        x = x.detach().float().cpu()
        cols = {}
        for col, sl in self.blocks():
            if col.kind == "categorical":
                codes = x[:, sl].argmax(dim=1).numpy()
                if col.name == "cluster":
                    cols[col.name] = pd.Categorical.from_codes(codes, CLUSTERS)
                else:
                    cols[col.name] = codes + (1 if col.name == "rating" else 0)
            else:
                z = x[:, sl].squeeze(1).double().numpy()
                cols[col.name] = np.maximum(1, np.round(np.exp(z * self.length_std + self.length_mean))).astype(np.int64)
        return pd.DataFrame(cols)

    def blocks_spec(self):
        return [[c.kind, c.size] for c in self.columns]

    def mode_index(self, x):
        # The modes are the 3 preference clusters: each row belongs to the cluster its block votes for.
        (_, sl), = [(c, s) for c, s in self.blocks() if c.name == "cluster"]
        return x.reshape(len(x), -1)[:, sl].argmax(dim=1)

    def info(self):
        return {**super().info(), "columns": [c.name for c in self.columns]}
