"""Transition tables and the multinomial-logit transition model (gvcpanel.models.transition).

References: ``tests/reference/make_transition_reference.R`` (R 4.2.2, nnet 7.3-18, numDeriv;
versions in ``transition_reference_versions.txt``) run on ``transition_panel.csv`` (written by
``make_transition_panel.py``).  nnet's BFGS is run to reltol 1e-16; its gradient at the optimum is
below 1e-5, so its coefficients are accurate to about 1e-7, and the tests ask for 1e-6.
"""

from __future__ import annotations

import pickle
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from gvcpanel.errors import ConvergenceError, IdentificationError, PanelStructureError, SpecificationError
from gvcpanel.models import multinomial as mnl
from gvcpanel.models.transition import transition_model, transition_pairs, transition_table

REFERENCE = Path(__file__).resolve().parent / "reference"
STATES = ("a", "b", "c")


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "transition_panel.csv").rename(columns={"unit": "firm_id", "period": "year"})


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "transition_reference.csv")


def _fit(panel: pd.DataFrame, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 15 clusters: FewClustersWarning is expected here
        return transition_model(panel, "state ~ x1 + x2", cluster="cluster", **kwargs)


# --- counts ----------------------------------------------------------------------------------------
def _hand_tabulation(panel: pd.DataFrame) -> tuple[Counter, Counter]:
    """Pairs and reasons counted row by row with plain Python, no pandas grouping."""
    rows = sorted(panel.itertuples(index=False), key=lambda r: (r.firm_id, r.year))
    pairs, reasons = Counter(), Counter()
    for pos, row in enumerate(rows):
        following = rows[pos + 1] if pos + 1 < len(rows) and rows[pos + 1].firm_id == row.firm_id else None
        if not isinstance(row.state, str):
            reasons["state missing in t"] += 1
        elif following is None:
            reasons["last observed period of the unit (no next period)"] += 1
        elif following.year != row.year + 1:
            reasons["next period not observed (gap)"] += 1
        elif not isinstance(following.state, str):
            reasons["state missing in the next period"] += 1
        else:
            pairs[(row.state, following.state)] += 1
    return pairs, reasons


def test_counts_equal_r_and_a_hand_tabulation(panel):
    table = transition_table(panel, "state")
    ref = pd.read_csv(REFERENCE / "transition_counts.csv", keep_default_na=False)
    counts = ref[ref["kind"] == "count"]
    hand_pairs, hand_reasons = _hand_tabulation(panel)
    for row in counts.itertuples():
        assert table.counts.loc[row.origin, row.destination] == row.n
        assert hand_pairs[(row.origin, row.destination)] == row.n
    assert table.n_pairs == counts["n"].sum() == 2861
    assert table.counts["total"].iloc[:-1].tolist() == table.counts.loc[list(STATES), list(STATES)].sum(axis=1).tolist()
    np.testing.assert_allclose(table.shares.loc[list(STATES)].sum(axis=1), 1.0, rtol=1e-14)
    assert table.shares.loc["a", "b"] == pytest.approx(118 / 957, rel=1e-14)
    reasons = ref[(ref["kind"] == "reason") & (ref["origin"] != "pair")].set_index("origin")["n"]
    mine = table.exclusions.set_index("reason")["n_rows"]
    assert mine.sort_index().to_dict() == reasons.sort_index().to_dict() == dict(hand_reasons)
    assert mine.sum() + table.n_pairs == len(panel)  # every row counted exactly once
    tidy = table.to_frame()
    assert len(tidy) == 9 and tidy["count"].sum() == 2861


def test_next_observed_spacing_pairs_across_gaps(panel):
    consecutive = transition_pairs(panel, "state")
    spanning = transition_pairs(panel, "state", spacing="next_observed")
    gaps = consecutive.exclusions.set_index("reason")["n_rows"]["next period not observed (gap)"]
    lost_to_next_missing = spanning.n_pairs - consecutive.n_pairs
    assert 0 < lost_to_next_missing <= gaps
    assert (spanning.frame["gap"] >= 1).all() and (spanning.frame["gap"] > 1).sum() == lost_to_next_missing
    assert (consecutive.frame["gap"] == 1).all()
    assert "next period not observed (gap)" not in set(spanning.exclusions["reason"])


# --- the model against nnet::multinom --------------------------------------------------------------
@pytest.mark.parametrize("model, by_origin", [("by_origin", True), ("common_slopes", False)])
def test_coefficients_and_standard_errors_equal_nnet(panel, reference, model, by_origin):
    res = _fit(panel, by_origin=by_origin)
    ref = reference[reference["model"] == model].set_index("term")
    assert list(res.params.index) == list(ref.index)
    assert res.nobs == 2690 and res.n_clusters == 15
    np.testing.assert_allclose(res.params, ref["estimate"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(res.std_errors, ref["se_cluster"], rtol=1e-6)
    np.testing.assert_allclose(res.with_inference("unadjusted").std_errors, ref["se_model"], rtol=1e-6)
    exclusions = res.exclusions.set_index("reason")["n_rows"]
    assert exclusions.sum() + res.nobs == len(panel)


def test_probabilities_equal_r_delta_method(panel):
    res = _fit(panel)
    ref = pd.read_csv(REFERENCE / "transition_probabilities.csv").set_index(["origin", "destination", "x1"])
    assert ref["x2"].iloc[0] == pytest.approx(res.means["x2"], rel=1e-14)
    mine = res.probabilities({"x1": [-1, 0, 1]}).set_index(["origin", "destination", "x1"]).loc[ref.index]
    np.testing.assert_allclose(mine["probability"], ref["probability"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(mine["std_error"], ref["std_error"], rtol=1e-5)
    np.testing.assert_allclose(mine[["ci_low", "ci_high"]], ref[["ci_low", "ci_high"]], rtol=0, atol=1e-6)
    sums = mine.groupby(level=["origin", "x1"])["probability"].sum()
    np.testing.assert_allclose(sums, 1.0, rtol=1e-12)
    matrix = res.matrix({"x1": 0.0})
    assert matrix.loc["b", "c"] == pytest.approx(mine.loc[("b", "c", 0), "probability"], rel=1e-12)


# --- the engine ---------------------------------------------------------------------------------
def _mnl_data(seed: int = 1, n: int = 3000):
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.normal(size=n)])
    B = np.array([[0.5, 1.0, -1.0], [-0.5, 0.3, 0.8]])
    prob = mnl.probabilities(X, B.ravel(), 3, 0)
    y = (rng.random(n)[:, None] > np.cumsum(prob, axis=1)[:, :-1]).sum(axis=1)
    return X, y


def test_multinomial_engine_equals_statsmodels():
    X, y = _mnl_data()
    fit = mnl.fit_multinomial(X, y, 3, 0)
    ref = sm.MNLogit(y, X).fit(disp=0, method="newton", tol=1e-14, maxiter=200)
    np.testing.assert_allclose(fit.params, ref.params.T.ravel(), rtol=0, atol=1e-8)
    assert fit.loglik == pytest.approx(ref.llf, rel=1e-12)
    cov = np.linalg.inv(mnl.information(X, fit.params, 3, 0))
    np.testing.assert_allclose(np.sqrt(np.diag(cov)), ref.bse.T.ravel(), rtol=1e-8)


def test_information_and_probability_gradient_equal_finite_differences():
    X, y = _mnl_data(seed=2, n=500)
    theta = np.array([0.2, -0.4, 0.6, -0.3, 0.5, 0.1])
    eps = 1e-6
    gradient = lambda t: mnl.scores(X, y, t, 3, 1).sum(axis=0)  # noqa: E731
    numeric = np.column_stack([(gradient(theta + eps * e) - gradient(theta - eps * e)) / (2 * eps)
                               for e in np.eye(6)])
    np.testing.assert_allclose(-numeric, mnl.information(X, theta, 3, 1), rtol=1e-6, atol=1e-6)
    x = X[7]
    prob = lambda t: mnl.probabilities(x[None, :], t, 3, 1)[0]  # noqa: E731
    numeric_jac = np.column_stack([(prob(theta + eps * e) - prob(theta - eps * e)) / (2 * eps) for e in np.eye(6)])
    np.testing.assert_allclose(mnl.probability_gradient(x, prob(theta), 1), numeric_jac, rtol=1e-6, atol=1e-9)


def test_separation_raises_convergence_error_naming_a_coefficient():
    rng = np.random.default_rng(3)
    x = rng.normal(size=200)
    y = (x > 0).astype(int)  # x predicts the category perfectly
    with pytest.raises(ConvergenceError, match="separation|singular"):
        mnl.fit_multinomial(np.column_stack([np.ones(200), x]), y, 2, 0, names=["c", "x"])


# --- results, structural zeros, errors ------------------------------------------------------------
def test_result_is_immutable_pickles_and_with_inference_returns_a_new_result(panel):
    res = _fit(panel)
    with pytest.raises(AttributeError):
        res.nobs = 1  # type: ignore[misc]
    other = res.with_inference("unadjusted")
    assert other is not res and res.inference.spec.kind == "cluster"
    np.testing.assert_array_equal(other.params, res.params)
    again = pickle.loads(pickle.dumps(res))
    pd.testing.assert_frame_equal(again.probabilities(), res.probabilities())
    assert res.table.n_pairs == res.nobs
    frame = res.to_frame()
    assert list(frame.index) == list(res.params.index)


def test_never_observed_moves_get_probability_zero_and_no_parameters():
    rows = []
    rng = np.random.default_rng(4)
    for unit in range(300):
        state = "a" if unit % 3 else "c"
        for year in range(6):
            x = rng.normal()
            rows.append((unit, year, state, x, f"g{unit % 10}"))
            if state == "a":
                move = np.exp([0.0, -1.5 + 0.5 * x, -2.0 - 0.5 * x])
                state = rng.choice(["a", "b", "c"], p=move / move.sum())
            elif state == "b":
                state = rng.choice(["a", "b"], p=[0.3, 0.7])  # b never moves to c
            # c is absorbing: it never leaves
    frame = pd.DataFrame(rows, columns=["firm_id", "year", "state", "x", "g"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = transition_model(frame, "state ~ x", cluster="g")
    assert res.fit_stats["never_observed"]["b"] == ["c"]
    assert res.fit_stats["never_observed"]["c"] == ["a", "b"]
    assert not any(name.startswith(("c->", "b->c")) for name in res.params.index)
    probs = res.probabilities().set_index(["origin", "destination"])
    assert probs.loc[("b", "c"), "probability"] == 0.0 and not probs.loc[("b", "c"), "estimated"]
    assert probs.loc[("c", "c"), "probability"] == 1.0
    with pytest.raises(IdentificationError, match="c->a"):
        transition_model(frame, "state ~ x", cluster="g", by_origin=False)


def test_bad_arguments_get_the_package_errors(panel):
    with pytest.raises(SpecificationError, match="spacing"):
        transition_table(panel, "state", spacing="annual")
    with pytest.raises(SpecificationError, match="no column 'regime'"):
        transition_table(panel, "regime")
    with pytest.raises(SpecificationError, match=r"\['c'\].*not in states"):
        transition_table(panel, "state", states=("a", "b"))
    with pytest.raises(PanelStructureError, match="must be unique"):
        transition_table(pd.concat([panel, panel.head(1)]), "state")
    with pytest.raises(SpecificationError, match="reserved"):
        transition_model(panel.assign(Intercept=panel["x1"]), "state ~ Intercept", cluster="cluster")
    with pytest.raises(SpecificationError, match="needs its intercepts"):
        transition_model(panel, "state ~ x1 - 1", cluster="cluster")
    with pytest.raises(SpecificationError, match="'<state column> ~ covariates'"):
        transition_model(panel, "state", cluster="cluster")
    constant = panel.assign(k=1.0)
    with pytest.raises(IdentificationError, match="'x1' takes the single value"):
        _fit(constant.assign(x1=constant["k"]))
    res = _fit(panel)
    with pytest.raises(SpecificationError, match="not covariates"):
        res.probabilities({"x3": [0.0]})
    with pytest.raises(SpecificationError, match="origins"):
        res.probabilities(origins=["z"])
    with pytest.raises(SpecificationError, match="one value per covariate"):
        res.matrix({"x1": [0.0, 1.0]})


# --- recovery on the simulator ---------------------------------------------------------------------
def test_transition_model_recovers_the_simulated_moves_out_of_quasi_hierarchy():
    """Multinomial transition form: the model is correctly specified for moves out of quasi-hierarchy."""
    from gvcpanel.gvc.simulate import simulate_panel
    from gvcpanel.gvc.transitions import governance_transition_model

    sim = simulate_panel(n_firms=6000, n_clusters=30, seed=31, transition_form="multinomial",
                         params={"transition_qh_market_propensity": 0.0})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = governance_transition_model(sim.frame, "governance ~ capability_score")
    truth = sim.truth
    checks = {
        "quasi_hierarchy->network:capability_score": truth.transition_qh_network_capability,
        "quasi_hierarchy->network:Intercept": truth.transition_qh_network_level,
        "quasi_hierarchy->market:capability_score": truth.transition_qh_market_capability,
        "quasi_hierarchy->market:Intercept": truth.transition_qh_market_level,
        "quasi_hierarchy->hierarchy:capability_score": 0.0,
        "quasi_hierarchy->hierarchy:Intercept": np.log(0.01 / 0.99),
    }
    for name, value in checks.items():
        z = (res.params[name] - value) / res.std_errors[name]
        assert abs(z) < 3.5, (name, res.params[name], res.std_errors[name], value)
