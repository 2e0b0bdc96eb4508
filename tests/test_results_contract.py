"""One contract, every result type: summary, HTML, pickle, to_frame, conf_int at two levels, Wald
test and with_inference with keyword options (issue #9, item 2).

Each case builds one kind of result on a small simulated panel (12 clusters, so few-cluster
warnings are expected and silenced) and states which inference change it accepts.
"""

from __future__ import annotations

import pickle
import warnings
from dataclasses import FrozenInstanceError
from typing import Any, Callable

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import gvcpanel as gp
from gvcpanel.errors import InferenceUnavailableError, SpecificationError
from gvcpanel.inference.bootstrap import BootstrapTest, wild_test
from gvcpanel.inference.score import score_test
from gvcpanel.results import ResultBase, Summary, TestResult

FE_FORMULA = "labour_productivity ~ quasi_hierarchy + network + log(employees)"
HAZARD_FORMULA = ("functional ~ network + quasi_hierarchy + network_strength_c"
                  " + quasi_hierarchy:network_strength_c + log(employees)")
DRAWS = 199


@pytest.fixture(scope="module")
def panel():
    return gp.simulate_panel(n_firms=400, n_clusters=12, seed=3).panel


@pytest.fixture(scope="module")
def fitted(panel) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fe = gp.fe_regression(panel, FE_FORMULA)
        hazard = gp.upgrading_hazard(panel, HAZARD_FORMULA)
        within = gp.fe_regression(panel, FE_FORMULA, effects=("firm",), inference="unadjusted")
        random = gp.fe_regression(panel, FE_FORMULA, effects=("firm",), method="re", inference="unadjusted")
        report = gp.test_hypotheses(panel, hypotheses=["H1"])
        transition = gp.governance_transition_model(panel, "governance ~ capability_score + main_buyer_share")
        transition_small = gp.governance_transition_model(panel, "governance ~ capability_score")
    return {"transition_small": transition_small, "fe": fe, "hazard": hazard, "within": within, "random": random, "report": report, "panel": panel,
            "transition": transition}


def _quiet(build: Callable[[dict[str, Any]], ResultBase]) -> Callable[[dict[str, Any]], ResultBase]:
    def run(fitted: dict[str, Any]) -> ResultBase:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return build(fitted)

    return run


# name -> (build, inference change with keyword options, whether conf_int exists: True, False, or
# "covariates" when a hazard's baseline terms get p-values but no interval (score bootstrap))
CASES: dict[str, tuple[Callable, tuple[Any, dict[str, Any]], bool | str]] = {
    "regression": (_quiet(lambda f: f["fe"]), ("cluster", {"preset": "fixest"}), True),
    "regression, wild bootstrap": (_quiet(lambda f: f["fe"].with_inference("wild", draws=DRAWS, seed=7)),
                                   ("wild", {"draws": 99, "seed": 8}), True),
    "regression, CR2": (_quiet(lambda f: f["fe"].with_inference("cr2")), ("cr3", {}), True),
    "hazard": (_quiet(lambda f: f["hazard"]), (None, {"cluster": "firm_id"}), True),
    "hazard, score bootstrap": (_quiet(lambda f: f["hazard"].with_inference("score", draws=DRAWS)),
                                ("score", {"draws": 99, "seed": 5}), "covariates"),
    "Hausman test": (_quiet(lambda f: gp.hausman_test(f["within"], f["random"])),
                     ("robust", {}), True),
    "Mundlak test": (_quiet(lambda f: gp.mundlak_test(f["panel"], FE_FORMULA, effects=("firm",))),
                     ("cluster", {"preset": "fixest"}), True),
    "Wald test": (_quiet(lambda f: f["fe"].wald_test(["quasi_hierarchy = network", "log(employees)"])),
                  ("cr2", {}), True),
    "wild bootstrap test": (_quiet(lambda f: wild_test(f["fe"].model, {"quasi_hierarchy": 1, "network": -1},
                                                       spec=gp.InferenceSpec(kind="wild", draws=DRAWS))),
                            ("wild", {"draws": 99, "seed": 2}), True),
    "score bootstrap test": (_quiet(lambda f: score_test(f["hazard"].model, "quasi_hierarchy",
                                                         spec=gp.InferenceSpec(kind="score", draws=DRAWS))),
                             ("score", {"draws": 99}), False),
    "moderation": (_quiet(lambda f: gp.moderation(f["hazard"], focal="quasi_hierarchy",
                                                  moderator="network_strength_c")),
                   ("cluster", {"cluster": "firm_id"}), True),
    "event study": (_quiet(lambda f: gp.event_study(gp.chain_cohorts(f["panel"]), "log(export_sales) ~ 1",
                                                    "qh_entry_year", "cs", inference={"draws": DRAWS})["cs"]),
                    ("wild", {"draws": 199, "seed": 3}), True),
    "hypothesis report": (_quiet(lambda f: f["report"]), ("cluster", {"preset": "fixest", "cluster": "firm_id"}),
                          True),
    "transition model": (_quiet(lambda f: f["transition"]), ("cluster", {"cluster": "firm_id"}), True),
    # one covariate: the test inverts the score bootstrap per coefficient, a few dozen multinomial fits each
    "transition model, score bootstrap": (_quiet(lambda f: f["transition_small"].with_inference("score", draws=DRAWS)),
                                          ("cluster", {"cluster": "firm_id"}), "covariates"),
}


