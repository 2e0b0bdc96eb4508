"""make replicate on survey data: every table it can, 'not estimable' for the rest, nothing stale."""

from __future__ import annotations

import pandas as pd
import pytest

from gvcpanel.gvc.survey_fixture import simulate_survey
from replication.run import main

pytestmark = pytest.mark.replication


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("survey")
    paths = simulate_survey(n_firms=900, n_regions=10, seed=12).write(folder)
    module = pd.read_csv(paths["module"])
    # the same module without its function-level item: no function_level in the panel
    module.drop(columns=["gm_function"]).to_csv(folder / "module_no_function.csv", index=False)
    return {**paths, "module_no_function": folder / "module_no_function.csv"}


def _run(files, module, out, *extra):
    return main(["--data", str(files["survey"]), "--mapping", "wbes", "--module", str(module),
                 "--module-mapping", "governance_module", "--out", str(out), "--skip-bootstrap", *extra])


def test_survey_without_function_level_writes_what_it_can_and_nothing_stale(files, tmp_path):
    out = tmp_path / "output"
    assert _run(files, files["module"], out) == 0
    full = {p.name for p in out.iterdir()}
    assert {"table3_functional.md", "table4_moderation.md", "figure1_moderation.png"} <= full
    assert _run(files, files["module_no_function"], out, "--weights", "weight") == 0
    names = {p.name for p in out.iterdir()}
    # the functional models are not estimable: their tables are gone, not left from the first run
    assert not {n for n in names if n.startswith(("table3", "table4", "figure1"))}
    assert {"table1_descriptives.md", "table2_process_product.md", "table5_hypotheses.md", "run_log.txt"} <= names
    summary = (out / "table5_hypotheses.md").read_text()
    assert summary.count("not estimable: missing function_level") == 4  # H3 twice, H4, H5 functional
    assert summary.count("not estimable: missing unit_value") == 1
    assert summary.count("not estimable: missing labour_productivity") == 1
    log = (out / "run_log.txt").read_text()
    assert "not estimable: functional hazard" in log and "missing function_level" in log
    assert "not written: table3_functional (none of its models is estimable)" in log
    assert "not written: table4_moderation and figure1_moderation" in log
    assert "weights: weight" in log and "observation design: waves 2009, 2015, 2019" in log
    assert "module join: records joined:" in log
    table2 = (out / "table2_process_product.md").read_text()
    assert "(2) not estimable: missing labour_productivity" in table2
