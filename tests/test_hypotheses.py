import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from gvcpanel.errors import SpecificationError
from gvcpanel.gvc.hypotheses import (
    DEFAULT_HYPOTHESES,
    Hypothesis,
    family_bootstrap,
    fit_model,
    test_hypotheses as run_hypotheses,
    verdict,
)
from gvcpanel.gvc.simulate import simulate_panel
from gvcpanel.inference.spec import InferenceSpec

COLUMNS = ["id", "statement", "specification", "outcome", "estimator", "term", "estimate", "std_error",
           "p_one_sided", "p_two_sided", "ci_low", "ci_high", "expected_sign", "n_obs", "n_firms",
           "n_clusters", "inference", "verdict", "note"]


@pytest.fixture(scope="module")
def panel(simulated):
    return simulated(n_firms=900, seed=11).panel


@pytest.fixture(scope="module")
def report(panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_hypotheses(panel)


def test_verdict_rules():
    assert verdict(0.01, 0.99, 0.05) == "supported"
    assert verdict(0.60, 0.40, 0.05) == "not supported"
    assert verdict(0.99, 0.01, 0.05) == "contradicted"


def test_hypothesis_checks_its_own_definition():
    with pytest.raises(SpecificationError, match="sign"):
        Hypothesis("X", "s", "hazard", "process", "network", ">=")
    with pytest.raises(SpecificationError, match="not among its covariates"):
        Hypothesis("X", "s", "hazard", "process", "alliance", ">")
    with pytest.raises(SpecificationError, match="estimator"):
        Hypothesis("X", "s", "probit", "process", "network", ">")


def test_table_has_one_row_per_registered_test(report):
    table = report.table()
    assert list(table.columns) == COLUMNS
    assert len(table) == len(DEFAULT_HYPOTHESES)
    assert list(zip(table["id"], table["specification"])) == [(h.id, h.specification) for h in DEFAULT_HYPOTHESES]
    assert (table["n_clusters"] == 30).all()
    # H3 main and H4 share one estimated model
    assert report.result_for(DEFAULT_HYPOTHESES[4]) is report.result_for(DEFAULT_HYPOTHESES[6])


def test_rows_reproduce_the_models_numbers(panel, report):
    table = report.table()
    for hyp, (_, row) in zip(DEFAULT_HYPOTHESES, table.iterrows()):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = fit_model(panel, hyp, InferenceSpec(), "cluster_id")
        np.testing.assert_allclose(row["estimate"], res.params[hyp.term], rtol=1e-12)
        t = res.params[hyp.term] / res.std_errors[hyp.term]
        df = res.n_clusters - 1
        expected = stats.t.sf(t, df) if hyp.sign == ">" else stats.t.cdf(t, df)
        np.testing.assert_allclose(row["p_one_sided"], expected, rtol=1e-10, atol=1e-300)
        np.testing.assert_allclose(row["p_two_sided"], 2 * stats.t.sf(abs(t), df), rtol=1e-10, atol=1e-300)
        half = stats.t.ppf(0.975, df) * res.std_errors[hyp.term]
        np.testing.assert_allclose([row["ci_low"], row["ci_high"]],
                                   [res.params[hyp.term] - half, res.params[hyp.term] + half], rtol=1e-10)
        assert row["n_obs"] == res.nobs


def test_moderation_is_reported_for_h4(report):
    mod = report.moderation
    assert list(mod.table.index) == ["p25", "p50", "p75"]
    res = report.result_for(DEFAULT_HYPOTHESES[6])
    b = res.params
    m = mod.table["moderator"].to_numpy()
    np.testing.assert_allclose(mod.table["effect"], b["quasi_hierarchy"] + b["quasi_hierarchy:network_strength_c"] * m,
                               rtol=1e-12)


def test_a_reversed_truth_is_contradicted(simulated):
    sim = simulated(n_firms=1500, seed=5, params={"process_quasi_hierarchy": -0.9})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        row = run_hypotheses(sim.panel, hypotheses=["H1"]).table().iloc[0]
    assert row["estimate"] < 0
    assert row["verdict"] == "contradicted"


def test_user_hypothesis_and_governance_measure(panel):
    mine = Hypothesis("P8", "Dependence on the main buyer lowers the number of partners", "fe", "n_partners",
                      "main_buyer_share", "<", ("main_buyer_share", "log(employees)"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = run_hypotheses(panel, hypotheses=[mine]).table()
        swapped = run_hypotheses(panel, hypotheses=["H1"], governance_measure="main_buyer_share").table()
    assert table.loc[0, "id"] == "P8" and table.loc[0, "term"] == "main_buyer_share"
    assert list(swapped["term"]) == ["main_buyer_share", "main_buyer_share"]
    assert "main_buyer_share" in swapped.loc[0, "statement"]


def test_unknown_hypothesis_and_bad_options(panel):
    with pytest.raises(SpecificationError, match="not registered"):
        run_hypotheses(panel, hypotheses=["H9"])
    with pytest.raises(SpecificationError, match="adjust"):
        run_hypotheses(panel, adjust="bonferroni")


def test_holm_adjustment_equals_statsmodels(panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = run_hypotheses(panel, hypotheses=["H1", "H5"], adjust="holm").table()
    expected = multipletests(table["p_one_sided"], method="holm")[1]
    np.testing.assert_allclose(table["p_adjusted"], expected, rtol=1e-12)


def test_family_bootstrap_shares_draws_and_romano_wolf_bounds(panel, report):
    hyps = [DEFAULT_HYPOTHESES[i] for i in (1, 3, 6)]  # two least-squares tests and one hazard
    results = [report.result_for(h) for h in hyps]
    spec = InferenceSpec(kind="wild", draws=499, seed=3)
    fam = family_bootstrap(results, [h.term for h in hyps], [h.sign for h in hyps], spec)
    assert fam.t_boot.shape == (499, 3)
    assert fam.methods == ("wild (restricted)", "wild (restricted)", "score")
    # a single test's bootstrap is the same whether or not it shares the family's draws
    alone = family_bootstrap(results[:1], [hyps[0].term], [hyps[0].sign], spec)
    np.testing.assert_allclose(alone.t_boot[:, 0], fam.t_boot[:, 0], rtol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rw = run_hypotheses(panel, hypotheses=["H1", "H4"], adjust="romano_wolf",
                            inference=InferenceSpec(draws=499, seed=3)).table()
    assert (rw["p_adjusted"] >= 0).all() and (rw["p_adjusted"] <= 1).all()


# --- H6-H8 (issue 11) ---------------------------------------------------------------------------
def test_dynamics_family_is_registered_but_not_in_the_default():
    from gvcpanel.gvc.hypotheses import DYNAMICS_HYPOTHESES, REGISTRY, _select

    assert _select("all") == DEFAULT_HYPOTHESES == _select("default")
    assert _select("dynamics") == DYNAMICS_HYPOTHESES
    assert _select("registry") == REGISTRY
    assert [h.id for h in _select(["H6"])] == ["H6", "H6"]
    h6 = _select("H6")
    assert h6[0].model_label == h6[1].model_label  # both moves come from one transition model
    assert h6[0].coefficient == "quasi_hierarchy->network:capability_score"
    with pytest.raises(SpecificationError, match="families"):
        _select("H9")


def test_h6_to_h8_recover_their_true_values_on_the_example_panel():
    """Truths from TrueParameters; tolerance three standard errors of each estimate.

    H6's truth is the structural coefficient of the example's competing-logit moves, which the
    multinomial logit approximates (its estimand is about 0.05 above it; see the README)."""
    from gvcpanel.gvc.simulate import example_panel, example_truth

    truth = example_truth()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = run_hypotheses(example_panel(), "dynamics")
    rows = report.table().set_index(["id", "specification"])
    expected = {
        ("H6", "to network"): truth.transition_qh_network_capability,
        ("H6", "to market"): truth.transition_qh_market_capability,
        ("H7", "diversification"): truth.diversification_locked_in,
        ("H7", "diversification: share"): truth.diversification_main_buyer_share,
        ("H7", "functional"): truth.functional_locked_in,
        ("H8", "main"): truth.functional_global_buyer,
    }
    assert set(expected) == set(rows.index)
    for key, value in expected.items():
        row = rows.loc[key]
        assert abs(row["estimate"] - value) < 3 * row["std_error"], (key, row["estimate"], row["std_error"], value)
    verdicts = rows["verdict"].to_dict()
    assert verdicts[("H6", "to network")] == verdicts[("H6", "to market")] == "supported"
    assert verdicts[("H7", "diversification")] == "supported"
    assert rows.loc[("H6", "to network"), "n_obs"] == report.result_for(_h("H6", "to market")).nobs


def _h(hid, spec):
    from gvcpanel.gvc.hypotheses import REGISTRY

    return next(h for h in REGISTRY if h.id == hid and h.specification == spec)


def test_a_hazard_that_does_not_converge_is_not_estimable_and_the_rest_is_reported():
    # 120 firms (seed 4): no functional step among hierarchy firms, so no maximum exists
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        panel = simulate_panel(n_firms=120, seed=4).panel
        report = run_hypotheses(panel, hypotheses=["H1", "H3"])
    table = report.table().set_index(["id", "specification"])
    assert (table.xs("H3")["verdict"] == "not estimable").all()
    assert table.xs("H3")["note"].str.contains("did not converge").all()
    assert table.xs("H3")["note"].str.contains("perfectly separates").all()
    assert np.isfinite(table.loc[("H1", "main"), "estimate"])