@pytest.fixture(params=list(CASES), scope="module")
def case(request, fitted):
    build, change, has_intervals = CASES[request.param]
    return request.param, build(fitted), change, has_intervals


def test_is_a_frozen_result(case):
    _, result, _, _ = case
    assert isinstance(result, ResultBase)
    assert isinstance(result.params, pd.Series) and len(result.params) > 0
    with pytest.raises(FrozenInstanceError):
        result.params = None  # type: ignore[misc]


def test_summary_is_text_and_html(case):
    name, result, _, _ = case
    summary = result.summary()
    assert isinstance(summary, Summary)
    text = str(summary)
    assert text == str(result) and result.inference.label in text
    for term in result.params.index:
        assert str(term) in text
    html = result._repr_html_()
    assert html.startswith("<div>") and html.endswith("</div>") and "<script" not in html
    assert summary.table.shape[0] == len(result.params)
    assert repr(result).startswith("<") and len(repr(result)) < 400  # no dump of the fields


def test_pickle_round_trip(case):
    _, result, change, _ = case
    again = pickle.loads(pickle.dumps(result))
    pd.testing.assert_series_equal(again.params, result.params)
    pd.testing.assert_frame_equal(again.to_frame(), result.to_frame())
    kind, options = change
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # what a result keeps for with_inference survives pickling too
        pd.testing.assert_series_equal(again.with_inference(kind, **options).params,
                                       result.with_inference(kind, **options).params)


def test_to_frame_is_tidy(case):
    _, result, _, has_intervals = case
    frame = result.to_frame()
    for column in ("estimate", "std_error", "ci_low", "ci_high"):
        assert column in frame.columns
    np.testing.assert_allclose(frame["estimate"].to_numpy(dtype=float), result.params.to_numpy(dtype=float),
                               rtol=0, atol=0)
    np.testing.assert_allclose(frame["std_error"].to_numpy(dtype=float), result.std_errors.to_numpy(),
                               rtol=1e-12)
    shown = frame[["ci_low", "ci_high"]].notna().all(axis=1)
    if has_intervals == "covariates":
        assert (shown == ~_baseline(result)).all()
    else:
        assert shown.all() == has_intervals


def _baseline(result: ResultBase) -> pd.Series:
    """Terms the score bootstrap gives p-values only: a hazard's year terms, a transition's intercepts."""
    nuisance = set(result.model.extra.get("baseline_terms", ()))
    return pd.Series([t in nuisance for t in result.params.index], index=result.params.index)


