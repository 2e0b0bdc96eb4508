"""The simulated panel: determinism, structure, classification agreement, recovery of the truth."""

from __future__ import annotations

import time
from dataclasses import fields

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from linearmodels.panel import PanelOLS

from gvcpanel.errors import SpecificationError
from gvcpanel.gvc.governance import classify_frame
from gvcpanel.gvc.simulate import (
    EXAMPLE_SEED,
    MISSING_FIELDS,
    TrueParameters,
    example_panel,
    example_truth,
    simulate_panel,
)


@pytest.fixture(scope="module")
def sim():
    return simulate_panel(n_firms=3000, n_clusters=30, n_countries=6, seed=11)


def test_same_seed_same_panel_other_seed_other_panel():
    first = simulate_panel(n_firms=400, n_clusters=8, n_countries=2, seed=5).frame
    again = simulate_panel(n_firms=400, n_clusters=8, n_countries=2, seed=5).frame
    other = simulate_panel(n_firms=400, n_clusters=8, n_countries=2, seed=6).frame
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(other)


def test_panel_is_unbalanced_without_gaps_and_sorted(sim):
    frame = sim.frame
    assert frame["firm_id"].nunique() == 3000
    assert (frame["year"].min(), frame["year"].max()) == (2005, 2019)
    spans = frame.groupby("firm_id")["year"].agg(["min", "max", "size"])
    assert (spans["max"] - spans["min"] + 1 == spans["size"]).all()  # consecutive years
    assert (spans["min"] > 2005).mean() > 0.3  # entry after the first year
    assert (spans["max"] < 2019).mean() > 0.3  # exit before the last
    assert spans["size"].nunique() > 10
    assert frame[["firm_id", "year"]].equals(frame.sort_values(["firm_id", "year"])[["firm_id", "year"]])


def test_firms_sit_in_one_cluster_and_clusters_in_one_country(sim):
    frame = sim.frame
    assert (frame.groupby("firm_id")["cluster_id"].nunique() == 1).all()
    assert (frame.groupby("cluster_id")["country"].nunique() == 1).all()
    assert frame["cluster_id"].nunique() == 30 and frame["country"].nunique() == 6
    few = simulate_panel(n_firms=600, n_clusters=12, n_countries=3, seed=2).frame
    assert few["cluster_id"].nunique() == 12
    assert (few.groupby("cluster_id")["country"].nunique() == 1).all()


def test_item_missingness_is_counted_and_near_its_rate(sim):
    frame = sim.frame
    n = len(frame)
    for name in MISSING_FIELDS:
        assert int(frame[name].isna().sum()) == sim.missing_counts[name], name
        # binomial band: 0.03 +- 4 standard errors
        assert abs(sim.missing_counts[name] / n - 0.03) < 4 * np.sqrt(0.03 * 0.97 / n), name
    complete = ["governance", "iso_certified", "new_product", "function_level", "employees",
                "firm_age", "foreign_owned", "export_share"]
    assert not frame[complete].isna().any().any()
    none_missing = simulate_panel(n_firms=200, seed=3, missing_rate=0.0).frame
    assert not none_missing[list(MISSING_FIELDS)].isna().any().any()


def test_rules_recover_the_simulated_governance(sim):
    report = classify_frame(sim.frame)
    assert report.kept_input
    assert report.agreement_rate == 1.0
    # every firm-year not classified lacks an indicator: no rule ever fails on complete data
    assert report.reasons.str.startswith("missing ").all()
    complete = simulate_panel(n_firms=800, seed=4, missing_rate=0.0).frame
    assert classify_frame(complete).n_compared == len(complete)
    states = sim.frame["governance"].value_counts(normalize=True)
    assert set(states.index) == {"market", "network", "quasi_hierarchy", "hierarchy"}
    assert states["network"] < states["quasi_hierarchy"]  # networks are the rarer form (P5)
    noisy = classify_frame(simulate_panel(n_firms=800, seed=4, indicator_noise=0.2).frame)
    assert noisy.agreement_rate < 0.95


