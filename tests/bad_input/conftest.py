"""Shared fixtures of the bad-input suite: small panels, earlier output sets, snapshots.

Several files share this directory; fixtures of the options and models cases carry the prefix
``opt_`` so that names stay distinct. The files, values and mappings cases build their inputs
from ``tests/bad_input/cases.py`` and use ``fingerprint`` to show that a refused source is left
as it was.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
DEBRIS_MARKS = (".gvcpanel-tmp-", ".gvcpanel-old-", ".gvcpanel-lock")


def snapshot(root: Path) -> dict[str, bytes]:
    """Relative path -> bytes of every file under ``root`` (hidden files included)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def debris(folder: Path) -> list[str]:
    """Temporary folders, set-aside sets and lock files a writer left in ``folder``."""
    return sorted(p.name for p in folder.iterdir() if any(m in p.name for m in DEBRIS_MARKS))


def run_python(*args: str, cwd: Path | None = None, **kwargs) -> subprocess.CompletedProcess:
    """Run the venv's python with the repository on the path (replication is not installed)."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          **kwargs)


@pytest.fixture(scope="session")
def panel_csv(tmp_path_factory) -> Path:
    """A valid simulated panel (300 firms) as CSV."""
    from gvcpanel.gvc.simulate import simulate_panel

    path = tmp_path_factory.mktemp("data") / "panel.csv"
    simulate_panel(n_firms=300, seed=8).frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def nofunc_csv(panel_csv) -> Path:
    """function_level all missing: loads, table 1 is written, the functional hazard then fails
    (the issue's nofunc.csv, which left a new table 1 beside the old tables 2-6)."""
    import pandas as pd

    path = panel_csv.parent / "nofunc.csv"
    pd.read_csv(panel_csv).assign(function_level=pd.NA).to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def nofunc_column_csv(panel_csv) -> Path:
    """No function_level column at all: refused as a specification problem (exit 2)."""
    import pandas as pd

    path = panel_csv.parent / "nofunc_column.csv"
    pd.read_csv(panel_csv).drop(columns=["function_level"]).to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def invalid_csv(panel_csv) -> Path:
    """Breaks the schema: a main-buyer share above 1 for one firm-year."""
    import pandas as pd

    frame = pd.read_csv(panel_csv)
    frame.loc[3, "main_buyer_share"] = 1.7
    path = panel_csv.parent / "invalid.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def panel_parquet(tmp_path_factory) -> Path:
    from gvcpanel.gvc.simulate import simulate_panel

    path = tmp_path_factory.mktemp("pq") / "panel.parquet"
    simulate_panel(n_firms=200, seed=5).panel.to_parquet(path)
    return path


@pytest.fixture(scope="session")
def earlier_set(tmp_path_factory, panel_csv) -> Path:
    """A complete replication set from user data (no bootstrap), made once and copied per test."""
    from replication.run import main

    out = tmp_path_factory.mktemp("earlier") / "o"
    assert main(["--data", str(panel_csv), "--out", str(out), "--skip-bootstrap"]) == 0
    return out


@pytest.fixture
def results_dir(tmp_path, earlier_set) -> Path:
    """A private copy of the earlier set at ``tmp_path / "o"``."""
    out = tmp_path / "o"
    shutil.copytree(earlier_set, out)
    return out


# --- options and models (test_options.py, test_models.py) ----------------------------------------
_OPT_FE_FORMULA = "labour_productivity ~ quasi_hierarchy + network + log(employees)"


@pytest.fixture(scope="session")
def opt_frame() -> pd.DataFrame:
    """A small simulated panel (240 firms in 12 industrial clusters) as a (firm_id, year) frame."""
    from gvcpanel.gvc.simulate import simulate_panel

    return simulate_panel(n_firms=240, n_clusters=12, seed=2).panel.data


@pytest.fixture(scope="session")
def opt_clusters(opt_frame):
    """The panel with its clusters merged into ``n`` groups: ``opt_clusters(1)`` has one cluster."""

    def merged(n: int) -> pd.DataFrame:
        codes = pd.factorize(opt_frame["cluster_id"], sort=True)[0] % n
        return opt_frame.assign(cluster_id=np.array([f"C{c}" for c in codes]))

    return merged


@pytest.fixture(scope="session")
def opt_fe(opt_frame):
    """Two-way fixed-effects fit with CRV1 by cluster_id."""
    from gvcpanel.models.linear import fe_regression

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fe_regression(opt_frame, _OPT_FE_FORMULA + " + quasi_hierarchy:export_share + export_share")


@pytest.fixture(scope="session")
def opt_hazard(opt_frame):
    """Process-upgrading hazard with CRV1 by cluster_id."""
    from gvcpanel.gvc.hazard import upgrading_hazard

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return upgrading_hazard(opt_frame, "process ~ network + quasi_hierarchy + log(employees)")


# --- files, values and mappings (test_files.py, test_values.py, test_mappings.py) ---------------
@pytest.fixture
def fingerprint():
    """SHA-256 of a file, or of a folder's files and their relative paths."""

    def digest(path: Path) -> str:
        h = hashlib.sha256()
        files = sorted(p for p in Path(path).rglob("*") if p.is_file()) if Path(path).is_dir() \
            else [Path(path)]
        for file in files:
            h.update(str(file.relative_to(path) if Path(path).is_dir() else file.name).encode())
            h.update(file.read_bytes())
        return h.hexdigest()

    return digest
