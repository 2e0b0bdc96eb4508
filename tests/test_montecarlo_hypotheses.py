"""Monte Carlo study of the hypothesis estimators on the package's own simulated panels.

Run with ``make montecarlo`` (``pytest -m montecarlo -s``); not part of ``make test``.

Design: ``simulate_panel`` defaults (3,000 firms, 30 clusters, 6 countries, 2005-2019), seeds
1..R. For each panel the registry's main specifications are estimated with CRV1 (Stata preset,
t with G-1 degrees of freedom). Checks, for H1-H4 and their fixed-effects companions:

- bias: the mean estimate lies within 3 simulation standard errors (sd / sqrt(R)) of the truth;
- coverage: the share of 95% intervals that contain the truth lies in [0.91, 0.98];
- size: with every tested effect set to zero, the two-sided 5% test rejects in [0.02, 0.09].
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
import pytest

from gvcpanel.progress import progress

REPLICATIONS = int(os.environ.get("GVCPANEL_MC_REPS", "200"))
WORKERS = int(os.environ.get("GVCPANEL_MC_WORKERS", "2"))

# (hypothesis id, specification) -> TrueParameters field of the tested coefficient
TARGETS = {
    ("H1", "main"): "process_quasi_hierarchy",
    ("H1", "companion"): "productivity_quasi_hierarchy",
    ("H2", "main"): "product_quasi_hierarchy",
    ("H2", "companion"): "unit_value_quasi_hierarchy",
    ("H3", "main"): "functional_quasi_hierarchy",
    ("H4", "main"): "functional_interaction",
}
NULL = {field: 0.0 for field in TARGETS.values()}


def one_replication(args: tuple[int, bool]) -> list[dict[str, float]]:
    seed, null = args
    from gvcpanel.gvc.hypotheses import test_hypotheses
    from gvcpanel.gvc.simulate import simulate_panel

    warnings.simplefilter("ignore")
    sim = simulate_panel(seed=seed, params=NULL if null else None)
    report = test_hypotheses(sim.panel, hypotheses=["H1", "H2", "H3", "H4"])
    rows = []
    for _, row in report.table().iterrows():
        key = (row["id"], row["specification"])
        if key not in TARGETS:
            continue
        truth = getattr(sim.truth, TARGETS[key])
        rows.append({
            "seed": seed,
            "test": f"{key[0]} {key[1]}",
            "truth": truth,
            "estimate": row["estimate"],
            "covered": float(row["ci_low"] <= truth <= row["ci_high"]),
            "rejected": float(row["p_two_sided"] < 0.05),
        })
    return rows


def run(null: bool) -> pd.DataFrame:
    jobs = [(seed, null) for seed in range(1, REPLICATIONS + 1)]
    with ProcessPoolExecutor(max_workers=WORKERS) as pool:
        chunks = progress(pool.map(one_replication, jobs), total=len(jobs), desc="H1-H4 Monte Carlo", unit="panel")
        rows = [r for chunk in chunks for r in chunk]
    return pd.DataFrame(rows)


def summarise(frame: pd.DataFrame) -> pd.DataFrame:
    g = frame.groupby("test")
    out = pd.DataFrame({
        "truth": g["truth"].first(),
        "mean": g["estimate"].mean(),
        "sim_se": g["estimate"].std(ddof=1) / np.sqrt(g.size()),
        "coverage": g["covered"].mean(),
        "rejection": g["rejected"].mean(),
        "replications": g.size(),
    })
    out["bias_in_se"] = (out["mean"] - out["truth"]) / out["sim_se"]
    return out


@pytest.mark.montecarlo
def test_bias_and_coverage_of_h1_to_h4():
    summary = summarise(run(null=False))
    print(f"\nMonte Carlo, true effects, {REPLICATIONS} panels\n{summary.round(4).to_string()}")
    assert (summary["replications"] == REPLICATIONS).all()
    assert (summary["bias_in_se"].abs() < 3).all(), summary
    assert summary["coverage"].between(0.91, 0.98).all(), summary


@pytest.mark.montecarlo
def test_size_with_tested_effects_set_to_zero():
    summary = summarise(run(null=True))
    print(f"\nMonte Carlo, tested effects = 0, {REPLICATIONS} panels\n{summary.round(4).to_string()}")
    assert (summary["truth"] == 0).all()
    assert summary["rejection"].between(0.02, 0.09).all(), summary
