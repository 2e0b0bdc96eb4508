"""Fixtures of the bad-input suite.

Several files share this directory; each group's fixtures carry its own prefix (``opt_`` for
options and models) so that names stay distinct.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

_FE_FORMULA = "labour_productivity ~ quasi_hierarchy + network + log(employees)"


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
        return fe_regression(opt_frame, _FE_FORMULA + " + quasi_hierarchy:export_share + export_share")


@pytest.fixture(scope="session")
def opt_hazard(opt_frame):
    """Process-upgrading hazard with CRV1 by cluster_id."""
    from gvcpanel.models.hazard import upgrading_hazard

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return upgrading_hazard(opt_frame, "process", covariates=("network", "quasi_hierarchy", "log(employees)"))
