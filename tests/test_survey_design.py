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


def test_the_wbes_mapping_declares_h1_a_three_year_recall_question_and_reads_the_design(tmp_path):
    from gvcpanel.data.mapping import read_mapping
    from gvcpanel.gvc.survey_fixture import simulate_survey

    assert read_mapping("wbes").recall == {"new_product": 3}
    files = simulate_survey(n_firms=300, n_regions=6, seed=1).write(tmp_path)
    panel = gp.load_panel(files["survey"], mapping="wbes")
    assert panel.observation.recall == {"new_product": 3}
    assert panel.observation.text() == "waves 2009, 2015, 2019 (intervals 6, 4 years)"
    # wmedian is the weight; the strict and weak weights stay selectable; the strata are read
    survey = pd.read_csv(files["survey"]).set_index(["idstd", "year"])
    data = panel.data
    assert (data["weight"].to_numpy() == survey["wmedian"].to_numpy()).all()
    assert (data["wstrict"].to_numpy() == survey["wstrict"].to_numpy()).all()
    assert (data["stratum"].astype(int).to_numpy() == survey["strata"].to_numpy()).all()


@pytest.mark.parametrize("recall", [0, "3", 2.5])
def test_a_recall_window_must_be_a_whole_number_of_years(tmp_path, recall):
    import json

    from gvcpanel.data.mapping import read_mapping
    from gvcpanel.errors import MappingError

    path = tmp_path / "m.json"
    path.write_text(json.dumps({"fields": {"new_product": {"op": "copy", "from": ["h1"], "recall": recall}}}))
    with pytest.raises(MappingError, match="recall"):
        read_mapping(path)
