"""Write the small weighted survey panel shared by the R and Python weighted-inference checks.

Run once from the repository root (``python tests/reference/make_survey_panel.py``); the CSV it
writes is committed, and both ``make_survey_reference.R`` and the tests read that file, so the
reference numbers never depend on a random generator of R or of a future numpy.

Structure (an Enterprise-Survey-like stratified two-stage sample observed in waves):

- 4 strata (``stratum``), each holding 5 primary sampling units (``psu``, localities), 20 PSUs;
- 96 firms, each in one PSU and in one of 8 regions (``cluster_id``; regions cut across PSUs,
  so clustering by region and the design's PSUs differ);
- waves 2009, 2011, 2013, 2016, 2019 (irregular intervals of 2, 2, 3 and 3 years), unbalanced:
  each firm misses a wave with probability 0.2; ``interval`` is the years since the firm's
  previous observed wave (3 for its first, the recall window of an "in the last three years"
  question), so the grouped-duration hazard has intervals of 2 to 10 years;
- ``w`` a probability weight per firm-year: the stratum's base weight times a wave-specific
  non-response adjustment, rounded to 4 decimals;
- ``y`` a continuous outcome with firm and year effects; ``event`` a 0/1 outcome drawn from the
  grouped-duration complementary log-log model
  :math:`P(\\text{event}) = 1 - \\exp(-\\text{interval}\\,e^{\\alpha_t + x'\\beta})`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

N_FIRMS, N_STRATA, PSU_PER_STRATUM, N_REGIONS = 96, 4, 5, 8
WAVES = np.array([2009, 2011, 2013, 2016, 2019])
FIRST_WINDOW = 3


def make_panel(seed: int = 20240917) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_psu = N_STRATA * PSU_PER_STRATUM
    psu_of_firm = np.sort(rng.integers(0, n_psu, N_FIRMS))
    psu_of_firm[:n_psu] = np.arange(n_psu)  # every PSU holds at least one firm
    psu_of_firm = np.sort(psu_of_firm)
    stratum_of_psu = np.arange(n_psu) // PSU_PER_STRATUM
    region_of_firm = rng.integers(0, N_REGIONS, N_FIRMS)
    region_of_firm[:N_REGIONS] = np.arange(N_REGIONS)
    base_weight = np.array([12.0, 30.0, 55.0, 140.0])  # large firms sampled with certainty-like rates
    firm_effect = rng.normal(0, 1, N_FIRMS)
    year_effect = rng.normal(0, 0.3, WAVES.size)
    region_shock = rng.normal(0, 0.8, (N_REGIONS, WAVES.size))
    rows = []
    for f in range(N_FIRMS):
        g = region_of_firm[f]
        s = stratum_of_psu[psu_of_firm[f]]
        keep = rng.random(WAVES.size) > 0.2
        keep[rng.integers(0, WAVES.size)] = True
        previous = None
        for t, year in enumerate(WAVES):
            if not keep[t]:
                continue
            interval = FIRST_WINDOW if previous is None else int(year - previous)
            previous = year
            x1 = 0.5 * firm_effect[f] + region_shock[g, t] + rng.normal()
            x2 = rng.normal()
            d = float(rng.random() < 0.25 + 0.15 * s)
            u = region_shock[g, t] * 0.5 + rng.normal() * (1 + 0.3 * s)
            y = 1.0 + 0.5 * x1 - 0.3 * x2 + 0.4 * d + firm_effect[f] + year_effect[t] + u
            eta = -2.0 + 0.1 * t + 0.4 * x1 + 0.5 * d + np.log(interval)
            event = int(rng.random() < -np.expm1(-np.exp(eta)))
            w = round(base_weight[s] * rng.uniform(0.6, 1.6), 4)
            rows.append((f"F{f:03d}", f"R{g}", f"S{s}", f"P{psu_of_firm[f]:02d}", int(year),
                         interval, w, x1, x2, d, y, event))
    return pd.DataFrame(rows, columns=["firm_id", "cluster_id", "stratum", "psu", "year", "interval",
                                       "w", "x1", "x2", "d", "y", "event"])


if __name__ == "__main__":
    out = Path(__file__).with_name("survey_panel.csv")
    make_panel().to_csv(out, index=False, float_format="%.17g")
