"""Models on data or choices they cannot honour: one cluster, two clusters, few clusters, values
that overflow double precision, misused specification tests, inference kinds a model lacks.

Each case asserts the error (or warning) class and that the message names the culprit: the
clustering variable, the column, the option or the value.  Issue #8, items 5, 7 and 8.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from gvcpanel.errors import FewClustersWarning, SpecificationError
from gvcpanel.inference.designs import LikelihoodDesign
from gvcpanel.inference.spec import InferenceSpec
from gvcpanel.gvc.hazard import upgrading_hazard
from gvcpanel.models.linear import fe_regression, hausman_test, mundlak_test

FE_FORMULA = "labour_productivity ~ quasi_hierarchy + network + log(employees)"
HAZARD_FORMULA = "process ~ network + quasi_hierarchy + log(employees)"


def named(*parts: str) -> str:
    return ".*".join(re.escape(p) for p in parts)


def quiet(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


@pytest.fixture(scope="module")
def one_cluster_fe(opt_clusters):
    return quiet(fe_regression, opt_clusters(1), FE_FORMULA, inference="unadjusted")


@pytest.fixture(scope="module")
def one_cluster_hazard(opt_clusters):
    return quiet(upgrading_hazard, opt_clusters(1), HAZARD_FORMULA, inference="unadjusted")


# --- one cluster: refused by every cluster-based inference ------------------------------------------
LINEAR_CLUSTER_KINDS = [
    "cluster",
    "cr2",
    "cr3",
    {"kind": "wild", "draws": 99},
    {"kind": "twoway", "cluster": ("cluster_id", "year")},
    {"kind": "cluster", "preset": "linearmodels"},
]


@pytest.mark.parametrize("inference", LINEAR_CLUSTER_KINDS, ids=repr)
def test_one_cluster_is_refused_for_least_squares(one_cluster_fe, inference):
    # the issue: CRV1 and the wild bootstrap raised ZeroDivisionError, CR2 gave s.e. 0 and p ~ 1e-16
    with pytest.raises(SpecificationError, match=named("'cluster_id'", "single cluster ('C0')", "at least two")):
        one_cluster_fe.with_inference(inference)


@pytest.mark.parametrize("inference", ["cluster", {"kind": "score", "draws": 99},
                                       {"kind": "twoway", "cluster": ("year", "cluster_id")}], ids=repr)
def test_one_cluster_is_refused_for_hazards(one_cluster_hazard, inference):
    with pytest.raises(SpecificationError, match=named("'cluster_id'", "single cluster", "at least two")):
        one_cluster_hazard.with_inference(inference)


def test_one_cluster_is_refused_when_estimating(opt_clusters):
    with pytest.raises(SpecificationError, match=named("inference='cluster'", "'cluster_id'", "single cluster")):
        fe_regression(opt_clusters(1), FE_FORMULA)
    with pytest.raises(SpecificationError, match=named("inference='cluster'", "'cluster_id'", "single cluster")):
        upgrading_hazard(opt_clusters(1), HAZARD_FORMULA)


def test_one_period_is_refused_by_driscoll_kraay(opt_frame):
    first_year = opt_frame[opt_frame.index.get_level_values("year") == opt_frame.index.get_level_values("year").min()]
    with pytest.raises(SpecificationError, match=named("driscoll_kraay", "two periods", "'year'")):
        quiet(fe_regression, first_year, FE_FORMULA, effects=(), method="pooled", inference="driscoll_kraay")


# --- two clusters: honest p-values and a warning ------------------------------------------------------
@pytest.fixture(scope="module")
def two_cluster_fe(opt_clusters):
    return quiet(fe_regression, opt_clusters(2), FE_FORMULA, inference="unadjusted")


def test_two_clusters_wild_rademacher_cannot_give_p_below_one_half(two_cluster_fe):
    # the issue: p = 0 for every term and no FewClustersWarning.  With two clusters there are four
    # sign vectors, two of which reproduce the data: no p-value can be below 2/4
    with pytest.warns(FewClustersWarning, match=named("only 2 clusters", "4 distinct rademacher", "smallest p-value", "0.5")):
        res = two_cluster_fe.with_inference({"kind": "wild", "weights": "rademacher"})
    assert res.inference.details["enumerated"] and res.inference.details["draws"] == 4
    assert (res.pvalues >= 0.5).all()
    # and no finite interval has 95% coverage: the test-inversion interval is the whole line
    assert np.isinf(res.conf_int()).all().all()


def test_two_clusters_wild_webb_enumerates_its_36_vectors(two_cluster_fe):
    with pytest.warns(FewClustersWarning, match=named("only 2 clusters", "36 distinct webb", "smallest p-value")):
        res = two_cluster_fe.with_inference("wild")
    assert res.inference.details["enumerated"] and res.inference.details["draws"] == 36
    assert (res.pvalues >= 1 / 6 - 1e-12).all()


def test_two_clusters_score_bootstrap_warns_and_stays_above_its_floor(opt_clusters):
    with pytest.warns(FewClustersWarning, match=named("inference='score'", "only 2 clusters", "smallest p-value")):
        res = upgrading_hazard(opt_clusters(2), HAZARD_FORMULA,
                               inference={"kind": "score", "draws": 999})
    assert (res.pvalues >= 1 / 6 - 1e-12).all()


def test_two_clusters_crv1_warns_and_uses_one_degree_of_freedom(two_cluster_fe):
    with pytest.warns(FewClustersWarning, match=named("inference='cluster'", "only 2 clusters", "wild")):
        res = two_cluster_fe.with_inference("cluster")
    assert res.inference.df == 1


# --- few clusters: every kind warns below its documented threshold -------------------------------------
@pytest.mark.parametrize("inference,threshold", [({"kind": "wild", "draws": 99}, 12), ("cr2", 30), ("cr3", 30)], ids=repr)
def test_six_clusters_warn_for_bootstraps_and_analytic_kinds(opt_clusters, inference, threshold):
    fit = quiet(fe_regression, opt_clusters(6), FE_FORMULA, inference="unadjusted")
    with pytest.warns(FewClustersWarning, match=named("'cluster_id'", "only 6 clusters", f"fewer than {threshold}")):
        fit.with_inference(inference)


def test_twelve_clusters_do_not_warn_for_the_bootstrap(opt_fe):
    with warnings.catch_warnings():
        warnings.simplefilter("error", FewClustersWarning)
        res = opt_fe.with_inference({"kind": "wild", "draws": 99})
    assert res.n_clusters == 12


def test_few_periods_warn_for_driscoll_kraay(opt_fe):
    with pytest.warns(FewClustersWarning, match=named("driscoll_kraay", "periods of 'year'", "fewer than 30")):
        opt_fe.with_inference("driscoll_kraay")


def test_score_bootstrap_warns_with_six_clusters(opt_clusters):
    with pytest.warns(FewClustersWarning, match=named("inference='score'", "only 6 clusters")):
        upgrading_hazard(opt_clusters(6), HAZARD_FORMULA, inference={"kind": "score", "draws": 99})


# --- values that overflow double precision --------------------------------------------------------------
@pytest.mark.parametrize(
    "column,factor,formula,method",
    [
        ("labour_productivity", 1e306, FE_FORMULA, "fe"),
        ("export_share", 1e308, "labour_productivity ~ export_share + network", "fe"),
        ("export_share", 1e200, "labour_productivity ~ export_share + network", "pooled"),
        ("export_share", 1e300, "labour_productivity ~ export_share + network", "re"),
        ("export_share", 1e250, "labour_productivity ~ export_share + network", "fd"),
    ],
)
def test_extreme_values_in_linear_models_are_named(opt_frame, column, factor, formula, method):
    data = opt_frame.assign(**{column: opt_frame[column] * factor + (factor if column == "export_share" else 0)})
    effects = ("firm",) if method == "re" else ("firm", "year")
    with pytest.raises(SpecificationError, match=named(f"'{column}'", "largest |value|", "overflow", "the regression", "Rescale")):
        quiet(fe_regression, data, formula, effects=effects, method=method)


def test_extreme_values_in_the_mundlak_test_are_named(opt_frame):
    data = opt_frame.assign(export_share=opt_frame["export_share"] * 1e250 + 1e250)
    with pytest.raises(SpecificationError, match=named("'export_share'", "overflow")):
        quiet(mundlak_test, data, "labour_productivity ~ export_share + network")


def test_extreme_values_in_a_hazard_covariate_are_named(opt_frame):
    # the issue: 1e308 reached numpy's eigen-solver and ended in a LinAlgError
    data = opt_frame.assign(export_share=opt_frame["export_share"] * 1e308 + 1e308)
    with pytest.raises(SpecificationError, match=named("'export_share'", "largest |value| 1.", "e+308", "overflow", "the hazard")):
        quiet(upgrading_hazard, data, "process ~ network + export_share")


def test_large_but_representable_values_are_fitted_exactly(opt_frame):
    # scale equivariance: 1e100 times the outcome gives 1e100 times the estimates and standard errors
    base = quiet(fe_regression, opt_frame, FE_FORMULA)
    scaled = quiet(fe_regression, opt_frame.assign(labour_productivity=opt_frame["labour_productivity"] * 1e100), FE_FORMULA)
    np.testing.assert_allclose(scaled.params / 1e100, base.params, rtol=1e-9)
    np.testing.assert_allclose(scaled.std_errors / 1e100, base.std_errors, rtol=1e-9)


# --- specification tests and inference kinds used on the wrong model -----------------------------------
@pytest.fixture(scope="module")
def fe_and_re(opt_frame):
    formula = "labour_productivity ~ quasi_hierarchy + log(employees)"
    fe = quiet(fe_regression, opt_frame, formula, effects=("firm",), cluster=None, inference="unadjusted")
    re = quiet(fe_regression, opt_frame, formula, effects=("firm",), cluster=None, method="re", inference="unadjusted")
    return fe, re


def test_hausman_refuses_swapped_or_wrong_results(fe_and_re):
    fe, re = fe_and_re
    with pytest.raises(SpecificationError, match=named("fe_result was estimated with method='re'", "first")):
        hausman_test(re, fe)
    with pytest.raises(SpecificationError, match=named("re_result was estimated with method='fe'")):
        hausman_test(fe, fe)
    with pytest.raises(SpecificationError, match=named("re_result must be a result of fe_regression", "DataFrame")):
        hausman_test(fe, pd.DataFrame())


@pytest.mark.parametrize(
    "fixture,inference,model",
    [
        ("opt_hazard", "cr2", "likelihood"),
        ("opt_hazard", "robust", "likelihood"),
        ("opt_hazard", "driscoll_kraay", "likelihood"),
        ("opt_fe", "score", "linear"),
    ],
)
def test_inference_kinds_a_model_lacks_are_named(request, fixture, inference, model):
    result = request.getfixturevalue(fixture)
    with pytest.raises(SpecificationError, match=named(f"inference='{inference}'", f"{model} models", "use one of")):
        result.with_inference(inference)


def test_cluster_variable_not_kept_is_named(opt_fe):
    with pytest.raises(SpecificationError, match=named("cannot cluster on ['country']", "cluster=")):
        opt_fe.with_inference({"kind": "cluster", "cluster": "country"})


def test_clustering_variable_counts_are_checked(opt_fe):
    with pytest.raises(SpecificationError, match=named("twoway", "two clustering variables", "('cluster_id',)")):
        opt_fe.with_inference({"kind": "twoway", "cluster": "cluster_id"})
    with pytest.raises(SpecificationError, match=named("inference='cluster' clusters on one variable", "twoway")):
        opt_fe.with_inference({"kind": "cluster", "cluster": ("cluster_id", "year")})


def test_score_bootstrap_needs_the_models_own_likelihood(opt_hazard):
    bare = LikelihoodDesign(opt_hazard.model.scores, opt_hazard.model.information, opt_hazard.model.params,
                            opt_hazard.model.names, opt_hazard.model.groups, opt_hazard.model.group_labels,
                            default_cluster=("cluster_id",))
    with pytest.raises(SpecificationError, match=named("inference='score'", "'score_fn'", "'fit_restricted'")):
        bare.inference(InferenceSpec(kind="score", draws=99))
