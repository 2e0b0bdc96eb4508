"""Hausman test and CR2 conditional effects against R on Munnell's state data (plm's ``Produc``).

Data and numbers: ``Rscript tests/reference/make_produc_reference.R`` with R 4.2.2, plm 2.6.2,
clubSandwich 0.5.8, sandwich 3.0.2 (``produc_reference_versions.txt``); the script writes the
data (``produc.csv``, 48 states x 1970-1986, 816 rows) and the reference values
(``produc_reference.csv``).  The tests never call R.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from gvcpanel.errors import FewClustersWarning, SpecificationTestWarning
from gvcpanel.inference.dispatch import contrast_df
from gvcpanel.models.linear import fe_regression, hausman_test
from gvcpanel.models.moderation import moderation

REF = Path(__file__).parent / "reference"
HAUSMAN_FORMULA = "log(gsp) ~ log(pcap) + log(pc) + log(emp) + unemp"
AT = [3, 5, 7, 9, 11, 14]
MODELS = {
    # R: lm(log(gsp) ~ log(pc) * unemp + log(pcap) + log(emp) + factor(state) + factor(year))
    "pc_by_unemp": ("log(pc)", "log(gsp) ~ log(pc) + unemp + log(pc):unemp + log(pcap) + log(emp)"),
    # R: lm(log(gsp) ~ log(emp) * unemp + log(pcap) + log(pc) + factor(state) + factor(year))
    "emp_by_unemp": ("log(emp)", "log(gsp) ~ log(emp) + unemp + log(emp):unemp + log(pcap) + log(pc)"),
}


@pytest.fixture(scope="module")
def produc() -> pd.DataFrame:
    frame = pd.read_csv(REF / "produc.csv", dtype={"region": str})
    return frame.rename(columns={"state": "firm_id"})


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    ref = pd.read_csv(REF / "produc_reference.csv", keep_default_na=False, dtype={"at": str})
    ref["value"] = ref["value"].astype(float)
    return ref


def r_values(ref: pd.DataFrame, model: str, quantity: str) -> pd.Series:
    rows = ref[(ref.model == model) & (ref.quantity == quantity)]
    assert not rows.empty, (model, quantity)
    return rows.set_index("at")["value"]


# --- Hausman --------------------------------------------------------------------------------------
def test_hausman_equals_plm_phtest_with_a_slightly_negative_eigenvalue(produc, reference):
    fe = fe_regression(produc, HAUSMAN_FORMULA, effects=("firm",), cluster=None, method="fe", inference="unadjusted")
    re = fe_regression(produc, HAUSMAN_FORMULA, effects=("firm",), cluster=None, method="re", inference="unadjusted")
    terms = ["log(pcap)", "log(pc)", "log(emp)", "unemp"]
    # the two fits are plm's (within; Swamy-Arora random effects), so the test compares like with like
    np.testing.assert_allclose(fe.params[terms], r_values(reference, "hausman", "coef_fe")[terms], rtol=1e-9)
    np.testing.assert_allclose(re.params[terms], r_values(reference, "hausman", "coef_re")[terms], rtol=1e-7)
    np.testing.assert_allclose(fe.std_errors[terms], r_values(reference, "hausman", "se_fe")[terms], rtol=1e-9)
    np.testing.assert_allclose(re.std_errors[terms], r_values(reference, "hausman", "se_re")[terms], rtol=1e-7)
    with pytest.warns(SpecificationTestWarning, match="not positive semi-definite"):
        h = hausman_test(fe, re)
    # plm::phtest: chisq = 9.5254, df = 4, p-value = 0.04923 (the issue's 10.1325 on 3 df dropped
    # the eigenvalue -8.6e-10, which is a property of these data, not rounding)
    assert h.statistic == pytest.approx(r_values(reference, "hausman", "statistic")[""], rel=1e-8)
    assert h.df == int(r_values(reference, "hausman", "df")[""]) == 4
    assert h.pvalue == pytest.approx(r_values(reference, "hausman", "pvalue")[""], rel=1e-7)
    np.testing.assert_allclose(h.detail["eigenvalues"], r_values(reference, "hausman", "eigenvalue").to_numpy(),
                               rtol=1e-6, atol=1e-15)
    assert h.detail["rank"] == 4 and not h.detail["positive_semidefinite"]


def test_hausman_df_is_the_rank_of_the_difference(produc):
    fe = fe_regression(produc, HAUSMAN_FORMULA, effects=("firm",), cluster=None, method="fe", inference="unadjusted")
    re = fe_regression(produc, HAUSMAN_FORMULA, effects=("firm",), cluster=None, method="re", inference="unadjusted")
    # comparing one coefficient twice makes V_fe - V_re singular (rank 4 of 5): Stata's hausman
    # then reports the rank, and the Moore-Penrose form gives the statistic of the four others
    with pytest.warns(SpecificationTestWarning):
        h_dup = hausman_test(with_duplicate(fe), with_duplicate(re))
        h = hausman_test(fe, re)
    assert h_dup.df == 4 and len(h_dup.detail["terms"]) == 5
    assert h_dup.statistic == pytest.approx(h.statistic, rel=1e-8)


def with_duplicate(result, term: str = "unemp", copy: str = "unemp_again"):
    """The same result with ``term`` reported twice (estimate and covariance rows repeated)."""
    names = [*result.params.index, copy]
    source = [*result.params.index, term]
    cov = pd.DataFrame(result.cov.loc[source, source].to_numpy(), index=names, columns=names)
    params = pd.Series(result.params[source].to_numpy(), index=names)
    return replace(result, params=params, inference=replace(result.inference, cov=cov))


# --- conditional effects under CR2 ------------------------------------------------------------------
@pytest.fixture(scope="module")
def cr2_fits(produc):
    fits = {}
    for model, (focal, formula) in MODELS.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FewClustersWarning)  # 9 census regions
            fits[model] = fe_regression(produc, formula, effects=("firm", "year"), cluster="region", inference="cr2")
    return fits


@pytest.mark.parametrize("model", list(MODELS))
def test_cr2_conditional_effects_equal_clubsandwich_linear_contrast(cr2_fits, reference, model):
    focal = MODELS[model][0]
    res = cr2_fits[model]
    mod = moderation(res, focal=focal, moderator="unemp", at=AT)
    at = [str(m) for m in AT]
    # the terms first: CR2 Satterthwaite df of each coefficient (coef_test)
    interaction = f"{focal}:unemp"
    np.testing.assert_allclose(res.inference.df_by_term[[focal, interaction]].to_numpy(),
                               r_values(reference, model, "df_term")[["focal", "interaction"]].to_numpy(), rtol=1e-7)
    # interval ends near zero (-0.00027 at unemp = 14) are compared on the scale of the standard
    # error (about 0.06): atol 1e-8 is 2e-7 of it
    for column, quantity, rtol, atol in (("effect", "estimate", 1e-8, 0), ("std_error", "std_error", 1e-7, 0),
                                         ("df", "df", 1e-7, 0), ("ci_low", "ci_low", 1e-6, 1e-8),
                                         ("ci_high", "ci_high", 1e-6, 1e-8), ("p_value", "p_value", 1e-6, 0)):
        expected = r_values(reference, model, quantity)[at].to_numpy()
        np.testing.assert_allclose(mod.table[column].to_numpy(), expected, rtol=rtol, atol=atol, err_msg=column)
    assert mod.df == pytest.approx(res.inference.df_by_term[interaction], rel=1e-14)


def test_contrast_df_below_both_terms_as_in_the_issue(cr2_fits, reference):
    # the issue: the smaller of the two terms' df (4.50) was used for every conditional effect;
    # clubSandwich gives each contrast its own, smaller here (4.45 at unemp = 5)
    mod = moderation(cr2_fits["emp_by_unemp"], focal="log(emp)", moderator="unemp", at=AT)
    smaller_term = float(r_values(reference, "emp_by_unemp", "df_term").min())
    inside = mod.table.loc[["3", "5", "7", "9"]]  # unemployment 3% to 9%, most of the sample
    assert (inside["df"] < smaller_term).all()
    assert mod.table.loc["5", "df"] == pytest.approx(4.4477142123507631, rel=1e-7)
    # hence wider intervals than the old rule gave there
    old_critical = stats.t.ppf(0.975, smaller_term)
    assert (inside["ci_high"] - inside["effect"] > old_critical * inside["std_error"]).all()


@pytest.mark.parametrize("model", list(MODELS))
def test_johnson_neyman_bounds_equal_root_finding_in_r(cr2_fits, reference, model):
    focal = MODELS[model][0]
    mod = moderation(cr2_fits[model], focal=focal, moderator="unemp", at=AT)
    expected = r_values(reference, model, "jn_boundary").to_numpy()
    # R: uniroot of |t(m)| - qt(0.975, df(m)) with df(m) from linear_contrast; a boundary moves by
    # (error of the df) x dc/d(df) / (slope of t - c), so agreement is that of the df (1e-8)
    np.testing.assert_allclose(mod.boundaries, expected, rtol=1e-6)
    assert mod.johnson_neyman == ((mod.boundaries[0], mod.boundaries[1]),)
    # at each boundary |t| equals the critical value of that contrast's own df
    design = cr2_fits[model].model
    names = list(design.names)
    df_at = contrast_df(design, cr2_fits[model].inference.spec)
    b, V = cr2_fits[model].params, cr2_fits[model].cov
    for m in mod.boundaries:
        c = np.zeros(len(names))
        c[names.index(focal)], c[names.index(f"{focal}:unemp")] = 1.0, m
        t = (c @ b.to_numpy()) / np.sqrt(c @ V.to_numpy() @ c)
        assert abs(t) == pytest.approx(stats.t.ppf(0.975, df_at(c[None, :])[0]), rel=1e-9)


def test_contrast_df_of_unit_contrasts_are_the_terms_df(cr2_fits):
    res = cr2_fits["pc_by_unemp"]
    df_at = contrast_df(res.model, res.inference.spec)
    np.testing.assert_allclose(df_at(np.eye(len(res.params))), res.inference.df_by_term.to_numpy(), rtol=1e-10)
    # other kinds have one df for every contrast
    assert contrast_df(res.model, res.inference.spec.__class__(kind="cluster", cluster="region")) is None
