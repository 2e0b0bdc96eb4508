"""Bad options: every option of the public estimators and of InferenceSpec is checked on entry.

Each case asserts the error class (SpecificationError, also a ValueError) and that the message
names the option and the value given.  Issue #8, items 5 and 8.
"""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest

from gvcpanel.errors import SpecificationError
from gvcpanel.gvc.hypotheses import test_hypotheses as run_hypotheses
from gvcpanel.inference.bootstrap import wild_test
from gvcpanel.inference.family import family_bootstrap
from gvcpanel.inference.spec import MIN_DRAWS, InferenceSpec, parse_inference
from gvcpanel.gvc.hazard import upgrading_hazard
from gvcpanel.models.hazard import hazard_ratios
from gvcpanel.models.linear import fe_regression, mundlak_test
from gvcpanel.models.moderation import moderation

FE_FORMULA = "labour_productivity ~ quasi_hierarchy + network + log(employees)"
HAZARD_COVARIATES = ("network", "quasi_hierarchy", "log(employees)")


def named(*parts: str) -> str:
    """A regex requiring every part, in order, anywhere in the message."""
    return ".*".join(re.escape(p) for p in parts)


# --- InferenceSpec: every field ------------------------------------------------------------------
SPEC_CASES = [
    # (keyword arguments, what the message must name)
    ({"kind": "clustr"}, ("inference kind='clustr'", "'cluster'", "'cr2'", "'wild'")),
    ({"kind": 3}, ("inference kind=3", "choose one of")),
    ({"preset": "sas"}, ("inference preset='sas'", "'stata'", "'fixest'")),
    ({"weights": "mammen"}, ("weights='mammen'", "'rademacher'", "'webb'")),
    ({"bootstrap": "pairs"}, ("bootstrap='pairs'", "'restricted'", "'unrestricted'")),
    ({"draws": 1}, ("draws=1", f"at least {MIN_DRAWS}")),  # the issue: p = 0 for every term
    ({"draws": 0}, ("draws=0", f"at least {MIN_DRAWS}")),  # the issue: NaN and a zero-width interval
    ({"draws": -5}, ("draws=-5", "integer")),
    ({"draws": 999.0}, ("draws=999.0", "integer")),
    ({"draws": True}, ("draws=True", "integer")),
    ({"draws": "999"}, ("draws='999'", "integer")),
    ({"draws": MIN_DRAWS - 1}, (f"draws={MIN_DRAWS - 1}", f"at least {MIN_DRAWS}")),
    ({"seed": -1}, ("seed=-1", "non-negative integer")),  # the issue: a raw numpy error
    ({"seed": 1.5}, ("seed=1.5", "non-negative integer")),
    ({"seed": True}, ("seed=True", "non-negative integer")),
    ({"seed": "abc"}, ("seed='abc'", "non-negative integer")),
    ({"level": 0}, ("inference level=0", "between 0 and 1")),
    ({"level": 1}, ("inference level=1", "between 0 and 1")),
    ({"level": 95}, ("inference level=95", "percentage", "0.95")),
    ({"level": float("nan")}, ("inference level=nan", "between 0 and 1")),
    ({"level": -0.5}, ("inference level=-0.5", "between 0 and 1")),
    ({"level": True}, ("inference level=True", "between 0 and 1")),
    ({"lags": -1}, ("lags=-1", "non-negative integer")),
    ({"lags": 2.5}, ("lags=2.5", "non-negative integer")),
    ({"cluster": 3}, ("inference cluster=3", "column name")),
    ({"cluster": []}, ("inference cluster=[]", "column name")),
    ({"cluster": ("cluster_id", "")}, ("inference cluster=('cluster_id', '')", "column name")),
]


@pytest.mark.parametrize("options,parts", SPEC_CASES, ids=[repr(o) for o, _ in SPEC_CASES])
def test_inference_spec_options(options, parts):
    with pytest.raises(SpecificationError, match=named(*parts)):
        InferenceSpec(**options)
    # the same check when the options arrive as a mapping, as users pass them to estimators
    with pytest.raises(ValueError, match=named(*parts)):
        parse_inference(options)


@pytest.mark.parametrize(
    "value,parts",
    [
        ({"kind": "wild", "draw": 999}, ("['draw']", "not known", "draws")),
        (3.0, ("inference=3.0", "float")),
        ("bootstrap", ("inference kind='bootstrap'", "'wild'")),
        (["cluster"], ("inference=['cluster']", "list")),
    ],
)
def test_parse_inference_refuses_unknown_forms(value, parts):
    with pytest.raises(SpecificationError, match=named(*parts)):
        parse_inference(value)


