"""gvcpanel: firm-level global value chain panels.

Load and validate firm-year panels, classify chain governance, estimate the models that test the
governance-upgrading propositions, and write publication tables.  The public API is flat::

    import gvcpanel as gp
    panel = gp.load_panel("firms.csv")
    panel = gp.classify_governance(panel)
    report = gp.test_hypotheses(panel)

Names are imported on first use so that ``gvcpanel --help`` starts quickly.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = {
    "GvcPanelError": "gvcpanel.errors",
    "SchemaError": "gvcpanel.errors",
    "PanelStructureError": "gvcpanel.errors",
    "IdentificationError": "gvcpanel.errors",
    "SpecificationError": "gvcpanel.errors",
    "ConvergenceError": "gvcpanel.errors",
    "FewClustersWarning": "gvcpanel.errors",
    "AbsorbedVariableWarning": "gvcpanel.errors",
    "ExcludedRowsWarning": "gvcpanel.errors",
    "InexactCovarianceWarning": "gvcpanel.errors",
    "InferenceSpec": "gvcpanel.inference.spec",
    "EstimationResult": "gvcpanel.results",
    "load_panel": "gvcpanel.io",
    "read_schema": "gvcpanel.schema",
    "FirmPanel": "gvcpanel.panel",
    "classify_governance": "gvcpanel.governance",
    "simulate_panel": "gvcpanel.simulate",
    "example_panel": "gvcpanel.simulate",
    "TrueParameters": "gvcpanel.simulate",
    "fe_regression": "gvcpanel.estimators.linear",
    "hausman_test": "gvcpanel.estimators.linear",
    "mundlak_test": "gvcpanel.estimators.linear",
    "upgrading_hazard": "gvcpanel.estimators.hazard",
    "risk_set": "gvcpanel.upgrading",
    "model_columns": "gvcpanel.design",
    "network_strength": "gvcpanel.upgrading",
    "moderation": "gvcpanel.estimators.moderation",
    "test_hypotheses": "gvcpanel.hypotheses",
    "Hypothesis": "gvcpanel.hypotheses",
    "regression_table": "gvcpanel.tables",
}

__all__ = sorted(_API) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _API:
        value = getattr(importlib.import_module(_API[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'gvcpanel' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
