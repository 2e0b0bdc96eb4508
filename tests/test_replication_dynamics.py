"""Tables 7-9 of the replication package: content, and data without the dynamics columns."""

from __future__ import annotations

import warnings

import pytest

from gvcpanel.gvc.simulate import simulate_panel
from replication.dynamics import write_dynamics


class _Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def line(self, text: str) -> None:
        self.lines.append(text)


@pytest.fixture(scope="module")
def sim():
    return simulate_panel(n_firms=900, seed=41)


def test_tables_7_to_9_are_written_with_their_numbers(sim, tmp_path):
    log = _Log()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        written = write_dynamics(sim.panel, sim.truth, tmp_path, log, chain_entry=sim.entry)
    stems = {p.stem for p in written}
    assert stems == {"table7a_transition_counts", "table7b_transition_model", "table7c_transition_probabilities",
                     "table8_lock_in", "table9_destination", "table9b_dynamics_hypotheses", "table_truth_dynamics",
                     "figure2_event_study"}
    assert not log.lines
    counts = (tmp_path / "table7a_transition_counts.csv").read_text()
    from gvcpanel.gvc.transitions import governance_transitions

    table = governance_transitions(sim.panel)
    assert f"{table.counts.loc['quasi_hierarchy', 'network']:,} (" in counts
    assert (tmp_path / "figure2_event_study.png").stat().st_size > 10_000
    summary = (tmp_path / "table9b_dynamics_hypotheses.md").read_text()
    assert summary.count("| H6") == 2 and summary.count("| H7") == 3 and summary.count("| H8") == 1


def test_panels_without_the_dynamics_columns_get_table_7a_and_a_logged_reason(sim, tmp_path):
    frame = sim.frame.drop(columns=["capability_score", "new_buyer_or_market", "export_sales"])
    log = _Log()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        written = write_dynamics(frame, None, tmp_path, log)
    assert {p.stem for p in written} == {"table7a_transition_counts", "table9_destination",
                                         "table9b_dynamics_hypotheses"}
    # each model that cannot be estimated is logged with its missing column, then each table not written
    estimable = [line for line in log.lines if line.startswith("not estimable: ")]
    assert len(estimable) == 2
    assert "missing capability_score" in estimable[0] and "missing new_buyer_or_market" in estimable[1]
    not_written = [line for line in log.lines if line.startswith("not written: ")]
    assert [line.split(" (")[0] for line in not_written] == ["not written: tables 7b-7c",
                                                            "not written: table8_lock_in"]
    assert "figure 2" in log.lines[-1] and "no column 'export_sales'" in log.lines[-1]
    assert len(log.lines) == 5