def test_valid_specs_are_normalized():
    spec = InferenceSpec(kind="wild", draws=np.int64(999), seed=np.int64(0), cluster=["cluster_id"], level=np.float64(0.9))
    assert (spec.draws, spec.seed, spec.cluster, spec.level) == (999, 0, ("cluster_id",), 0.9)
    assert type(spec.draws) is int and type(spec.level) is float


# --- fe_regression and mundlak_test --------------------------------------------------------------
FE_CASES = [
    ({"method": None}, ("method=None", "'fe'", "'re'")),
    ({"effects": 3}, ("effects=3", "name")),
    ({"effects": ("firm", "")}, ("effects=('firm', '')", "name")),
    ({"cluster": 3}, ("cluster=3", "column name")),
    ({"cluster": ["cluster_id", 3]}, ("cluster=['cluster_id', 3]", "column name")),
    ({"drop_singletons": "no"}, ("drop_singletons='no'", "True or False")),
    ({"drop_singletons": None}, ("drop_singletons=None", "True or False")),
    ({"tol": 0}, ("tol=0", "positive")),
    ({"tol": float("nan")}, ("tol=nan", "positive finite")),
    ({"maxiter": 2.5}, ("maxiter=2.5", "positive integer")),
    ({"maxiter": 0}, ("maxiter=0", "positive integer")),
    ({"inference": {"kind": "wild", "draws": 1}}, ("draws=1", f"at least {MIN_DRAWS}")),
    ({"inference": "robustt"}, ("inference kind='robustt'", "'robust'")),
]


@pytest.mark.parametrize("options,parts", FE_CASES, ids=[repr(o) for o, _ in FE_CASES])
def test_fe_regression_options(opt_frame, options, parts):
    with pytest.raises(SpecificationError, match=named(*parts)):
        fe_regression(opt_frame, FE_FORMULA, **options)


def test_fe_regression_formula_must_be_text(opt_frame):
    with pytest.raises(SpecificationError, match=named("formula=None", "string")):
        fe_regression(opt_frame, None)


def test_effects_firm_means_the_firm_effect(opt_frame):
    # the issue: effects="firm" was read as the columns f, i, r, m
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = fe_regression(opt_frame, FE_FORMULA, effects="firm")
        tup = fe_regression(opt_frame, FE_FORMULA, effects=("firm",))
    assert one.spec.effects == tup.spec.effects == ("firm",)
    np.testing.assert_array_equal(one.params.to_numpy(), tup.params.to_numpy())


def test_mundlak_effects_firm_and_bad_options(opt_frame):
    formula = "labour_productivity ~ quasi_hierarchy + log(employees)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = mundlak_test(opt_frame, formula, effects="firm")
        tup = mundlak_test(opt_frame, formula, effects=("firm",))
    assert one.statistic == pytest.approx(tup.statistic, rel=1e-12)
    with pytest.raises(SpecificationError, match=named("method='fe'", "'re' or 'pooled'")):
        mundlak_test(opt_frame, formula, method="fe")
    with pytest.raises(SpecificationError, match=named("cluster=1.5", "column name")):
        mundlak_test(opt_frame, formula, cluster=1.5)
    with pytest.raises(SpecificationError, match=named("seed=-3", "non-negative")):
        mundlak_test(opt_frame, formula, inference={"kind": "cluster", "seed": -3})


# --- upgrading_hazard and hazard_ratios ------------------------------------------------------------
HAZARD_CASES = [
    # the covariates are a formula now; the earlier list form gets the formula to write
    ({"formula": 3}, ("formula=3", "string")),
    ({"formula": None, "covariates": ["network", 5]}, ("takes a formula", "process ~ network + 5")),
    ({"cluster": 7}, ("cluster=7", "column name")),
    ({"link": "probit"}, ("link='probit'", "cloglog", "logit")),
    ({"baseline": "month"}, ("baseline='month'", "year", "duration")),
    ({"upgrade": "marketing"}, ("upgrade='marketing'", "process")),
    ({"inference": {"kind": "score", "level": 95}}, ("inference level=95", "0.95")),
]


@pytest.mark.parametrize("options,parts", HAZARD_CASES, ids=[repr(o) for o, _ in HAZARD_CASES])
def test_upgrading_hazard_options(opt_frame, options, parts):
    arguments = {"formula": "process ~ network + quasi_hierarchy + log(employees)", **options}
    with pytest.raises(SpecificationError, match=named(*parts)):
        upgrading_hazard(opt_frame, **arguments)


