"""Governance transitions (P7): tables and the Markov transition model on ``governance``.

Humphrey and Schmitz (2002) and the 2001 IDS governance paper expect governance to move: as a
supplier's competence rises, quasi-hierarchy loosens into network or market relations.  These are
the value-chain front ends of the generic :mod:`gvcpanel.models.transition`: the state is
``governance`` with its four types in the package's order (market first), and the formula can use
the value-chain names of :mod:`gvcpanel.gvc.columns` (governance dummies, ``network_strength_c``,
the lock-in measures of :mod:`gvcpanel.gvc.lockin`), computed on the whole panel.

The default covariates are supplier capability (``capability_score``; a standardized index, e.g.
a factor score of skills, design staff and R&D, measured in the origin year), centred network
strength and the main-buyer share.  H6 tests the capability coefficients of the moves out of
quasi-hierarchy (see :mod:`gvcpanel.gvc.hypotheses`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gvcpanel.errors import SpecificationError
from gvcpanel.gvc.columns import DOMAIN_COLUMNS, GOVERNANCE_TYPES
from gvcpanel.inference.spec import InferenceSpec
from gvcpanel.models.transition import TransitionResult, TransitionTable, transition_model, transition_table

TRANSITION_COVARIATES = ("capability_score", "network_strength_c", "main_buyer_share")
DEFAULT_FORMULA = f"governance ~ {' + '.join(TRANSITION_COVARIATES)}"


def governance_transitions(panel: Any, spacing: str = "consecutive") -> TransitionTable:
    """Counts and row shares of governance(t) -> governance(t+1), like ``xttrans, freq``.

    Rows and columns follow market, network, quasi_hierarchy, hierarchy; pairs and the counted
    exclusions are those of :func:`gvcpanel.models.transition.transition_pairs` (by default only
    consecutive years form a pair).
    """
    return transition_table(panel, "governance", states=GOVERNANCE_TYPES, spacing=spacing)


def governance_transition_model(
    panel: Any,
    formula: str = DEFAULT_FORMULA,
    *,
    by_origin: bool = True,
    spacing: str = "consecutive",
    cluster: str | Sequence[str] | None = "cluster_id",
    inference: str | Mapping[str, Any] | InferenceSpec = "cluster",
) -> TransitionResult:
    """Multinomial logit of next year's governance given this year's and covariates.

    Parameters
    ----------
    panel : FirmPanel or pandas.DataFrame
    formula : str
        ``"governance ~ covariates"`` (default: capability score, centred network strength and
        main-buyer share).
    by_origin, spacing, cluster, inference
        As in :func:`gvcpanel.models.transition.transition_model`.

    Returns
    -------
    TransitionResult
        Coefficients are named ``"quasi_hierarchy->network:capability_score"`` (log odds of
        moving from quasi-hierarchy to network rather than staying, per unit of capability).

    Examples
    --------
    >>> import gvcpanel as gp
    >>> res = gp.governance_transition_model(gp.example_panel(), "governance ~ capability_score")
    >>> round(float(res.params["quasi_hierarchy->network:capability_score"]), 3)
    0.882
    """
    if not isinstance(formula, str) or formula.split("~", 1)[0].strip() != "governance":
        raise SpecificationError(
            f"formula={formula!r}; the governance transition model reads 'governance ~ covariates', e.g. "
            f"{DEFAULT_FORMULA!r} (gp.transition_model takes any state column)."
        )
    return transition_model(panel, formula, states=GOVERNANCE_TYPES, by_origin=by_origin, spacing=spacing,
                            cluster=cluster, inference=inference, derived=DOMAIN_COLUMNS)
