"""Governance transitions (P7): tables and the Markov transition model on ``governance``.

Humphrey and Schmitz (2002) and the 2001 IDS governance paper expect governance to move: as a
supplier's competence rises, quasi-hierarchy loosens into network or market relations.  These are
the value-chain front ends of the generic :mod:`gvcpanel.models.transition`: the state is
``governance`` with its four types in the package's order, and the covariates are built as the
hazards build them (``network_strength_c`` from :func:`gvcpanel.gvc.upgrading.network_strength`,
the lock-in measures from :func:`gvcpanel.gvc.lockin.buyer_dependence`) when a term asks for
them and the panel lacks them.

The default covariates are supplier capability (``capability_score``; a standardized index, e.g.
a factor score of skills, design staff and R&D, measured in the origin year), centred network
strength and the main-buyer share.  H6 tests the capability coefficients of the moves out of
quasi-hierarchy (see :mod:`gvcpanel.gvc.hypotheses`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from gvcpanel.formula.design import GOVERNANCE_TYPES, columns_of, expand_terms
from gvcpanel.formula.frame import panel_frame
from gvcpanel.gvc.lockin import needs_dependence, with_buyer_dependence
from gvcpanel.inference.spec import InferenceSpec
from gvcpanel.models.transition import TransitionResult, TransitionTable, transition_model, transition_table

TRANSITION_COVARIATES = ("capability_score", "network_strength_c", "main_buyer_share")
NETWORK_COLUMNS = ("network_strength", "network_strength_c")


def governance_transitions(panel: Any, spacing: str = "consecutive") -> TransitionTable:
    """Counts and row shares of governance(t) -> governance(t+1), like ``xttrans, freq``.

    Rows and columns follow market, network, quasi_hierarchy, hierarchy; pairs and the counted
    exclusions are those of :func:`gvcpanel.models.transition.transition_pairs` (by default only
    consecutive years form a pair).
    """
    return transition_table(panel, "governance", states=GOVERNANCE_TYPES, spacing=spacing)


def with_model_columns(panel: Any, terms: Sequence[str]) -> Any:
    """The panel with network strength and lock-in columns added when ``terms`` read them."""
    frame, _ = panel_frame(panel)
    wanted = {c for t in terms for c in columns_of(t)}
    if needs_dependence(terms):
        panel = with_buyer_dependence(panel)
        frame, _ = panel_frame(panel)
    missing_network = [c for c in NETWORK_COLUMNS if c in wanted and c not in frame.columns]
    if missing_network:
        from gvcpanel.gvc.upgrading import network_strength

        strength = network_strength(frame)
        frame = frame.assign(network_strength=strength.values, network_strength_c=strength.centred)
        if hasattr(panel, "derive") and not isinstance(panel, pd.DataFrame):
            return panel.derive(frame.reset_index(), step="network strength (gvcpanel.network_strength)")
        return frame
    return panel


def governance_transition_model(
    panel: Any,
    covariates: Sequence[str] = TRANSITION_COVARIATES,
    *,
    by_origin: bool = True,
    spacing: str = "consecutive",
    cluster: str | Sequence[str] | None = "cluster_id",
    inference: str | Mapping[str, Any] | InferenceSpec = "cluster",
) -> TransitionResult:
    """Multinomial logit of next year's governance given this year's and covariates.

    See :func:`gvcpanel.models.transition.transition_model`; coefficients are named
    ``"quasi_hierarchy->network:capability_score"`` (log odds of moving from quasi-hierarchy to
    network rather than staying, per unit of capability).

    Examples
    --------
    >>> import gvcpanel as gp
    >>> res = gp.governance_transition_model(gp.example_panel(), ["capability_score"])  # doctest: +SKIP
    >>> res.probabilities({"capability_score": [-1, 0, 1]}, origins=["quasi_hierarchy"])  # doctest: +SKIP
    """
    if isinstance(covariates, str):
        covariates = [covariates]
    terms = expand_terms(covariates)
    panel = with_model_columns(panel, terms)
    return transition_model(panel, "governance", terms, states=GOVERNANCE_TYPES, by_origin=by_origin,
                            spacing=spacing, cluster=cluster, inference=inference)
