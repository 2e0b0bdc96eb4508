"""Monte Carlo study of the governance transition model on the package's simulated panels.

Run with ``make montecarlo`` (``pytest -m montecarlo -s``); not part of ``make test``.

Design: ``simulate_panel`` with the example's dimensions (3,000 firms, 30 clusters, 6 countries,
2005-2019), seeds 5001..5000+R, ``transition_form="multinomial"`` and the unobserved cluster
propensity removed from the quasi-hierarchy -> market move
(``transition_qh_market_propensity = 0``), so that the multinomial logit of next year's
governance on ``capability_score`` is correctly specified for the moves out of quasi-hierarchy
(H6).  CRV1 by ``cluster_id``, t(G-1).  Checks, for the capability slopes and intercepts of the
three moves out of quasi-hierarchy and for the delta-method interval of the probability of
moving to network at capability 1:

- bias: the mean estimate lies within 3 simulation standard errors of the truth;
- coverage: the share of 95% intervals containing the truth lies in [0.91, 0.98].

The probability truth is :math:`e^{s_\\text{net}} / (1 + e^{s_\\text{mkt}} + e^{s_\\text{net}} +
e^{s_\\text{hier}})` with the scores of :func:`gvcpanel.gvc.simulate._transition_probabilities`
at capability 1.
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
import pytest

REPLICATIONS = int(os.environ.get("GVCPANEL_MC_REPS", "200"))
WORKERS = int(os.environ.get("GVCPANEL_MC_WORKERS", "2"))
PARAMS = {"transition_qh_market_propensity": 0.0}
HIERARCHY_SCORE = float(np.log(0.01 / 0.99))


def targets(truth) -> dict[str, float]:
    return {
        "quasi_hierarchy->network:capability_score": truth.transition_qh_network_capability,
        "quasi_hierarchy->network:Intercept": truth.transition_qh_network_level,
        "quasi_hierarchy->market:capability_score": truth.transition_qh_market_capability,
        "quasi_hierarchy->market:Intercept": truth.transition_qh_market_level,
        "quasi_hierarchy->hierarchy:capability_score": 0.0,
        "quasi_hierarchy->hierarchy:Intercept": HIERARCHY_SCORE,
    }


def true_probability_to_network(truth, capability: float = 1.0) -> float:
    scores = np.array([
        truth.transition_qh_market_level + truth.transition_qh_market_capability * capability,
        truth.transition_qh_network_level + truth.transition_qh_network_capability * capability,
        0.0,
        HIERARCHY_SCORE,
    ])
    return float(np.exp(scores[1]) / np.exp(scores).sum())


def one_replication(seed: int) -> list[dict[str, float]]:
    from gvcpanel.gvc.simulate import simulate_panel
    from gvcpanel.gvc.transitions import governance_transition_model

    warnings.simplefilter("ignore")
    sim = simulate_panel(seed=seed, transition_form="multinomial", params=PARAMS)
    res = governance_transition_model(sim.frame, "governance ~ capability_score")
    ci = res.conf_int(0.95)
    rows = []
    for name, truth in targets(sim.truth).items():
        rows.append({"seed": seed, "target": name, "truth": truth, "estimate": float(res.params[name]),
                     "covered": float(ci.loc[name, "lower"] <= truth <= ci.loc[name, "upper"])})
    prob = res.probabilities({"capability_score": [1.0]}, origins=["quasi_hierarchy"]).set_index("destination")
    truth = true_probability_to_network(sim.truth)
    p = prob.loc["network"]
    rows.append({"seed": seed, "target": "P(quasi_hierarchy->network | capability 1)", "truth": truth,
                 "estimate": float(p["probability"]),
                 "covered": float(p["ci_low"] <= truth <= p["ci_high"])})
    return rows


def summarise(frame: pd.DataFrame) -> pd.DataFrame:
    g = frame.groupby("target")
    out = pd.DataFrame({
        "truth": g["truth"].first(),
        "mean": g["estimate"].mean(),
        "sim_se": g["estimate"].std(ddof=1) / np.sqrt(g.size()),
        "coverage": g["covered"].mean(),
        "replications": g.size(),
    })
    out["bias_in_se"] = (out["mean"] - out["truth"]) / out["sim_se"]
    return out


@pytest.mark.montecarlo
def test_bias_and_coverage_of_the_transition_model():
    seeds = range(5001, 5001 + REPLICATIONS)
    with ProcessPoolExecutor(max_workers=WORKERS) as pool:
        frame = pd.DataFrame([r for chunk in pool.map(one_replication, seeds) for r in chunk])
    summary = summarise(frame)
    print(f"\nMonte Carlo, transition model, {REPLICATIONS} panels\n{summary.round(4).to_string()}")
    assert (summary["replications"] == REPLICATIONS).all()
    assert (summary["bias_in_se"].abs() < 3).all(), summary
    assert summary["coverage"].between(0.91, 0.98).all(), summary