def test_governance_is_correlated_within_clusters(sim):
    share = sim.frame.assign(qh=sim.frame["governance"] == "quasi_hierarchy").groupby("cluster_id")["qh"].mean()
    overall = share.mean()
    per_cluster = sim.frame.groupby("cluster_id").size()
    binomial_sd = np.sqrt(overall * (1 - overall) / per_cluster.mean())
    assert share.std() > 3 * binomial_sd


def test_network_strength_matches_the_package_definition(sim):
    from gvcpanel.gvc.upgrading import network_strength

    package = network_strength(sim.frame.set_index(["firm_id", "year"]))
    constants = sim.network_strength_constants
    assert constants["log1p_partners_mean"] == pytest.approx(package.mean, rel=1e-12)
    assert constants["log1p_partners_sd"] == pytest.approx(package.sd, rel=1e-12)
    assert constants["index_mean"] == pytest.approx(package.index_mean, rel=1e-12)


def test_left_truncation_and_event_definitions(sim):
    frame = sim.frame
    first = frame.groupby("firm_id").head(1)
    assert 0.1 < first["iso_certified"].mean() < 0.5
    assert (first["function_level"] > 0).mean() > 0.1
    by_firm = frame.groupby("firm_id")
    assert (by_firm["iso_certified"].diff().dropna() >= 0).all()  # certification is absorbing
    steps = by_firm["function_level"].diff().dropna()
    assert set(steps.unique()) <= {0, 1}
    changed = by_firm["sector"].shift() != frame["sector"]
    later = by_firm.cumcount() > 0
    assert (frame.loc[changed & later, "new_sector_entry"] == 1).all()


def test_params_override_changes_only_that_effect():
    base = simulate_panel(n_firms=500, seed=9).frame
    null = simulate_panel(n_firms=500, seed=9, params={"process_quasi_hierarchy": 0.0})
    assert null.truth.process_quasi_hierarchy == 0.0
    pd.testing.assert_series_equal(base["governance"], null.frame["governance"])
    pd.testing.assert_series_equal(base["new_product"], null.frame["new_product"])
    assert not base["iso_certified"].equals(null.frame["iso_certified"])
    with pytest.raises(SpecificationError, match="process_quasi_hierarchy"):
        simulate_panel(n_firms=50, params={"process_qh": 0.0})
    with pytest.raises(SpecificationError, match="missing_rate"):
        simulate_panel(n_firms=50, missing=0.1)


def test_true_parameters_table_and_documented_signs():
    truth = TrueParameters()
    table = truth.to_frame()
    assert table["key"].is_unique
    assert len(table) == len(fields(TrueParameters)) - 1
    assert truth.process_quasi_hierarchy > 0 and truth.product_quasi_hierarchy > 0
    assert truth.functional_quasi_hierarchy < 0 and truth.functional_interaction > 0
    assert min(truth.process_network, truth.product_network, truth.functional_network) > 0
    row = table.set_index("key").loc["functional_interaction"]
    assert row["term"] == "quasi_hierarchy:network_strength_c"
    assert row["scale"] == "log hazard ratio (cloglog)"
    assert truth.baseline("process", (2005, 2007)).tolist() == pytest.approx(
        [-3.30, -3.27, -3.24], abs=1e-12)


def _process_risk_set(frame: pd.DataFrame) -> pd.DataFrame:
    """Built by hand: firms uncertified when first observed, from their second year, through the event."""
    frame = frame.sort_values(["firm_id", "year"])
    previous = frame.groupby("firm_id")["iso_certified"].shift()
    at_risk = previous.eq(0)
    first_certified = frame.groupby("firm_id")["iso_certified"].transform("first") == 1
    return frame.loc[at_risk & ~first_certified]