def test_conf_int_at_two_levels(case):
    name, result, _, has_intervals = case
    if has_intervals == "covariates":
        # the score bootstrap inverts its test for every covariate, not for the baseline hazard
        baseline = _baseline(result)
        assert baseline.any() and not baseline.all()
        wide, narrow = result.conf_int(0.95), result.conf_int(0.90)
        assert wide[baseline].isna().all().all() and narrow[baseline].isna().all().all()
        wide, narrow = wide[~baseline], narrow[~baseline]
        assert (wide["lower"] <= narrow["lower"]).all() and (narrow["upper"] <= wide["upper"]).all()
        assert (narrow["lower"] < result.params[~baseline]).all() and (result.params[~baseline] < narrow["upper"]).all()
        return
    if not has_intervals:
        # the score bootstrap gives p-values only: an explicit error, never sandwich intervals
        for level in (0.95, 0.90):
            with pytest.raises(InferenceUnavailableError, match="no confidence intervals"):
                result.conf_int(level)
        return
    wide, narrow = result.conf_int(0.95), result.conf_int(0.90)
    assert list(wide.columns) == ["lower", "upper"] and list(wide.index) == list(result.params.index)
    assert (wide["lower"] <= narrow["lower"]).all() and (narrow["upper"] <= wide["upper"]).all()
    assert (narrow["lower"] < narrow["upper"]).all()
    inf = result.inference
    if result.is_bootstrap:
        # the bootstrap's own test-inversion intervals, recomputed with the same draws at 0.90
        pd.testing.assert_frame_equal(wide, inf.ci.reindex(result.params.index), check_names=False)
        again = result.with_inference(level=0.90).conf_int(0.90)
        pd.testing.assert_frame_equal(narrow, again, check_names=False)
    elif name != "hypothesis report":
        q = stats.t.ppf(0.95, result.df_resid.to_numpy(dtype=float))
        np.testing.assert_allclose(narrow["upper"] - result.params, q * result.std_errors, rtol=1e-10)
    with pytest.raises(SpecificationError, match="confidence level"):
        result.conf_int(95)


def test_wald_test_of_one_term_agrees_with_its_pvalue(case):
    _, result, _, _ = case
    term = result.params.index[0]
    test = result.wald_test(term, value=float(result._nulls()[term]))
    assert isinstance(test, TestResult) and test.df == 1
    assert test.pvalue == pytest.approx(float(result.pvalues[term]), rel=1e-9, abs=1e-12)
    # the test is itself a result under the same contract
    assert str(term) in str(test.summary())
    assert pickle.loads(pickle.dumps(test)).pvalue == test.pvalue


def test_with_inference_takes_keyword_options(case):
    name, result, change, _ = case
    kind, options = change
    before = result.to_frame()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        other = result.with_inference(kind, **options)
    assert type(other) is type(result)
    pd.testing.assert_frame_equal(result.to_frame(), before)  # unchanged
    for key, value in options.items():
        expected = (value,) if key == "cluster" else value
        assert getattr(other.inference.spec, key) == expected, name
    if kind is not None and name not in ("Hausman test",):
        assert other.inference.spec.kind == kind
    with pytest.raises(SpecificationError, match="not known"):
        result.with_inference(kind, dras=5)


# --- the behaviours the issue names ---------------------------------------------------------------
def test_with_inference_wild_with_draws_is_not_a_type_error(fitted):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wild = fitted["fe"].with_inference("wild", draws=999)
        also = fitted["fe"].with_inference({"kind": "wild"}, draws=999)
    assert wild.inference.details["draws"] == 999
    pd.testing.assert_series_equal(wild.pvalues, also.pvalues)
    assert fitted["fe"].inference.spec.kind == "cluster"


def test_score_bootstrap_says_where_its_intervals_come_from(fitted):
    from dataclasses import replace

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        score = fitted["hazard"].with_inference("score", draws=DRAWS)
    text = str(score.summary())
    assert "intervals come from the bootstrap" in text and "No intervals" not in text
    # the baseline hazard gets p-values only; a run without intervals says so and conf_int raises
    assert score.to_frame().loc[_baseline(score), ["ci_low", "ci_high"]].isna().all().all()
    bare = replace(score, inference=replace(score.inference, ci=None))
    assert "No intervals" in str(bare.summary())
    with pytest.raises(InferenceUnavailableError, match="no confidence intervals"):
        bare.conf_int()
    # maketables gets no standard error beside bootstrap stars
    assert score.__maketables_coef_table__["se"].isna().all()


