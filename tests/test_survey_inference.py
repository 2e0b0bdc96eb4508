"""Family-wide inference, partial indicators and score-bootstrap intervals (issue 10, items 4 and 5)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import gvcpanel as gp
from gvcpanel.data.modules import join_module
from gvcpanel.errors import SpecificationError
from gvcpanel.gvc.hypotheses import FAMILY_INFERENCE, family_inference, missing_inputs
from gvcpanel.gvc.survey_fixture import simulate_survey
from gvcpanel.inference.resampling import bootstrap_pvalues
from gvcpanel.inference.score import _statistics, score_test
from gvcpanel.inference.spec import InferenceSpec

pytestmark = pytest.mark.filterwarnings("ignore::gvcpanel.errors.FewClustersWarning")
RHS = "network + quasi_hierarchy + hierarchy + log(employees) + firm_age + foreign_owned + export_share"


@pytest.fixture(scope="module")
def survey():
    """A survey panel with its governance module: no labour_productivity, no unit_value."""
    fx = simulate_survey(n_firms=1500, n_regions=12, seed=8)
    panel = gp.load_panel(fx.survey, mapping="wbes")
    return gp.classify_governance(join_module(panel, fx.module, mapping="governance_module"))


def test_family_presets_give_each_model_kind_its_procedure():
    for name, (linear, likelihood) in FAMILY_INFERENCE.items():
        family = family_inference(name)
        assert (family.linear.kind, family.likelihood.kind) == (linear, likelihood)
        assert family.for_estimator("hazard").kind == likelihood and family.for_estimator("fe").kind == linear
    options = family_inference({"kind": "cr2_score", "draws": 199, "seed": 3})
    assert options.likelihood.draws == 199 and options.linear.kind == "cr2" and options.likelihood.seed == 3
    plain = family_inference({"kind": "survey", "strata": "stratum"})
    assert plain.linear is plain.likelihood and plain.linear.strata == "stratum"
    with pytest.raises(SpecificationError, match="inference kind"):
        family_inference("jackknife")


def test_a_hypothesis_whose_inputs_are_absent_is_not_estimable_and_the_others_are_estimated(survey):
    report = gp.test_hypotheses(survey, hypotheses=["H1", "H2"])
    table = report.table().set_index(["id", "specification"])
    assert table.loc[("H1", "companion"), "verdict"] == "not estimable"
    assert table.loc[("H1", "companion"), "note"] == "not estimable: missing labour_productivity"
    assert table.loc[("H2", "companion"), "note"] == "not estimable: missing unit_value"
    assert np.isnan(table.loc[("H2", "companion"), "estimate"])
    assert np.isfinite(table.loc[("H1", "main"), "estimate"]) and table.loc[("H1", "main"), "note"] == ""
    assert set(report.not_estimable.values()) == {"missing labour_productivity", "missing unit_value"}
    with pytest.raises(SpecificationError, match="not estimable"):
        report.result_for(next(h for h in report.hypotheses if h.specification == "companion"))
    # the contract still holds over the partial family
    assert report.params.index.tolist() == report.row_labels
    assert np.isnan(report.std_errors["H1 companion"]) and np.isfinite(report.std_errors["H1 main"])
    again = report.with_inference("cr2")
    assert again.table()["verdict"].tolist()[1] == "not estimable"
    holm = gp.test_hypotheses(survey, hypotheses=["H1", "H2"], adjust="holm").table()
    assert holm["verdict_adjusted"].tolist()[1] == "not estimable" and np.isnan(holm["p_adjusted"][1])


def test_missing_inputs_list_every_absent_column_of_the_model():
    frame = pd.DataFrame({"firm_id": [1, 2], "year": [2010, 2010], "cluster_id": ["a", "b"],
                          "employees": [10, 20], "governance": [np.nan, np.nan]})
    hyp = next(h for h in gp.gvc.hypotheses.DEFAULT_HYPOTHESES if h.id == "H4")
    absent = missing_inputs(frame.set_index(["firm_id", "year"]), hyp, "cluster_id")
    assert absent[0] == "function_level"
    assert {"governance", "n_partners", "alliance", "firm_age", "export_share"} <= set(absent)
    assert "employees" not in absent


def test_one_inference_choice_serves_hazards_and_fixed_effects():
    panel = gp.simulate_panel(n_firms=400, n_clusters=10, seed=4).panel
    spec = {"kind": "wild", "draws": 199, "seed": 1}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = gp.test_hypotheses(panel, hypotheses=["H1", "H5"], inference=spec, adjust="romano_wolf")
    table = report.table()
    hazard = table["estimator"] == "cloglog hazard"
    assert table.loc[hazard, "inference"].str.startswith("score wild cluster bootstrap").all()
    assert table.loc[~hazard, "inference"].str.startswith("wild cluster bootstrap").all()
    # the score bootstrap now gives intervals, which hold the estimate
    assert np.isfinite(table[["ci_low", "ci_high"]].to_numpy()).all()
    assert ((table["ci_low"] <= table["estimate"]) & (table["estimate"] <= table["ci_high"])).all()
    assert "shared cluster weights" in report.details["method"]
    cr2 = gp.test_hypotheses(panel, hypotheses=["H1"], inference={"kind": "cr2", "draws": 199}).table()
    assert cr2["inference"].str.contains("CR2").tolist() == [False, True]
    assert cr2["inference"].str.startswith("score").tolist() == [True, False]


def test_the_score_bootstrap_interval_is_the_set_of_nulls_it_does_not_reject():
    panel = gp.simulate_panel(n_firms=600, n_clusters=14, seed=9).panel
    res = gp.upgrading_hazard(panel, f"process ~ {RHS}")
    design = res.model
    spec = InferenceSpec(kind="score", draws=399, seed=2)
    codes = np.asarray(design.groups["cluster_id"])
    v = np.random.default_rng(5).choice([-1.0, 1.0], size=(399, int(codes.max()) + 1))
    labels = pd.Index(design.group_labels["cluster_id"])
    test = score_test(design, "quasi_hierarchy", 0.0, spec, weights=pd.DataFrame(v, columns=labels), ci=True)
    low, high = test.ci
    a = np.zeros(len(design.names))
    a[design.names.index("quasi_hierarchy")] = 1.0
    width = high - low

    def p(r):
        t, tb, _ = _statistics(design, a, r, codes, v)
        return bootstrap_pvalues(t, tb)[0]

    assert low < res.params["quasi_hierarchy"] < high
    for end, outward in ((low, -1.0), (high, 1.0)):
        assert p(end - outward * 1e-3 * width) > 0.05  # just inside: not rejected
        assert p(end + outward * 1e-3 * width) <= 0.05  # just outside: rejected
    # close to, but not the same as, the analytic interval of the same sandwich
    analytic = res.conf_int().loc["quasi_hierarchy"]
    assert abs(low - analytic["lower"]) < 0.5 * width and abs(high - analytic["upper"]) < 0.5 * width


def test_few_clusters_give_the_whole_line():
    panel = gp.simulate_panel(n_firms=200, n_clusters=3, n_countries=1, seed=2).panel
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = gp.upgrading_hazard(panel, "process ~ quasi_hierarchy + log(employees)",
                                  inference={"kind": "score", "draws": 99})
    assert np.isinf(res.conf_int().loc["quasi_hierarchy"]).all()
