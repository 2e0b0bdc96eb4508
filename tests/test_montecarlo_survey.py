"""Monte Carlo study of the interval hazard on the survey fixture (issue 10, "Done when").

Run with ``make montecarlo`` (``pytest -m montecarlo -s``); not part of ``make test``.

Design: :func:`gvcpanel.gvc.survey_fixture.simulate_survey` with 4,000 population firms in 30
regions of 3 countries, waves 2009, 2015, 2019 (intervals of 6 and 4 years, 10 for firms that
miss 2015), h1 a three-year recall question, seeds 1..R.  Each panel goes the way a researcher's
would: the survey file through the ``wbes`` mapping, the governance module joined with the
``governance_module`` template, governance classified by the Humphrey-Schmitz rules, then the
interval hazards of process, product and functional upgrading (the DGP's covariates; the
functional hazard with centred network strength and its interaction), CRV1 by region, t(G-1).
Checks for the quasi-hierarchy coefficient of each hazard:

- bias: the mean estimate lies within 3 simulation standard errors (sd / sqrt(R)) of the truth;
- coverage: the share of 95% intervals that contain the truth lies in [0.91, 0.98];
- size: with the three coefficients set to zero, the two-sided 5% test rejects in [0.02, 0.09].
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
FIXTURE = dict(n_firms=4000, n_regions=30, n_countries=3)
RHS = "network + quasi_hierarchy + hierarchy + log(employees) + firm_age + foreign_owned + export_share"
FORMULAS = {
    "process": f"process ~ {RHS}",
    "product": f"product ~ {RHS}",
    "functional": f"functional ~ {RHS} + network_strength_c + quasi_hierarchy:network_strength_c",
}
NULL = {f"{u}_quasi_hierarchy": 0.0 for u in FORMULAS}


def one_replication(args: tuple[int, bool]) -> list[dict[str, float]]:
    seed, null = args
    import gvcpanel as gp
    from gvcpanel.data.modules import join_module
    from gvcpanel.gvc.survey_fixture import simulate_survey

    warnings.simplefilter("ignore")
    fixture = simulate_survey(seed=seed, params=NULL if null else None, **FIXTURE)
    panel = gp.load_panel(fixture.survey, mapping="wbes")
    panel = gp.classify_governance(join_module(panel, fixture.module, mapping="governance_module"))
    rows = []
    for upgrade, formula in FORMULAS.items():
        res = gp.upgrading_hazard(panel, formula)
        truth = fixture.truth.hazard(upgrade)["quasi_hierarchy"]
        ci = res.conf_int(0.95).loc["quasi_hierarchy"]
        rows.append({
            "seed": seed,
            "hazard": upgrade,
            "truth": truth,
            "estimate": float(res.params["quasi_hierarchy"]),
            "std_error": float(res.std_errors["quasi_hierarchy"]),
            "covered": float(ci["lower"] <= truth <= ci["upper"]),
            "rejected": float(res.pvalues["quasi_hierarchy"] < 0.05),
            "nobs": res.nobs,
            "events": res.fit_stats["n_events"],
        })
    return rows


def run(null: bool) -> pd.DataFrame:
    tasks = [(seed, null) for seed in range(1, REPLICATIONS + 1)]
    rows: list[dict[str, float]] = []
    with ProcessPoolExecutor(max_workers=WORKERS) as pool:
        for out in progress(pool.map(one_replication, tasks), total=len(tasks),
                            desc="survey Monte Carlo" + (" (null)" if null else ""), unit="panel"):
            rows.extend(out)
    return pd.DataFrame(rows)


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    grouped = frame.groupby("hazard", sort=False)
    out = grouped.agg(truth=("truth", "first"), mean=("estimate", "mean"), sd=("estimate", "std"),
                      mean_se=("std_error", "mean"), coverage=("covered", "mean"),
                      rejection=("rejected", "mean"), nobs=("nobs", "mean"), events=("events", "mean"))
    out["mc_se"] = out["sd"] / np.sqrt(grouped.size())
    out["bias_in_mc_se"] = (out["mean"] - out["truth"]) / out["mc_se"]
    return out


@pytest.mark.montecarlo
def test_interval_hazard_recovers_quasi_hierarchy_and_covers():
    table = summary(run(null=False))
    print(f"\nsurvey fixture, {REPLICATIONS} panels, true effects\n{table.round(4).to_string()}")
    assert (table["bias_in_mc_se"].abs() < 3).all(), table
    assert table["coverage"].between(0.91, 0.98).all(), table


@pytest.mark.montecarlo
def test_interval_hazard_size_when_the_effect_is_zero():
    table = summary(run(null=True))
    print(f"\nsurvey fixture, {REPLICATIONS} panels, quasi-hierarchy effects 0\n{table.round(4).to_string()}")
    assert (table["truth"] == 0).all()
    assert table["rejection"].between(0.02, 0.09).all(), table
