"""Seeded benchmark designs, shared by ``benchmarks/run.py`` and the equality tests.

Every design is a firm-year frame indexed by (firm_id, year) with an outcome ``y``, seven
regressors ``x1..x7`` correlated with the firm effect, and ``cluster_id`` (firms never move).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

N_REGRESSORS = 7
FORMULA = "y ~ " + " + ".join(f"x{j}" for j in range(1, N_REGRESSORS + 1))


def make_design(kind: str, n_firms: int, n_years: int = 10, n_clusters: int = 100, seed: int = 20240611) -> pd.DataFrame:
    """A panel for ``kind`` in {"balanced", "unbalanced", "threeway"}.

    ``unbalanced`` keeps each firm between a random entry and exit year and then drops 10% of the
    remaining firm-years at random; ``threeway`` is balanced with a cluster x year shock.
    """
    rng = np.random.default_rng(seed)
    firm = np.repeat(np.arange(n_firms), n_years)
    year = np.tile(np.arange(2000, 2000 + n_years), n_firms)
    if kind == "unbalanced":
        entry = rng.integers(0, n_years // 2, n_firms)
        exit_ = rng.integers(n_years // 2, n_years, n_firms) + 1
        t = year - 2000
        keep = (t >= entry[firm]) & (t < exit_[firm]) & (rng.random(firm.size) > 0.10)
        firm, year = firm[keep], year[keep]
    elif kind not in ("balanced", "threeway"):
        raise ValueError(f"kind={kind!r}; use balanced, unbalanced or threeway")
    n = firm.size
    cluster_of_firm = rng.integers(0, n_clusters, n_firms)
    cluster = cluster_of_firm[firm]
    firm_effect = rng.normal(0, 1, n_firms)[firm]
    year_effect = rng.normal(0, 0.5, n_years)[year - 2000]
    X = rng.normal(0, 1, (n, N_REGRESSORS)) + 0.5 * firm_effect[:, None]
    beta = np.linspace(-0.6, 0.6, N_REGRESSORS)
    y = X @ beta + firm_effect + year_effect + rng.normal(0, 1, n)
    if kind == "threeway":
        y += rng.normal(0, 0.5, (n_clusters, n_years))[cluster, year - 2000]
    data = {"y": y, **{f"x{j + 1}": X[:, j] for j in range(N_REGRESSORS)}, "cluster_id": cluster}
    index = pd.MultiIndex.from_arrays([firm, year], names=["firm_id", "year"])
    return pd.DataFrame(data, index=index)


def effects_of(kind: str) -> tuple[str, ...]:
    return ("firm", "year", "cluster_id^year") if kind == "threeway" else ("firm", "year")
