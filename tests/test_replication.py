"""End to end: `make replicate` writes every table whole, identically twice, and keeps it on failure."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gvcpanel.report.output import MARKER
from replication.run import main

REPO = Path(__file__).resolve().parents[1]
EXPECTED = [
    MARKER, "figure1_moderation.pdf", "figure1_moderation.png", "figure2_event_study.pdf",
    "figure2_event_study.png", "run_log.txt",
    *[f"{stem}.{ext}" for stem in ("table1_descriptives", "table2_process_product", "table3_functional",
                                    "table4_moderation", "table5_hypotheses", "table6_inference",
                                    "table_truth_vs_estimates", "table7a_transition_counts",
                                    "table7b_transition_model", "table7c_transition_probabilities",
                                    "table8_lock_in", "table9_destination", "table9b_dynamics_hypotheses",
                                    "table_truth_dynamics") for ext in ("csv", "html", "md", "tex")],
]


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.replication
@pytest.mark.slow
def test_replication_is_complete_and_byte_identical(tmp_path):
    assert main(["--out", str(tmp_path / "a")]) == 0
    assert main(["--out", str(tmp_path / "b")]) == 0
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(EXPECTED)
    a, b = files_of(tmp_path / "a"), files_of(tmp_path / "b")
    log_a, log_b = a.pop("run_log.txt").decode(), b.pop("run_log.txt").decode()
    assert a == b  # every file but the log, byte for byte
    # ... and the logs differ at most in the elapsed time
    assert [x for x in log_a.splitlines() if not x.startswith("elapsed")] == \
           [x for x in log_b.splitlines() if not x.startswith("elapsed")]
    summary = (tmp_path / "a" / "table5_hypotheses.md").read_text()
    assert summary.count("| H") == 10
    # its speed is measured, not asserted here: the run log records the elapsed time
    assert any(x.startswith("elapsed") for x in log_a.splitlines())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]  # no temporary debris


@pytest.mark.replication
@pytest.mark.slow
def test_run_log_lists_every_file_with_its_sha256(tmp_path):
    out = tmp_path / "o"
    assert main(["--out", str(out), "--skip-bootstrap"]) == 0
    log = (out / "run_log.txt").read_text().splitlines()
    listed = {}
    for line in log:
        digest, sep, name = line.partition("  ")
        if sep and len(digest) == 64:
            listed[name] = digest
    on_disk = {p.name for p in out.iterdir()} - {"run_log.txt", MARKER}
    assert set(listed) == on_disk
    for name, digest in listed.items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
    assert log[0] == "data: gvcpanel.example_panel() (simulated, see README)"
    assert log[1].startswith("data sha256: ") and len(log[1].split()[-1]) == 64
    assert any(line.startswith("numpy ") for line in log) and log[-1].startswith("elapsed seconds:")


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


@pytest.mark.replication
@pytest.mark.slow
def test_replicate_then_replicate_bad_data_keeps_the_first_set(tmp_path):
    # `make replicate` then `make replicate DATA=<a bad file>`, as processes in a fresh folder.
    env = dict(os.environ, PYTHONPATH=str(REPO))
    first = subprocess.run([sys.executable, "-m", "replication.run", "--out", "o", "--skip-bootstrap"],
                           cwd=tmp_path, env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    before = files_of(tmp_path / "o")
    bad = tmp_path / "bad.csv"
    bad.write_text("firm_id,year,cluster_id,main_buyer_share\nF1,2001,c1,1.7\n")
    second = subprocess.run([sys.executable, "-m", "replication.run", "--data", str(bad), "--out", "o"],
                            cwd=tmp_path, env=env, capture_output=True, text=True)
    assert second.returncode == 1
    assert "Traceback" not in second.stderr and second.stderr.startswith("replication: ")
    assert "main_buyer_share" in second.stderr and "o was left as it was" in second.stderr
    assert files_of(tmp_path / "o") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "o"]
