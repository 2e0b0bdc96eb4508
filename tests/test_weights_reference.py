r"""Probability-weighted inference against R (stored output; the tests never call R).

Data: tests/reference/survey_panel.csv (401 firm-years, 96 firms, 8 regions, 4 strata of 5
PSUs, waves 2009-2019 at irregular intervals; written by tests/reference/make_survey_panel.py).
R numbers: survey_reference.csv from ``Rscript tests/reference/make_survey_reference.R`` with
R 4.2.2, sandwich 3.0.2, clubSandwich 0.5.8, survey 4.1.1 (survey_reference_versions.txt).

Conventions (Stata's pweight): estimates are weighted least squares / the weighted
log-likelihood; CRV1 is :math:`c\,M(\sum_g s_g s_g')M` with :math:`s_g = \sum_{i\in g} w_i x_i u_i`,
:math:`M = (X'WX)^{-1}` and the same small-sample factor c as without weights (N counts rows,
not weights).  Required agreement: 1e-6 relative, except the Satterthwaite degrees of freedom of
the model with 96 firm dummies, where clubSandwich's own numerics (its tolerance on the
eigenvalues of the near-singular blocks) move the fifth digit: 1e-4 there, and 1e-10 for the
model without dummies, where both computations are exact.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gvcpanel.errors import SpecificationError
from gvcpanel.inference.designs import LinearDesign
from gvcpanel.inference.spec import InferenceSpec
from gvcpanel.inference.survey import design_meat

REF = Path(__file__).parent / "reference"
# 8 regions: the few-clusters warning is expected and not what these tests are about
pytestmark = pytest.mark.filterwarnings("ignore::gvcpanel.errors.FewClustersWarning")
TERMS = ["x1", "x2", "d"]


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return pd.read_csv(REF / "survey_panel.csv")


def weighted_design(panel: pd.DataFrame, model: str) -> LinearDesign:
    """The weighted least-squares design of R's model, every dummy an explicit column (so that the
    covariances are those of R's dummy regression)."""
    w = panel["w"].to_numpy(float)
    root = np.sqrt(w)
    X = panel[TERMS].to_numpy(float)
    years = pd.get_dummies(panel["year"], drop_first=True).to_numpy(float)
    if model == "fe_w":
        extra = np.hstack([pd.get_dummies(panel["firm_id"]).to_numpy(float), years])
    else:
        extra = np.hstack([np.ones((len(panel), 1)), years])
    Z = np.hstack([X, extra]) * root[:, None]
    y = panel["y"].to_numpy(float) * root
    params = np.linalg.lstsq(Z, y, rcond=None)[0]
    names = tuple(TERMS) + tuple(f"c{j}" for j in range(extra.shape[1]))
    groups, labels = {}, {}
    for column in ("cluster_id", "firm_id", "stratum", "psu"):
        codes, uniques = pd.factorize(panel[column], sort=True)
        groups[column], labels[column] = codes, np.asarray(uniques)
    return LinearDesign(X=Z, y=y, params=params, resid=y - Z @ params, names=names, groups=groups,
                        group_labels=labels, default_cluster=("cluster_id",), weights=w)


@pytest.mark.parametrize("model", ["fe_w", "pooled_w"])
def test_weighted_least_squares_estimates_equal_r(panel, survey_reference, model):
    design = weighted_design(panel, model)
    np.testing.assert_allclose(design.params[:3], survey_reference(model, "", "coef")[TERMS], rtol=1e-10)


@pytest.mark.parametrize("model", ["fe_w", "pooled_w"])
@pytest.mark.parametrize("cluster", ["cluster_id", "firm_id"])
def test_weighted_crv1_equals_sandwich_vcovcl(panel, survey_reference, model, cluster):
    design = weighted_design(panel, model)
    got = design.inference(InferenceSpec(kind="cluster", cluster=cluster)).cov.loc[TERMS, TERMS]
    # R's HC1 counts every lm coefficient in K, as the stata preset does for this explicit design
    want = survey_reference(model, cluster, "vcovCL_HC1").loc[TERMS, TERMS]
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-6)


@pytest.mark.parametrize("model, df_rtol", [("fe_w", 1e-4), ("pooled_w", 1e-10)])
@pytest.mark.parametrize("cluster", ["cluster_id", "firm_id"])
def test_weighted_cr2_equals_clubsandwich(panel, survey_reference, model, df_rtol, cluster):
    design = weighted_design(panel, model)
    inference = design.inference(InferenceSpec(kind="cr2", cluster=cluster))
    want = survey_reference(model, cluster, "vcovCR_CR2").loc[TERMS, TERMS]
    np.testing.assert_allclose(inference.cov.loc[TERMS, TERMS].to_numpy(), want.to_numpy(), rtol=1e-6)
    want_df = survey_reference(model, cluster, "CR2_satterthwaite_df")[TERMS]
    np.testing.assert_allclose(inference.df_by_term[TERMS], want_df, rtol=df_rtol)
    assert "weighted" in inference.label


