r"""Weighted and interval estimators against R (stored output; see test_weights_reference.py for
the data, the R script and the versions).

- :func:`gvcpanel.models.hazard.discrete_hazard` with ``weights=`` and ``offset=`` against
  ``glm(event ~ x1 + d + year, quasibinomial(link = "cloglog"), weights = w, offset = log(interval))``:
  coefficients, the cluster sandwich with the observed information (``sandwich(fit, bread =
  solve(observed information) * n, meat = meatCL(fit, cluster, type = "HC1"))``) and the
  design-based covariance (``survey::svyrecvar`` of the weighted scores with that bread).  R's
  own ``vcovCL`` and ``svyglm`` use the expected information of the IRLS fit; the tests rebuild
  that bread from gvcpanel's fitted values and recover both as well, so the meat is checked
  twice.  Required agreement: 1e-6 relative.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gvcpanel.inference.spec import InferenceSpec
from gvcpanel.models.hazard import discrete_hazard

REF = Path(__file__).parent / "reference"
pytestmark = pytest.mark.filterwarnings("ignore::gvcpanel.errors.FewClustersWarning")
TERMS = ["x1", "d"]


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return pd.read_csv(REF / "survey_panel.csv").set_index(["firm_id", "year"])


MODELS = {"cloglog_w": dict(weights="w", offset=None),
          "interval_w": dict(weights="w", offset="log"),
          "interval": dict(weights=None, offset="log")}


def fit(frame, model, inference="cluster", cluster="cluster_id"):
    options = dict(MODELS[model])
    if options["offset"] == "log":
        options["offset"] = np.log(frame["interval"].to_numpy(float))
    return discrete_hazard(frame, "event ~ x1 + d", cluster=cluster, inference=inference, **options)


def expected_information(result) -> np.ndarray:
    """The IRLS (expected) information of a cloglog fit: sum_i w_i mu'_i^2 / (mu_i (1 - mu_i)) x_i x_i'."""
    model = result.model
    X = model.extra["design"].dense()
    eta = X @ model.params + (0.0 if model.extra["offset"] is None else model.extra["offset"])
    e = np.exp(eta)
    mu = -np.expm1(-e)
    dmu = e * np.exp(-e)
    w = np.ones(len(eta)) if model.weights is None else model.weights
    return (X * (w * dmu**2 / (mu * (1 - mu)))[:, None]).T @ X


@pytest.mark.parametrize("model", list(MODELS))
def test_weighted_and_interval_cloglog_estimates_equal_glm(frame, survey_reference, model):
    res = fit(frame, model)
    np.testing.assert_allclose(res.params[TERMS], survey_reference(model, "", "coef")[TERMS], rtol=1e-8)
    assert res.nobs == 401


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize("cluster", ["cluster_id", "firm_id"])
def test_weighted_cluster_sandwich_equals_vcovcl(frame, survey_reference, model, cluster):
    res = fit(frame, model, inference={"kind": "cluster", "cluster": cluster})
    want = survey_reference(model, cluster, "vcovCL_observed_HC1").loc[TERMS, TERMS]
    np.testing.assert_allclose(res.cov.loc[TERMS, TERMS].to_numpy(), want.to_numpy(), rtol=1e-6)
    # the same meat with the expected information: R's own vcovCL
    bread = np.linalg.inv(expected_information(res))
    n, k = res.model.scores.shape
    codes = res.model.groups[cluster]
    sums = np.zeros((codes.max() + 1, k))
    np.add.at(sums, codes, res.model.scores)
    G = sums.shape[0]
    expected = bread @ sums.T @ sums @ bread * G / (G - 1) * (n - 1) / (n - k)
    j = [res.model.names.index(t) for t in TERMS]
    want = survey_reference(model, cluster, "vcovCL_HC1").loc[TERMS, TERMS]
    np.testing.assert_allclose(expected[np.ix_(j, j)], want.to_numpy(), rtol=1e-6)


@pytest.mark.parametrize("model", ["cloglog_w", "interval_w"])
def test_design_based_covariance_equals_survey(frame, survey_reference, model):
    res = fit(frame, model, inference={"kind": "survey", "strata": "stratum", "cluster": "psu"})
    want = survey_reference(model, "psu", "svyrecvar_observed").loc[TERMS, TERMS]
    np.testing.assert_allclose(res.cov.loc[TERMS, TERMS].to_numpy(), want.to_numpy(), rtol=1e-6)
    assert res.inference.df == 16 and "design-based" in res.inference.label
    # svyglm itself (expected-information bread, the same design-based meat)
    from gvcpanel.inference.survey import design_meat

    meat, _, _ = design_meat(res.model.scores, res.model.groups["stratum"], res.model.groups["psu"])
    bread = np.linalg.inv(expected_information(res))
    j = [res.model.names.index(t) for t in TERMS]
    want = survey_reference(model, "psu", "svyglm").loc[TERMS, TERMS]
    np.testing.assert_allclose((bread @ meat @ bread)[np.ix_(j, j)], want.to_numpy(), rtol=1e-6)


def test_scaling_the_weights_changes_nothing(frame):
    scaled = frame.assign(w=frame["w"] * 37.5)
    a, b = fit(frame, "interval_w"), fit(scaled, "interval_w")
    np.testing.assert_allclose(a.params, b.params, rtol=1e-9)
    np.testing.assert_allclose(a.cov.to_numpy(), b.cov.to_numpy(), rtol=1e-8)


def test_zero_and_missing_weights_are_left_out_and_counted(frame):
    w = frame["w"].to_numpy(copy=True)
    w[:3] = 0.0
    w[3:5] = np.nan
    res = discrete_hazard(frame.assign(w=w), "event ~ x1 + d", weights="w")
    table = dict(zip(res.exclusions["reason"], res.exclusions["n_rows"]))
    assert table["weight 0 (w)"] == 3 and table["missing weight w"] == 2
    assert res.nobs == 401 - 5
    with pytest.raises(Exception, match="negative or infinite"):
        discrete_hazard(frame.assign(w=-frame["w"]), "event ~ x1 + d", weights="w")
    with pytest.raises(Exception, match="not a column"):
        discrete_hazard(frame, "event ~ x1 + d", weights="weight")


def test_the_score_bootstrap_of_a_weighted_interval_hazard_runs_on_weighted_scores(frame):
    res = fit(frame, "interval_w", inference={"kind": "score", "draws": 199, "seed": 3})
    assert 0 <= res.pvalues["x1"] <= 1 and res.inference.n_clusters == 8


# --- weighted fixed effects ------------------------------------------------------------------------
LIN = ["x1", "x2", "d"]


def fe(frame, inference="cluster", method="fe", formula="y ~ x1 + x2 + d | firm + year", **kwargs):
    return gvc_fe(frame, formula, method=method, inference=inference, weights="w", **kwargs)


from gvcpanel.models.linear import fe_regression as gvc_fe  # noqa: E402


@pytest.mark.parametrize("cluster", ["cluster_id", "firm_id"])
def test_weighted_two_way_fe_equals_lm_with_dummies_and_vcovcl(frame, survey_reference, cluster):
    res = fe(frame, inference={"kind": "cluster", "cluster": cluster})
    np.testing.assert_allclose(res.params[LIN], survey_reference("fe_w", "", "coef")[LIN], rtol=1e-9)
    # Stata/fixest preset: K leaves out the firm effects nested in the clusters (k + T); R's lm
    # counts every dummy, so R's HC0 with G/(G-1) is multiplied by the preset's (N-1)/(N-K)
    n, k_total = 401, 3 + 5
    want = survey_reference("fe_w", cluster, "vcovCL_HC0_cadjust").loc[LIN, LIN] * (n - 1) / (n - k_total)
    np.testing.assert_allclose(res.cov.loc[LIN, LIN].to_numpy(), want.to_numpy(), rtol=1e-6)
    assert res.spec.option("weights") == "w" and res.model.weights is not None


@pytest.mark.parametrize("cluster", ["cluster_id", "firm_id"])
def test_weighted_fe_cr2_equals_clubsandwich_on_the_dummy_regression(frame, survey_reference, cluster):
    res = fe(frame, inference={"kind": "cr2", "cluster": cluster})
    want = survey_reference("fe_w", cluster, "vcovCR_CR2").loc[LIN, LIN]
    np.testing.assert_allclose(res.cov.loc[LIN, LIN].to_numpy(), want.to_numpy(), rtol=1e-6)
    want_df = survey_reference("fe_w", cluster, "CR2_satterthwaite_df")[LIN]
    np.testing.assert_allclose(res.inference.df_by_term[LIN], want_df, rtol=1e-4)  # see test_weights_reference
    assert "firm" in res.inference.label and "weighted" in res.inference.label


def test_weighted_fe_design_based_equals_svyglm(frame, survey_reference):
    res = fe(frame, inference={"kind": "survey", "strata": "stratum", "cluster": "psu"})
    want = survey_reference("fe_w", "psu", "svyglm").loc[LIN, LIN]
    np.testing.assert_allclose(res.cov.loc[LIN, LIN].to_numpy(), want.to_numpy(), rtol=1e-6)


def test_weighted_pooled_equals_lm(frame, survey_reference):
    res = fe(frame, method="pooled", formula="y ~ x1 + x2 + d", effects=("year",),
             inference={"kind": "cluster", "cluster": "cluster_id"})
    np.testing.assert_allclose(res.params[LIN], survey_reference("pooled_w", "", "coef")[LIN], rtol=1e-9)
    want = survey_reference("pooled_w", "cluster_id", "vcovCL_HC1").loc[LIN, LIN]
    np.testing.assert_allclose(res.cov.loc[LIN, LIN].to_numpy(), want.to_numpy(), rtol=1e-6)


def test_weighted_wild_bootstrap_equals_a_brute_force_refit(frame):
    """The restricted wild cluster bootstrap of a weighted FE fit against brute force: each draw
    refits weighted least squares with every dummy on y* = X b_0 + v_g u_0 (the null imposed)
    and recomputes the CRV1 t statistic."""
    from gvcpanel.inference.bootstrap import wild_test

    res = fe(frame, inference={"kind": "cluster", "cluster": "cluster_id"})
    labels = np.sort(frame["cluster_id"].unique())
    rng = np.random.default_rng(11)
    draws = pd.DataFrame(rng.choice([-1.0, 1.0], size=(60, labels.size)), columns=labels)
    test = wild_test(res.model, "x1", 0.0, InferenceSpec(kind="wild", cluster=("cluster_id",)),
                     weights=draws, ci=False)
    w = frame["w"].to_numpy()
    root = np.sqrt(w)
    D = np.hstack([pd.get_dummies(frame.index.get_level_values("firm_id")).to_numpy(float),
                   pd.get_dummies(frame.index.get_level_values("year"), drop_first=True).to_numpy(float)])
    X = np.hstack([frame[LIN].to_numpy(float), D])
    y = frame["y"].to_numpy(float)
    restricted = np.linalg.lstsq(X[:, 1:] * root[:, None], y * root, rcond=None)[0]
    fitted0 = X[:, 1:] @ restricted
    u0 = y - fitted0
    codes = pd.factorize(frame["cluster_id"], sort=True)[0]
    Z = X * root[:, None]
    M = np.linalg.pinv(Z.T @ Z)
    t_brute = []
    for v in draws.to_numpy():
        yb = fitted0 + u0 * v[codes]
        b = M @ Z.T @ (yb * root)
        e = (yb - X @ b) * root
        sums = np.zeros((codes.max() + 1, X.shape[1]))
        np.add.at(sums, codes, Z * e[:, None])
        V = M @ sums.T @ sums @ M * res.inference.details["scale"]
        t_brute.append(b[0] / np.sqrt(V[0, 0]))
    np.testing.assert_allclose(test.t_boot, t_brute, rtol=1e-6)


def test_the_weighted_score_bootstrap_does_not_depend_on_the_scale_of_the_weights(frame):
    spec = {"kind": "score", "draws": 199, "seed": 5}
    a = fit(frame, "interval_w", inference=spec)
    b = fit(frame.assign(w=frame["w"] * 0.01), "interval_w", inference=spec)
    np.testing.assert_allclose(a.pvalues[TERMS], b.pvalues[TERMS], rtol=0, atol=1e-12)
