"""The interval (grouped-duration) hazard: the annual estimator on annual data, waves on the survey fixture."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import gvcpanel as gp
from gvcpanel.data.design import ObservationDesign
from gvcpanel.data.modules import join_module
from gvcpanel.gvc.columns import DOMAIN_COLUMNS, domain_frame
from gvcpanel.gvc.survey_fixture import simulate_survey
from gvcpanel.gvc.upgrading import risk_rows
from gvcpanel.models.hazard import discrete_hazard

pytestmark = pytest.mark.filterwarnings("ignore::gvcpanel.errors.FewClustersWarning")
RHS = "network + quasi_hierarchy + hierarchy + log(employees) + firm_age + foreign_owned + export_share"


@pytest.fixture(scope="module")
def annual():
    return gp.simulate_panel(n_firms=800, n_clusters=12, seed=5, exit_rate=0.0,
                             share_present_at_start=1.0).panel


@pytest.mark.parametrize("upgrade", ["process", "product", "functional"])
def test_on_annual_data_the_interval_hazard_is_the_annual_estimator(annual, upgrade):
    new = gp.upgrading_hazard(annual, f"{upgrade} ~ {RHS}")
    frame = domain_frame(annual.data)
    rows = risk_rows(frame, upgrade)
    data = frame.assign(event=rows.event, duration=rows.duration)
    old = discrete_hazard(data, f"event ~ {RHS}", at_risk=rows.at_risk, exclusions=rows.exclusions,
                          derived=DOMAIN_COLUMNS)
    np.testing.assert_allclose(new.params, old.params, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(new.cov.to_numpy(), old.cov.to_numpy(), rtol=1e-10, atol=1e-14)
    assert new.fit_stats["intervals"] == {1: new.nobs}
    # the same panel read as waves one year apart (every firm at every wave: no gaps) goes through
    # the interval risk set and gives the same estimates to 1e-10
    as_waves = ObservationDesign("waves", annual.observation.years, annual.observation.intervals)
    forced = _forced(annual, upgrade, as_waves)
    np.testing.assert_allclose(forced.params, old.params, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(forced.cov.to_numpy(), old.cov.to_numpy(), rtol=1e-10, atol=1e-14)


def _forced(panel, upgrade, design):
    from gvcpanel.gvc import hazard

    original = hazard.design_of
    hazard.design_of = lambda p, f, r=None: design
    try:
        return gp.upgrading_hazard(panel, f"{upgrade} ~ {RHS}")
    finally:
        hazard.design_of = original


@pytest.fixture(scope="module")
def survey_panel():
    fx = simulate_survey(n_firms=2500, n_regions=20, seed=21)
    panel = gp.load_panel(fx.survey, mapping="wbes")
    return gp.classify_governance(join_module(panel, fx.module, mapping="governance_module")), fx


def test_waves_are_intervals_not_gaps(survey_panel):
    panel, _ = survey_panel
    res = gp.upgrading_hazard(panel, f"process ~ {RHS}")
    reasons = " ".join(res.exclusions["reason"])
    assert "gap" not in reasons and "previous year" not in reasons
    assert set(res.fit_stats["intervals"]) >= {4, 6, 10}
    assert res.fit_stats["observation"] == "waves 2009, 2015, 2019 (intervals 6, 4 years)"
    assert res.spec.option("offset") == "given"


def test_the_product_hazard_reads_h1_as_a_three_year_window(survey_panel):
    panel, _ = survey_panel
    res = gp.upgrading_hazard(panel, f"product ~ {RHS}")
    assert res.fit_stats["recall_window"] == 3 and set(res.fit_stats["intervals"]) == {3}
    assert res.nobs > 1000
    # without the declared window the answers are one-year flows and the spells end at the first wave
    bare = replace(panel.observation, recall={})
    from gvcpanel.gvc import hazard

    original = hazard.design_of
    hazard.design_of = lambda p, f, r=None: bare
    try:
        short = gp.upgrading_hazard(panel, f"product ~ {RHS}")
    finally:
        hazard.design_of = original
    assert short.nobs < 0.75 * res.nobs
    assert any("recall window" in reason for reason in short.exclusions["reason"])


def test_weighted_interval_hazard_on_the_fixture(survey_panel):
    panel, fx = survey_panel
    plain = gp.upgrading_hazard(panel, f"functional ~ {RHS} + network_strength_c")
    weighted = gp.upgrading_hazard(panel, f"functional ~ {RHS} + network_strength_c", weights="weight")
    assert weighted.spec.option("weights") == "weight"
    assert not np.allclose(plain.params, weighted.params)
    assert weighted.fit_stats["sum_weights"] > 0
    strict = gp.upgrading_hazard(panel, f"functional ~ {RHS} + network_strength_c", weights="wstrict")
    assert not np.allclose(strict.params, weighted.params)
    design = gp.upgrading_hazard(panel, f"functional ~ {RHS} + network_strength_c", weights="weight",
                                 inference={"kind": "survey"})
    assert "strata stratum" in design.inference.label and "PSU firm_id" in design.inference.label
