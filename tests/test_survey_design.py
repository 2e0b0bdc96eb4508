"""The observation design of a panel: annual or waves, and how describe reports it."""

from __future__ import annotations

import pandas as pd
import pytest

import gvcpanel as gp
from gvcpanel.data.design import observation_design


def _panel(rows):
    frame = pd.DataFrame(rows, columns=["firm_id", "year"])
    frame["cluster_id"] = "c1"
    return gp.load_panel(frame)


def test_consecutive_years_are_annual_and_spaced_years_are_waves():
    assert observation_design([2005, 2006, 2007, 2006]).kind == "annual"
    design = observation_design([2019, 2009, 2015, 2009])
    assert design.kind == "waves" and design.years == (2009, 2015, 2019)
    assert design.intervals == (6, 4)
    assert design.text() == "waves 2009, 2015, 2019 (intervals 6, 4 years)"
    assert observation_design([2005, 2006]).text() == "annual, 2005-2006"
    assert design.with_recall({"new_product": 3}).recall == {"new_product": 3}


def test_describe_speaks_of_waves_and_intervals_not_gaps():
    # firm 1 at every wave, firm 2 skips 2015, firm 3 only 2019
    panel = _panel([(1, 2009), (1, 2015), (1, 2019), (2, 2009), (2, 2019), (3, 2019)])
    assert panel.observation.is_waves
    desc = panel.describe()
    overview = dict(zip(desc.overview["statistic"], desc.overview["value"]))
    assert overview["observation design"] == "waves 2009, 2015, 2019 (intervals 6, 4 years)"
    assert overview["firms that missed a wave between two interviews"] == 1
    assert overview["share of firms observed at every wave"] == pytest.approx(1 / 3, rel=1e-12)
    assert "firms with internal gaps" not in overview
    assert desc.intervals.to_dict("records") == [{"interval": 4, "n": 1}, {"interval": 6, "n": 1},
                                                 {"interval": 10, "n": 1}]
    assert "## Intervals" in desc.to_markdown()


def test_an_annual_panel_keeps_its_gaps():
    panel = _panel([(1, 2010), (1, 2011), (1, 2012), (2, 2010), (2, 2012)])
    desc = panel.describe()
    overview = dict(zip(desc.overview["statistic"], desc.overview["value"]))
    assert overview["firms with internal gaps"] == 1
    assert panel.observation.kind == "annual"
    assert desc.intervals.to_dict("records") == [{"interval": 1, "n": 2}, {"interval": 2, "n": 1}]
