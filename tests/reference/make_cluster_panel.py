"""Write the small unbalanced firm-year panel shared by the R and Python cluster-robust checks.

Run once from the repository root (``python tests/reference/make_cluster_panel.py``); the CSV it
writes is committed, and both ``make_cluster_reference.R`` and the tests read that file, so the
reference numbers never depend on a random generator of R or of a future numpy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

N_FIRMS, N_CLUSTERS, YEARS = 60, 12, np.arange(2010, 2020)


def make_panel(seed: int = 20240611) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cluster_of_firm = np.sort(rng.integers(0, N_CLUSTERS, N_FIRMS))
    cluster_of_firm[:N_CLUSTERS] = np.arange(N_CLUSTERS)  # every cluster holds at least one firm
    firm_effect = rng.normal(0, 1, N_FIRMS)
    year_effect = rng.normal(0, 0.5, YEARS.size)
    cluster_shock_x = rng.normal(0, 1, (N_CLUSTERS, YEARS.size))
    cluster_shock_u = rng.normal(0, 1, (N_CLUSTERS, YEARS.size))
    rows = []
    for f in range(N_FIRMS):
        g = cluster_of_firm[f]
        keep = rng.random(YEARS.size) > 0.2  # about a fifth of firm-years missing
        keep[rng.integers(0, YEARS.size)] = True
        for t, year in enumerate(YEARS):
            if not keep[t]:
                continue
            x1 = 0.5 * firm_effect[f] + cluster_shock_x[g, t] + rng.normal()
            x2 = rng.normal()
            d = float(rng.random() < 0.3 + 0.4 * (g % 2))
            u = cluster_shock_u[g, t] * (1 + 0.5 * d) + rng.normal()
            y = 1.0 + 0.5 * x1 - 0.3 * x2 + 0.2 * d + 0.1 * d * x1 + firm_effect[f] + year_effect[t] + u
            rows.append((f"F{f:03d}", f"C{g:02d}", int(year), x1, x2, d, y))
    return pd.DataFrame(rows, columns=["firm_id", "cluster_id", "year", "x1", "x2", "d", "y"])


if __name__ == "__main__":
    out = Path(__file__).with_name("cluster_panel.csv")
    make_panel().to_csv(out, index=False, float_format="%.17g")
