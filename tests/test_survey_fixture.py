"""The simulated Enterprise-Survey fixture: raw codes, waves, weights, module, and its truth.

The fixture is checked three ways: its codes are those of the survey (and the shipped ``wbes``
mapping and ``governance_module`` template turn them back into exactly the values the events
were drawn from); its events follow the grouped-duration model it documents (observed event
rates against the model's probabilities, on a large seeded draw); and its truth is what the
simulator was given.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import gvcpanel as gp
from gvcpanel.data.modules import join_module
from gvcpanel.errors import SpecificationError
from gvcpanel.gvc.survey_fixture import simulate_survey


@pytest.fixture(scope="module")
def fixture():
    return simulate_survey(seed=3)


@pytest.fixture(scope="module")
def joined(fixture, tmp_path_factory):
    paths = fixture.write(tmp_path_factory.mktemp("es"))
    panel = gp.load_panel(paths["survey"], mapping="wbes")
    return gp.classify_governance(join_module(panel, paths["module"], mapping="governance_module"))


def test_same_seed_same_files_other_seed_other_files(fixture):
    again = simulate_survey(seed=3)
    pd.testing.assert_frame_equal(again.survey, fixture.survey)
    pd.testing.assert_frame_equal(again.module, fixture.module)
    assert not simulate_survey(seed=4).survey.equals(fixture.survey)


def test_codes_are_the_survey_codes(fixture):
    es = fixture.survey
    assert sorted(es["year"].unique()) == [2009, 2015, 2019]
    assert set(es["b8"]) <= {1, 2, -6, -9, -8}
    assert {-6, 1, 2} <= set(es["b8"])
    assert set(es["h1"]) <= {1, 2, -9, -8}
    assert -7 in set(es["d3b"]) and -7 not in set(es["d3c"])
    answered = (es[["d3b", "d3c"]] >= 0).all(axis=1)
    assert (es.loc[answered, "d3a"] + es.loc[answered, "d3b"] + es.loc[answered, "d3c"] == 100).all()
    assert set(es["a6a"]) == {1, 2, 3}
    assert (es["wstrict"] < es["wmedian"]).all() and (es["wmedian"] < es["wweak"]).all()
    # a stratum is one region and one size class
    assert (es.groupby("strata")[["a1", "a2", "a6a"]].nunique() == 1).all().all()
    assert es.groupby(["idstd", "year"]).size().max() == 1
    for column in ("b8", "h1", "l1", "b5", "b2b", "d3b", "d3c"):
        assert int((es[column] == -9).sum()) == fixture.codes[f"{column} -9"]


def test_mappings_recover_the_values_the_events_were_drawn_from(fixture, joined):
    latent = fixture.latent.set_index(["firm_id", "year"])
    data = joined.data
    assert data.index.equals(latent.index)
    for column in ("iso_certified", "new_product", "function_level", "firm_age", "foreign_owned",
                   "export_share"):
        value = data[column].astype(float)
        seen = value.notna()
        np.testing.assert_allclose(value[seen], latent.loc[seen, column].astype(float), rtol=0, atol=1e-12)
        assert seen.mean() > 0.9
    employees = data["employees"].astype(float)
    seen = employees.notna()
    np.testing.assert_allclose(np.log(employees[seen]), latent.loc[seen, "log(employees)"], rtol=1e-15)
    governance = data["governance"].astype(object)
    classified = governance.notna()
    assert (governance[classified] == latent.loc[classified, "governance"]).all()
    assert classified.mean() > 0.85
    # every code set to missing is counted by the mapping, and b8's -6 is "not certified"
    set_missing = joined.load_report.mapping.n_set_missing("iso_certified")
    assert set_missing == fixture.codes["b8 -9"] + fixture.codes["b8 -8"]
    still = fixture.survey["b8"].to_numpy() == -6
    assert (data["iso_certified"].to_numpy()[still] == 0).all()


def test_module_join_reports_records_without_an_interview(fixture, joined):
    report = joined.module_report
    assert report.keyed_by == "wave" and dict(report.waves) == {1: 2009, 2: 2015, 3: 2019}
    assert report.n_unmatched == fixture.codes["module records without an interview"] > 0
    assert report.n_matched + report.n_unmatched == report.n_module_rows == len(fixture.module)
    assert report.n_panel_rows_without_module == int((~fixture.latent["module"]).sum())


def test_network_strength_of_the_joined_panel_is_the_one_the_events_used(fixture, joined):
    strength = gp.network_strength(joined).centred
    latent = fixture.latent.set_index(["firm_id", "year"])["network_strength_c"]
    seen = strength.notna()
    np.testing.assert_allclose(strength[seen], latent[seen], rtol=0, atol=1e-12)


def _risk_probabilities(latent: pd.DataFrame, truth, upgrade: str, window: int) -> pd.DataFrame:
    """Rows at risk with the grouped-duration probability the fixture documents."""
    frame = latent.sort_values(["firm_id", "year"]).reset_index(drop=True)
    first = frame.groupby("firm_id").cumcount() == 0
    previous_year = frame.groupby("firm_id")["year"].shift()
    x = {name: (frame["governance"] == name).astype(float) for name in ("network", "quasi_hierarchy", "hierarchy")}
    for name in ("log(employees)", "firm_age", "foreign_owned", "export_share", "network_strength_c"):
        x[name] = frame[name]
    x["quasi_hierarchy:network_strength_c"] = x["quasi_hierarchy"] * frame["network_strength_c"]
    eta = getattr(truth.params, f"{upgrade}_baseline_level") + sum(
        beta * x[term] for term, beta in truth.hazard(upgrade).items())
    if upgrade == "product":
        before = frame.groupby("firm_id")["new_product"].cumsum() - frame["new_product"]
        at_risk = before == 0
        length = np.where(first, window, np.minimum(window, frame["year"] - previous_year))
        event = frame["new_product"]
    else:
        column = "iso_certified" if upgrade == "process" else "function_level"
        prev = frame.groupby("firm_id")[column].shift()
        at_risk = ~first & (prev < (1 if upgrade == "process" else 3))
        length = frame["year"] - previous_year
        event = (frame[column] > prev).astype(float)
    out = pd.DataFrame({"event": event, "p": -np.expm1(-length * np.exp(eta))})
    return out[at_risk.to_numpy()]


@pytest.mark.parametrize("upgrade", ["process", "product", "functional"])
def test_events_follow_the_grouped_duration_model(upgrade):
    # waves 2 and 5 years apart: the product recall window (3) overlaps the first interval and
    # leaves a gap in the second, and the state intervals differ in length
    big = simulate_survey(n_firms=6000, n_regions=30, waves=(2009, 2011, 2016, 2019), seed=11,
                          event_rho=0.0)
    rows = _risk_probabilities(big.latent, big.truth, upgrade, 3)
    observed, expected = rows["event"].sum(), rows["p"].sum()
    sd = np.sqrt((rows["p"] * (1 - rows["p"])).sum())
    assert abs(observed - expected) < 4 * sd, (upgrade, observed, expected, sd)
    # and by interval length: the offset log(L) carries the length, not the baseline
    assert len(rows) > 1000


def test_truth_is_the_simulators_with_flat_baselines(fixture, tmp_path):
    params = fixture.truth.params
    assert params.process_quasi_hierarchy == gp.TrueParameters().process_quasi_hierarchy
    assert params.process_baseline_trend == params.product_baseline_trend == 0.0
    assert fixture.truth.recall_windows == {"h1": 3}
    paths = fixture.write(tmp_path, stata=True)
    stored = json.loads(paths["truth"].read_text())
    assert stored["hazards"]["functional"]["quasi_hierarchy:network_strength_c"] == params.functional_interaction
    assert stored["seed"] == 3 and stored["waves"] == [2009, 2015, 2019]
    assert pd.read_stata(paths["stata"]).shape == fixture.survey.shape
    zero = simulate_survey(n_firms=300, seed=1, params={"process_quasi_hierarchy": 0.0})
    assert zero.truth.hazard("process")["quasi_hierarchy"] == 0.0


@pytest.mark.parametrize("kwargs, message", [
    ({"waves": (2015, 2009)}, "increasing"),
    ({"waves": (2009,)}, "at least two"),
    ({"recall_window": 0}, "recall_window"),
    ({"sampling_rates": (0.5, 0.5)}, "three rates"),
    ({"response_rate": 1.5}, "response_rate"),
    ({"params": {"process_baseline_trend": 0.05}}, "baseline trends at zero"),
    ({"params": {"process_qh": 0.1}}, "unknown true parameter"),
])
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(SpecificationError, match=message):
        simulate_survey(n_firms=200, **kwargs)