def test_cloglog_glm_recovers_the_process_effects():
    sim = simulate_panel(n_firms=12000, n_clusters=40, n_countries=8, seed=123)
    risk = _process_risk_set(sim.frame)
    gov = pd.get_dummies(risk["governance"]).astype(float)
    X = pd.concat([
        gov[["network", "quasi_hierarchy", "hierarchy"]],
        np.log(risk["employees"].astype(float)).rename("log_employees"),
        risk[["firm_age", "foreign_owned", "export_share"]].astype(float),
        pd.get_dummies(risk["year"], prefix="year").astype(float),
    ], axis=1)
    model = sm.GLM(risk["iso_certified"].astype(float), X,
                   family=sm.families.Binomial(link=sm.families.links.CLogLog()))
    fit = model.fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(risk["cluster_id"])[0]})
    truth = sim.truth
    for term, key in [("quasi_hierarchy", "process_quasi_hierarchy"), ("network", "process_network"),
                      ("log_employees", "process_log_employees"), ("export_share", "process_export_share")]:
        z = (fit.params[term] - getattr(truth, key)) / fit.bse[term]
        assert abs(z) < 3.5, (term, fit.params[term], fit.bse[term])
    assert fit.params["quasi_hierarchy"] > 0
    baseline = truth.baseline("process", (2006, 2019))
    estimated = fit.params[[f"year_{y}" for y in baseline.index]].to_numpy()
    assert np.abs(estimated - baseline.to_numpy()).mean() < 0.15


def test_two_way_fixed_effects_recover_the_productivity_effects(sim):
    data = sim.frame.dropna(subset=["labour_productivity"]).set_index(["firm_id", "year"])
    gov = pd.get_dummies(data["governance"]).astype(float)
    exog = pd.concat([gov[["network", "quasi_hierarchy", "hierarchy"]],
                      np.log(data["employees"].astype(float)).rename("log_employees"),
                      data[["foreign_owned", "export_share"]].astype(float)], axis=1)
    fit = PanelOLS(data["labour_productivity"].astype(float), exog, entity_effects=True,
                   time_effects=True).fit(cov_type="clustered", clusters=pd.factorize(data["cluster_id"])[0])
    for term in ["quasi_hierarchy", "network", "hierarchy"]:
        truth = getattr(sim.truth, f"productivity_{term}")
        assert abs(fit.params[term] - truth) < 3.5 * fit.std_errors[term], term


def test_example_panel_is_the_documented_default():
    panel = example_panel()
    data = panel.data
    assert panel.n_firms == 3000
    assert data["cluster_id"].nunique() == 30 and data["country"].nunique() == 6
    assert (min(panel.years), max(panel.years)) == (2005, 2019)
    assert example_truth() == TrueParameters()
    fresh = simulate_panel(seed=EXAMPLE_SEED).frame.set_index(["firm_id", "year"])
    assert np.array_equal(fresh["iso_certified"].to_numpy(), data["iso_certified"].to_numpy(dtype=int))


@pytest.mark.bench
def test_simulation_is_fast_enough_for_a_monte_carlo():
    simulate_panel(seed=0)
    start = time.perf_counter()
    for seed in range(5):
        simulate_panel(seed=seed)
    assert (time.perf_counter() - start) / 5 < 1.0


# --- the dynamics block (issue 11): transitions, lock-in, diversification, capability score -----
#: sha256 of pandas.util.hash_pandas_object over the example panel's 31 columns as they were before
#: the dynamics block existed (commit 0fc926b, pandas pinned in constraints.txt): the block adds
#: columns from its own random stream and must leave every existing one bit for bit as it was
EXAMPLE_COLUMNS_SHA256 = "36b9d8281b88b0bb59baf2e924af9955af34aa43151f82ddcb4b1c194ca7d8ce"
EXAMPLE_COLUMNS = [
    "firm_id", "year", "cluster_id", "country", "sector", "new_sector_entry", "main_buyer_share", "n_buyers",
    "buyer_sets_design", "buyer_monitors_process", "buyer_owned", "joint_development", "global_buyer",
    "governance", "transaction_complexity", "codifiability", "supplier_capability", "iso_certified",
    "labour_productivity", "defect_rate", "new_product", "unit_value", "function_level", "n_partners",
    "alliance", "university_link", "association_member", "employees", "firm_age", "foreign_owned",
    "export_share",
]


def test_dynamics_block_leaves_the_existing_example_columns_unchanged():
    import hashlib

    frame = simulate_panel(n_firms=3000, n_clusters=30, n_countries=6, years=(2005, 2019),
                           seed=EXAMPLE_SEED).frame
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame[EXAMPLE_COLUMNS], index=True)
                            .to_numpy().tobytes()).hexdigest()
    assert digest == EXAMPLE_COLUMNS_SHA256
    assert {"capability_score", "new_buyer_or_market"} <= set(frame.columns)


