"""Category coverage of generated tables: does the generator reproduce every category it should?

A table GAN can collapse without its marginals looking absurd: "only 5-star ratings of the top
products" keeps every value valid and the most frequent categories right. What it loses are the other
categories. So, for each categorical column, a category that is present in the real sample is
*covered* when its share among the fakes is at least MIN_RATIO of its share among the reals:

    covered(c) = f_c >= MIN_RATIO * r_c        (f, r: category shares among fakes and reals)

Presence alone (f_c > 0) is too lenient: with 2,000 fakes a generator that puts 95% of its mass on
five products still emits a few of the others. A quarter of the real share tolerates most sampling
noise on rare categories while a category drawn four times too rarely counts as dropped. The rarest
products have ~5 of 2,000 rows, so two real samples of 2,000 rows score 0.98 (one of the 50 products
short) in about a third of comparisons and 1.0 otherwise; a collapsed generator scores far lower (only
5-star ratings: at most 0.2).

The per-column JS divergences (ganlint.metrics.distance.column_js) say *how different* each marginal is;
coverage says *how much of it is missing*.
"""

from __future__ import annotations

import math

import torch

MIN_RATIO = 0.25


def _shares(block: torch.Tensor, size: int) -> torch.Tensor:
    counts = torch.bincount(block.argmax(dim=1), minlength=size)[:size].double()
    return counts / counts.sum() if counts.sum() > 0 else counts


def category_coverage(fake: torch.Tensor, real: torch.Tensor, blocks, min_ratio: float = MIN_RATIO) -> dict:
    """Coverage of each categorical column's categories by the fakes.

    Args:
        fake, real: encoded rows (n, d); each categorical column a block whose argmax is the category.
        blocks: (Column, slice) pairs as given by ReviewsDataset.blocks(); numeric columns are skipped.
        min_ratio: a category is covered when its fake share is at least this times its real share
            (plain presence, f_c > 0, is reported separately as `present`).

    Returns:
        {"columns": {name: covered share}, "present": {name: share of real categories with f_c > 0},
         "coverage": the lowest column's covered share (the worst column decides: one collapsed column
         is a collapse)}; NaN coverage when the table has no categorical column.
    """
    fake = fake.detach().float().cpu().reshape(len(fake), -1)
    real = real.detach().float().cpu().reshape(len(real), -1)
    columns, present = {}, {}
    for col, sl in blocks:
        if col.kind != "categorical":
            continue
        f, r = _shares(fake[:, sl], col.size), _shares(real[:, sl], col.size)
        seen = r > 0
        n_seen = int(seen.sum())
        if n_seen == 0:
            continue
        columns[col.name] = int((seen & (f >= min_ratio * r)).sum()) / n_seen
        present[col.name] = int((seen & (f > 0)).sum()) / n_seen
    return {"columns": columns, "present": present, "coverage": min(columns.values()) if columns else math.nan}
