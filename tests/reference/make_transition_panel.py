"""Write the small state panel shared by the R and Python transition-model checks.

Run once from the repository root (``python tests/reference/make_transition_panel.py``); the CSV
it writes is committed, and both ``make_transition_reference.R`` and the tests read that file, so
the reference numbers never depend on a random generator of R or of a future numpy.

The panel: 400 units in 15 clusters over periods 1-10, three states ``a``, ``b``, ``c`` that
follow a first-order Markov chain whose moves depend on two covariates (multinomial logit by
origin), with gaps (about 8% of unit-periods dropped), states missing in 3% of the rows and each
covariate missing in 3%.  Every origin-destination cell occurs, so the common-slopes model is
identified too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

N_UNITS, N_CLUSTERS, PERIODS = 400, 15, np.arange(1, 11)
STATES = ("a", "b", "c")
# log odds of moving to each destination rather than staying: intercept, x1, x2 (by origin)
MOVES = {
    0: {1: (-2.0, 0.8, 0.0), 2: (-2.5, -0.4, 0.5)},
    1: {0: (-1.8, -0.6, 0.2), 2: (-2.2, 0.5, 0.0)},
    2: {0: (-2.4, 0.3, -0.3), 1: (-1.6, 0.0, 0.6)},
}


def make_panel(seed: int = 20250311) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cluster = rng.integers(0, N_CLUSTERS, N_UNITS)
    cluster[:N_CLUSTERS] = np.arange(N_CLUSTERS)
    trait = rng.normal(0, 1, N_UNITS)
    shock = rng.normal(0, 0.7, (N_CLUSTERS, PERIODS.size))
    rows = []
    for i in range(N_UNITS):
        s = int(rng.integers(0, 3))
        for t, period in enumerate(PERIODS):
            x1 = 0.6 * trait[i] + shock[cluster[i], t] + rng.normal(0, 0.8)
            x2 = float(rng.random() < 0.4)
            rows.append([f"U{i:03d}", f"G{cluster[i]:02d}", int(period), STATES[s], x1, x2])
            score = np.zeros(3)
            for j, (a, b1, b2) in MOVES[s].items():
                score[j] = a + b1 * x1 + b2 * x2
            prob = np.exp(score) / np.exp(score).sum()
            s = int(rng.choice(3, p=prob))
    frame = pd.DataFrame(rows, columns=["unit", "cluster", "period", "state", "x1", "x2"])
    keep = rng.random(len(frame)) > 0.08
    frame = frame.loc[keep].reset_index(drop=True)
    frame.loc[rng.random(len(frame)) < 0.03, "state"] = None
    for column in ("x1", "x2"):
        frame.loc[rng.random(len(frame)) < 0.03, column] = np.nan
    frame["x1"] = frame["x1"].round(6)
    return frame


if __name__ == "__main__":
    out = Path(__file__).resolve().parent / "transition_panel.csv"
    make_panel().to_csv(out, index=False)
    print(f"wrote {out}")
