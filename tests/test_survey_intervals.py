"""Risk sets of survey waves: intervals between interviews, recall windows, and the annual case."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import gvcpanel as gp
from gvcpanel.data.design import observation_design
from gvcpanel.errors import SpecificationError
from gvcpanel.gvc.intervals import interval_risk_rows
from gvcpanel.gvc.upgrading import risk_set


@pytest.fixture(scope="module")
def waves() -> pd.DataFrame:
    """Firm 1 at every wave; firm 2 skips 2015; firm 3's 2015 certification status is missing."""
    return pd.DataFrame({
        "firm_id": [1, 1, 1, 2, 2, 3, 3, 3],
        "year": [2009, 2015, 2019, 2009, 2019, 2009, 2015, 2019],
        "iso_certified": [0, 0, 1, 0, 1, 0, None, 1],
        "new_product": [0, 0, 1, 1, 0, 0, 1, 0],
        "function_level": [0, 1, 1, 3, 3, 0, 0, 2],
    }).set_index(["firm_id", "year"])


def test_states_are_at_risk_over_the_interval_since_the_previous_interview(waves):
    rows = interval_risk_rows(waves, "process")
    assert rows.design.is_waves
    assert rows.at_risk.tolist() == [False, True, True, False, True, False, False, False]
    assert rows.event.tolist() == [0, 0, 1, 0, 1, 0, 0, 0]
    # firm 2 was not interviewed in 2015: one ten-year interval, not a gap
    assert rows.interval[rows.at_risk].tolist() == [6, 4, 10]
    assert rows.duration[rows.at_risk].tolist() == [6, 10, 10]
    np.testing.assert_allclose(rows.offset[rows.at_risk], np.log([6, 4, 10]), rtol=1e-15)
    assert rows.exclusions == {"missing iso_certified": 1,
                               "first interview (state observed, not at risk)": 3,
                               "previous interview's iso_certified missing": 1}


def test_a_step_up_the_ladder_over_an_interval_is_one_event(waves):
    rows = interval_risk_rows(waves, "functional")
    assert rows.at_risk.tolist() == [False, True, True, False, False, False, True, True]
    assert rows.event[rows.at_risk].tolist() == [1, 0, 0, 1]  # firm 3 jumps two levels: one event
    assert rows.interval[rows.at_risk].tolist() == [6, 4, 6, 4]
    assert rows.duration[rows.at_risk].tolist() == [6, 4, 6, 10]  # since the level was first seen
    assert rows.n_left_truncated == 1


def test_a_recall_question_covers_its_window_and_no_more(waves):
    design = observation_design(waves.index.get_level_values("year"), {"new_product": 3})
    rows = interval_risk_rows(waves, "product", design=design)
    assert rows.window == 3
    # at risk until the first reported new product; windows of 3 years, never longer than the
    # time since an interview that reported none
    assert rows.at_risk.tolist() == [True, True, True, True, False, True, True, False]
    assert rows.event[rows.at_risk].tolist() == [0, 0, 1, 1, 0, 1]
    assert rows.interval[rows.at_risk].tolist() == [3, 3, 3, 3, 3, 3]
    assert rows.duration[rows.at_risk].tolist() == [3, 9, 13, 3, 3, 9]
    overlapping = observation_design([2009, 2011], {"new_product": 3})
    frame = pd.DataFrame({"firm_id": [1, 1], "year": [2009, 2011], "new_product": [0, 1]}).set_index(
        ["firm_id", "year"])
    close = interval_risk_rows(frame, "product", design=overlapping)
    assert close.interval.tolist() == [3, 2]  # 2010-2011: 2009 was in the first window


def test_without_a_declared_window_a_wave_flow_ends_at_the_first_interval(waves):
    rows = interval_risk_rows(waves, "product")
    assert rows.at_risk.tolist() == [True, False, False, True, False, True, False, False]
    assert (rows.interval == 1).all()
    assert any("declare the question's recall window" in r for r in rows.report["reason"])


def test_a_state_cannot_be_a_recall_question(waves):
    design = observation_design([2009, 2015], {"iso_certified": 3})
    with pytest.raises(SpecificationError, match="recall window belongs to a flow"):
        interval_risk_rows(waves, "process", design=design)


@pytest.mark.parametrize("upgrade", ["process", "product", "functional", "intersectoral"])
def test_on_annual_data_it_is_the_annual_risk_set(upgrade):
    frame = gp.example_panel().data
    rows = interval_risk_rows(frame, upgrade)
    annual = risk_set(frame, upgrade)
    assert not rows.design.is_waves and (rows.interval == 1).all()
    assert rows.at_risk.sum() == len(annual.frame)
    assert (frame.index[rows.at_risk] == annual.frame.index).all()
    assert (rows.event[rows.at_risk] == annual.frame["event"].to_numpy()).all()
    assert (rows.duration[rows.at_risk] == annual.frame["duration"].to_numpy()).all()
    pd.testing.assert_frame_equal(rows.report, annual.report)
