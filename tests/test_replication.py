"""End to end: `make replicate` on the example panel writes every table, identically twice."""

import time

import pytest

from replication.run import main

EXPECTED = [
    "figure1_moderation.pdf", "figure1_moderation.png", "run_log.txt",
    *[f"{stem}.{ext}" for stem in ("table1_descriptives", "table2_process_product", "table3_functional",
                                    "table4_moderation", "table5_hypotheses", "table6_inference",
                                    "table_truth_vs_estimates", "table7a_transition_counts",
                                    "table7b_transition_model", "table7c_transition_probabilities",
                                    "table8_lock_in", "table9_destination", "table9b_dynamics_hypotheses",
                                    "table_truth_dynamics") for ext in ("csv", "html", "md", "tex")],
]


@pytest.mark.replication
@pytest.mark.slow
def test_replication_is_complete_and_byte_identical(tmp_path):
    start = time.perf_counter()
    assert main(["--out", str(tmp_path / "a")]) == 0
    elapsed = time.perf_counter() - start
    assert main(["--out", str(tmp_path / "b")]) == 0
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(EXPECTED)
    for name in names:
        if name == "run_log.txt":
            continue  # the log records elapsed time
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    summary = (tmp_path / "a" / "table5_hypotheses.md").read_text()
    assert summary.count("| H") == 10
    assert elapsed < 120  # the limit for make replicate on the 2-core machine


@pytest.mark.replication
def test_own_data_path_runs_without_truth_table(tmp_path):
    from gvcpanel.gvc.simulate import simulate_panel

    data = tmp_path / "mine.csv"
    simulate_panel(n_firms=500, seed=8).frame.to_csv(data, index=False)
    assert main(["--data", str(data), "--out", str(tmp_path / "out"), "--skip-bootstrap"]) == 0
    written = {p.name for p in (tmp_path / "out").iterdir()}
    assert "table5_hypotheses.md" in written and "table_truth_vs_estimates.md" not in written
    assert "table8_lock_in.md" in written and "table_truth_dynamics.md" not in written
    assert f"data: {data}" in (tmp_path / "out" / "run_log.txt").read_text()
