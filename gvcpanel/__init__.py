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
    "DataFileError": "gvcpanel.errors",
    "MappingError": "gvcpanel.errors",
    "PanelStructureError": "gvcpanel.errors",
    "IdentificationError": "gvcpanel.errors",
    "SpecificationError": "gvcpanel.errors",
    "ConvergenceError": "gvcpanel.errors",
    "FewClustersWarning": "gvcpanel.errors",
    "AbsorbedVariableWarning": "gvcpanel.errors",
    "ExcludedRowsWarning": "gvcpanel.errors",
    "InexactCovarianceWarning": "gvcpanel.errors",
    "InferenceUnavailableError": "gvcpanel.errors",
    "MissingDependencyError": "gvcpanel.errors",
    "PartitionSchemaWarning": "gvcpanel.errors",
    "SpecificationTestWarning": "gvcpanel.errors",
    "OutputError": "gvcpanel.errors",
    "OutputLockedError": "gvcpanel.errors",
    "InferenceSpec": "gvcpanel.inference.spec",
    "EstimationResult": "gvcpanel.results",
    "TestResult": "gvcpanel.results",
    "load_panel": "gvcpanel.data.io",
    "join_module": "gvcpanel.data.modules",
    "simulate_survey": "gvcpanel.gvc.survey_fixture",
    "validate_file": "gvcpanel.data.io",
    "read_schema": "gvcpanel.data.schema",
    "FirmPanel": "gvcpanel.data.panel",
    "classify_governance": "gvcpanel.gvc.governance",
    "simulate_panel": "gvcpanel.gvc.simulate",
    "example_panel": "gvcpanel.gvc.simulate",
    "TrueParameters": "gvcpanel.gvc.simulate",
    "fe_regression": "gvcpanel.models.linear",
    "hausman_test": "gvcpanel.models.linear",
    "mundlak_test": "gvcpanel.models.linear",
    "upgrading_hazard": "gvcpanel.gvc.hazard",
    "discrete_hazard": "gvcpanel.models.hazard",
    "hazard_ratios": "gvcpanel.models.hazard",
    "risk_set": "gvcpanel.gvc.upgrading",
    "model_columns": "gvcpanel.gvc.columns",
    "parse_formula": "gvcpanel.formula.parse",
    "build_design": "gvcpanel.formula.design",
    "network_strength": "gvcpanel.gvc.upgrading",
    "moderation": "gvcpanel.models.moderation",
    "test_hypotheses": "gvcpanel.gvc.hypotheses",
    "Hypothesis": "gvcpanel.gvc.hypotheses",
    "regression_table": "gvcpanel.report.tables",
    "transition_table": "gvcpanel.models.transition",
    "transition_model": "gvcpanel.models.transition",
    "governance_transitions": "gvcpanel.gvc.transitions",
    "governance_transition_model": "gvcpanel.gvc.transitions",
    "buyer_dependence": "gvcpanel.gvc.lockin",
    "with_buyer_dependence": "gvcpanel.gvc.lockin",
    "coefplot": "gvcpanel.report.plots",
    "moderation_plot": "gvcpanel.report.plots",
    "event_study_plot": "gvcpanel.report.plots",
    "set_progress": "gvcpanel.progress",
    "event_study": "gvcpanel.models.event_study",
    "chain_cohorts": "gvcpanel.gvc.cohorts",
    "chain_entries": "gvcpanel.gvc.cohorts",
    "cohort_table": "gvcpanel.gvc.cohorts",
    "comparison_groups": "gvcpanel.gvc.cohorts",
    "panel_from_transactions": "gvcpanel.gvc.transactions.build",
    "transaction_indicators": "gvcpanel.gvc.transactions.build",
    "validate_transactions": "gvcpanel.gvc.transactions.build",
    "simulate_transactions": "gvcpanel.gvc.transactions.simulate",
}

__all__ = sorted(_API) + ["__version__"]

# the value-chain layer's names (governance dummies, network strength) are offered to every
# estimator's formulas; the generic formula code knows them only through this registration
from gvcpanel.formula import providers as _providers  # noqa: E402 - after the lazy API table

if "gvcpanel.gvc.columns:DOMAIN_COLUMNS" not in _providers.PROVIDERS:
    _providers.PROVIDERS.append("gvcpanel.gvc.columns:DOMAIN_COLUMNS")


def __getattr__(name: str) -> Any:
    if name in _API:
        value = getattr(importlib.import_module(_API[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'gvcpanel' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
