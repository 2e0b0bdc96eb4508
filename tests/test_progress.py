"""Progress bars: on an interactive terminal only, unless an argument, the option or the variable says."""

from __future__ import annotations

import io

import pytest

from gvcpanel.errors import SpecificationError
from gvcpanel.progress import ENVIRONMENT_VARIABLE, progress, progress_enabled, progress_option, set_progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def default_switches(monkeypatch):
    monkeypatch.delenv(ENVIRONMENT_VARIABLE, raising=False)
    set_progress(None)
    yield
    set_progress(None)


def test_silent_off_a_terminal_and_the_same_iterable():
    stream = io.StringIO()
    items = [1, 2, 3]
    assert progress(items, stream=stream) is items
    assert stream.getvalue() == ""


def test_a_bar_on_an_interactive_terminal():
    stream = Terminal()
    assert list(progress(range(5), desc="wild bootstrap", unit="term", stream=stream, mininterval=0, delay=0)) == list(range(5))
    text = stream.getvalue()
    assert "wild bootstrap" in text and "5/5" in text


def test_the_argument_wins_over_option_variable_and_terminal(monkeypatch):
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, "on")
    set_progress(True)
    assert progress_enabled(False, Terminal()) is False
    assert progress_enabled(True, io.StringIO()) is True


def test_the_option_wins_over_the_variable_and_works_as_a_context(monkeypatch):
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, "1")
    with progress_option(False):
        assert progress_enabled(None, Terminal()) is False
    assert progress_enabled(None, io.StringIO()) is True  # the variable again


@pytest.mark.parametrize("value, expected", [("1", True), ("ON", True), ("true", True), ("0", False),
                                             ("off", False), ("False", False), ("", None)])
def test_the_environment_variable(monkeypatch, value, expected):
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, value)
    got = progress_enabled(None, Terminal())
    assert got is (True if expected is None else expected)  # empty: back to the terminal test


def test_bad_switches_are_refused(monkeypatch):
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, "sometimes")
    with pytest.raises(SpecificationError, match=ENVIRONMENT_VARIABLE):
        progress_enabled(None, io.StringIO())
    with pytest.raises(SpecificationError, match="set_progress"):
        set_progress("yes")  # type: ignore[arg-type]
    with pytest.raises(SpecificationError, match="progress="):
        progress_enabled("yes")  # type: ignore[arg-type]


@pytest.mark.parametrize("module, kind, estimator", [
    ("gvcpanel.inference.bootstrap", "wild", "fe"), ("gvcpanel.inference.score", "score", "hazard"),
])
def test_the_bootstraps_report_progress_per_term(monkeypatch, module, kind, estimator):
    """The bootstraps' loops over terms go through progress(), labelled, one step per term."""
    import importlib
    import warnings

    import gvcpanel as gp
    from gvcpanel import progress as progress_module

    seen = []

    def recording(iterable, **options):
        items = list(iterable)
        seen.append((options.get("desc"), items))
        return progress_module.progress(items, **options)

    monkeypatch.setattr(importlib.import_module(module), "progress", recording)
    panel = gp.simulate_panel(n_firms=300, n_clusters=12, seed=3).panel
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if estimator == "fe":
            res = gp.fe_regression(panel, "labour_productivity ~ quasi_hierarchy + network",
                                   inference={"kind": kind, "draws": 99})
        else:
            res = gp.upgrading_hazard(panel, "process ~ network + quasi_hierarchy",
                                      inference={"kind": kind, "draws": 99})
    assert seen == [(f"{kind} bootstrap", list(res.params.index))]


def test_streaming_validation_reports_progress_per_batch(monkeypatch, tmp_path):
    """validate_file's batch loop goes through progress(), one step per batch read."""
    import gvcpanel as gp
    from gvcpanel import progress as progress_module
    from gvcpanel.data import io as data_io

    seen = []

    def recording(iterable, **options):
        items = list(iterable)
        seen.append((options.get("desc"), len(items)))
        return progress_module.progress(items, **options)

    monkeypatch.setattr(data_io, "progress", recording)
    path = tmp_path / "firms.csv"
    gp.simulate_panel(n_firms=200, seed=5).frame.to_csv(path, index=False)
    report = data_io.validate_file(path, batch_size=500)
    assert seen == [("validating firms.csv", -(-report.n_rows // 500))]
