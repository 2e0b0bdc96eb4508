"""make replicate SOURCE=transactions: the tables from a folder of records, and the proxy table."""

from __future__ import annotations

import pytest

from gvcpanel.gvc.transactions.simulate import simulate_transactions
from replication.run import main


@pytest.mark.replication
@pytest.mark.slow
def test_replicate_from_a_folder_of_transaction_records(tmp_path):
    sim = simulate_transactions(n_firms=300, seed=31)
    sim.write(tmp_path / "records")
    out = tmp_path / "out"
    assert main(["--data", str(tmp_path / "records"), "--source", "transactions", "--out", str(out),
                 "--skip-bootstrap"]) == 0
    written = {p.name for p in out.iterdir()}
    assert {"table5_hypotheses.md", "table2_process_product.md", "table_proxy_vs_survey.md"} <= written
    proxy = (out / "table_proxy_vs_survey.md").read_text()
    assert "H1 process hazard" in proxy and "proxy = 1" in proxy
    log = (out / "run_log.txt").read_text()
    assert "engine duckdb" in log and "definitions 1.0.0" in log and "sha256=" in log
