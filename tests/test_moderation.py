"""Conditional effects by the delta method and Johnson-Neyman boundaries, checked by hand."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from gvcpanel.errors import SpecificationError
from gvcpanel.gvc.hazard import upgrading_hazard
from gvcpanel.models.moderation import johnson_neyman, moderation
from gvcpanel.inference.spec import Inference, InferenceSpec
from gvcpanel.results import EstimationResult, ModelSpec

TERMS = ["quasi_hierarchy", "network_strength_c", "quasi_hierarchy:network_strength_c"]


def result_with(params, cov, df=29, estimator="discrete_hazard", method="cloglog") -> EstimationResult:
    """A result carrying the given estimates and covariance (no fitted model)."""
    params = pd.Series(params, index=TERMS, dtype=float)
    cov = pd.DataFrame(np.asarray(cov, dtype=float), index=TERMS, columns=TERMS)
    spec = ModelSpec(estimator=estimator, method=method, dependent="y", regressors=tuple(TERMS))
    inference = Inference(InferenceSpec(), "given", cov, df)
    return EstimationResult(spec=spec, params=params, inference=inference, nobs=100, n_firms=20,
                            dep_mean=0.1, exclusions=pd.DataFrame(columns=["reason", "n_rows"]))


COV = [[0.010, 0.001, -0.002], [0.001, 0.003, 0.0005], [-0.002, 0.0005, 0.004]]
FOCAL, MODERATOR = "quasi_hierarchy", "network_strength_c"


def test_delta_method_by_hand():
    res = result_with([-0.5, 0.2, 0.3], COV)
    mod = moderation(res, FOCAL, MODERATOR, at={"low": -1.0, "mid": 0.0, "high": 2.0})
    t_crit = stats.t.ppf(0.975, 29)
    for label, m in (("low", -1.0), ("mid", 0.0), ("high", 2.0)):
        effect = -0.5 + 0.3 * m
        se = math.sqrt(0.010 + 2 * m * (-0.002) + m * m * 0.004)
        row = mod.table.loc[label]
        assert row["effect"] == pytest.approx(effect, rel=1e-14)
        assert row["std_error"] == pytest.approx(se, rel=1e-14)
        assert row["p_value"] == pytest.approx(2 * stats.t.sf(abs(effect / se), 29), rel=1e-12)
        assert row["ci_low"] == pytest.approx(effect - t_crit * se, rel=1e-13)
        assert row["exp_ci_high"] == pytest.approx(math.exp(effect + t_crit * se), rel=1e-13)
    assert mod.scale == "log hazard ratio" and mod.df == 29


def test_johnson_neyman_boundaries_have_t_equal_to_the_critical_value():
    res = result_with([-0.5, 0.2, 0.3], COV)
    mod = moderation(res, FOCAL, MODERATOR, at=[0.0])
    # interaction t = 0.3/sqrt(0.004) = 4.7 > c: the region is the outside of two roots
    assert len(mod.boundaries) == 2
    for m in mod.boundaries:
        t = (-0.5 + 0.3 * m) / math.sqrt(0.010 - 0.004 * m + 0.004 * m * m)
        assert abs(t) == pytest.approx(mod.critical_value, rel=1e-12)
    low, high = mod.boundaries
    assert mod.johnson_neyman == ((-math.inf, low), (high, math.inf))
    # inside: not significant; outside: significant
    check = moderation(res, FOCAL, MODERATOR, at=[low - 0.1, (low + high) / 2, high + 0.1]).table["p_value"].to_numpy()
    assert check[0] < 0.05 and check[1] > 0.05 and check[2] < 0.05


def test_johnson_neyman_bounded_none_all_and_linear_cases():
    c = stats.norm.ppf(0.975)
    # interaction not significant, main effect strong: significant between two roots
    region, roots = johnson_neyman(1.0, 0.05, 0.04, 0.0, 0.01, c)
    assert len(region) == 1 and region[0] == roots
    for m in roots:
        assert abs((1.0 + 0.05 * m) / math.sqrt(0.04 + 0.01 * m * m)) == pytest.approx(c, rel=1e-12)
    # nothing significant anywhere
    assert johnson_neyman(0.01, 0.01, 1.0, 0.0, 1.0, c) == ((), ())
    # everything significant needs se = 0 where the effect crosses zero: with perfectly correlated
    # estimates, se(m) = 0.1 |1 + m| and t = 10 at every m (the quadratic only touches zero)
    assert johnson_neyman(1.0, 1.0, 0.01, 0.01, 0.01, c) == (((-math.inf, math.inf),), ())
    # leading coefficient exactly zero (b_fm^2 = c^2 V_fm,fm): one half-line
    b_i = 2.0
    region, roots = johnson_neyman(0.5, b_i, 0.01, 0.0, (b_i / c) ** 2, c)
    assert roots == (pytest.approx(-(0.5**2 - c**2 * 0.01) / (2 * 0.5 * b_i), rel=1e-14),)
    assert region == ((roots[0], math.inf),)


def test_text_and_range_clipping():
    res = result_with([-0.5, 0.2, 0.3], COV)
    mod = moderation(res, FOCAL, MODERATOR, at=[0.0])
    assert mod.moderator_range is None and mod.johnson_neyman_within_range == ()
    assert mod.johnson_neyman_text.startswith("the effect of quasi_hierarchy is significant at the 5% level")


def test_linear_results_need_explicit_values_and_get_no_ratios():
    res = result_with([-0.5, 0.2, 0.3], COV, estimator="fe_regression", method="fe")
    with pytest.raises(SpecificationError, match="pass at="):
        moderation(res, FOCAL, MODERATOR)
    mod = moderation(res, FOCAL, MODERATOR, at=[1.0])
    assert mod.scale == "coefficient" and np.isnan(mod.table["exp_effect"]).all()


def test_missing_interaction_is_named():
    res = result_with([-0.5, 0.2, 0.3], COV)
    with pytest.raises(SpecificationError, match="'hierarchy:network_strength_c'"):
        moderation(res, focal="hierarchy", moderator=MODERATOR, at=[0.0])


def test_default_quartiles_come_from_the_hazard_estimation_sample(simulated):
    sim = simulated(n_firms=1500, n_clusters=30, seed=3)
    formula = ("functional ~ network + quasi_hierarchy + hierarchy + log(employees) + network_strength_c"
               " + quasi_hierarchy:network_strength_c")
    res = upgrading_hazard(sim.panel, formula)
    mod = moderation(res, FOCAL, MODERATOR)
    used = res.model.extra["frame"]["network_strength_c"].to_numpy()
    assert len(used) == res.nobs
    np.testing.assert_allclose(mod.table["moderator"], np.quantile(used, [0.25, 0.5, 0.75]), rtol=1e-15)
    assert list(mod.table.index) == ["p25", "p50", "p75"]
    assert mod.moderator_range == (used.min(), used.max())
    # the delta method against the result's own covariance, at the median
    b, V = res.params, res.cov
    m = mod.table.loc["p50", "moderator"]
    i = "quasi_hierarchy:network_strength_c"
    q = "quasi_hierarchy"
    se = math.sqrt(V.loc[q, q] + 2 * m * V.loc[q, i] + m * m * V.loc[i, i])
    assert mod.table.loc["p50", "std_error"] == pytest.approx(se, rel=1e-12)
    assert mod.df == res.n_clusters - 1