def test_hazard_ratios_options(opt_hazard, opt_fe):
    with pytest.raises(SpecificationError, match=named("level=95", "percentage")):
        hazard_ratios(opt_hazard, level=95)
    with pytest.raises(SpecificationError, match=named("include_baseline='yes'", "True or False")):
        hazard_ratios(opt_hazard, include_baseline="yes")
    with pytest.raises(SpecificationError, match=named("hazard result", "fe_regression")):
        hazard_ratios(opt_fe)


# --- confidence levels of results and conditional effects -------------------------------------------
@pytest.mark.parametrize("level", [0, 1, 95, float("nan"), -0.1, "0.95"])
def test_conf_int_level(opt_fe, level):
    with pytest.raises(SpecificationError, match=named(f"level={level!r}", "between 0 and 1")):
        opt_fe.conf_int(level)


def test_to_frame_level(opt_fe):
    with pytest.raises(SpecificationError, match=named("level=1.5", "between 0 and 1")):
        opt_fe.to_frame(level=1.5)


MODERATION_CASES = [
    ({"level": 0}, ("level=0", "between 0 and 1")),
    ({"level": 95}, ("level=95", "percentage")),
    ({"focal": 3}, ("focal=3", "term")),
    ({"moderator": None}, ("moderator=None", "term")),
    ({"at": ["low"]}, ("at=['low']", "numbers")),
    ({"at": [0.0, math.inf]}, ("at=[0.0, inf]", "finite")),
]


@pytest.mark.parametrize("options,parts", MODERATION_CASES, ids=[repr(o) for o, _ in MODERATION_CASES])
def test_moderation_options(opt_fe, options, parts):
    arguments = {"focal": "quasi_hierarchy", "moderator": "export_share", "at": [0.1, 0.5], **options}
    with pytest.raises(SpecificationError, match=named(*parts)):
        moderation(opt_fe, **arguments)


# --- test_hypotheses: alpha, and level refused with the rename explained ----------------------------
@pytest.mark.parametrize(
    "options,parts",
    [
        # the issue: level=0.95 was accepted and called a one-sided p of 0.555 "supported"
        ({"level": 0.95}, ("not level=0.95", "renamed", "alpha=0.05")),
        ({"level": 0.05}, ("not level=0.05", "renamed", "alpha=0.05")),
        ({"alpha": 0.5}, ("alpha=0.5", "below 0.5", "confidence level")),
        ({"alpha": 0.95}, ("alpha=0.95", "below 0.5", "0.05")),
        ({"alpha": 0}, ("alpha=0", "above 0")),
        ({"alpha": "0.05"}, ("alpha='0.05'", "significance level")),
        ({"adjust": "bonferroni"}, ("adjust='bonferroni'", "holm", "romano_wolf")),
        ({"cluster": ["cluster_id"]}, ("cluster=['cluster_id']", "one clustering column")),
        ({"governance_measure": 3}, ("governance_measure=3", "column")),
        ({"inference": {"kind": "wild", "draws": 0}}, ("draws=0", f"at least {MIN_DRAWS}")),
    ],
)
def test_hypotheses_options(opt_frame, options, parts):
    with pytest.raises(SpecificationError, match=named(*parts)):
        run_hypotheses(opt_frame, hypotheses=["H1"], **options)


# --- bootstrap tests called directly -----------------------------------------------------------------
def test_wild_test_options(opt_fe):
    design = opt_fe.model
    spec = InferenceSpec(kind="wild", draws=99)
    with pytest.raises(SpecificationError, match=named("pvalue_type='two'", "'symmetric'", "'equal_tail'")):
        wild_test(design, "network", 0.0, spec, pvalue_type="two")
    with pytest.raises(SpecificationError, match=named("ci='yes'", "True or False")):
        wild_test(design, "network", 0.0, spec, ci="yes")
    with pytest.raises(SpecificationError, match=named("draws x clusters", "12 columns", "(99, 5)")):
        wild_test(design, "network", 0.0, spec, weights=np.ones((99, 5)))
    with pytest.raises(SpecificationError, match=named("terms ['networks']", "not in the model")):
        wild_test(design, "networks", 0.0, spec)


def test_family_bootstrap_options(opt_fe, opt_hazard):
    designs = [opt_fe.model, opt_hazard.model]
    spec = InferenceSpec(kind="wild", draws=99)
    with pytest.raises(SpecificationError, match=named("alternative='!='", "'>'", "'two-sided'")):
        family_bootstrap(designs, ["network", "network"], [">", "!="], spec)
    with pytest.raises(SpecificationError, match=named("2 models", "1 restrictions", "2 alternatives")):
        family_bootstrap(designs, ["network"], [">", ">"], spec)
    with pytest.raises(SpecificationError, match="at least one test"):
        family_bootstrap([], [], [], spec)