def test_joint_bootstrap_wald_test_is_refused(fitted):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wild = fitted["fe"].with_inference("wild", draws=DRAWS)
    with pytest.raises(InferenceUnavailableError, match="joint"):
        wild.wald_test(["quasi_hierarchy", "network"])


def test_joint_wald_test_against_hand_computation(fitted):
    fe = fitted["fe"]
    test = fe.wald_test(["quasi_hierarchy = network", "log(employees) = 0.1"])
    R = np.array([[1.0, -1.0, 0.0], [0.0, 0.0, 1.0]])
    r = np.array([0.0, 0.1])
    diff = R @ fe.params.to_numpy() - r
    W = diff @ np.linalg.solve(R @ fe.cov.to_numpy() @ R.T, diff)
    df = fe.n_clusters - 1
    assert test.statistic == pytest.approx(W / 2, rel=1e-12)
    assert test.pvalue == pytest.approx(stats.f.sf(W / 2, 2, df), rel=1e-12)
    assert test.distribution == f"F(2, {df:g})"
    assert list(test.params.index) == ["quasi_hierarchy - network = 0", "log(employees) = 0.1"]


def test_report_rows_of_different_models_have_no_joint_test(fitted):
    report = fitted["report"]
    assert len({h.model_label for h in report.hypotheses}) == 2
    with pytest.raises(InferenceUnavailableError, match="different models"):
        report.wald_test(list(report.params.index))


def test_restriction_errors_name_the_terms(fitted):
    fe = fitted["fe"]
    with pytest.raises(SpecificationError, match="not a term"):
        fe.wald_test("quasi_hierarchy = governance")
    with pytest.raises(SpecificationError, match="linearly dependent"):
        fe.wald_test(["network", "2*network = 0"])


def test_cr2_wald_test_of_a_contrast_equals_clubsandwich_linear_contrast():
    """CR2 Wald test of b_emp + m b_emp:unemp = 0 against clubSandwich 0.5.8 ``linear_contrast``
    (Satterthwaite df of the contrast itself) on plm's Produc data; numbers written by
    ``tests/reference/make_produc_reference.R`` (R 4.2.2), model ``emp_by_unemp``."""
    from pathlib import Path

    ref_dir = Path(__file__).parent / "reference"
    produc = pd.read_csv(ref_dir / "produc.csv", dtype={"region": str}).rename(columns={"state": "firm_id"})
    ref = pd.read_csv(ref_dir / "produc_reference.csv", keep_default_na=False, dtype={"at": str})
    ref = ref[ref.model == "emp_by_unemp"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 9 census regions
        res = gp.fe_regression(produc, "log(gsp) ~ log(emp) + unemp + log(emp):unemp + log(pcap) + log(pc)",
                               effects=("firm", "year"), cluster="region", inference="cr2")
    for m in (3, 5, 7, 9, 11, 14):
        test = res.wald_test({"log(emp)": 1.0, "log(emp):unemp": float(m)})
        row = ref[ref["at"] == str(m)].set_index("quantity")["value"].astype(float)
        assert test.params.iloc[0] == pytest.approx(row["estimate"], rel=1e-8)
        assert test.detail["df_denom"] == pytest.approx(row["df"], rel=1e-7)  # the contrast's own
        assert test.pvalue == pytest.approx(row["p_value"], rel=1e-6)


def test_a_bootstrap_p_value_below_its_resolution_prints_as_one_over_the_draws(designs):
    data = designs.make_design("balanced", 300, n_clusters=20, seed=21)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wild = gp.fe_regression(data, "y ~ x1 + x2 | firm + year", cluster="cluster_id",
                                inference={"kind": "wild", "draws": 999, "seed": 1})
        analytic = gp.fe_regression(data, "y ~ x1 + x2 | firm + year", cluster="cluster_id")
    assert wild.pvalues["x1"] == 0.0 and analytic.pvalues["x1"] < 1e-4  # a strong effect
    row = lambda res: next(line for line in str(res.summary()).splitlines() if line.startswith("x1"))
    assert "<0.001 " in row(wild) and "<0.0001" not in row(wild)  # 999 draws resolve no finer
    assert "<0.0001" in row(analytic)
