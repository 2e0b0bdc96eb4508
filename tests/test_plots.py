"""Plots draw what the results say: the data of the drawn lines and collections, not pixels."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")

import gvcpanel as gp  # noqa: E402
from gvcpanel.errors import SpecificationError  # noqa: E402
from gvcpanel.models.moderation import moderation  # noqa: E402
from gvcpanel.report.plots import coefplot, event_study_frame, event_study_plot, moderation_plot  # noqa: E402

# in the model's order: formulaic puts the interaction after the main effects
TERMS = ["network", "quasi_hierarchy", "network_strength_c", "log(employees)", "quasi_hierarchy:network_strength_c"]


@pytest.fixture(scope="module")
def fitted():
    panel = gp.simulate_panel(n_firms=400, n_clusters=12, seed=3).panel
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fe = gp.fe_regression(panel, "labour_productivity ~ quasi_hierarchy + network + log(employees)")
        wild = fe.with_inference("wild", draws=199, seed=4)
        hazard = gp.upgrading_hazard(panel, "functional ~ " + " + ".join(TERMS))
        score = hazard.with_inference("score", draws=99)
    return {"fe": fe, "wild": wild, "hazard": hazard, "score": score}


def markers(ax):
    return [line for line in ax.lines if line.get_marker() == "o"]


def test_coefplot_draws_estimates_and_intervals_of_each_model(fitted):
    fe, wild = fitted["fe"], fitted["wild"]
    fig = coefplot({"CRV1": fe, "wild": wild})
    ax = fig.axes[0]
    points = markers(ax)
    assert [p.get_label() for p in points] == ["CRV1", "wild"]
    terms = list(fe.params.index)
    assert [t.get_text() for t in ax.get_yticklabels()] == terms
    for res, line, segments in zip((fe, wild), points, ax.collections):
        np.testing.assert_allclose(line.get_xdata(), res.params[terms], rtol=0, atol=0)
        ci = res.conf_int(0.95).loc[terms]  # the wild bootstrap's own test-inversion intervals
        ends = np.array([[seg[0][0], seg[1][0]] for seg in segments.get_segments()])
        np.testing.assert_allclose(ends, ci.to_numpy(), rtol=0, atol=0)
    # the two models sit apart on each term's row, CRV1 above
    assert np.all(points[0].get_ydata() > points[1].get_ydata())


def test_coefplot_level_and_terms(fitted):
    fe = fitted["fe"]
    fig = coefplot(fe, terms=["network"], labels={"network": "Network"}, level=0.9)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Network"]
    seg = ax.collections[0].get_segments()[0]
    np.testing.assert_allclose([seg[0][0], seg[1][0]], fe.conf_int(0.9).loc["network"].to_numpy())
    assert ax.get_legend() is None  # one unnamed model


def test_coefplot_hides_baseline_dummies_and_names_models_without_intervals(fitted):
    from dataclasses import replace

    score = fitted["score"]
    fig = coefplot([fitted["hazard"], score])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == TERMS
    assert [p.get_label() for p in markers(ax)] == ["(1)", "(2)"]
    # the score bootstrap draws its own test-inversion intervals
    ends = np.array([[seg[0][0], seg[1][0]] for seg in ax.collections[1].get_segments()])
    np.testing.assert_allclose(ends, score.conf_int().loc[TERMS].to_numpy(), rtol=0, atol=0)
    # a bootstrap run without intervals is drawn as points and named so
    bare = replace(score, inference=replace(score.inference, ci=None))
    fig = coefplot([fitted["hazard"], bare])
    ax = fig.axes[0]
    assert [p.get_label() for p in markers(ax)] == ["(1)", "(2) (no intervals)"]
    assert len(ax.collections) == 1


def test_moderation_plot_draws_the_curve_band_and_region(fitted):
    mod = moderation(fitted["hazard"], focal="quasi_hierarchy", moderator="network_strength_c")
    fig = moderation_plot(mod, points=21)
    ax = fig.axes[0]
    values = mod.moderator_values[np.isfinite(mod.moderator_values)]
    grid = np.linspace(np.quantile(values, 0.01), np.quantile(values, 0.99), 21)
    curve = moderation(fitted["hazard"], focal="quasi_hierarchy", moderator="network_strength_c", at=grid).table
    line = next(l for l in ax.lines if l.get_label() == "conditional effect")
    np.testing.assert_allclose(line.get_xdata(), grid, rtol=1e-15)
    np.testing.assert_allclose(line.get_ydata(), curve["effect"], rtol=1e-12)
    band = next(c for c in ax.collections if c.get_label() == "95% interval")
    vertices = band.get_paths()[0].vertices
    np.testing.assert_allclose(vertices[:, 1].min(), curve["ci_low"].min(), rtol=1e-12)
    np.testing.assert_allclose(vertices[:, 1].max(), curve["ci_high"].max(), rtol=1e-12)
    # Johnson-Neyman: shaded spans are the significant moderator values inside the plotted range
    spans = list(ax.patches)  # axvspan rectangles, the only patches drawn
    assert "Johnson-Neyman" in spans[0].get_label()
    expected = [(max(a, grid[0]), min(b, grid[-1])) for a, b in mod.johnson_neyman if max(a, grid[0]) < min(b, grid[-1])]
    drawn = sorted((float(p.get_x()), float(p.get_x() + p.get_width())) for p in spans)
    np.testing.assert_allclose(drawn, sorted(expected), rtol=1e-12)
    boundaries = [l.get_xdata()[0] for l in ax.lines if l.get_linestyle() == ":"]
    np.testing.assert_allclose(sorted(boundaries), sorted(b for b in mod.boundaries if grid[0] <= b <= grid[-1]))
    assert fig.axes[0].get_xlabel() == "network_strength_c"


def test_moderation_plot_refuses_other_results(fitted):
    with pytest.raises(SpecificationError, match="gvcpanel.moderation"):
        moderation_plot(fitted["hazard"])


def test_event_study_plot_overlays_estimators():
    frame = pd.DataFrame({
        "estimator": ["TWFE"] * 4 + ["Callaway-Sant'Anna"] * 4,
        "event_time": [-3, -2, 0, 1] * 2,
        "estimate": [0.02, -0.01, 0.30, 0.45, 0.0, 0.01, 0.25, 0.40],
        "ci_low": [-0.1, -0.12, 0.1, 0.2, -0.1, -0.1, 0.05, 0.15],
        "ci_high": [0.14, 0.1, 0.5, 0.7, 0.1, 0.12, 0.45, 0.65],
    })
    fig = event_study_plot(frame, dodge=0.2)
    ax = fig.axes[0]
    points = markers(ax)
    assert [p.get_label() for p in points] == ["Callaway-Sant'Anna", "TWFE"]  # sorted by estimator
    for j, (line, lines) in enumerate(zip(points, ax.collections)):
        part = frame[frame.estimator == line.get_label()].sort_values("event_time")
        shift = 0.2 * (j - 0.5)
        np.testing.assert_allclose(line.get_xdata(), part.event_time + shift)
        np.testing.assert_allclose(line.get_ydata(), part.estimate)
        segs = np.array([[s[0][1], s[1][1]] for s in lines.get_segments()])
        np.testing.assert_allclose(segs, part[["ci_low", "ci_high"]].to_numpy())
    onset = [l for l in ax.lines if l.get_linestyle() == ":"]
    assert len(onset) == 1 and onset[0].get_xdata()[0] == -0.5


def test_event_study_frame_from_results_and_mappings(fitted):
    fe = fitted["fe"]
    # a result whose terms end in the event time
    params = fe.params.set_axis(["event_time[-2]", "event_time[0]", "event_time[1]"])
    inference = fe.inference
    cov = inference.cov.set_axis(params.index, axis=0).set_axis(params.index, axis=1)
    renamed = replace(fe, params=params, inference=replace(inference, cov=cov))
    frame = event_study_frame({"FE": renamed})
    assert frame.event_time.tolist() == [-2.0, 0.0, 1.0]
    np.testing.assert_allclose(frame.ci_low, renamed.conf_int().lower)
    twfe = frame.assign(estimator="TWFE")
    both = event_study_frame([twfe, frame.assign(estimator="CS")])
    assert both.estimator.tolist() == ["CS"] * 3 + ["TWFE"] * 3
    with pytest.raises(SpecificationError, match="lacks columns"):
        event_study_frame(pd.DataFrame({"event_time": [0], "estimate": [1.0]}))
    with pytest.raises(SpecificationError, match="does not end in an event time"):
        event_study_frame(fe)