def test_weighted_cr2_differs_from_the_inverse_variance_reading(panel, survey_reference):
    # the same design without its weights attached is clubSandwich's inverse_var = TRUE CR2, which
    # is not R's default for a weighted lm: the weights must change the result
    design = weighted_design(panel, "pooled_w")
    from dataclasses import replace

    plain = replace(design, weights=None).inference(InferenceSpec(kind="cr2")).cov.loc[TERMS, TERMS]
    want = survey_reference("pooled_w", "cluster_id", "vcovCR_CR2").loc[TERMS, TERMS]
    assert np.max(np.abs(plain.to_numpy() / want.to_numpy() - 1)) > 1e-3


@pytest.mark.parametrize("model", ["fe_w", "pooled_w"])
def test_design_based_covariance_equals_svyglm(panel, survey_reference, model):
    design = weighted_design(panel, model)
    inference = design.inference(InferenceSpec(kind="survey", strata="stratum", cluster="psu"))
    want = survey_reference(model, "psu", "svyglm").loc[TERMS, TERMS]
    np.testing.assert_allclose(inference.cov.loc[TERMS, TERMS].to_numpy(), want.to_numpy(), rtol=1e-6)
    assert inference.df == 20 - 4 and inference.n_clusters == 20


def test_design_meat_centres_a_lonely_psu_at_zero():
    scores = np.array([[1.0], [3.0], [7.0]])
    meat, n_psu, n_strata = design_meat(scores, np.array([0, 0, 1]), np.array([0, 1, 0]), "adjust")
    assert meat[0, 0] == pytest.approx(2 / 1 * 2 + 7.0**2, rel=1e-14) and (n_psu, n_strata) == (3, 2)


def test_design_meat_by_hand():
    # two strata: (1, 3) and (2, 4, 9) as PSU totals of a one-column score
    scores = np.array([[1.0], [3.0], [2.0], [4.0], [4.0], [5.0]])
    strata = np.array([0, 0, 1, 1, 1, 1])
    psu = np.array([0, 1, 0, 1, 2, 2])
    meat, n_psu, n_strata = design_meat(scores, strata, psu)
    first = 2 / 1 * ((1 - 2) ** 2 + (3 - 2) ** 2)
    second = 3 / 2 * ((2 - 5) ** 2 + (4 - 5) ** 2 + (9 - 5) ** 2)
    assert meat[0, 0] == pytest.approx(first + second, rel=1e-14)
    assert (n_psu, n_strata) == (5, 2)


def test_a_stratum_with_one_psu_is_refused(panel):
    design = weighted_design(panel, "pooled_w")
    groups = dict(design.groups)
    psu = groups["psu"].copy()
    psu[groups["stratum"] == 0] = psu[groups["stratum"] == 0].min()  # stratum S0 has one PSU
    from dataclasses import replace

    lonely = replace(design, groups={**groups, "psu": pd.factorize(psu, sort=True)[0]})
    with pytest.raises(SpecificationError, match=r"stratum S0 of 'stratum' has a single primary sampling unit"):
        lonely.inference(InferenceSpec(kind="survey", strata="stratum", cluster="psu", lonely_psu="fail"))
    adjusted = lonely.inference(InferenceSpec(kind="survey", strata="stratum", cluster="psu"))
    assert adjusted.details["lonely_strata"] == 1 and "single-PSU strata" in adjusted.label
    with pytest.raises(SpecificationError, match="'region' is not kept"):
        design.inference(InferenceSpec(kind="survey", strata="region", cluster="psu"))


def test_a_lonely_psu_is_adjusted_as_survey_does(panel, survey_reference):
    design = weighted_design(panel, "pooled_w")
    lonely = np.where(panel["stratum"] == "S0", "P00", panel["psu"])
    codes, uniques = pd.factorize(lonely, sort=True)
    from dataclasses import replace

    design = replace(design, groups={**design.groups, "psu_lonely": codes},
                     group_labels={**design.group_labels, "psu_lonely": np.asarray(uniques)})
    inference = design.inference(InferenceSpec(kind="survey", strata="stratum", cluster="psu_lonely"))
    want = survey_reference("pooled_w", "psu_lonely", "svyglm_adjust").loc[TERMS, TERMS]
    np.testing.assert_allclose(inference.cov.loc[TERMS, TERMS].to_numpy(), want.to_numpy(), rtol=1e-6)