def test_dynamics_parameters_change_only_their_own_columns():
    base = simulate_panel(n_firms=600, seed=21).frame
    diversified = simulate_panel(n_firms=600, seed=21, params={"diversification_locked_in": 0.0}).frame
    others = [c for c in base.columns if c != "new_buyer_or_market"]
    pd.testing.assert_frame_equal(base[others], diversified[others], check_exact=True)
    assert not base["new_buyer_or_market"].equals(diversified["new_buyer_or_market"])
    functional = simulate_panel(n_firms=600, seed=21, params={"functional_global_buyer": -1.0}).frame
    others = [c for c in base.columns if c != "function_level"]
    pd.testing.assert_frame_equal(base[others], functional[others], check_exact=True)
    assert not base["function_level"].equals(functional["function_level"])


def test_capability_score_is_the_latent_capability_that_drives_transitions():
    sim = simulate_panel(n_firms=2000, seed=22)
    frame = sim.frame.sort_values(["firm_id", "year"])
    assert frame["capability_score"].isna().sum() == sim.missing_counts["capability_score"] > 0
    # capability grows within firms (growth ~ U(0, 0.2) a year) and never falls
    steps = frame.groupby("firm_id")["capability_score"].diff().dropna()
    assert steps.min() >= -0.0015 and 0.05 < steps.mean() < 0.15
    # quasi-hierarchical firms that move to network next year are more capable than those that stay
    nxt = frame.groupby("firm_id")["governance"].shift(-1)
    qh = frame[(frame["governance"] == "quasi_hierarchy") & nxt.notna()]
    moved = qh["capability_score"][nxt[qh.index] == "network"].mean()
    stayed = qh["capability_score"][nxt[qh.index] == "quasi_hierarchy"].mean()
    assert moved > stayed + 0.5


def test_transition_forms_give_the_documented_probabilities():
    from scipy.special import expit

    from gvcpanel.gvc.simulate import _transition_probabilities

    tp = TrueParameters()
    prev = np.array([0, 1, 2, 3, 2], dtype=np.int8)
    k = np.array([0.5, -1.0, 1.5, 0.0, -2.0])
    lam = np.array([0.3, 0.0, -0.4, 0.1, 0.2])
    arrival = np.array([0.2, 0.0, 0.0, 0.0, 0.0])
    competing = _transition_probabilities(tp, "competing", prev, k, lam, arrival)
    np.testing.assert_allclose(competing.sum(axis=1), 1.0, rtol=1e-15)
    assert competing[2, 1] == expit(-4.0 + 0.8 * 1.5)
    assert competing[2, 0] == expit(-3.0 + 0.4 * 1.5 - 0.5 * -0.4)
    assert competing[0, 2] == expit(-2.2 + 0.3 + 0.2 - 0.2 * 0.5)
    assert competing[3, 2] == 0.03 and competing[3, 0] == 0.0
    multinomial = _transition_probabilities(tp, "multinomial", prev, k, lam, arrival)
    np.testing.assert_allclose(multinomial.sum(axis=1), 1.0, rtol=1e-15)
    score = np.array([-3.0 + 0.4 * 1.5 - 0.5 * -0.4, -4.0 + 0.8 * 1.5, 0.0, np.log(0.01 / 0.99)])
    np.testing.assert_allclose(multinomial[2], np.exp(score) / np.exp(score).sum(), rtol=1e-13)
    with pytest.raises(SpecificationError, match="transition_form"):
        simulate_panel(n_firms=50, transition_form="markov")


def test_truth_table_names_transition_terms_as_the_model_does():
    table = TrueParameters().to_frame().set_index("key")
    assert table.loc["transition_qh_network_capability", "term"] == "quasi_hierarchy->network:capability_score"
    assert table.loc["transition_market_qh_level", "term"] == "market->quasi_hierarchy:Intercept"
    assert table.loc["diversification_locked_in", "outcome"].startswith("diversification hazard")
    assert table.loc["functional_global_buyer", "value"] == 0.0
    assert TrueParameters().baseline("diversification", (2005, 2006)).tolist() == pytest.approx([-2.30, -2.28],
                                                                                                  abs=1e-12)
