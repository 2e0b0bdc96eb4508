"""Names the value-chain layer adds to formulas: governance dummies and network strength.

The generic formula code (:mod:`gvcpanel.formula`) evaluates columns of the data and, for names
that are not columns, asks a mapping of :class:`~gvcpanel.formula.evaluate.DerivedColumn`.  This
module is that mapping for firm panels (:data:`DOMAIN_COLUMNS`):

- ``market``, ``network``, ``quasi_hierarchy``, ``hierarchy``: 0/1 dummies of the ``governance``
  column (missing where governance is; rows are then counted as ``"missing governance"``);
- ``network_strength`` and ``network_strength_c``: the index of
  :func:`gvcpanel.gvc.upgrading.network_strength` and its centred version, computed on the whole
  frame the model is given (the panel, not only the rows a model keeps);
- ``main_buyer_share_lag``, ``dependence_years`` and ``locked_in``: the lock-in measures of
  :func:`gvcpanel.gvc.lockin.buyer_dependence` with its defaults (share at or above 0.5, three
  years); for other choices add the columns with :func:`gvcpanel.gvc.lockin.with_buyer_dependence`.

The package root registers :data:`DOMAIN_COLUMNS` as a provider
(:mod:`gvcpanel.formula.providers`), so every estimator's formula can use these names on a
FirmPanel or a DataFrame; the domain functions (:func:`gvcpanel.gvc.hazard.upgrading_hazard`,
:func:`gvcpanel.gvc.hypotheses.test_hypotheses`) also pass them explicitly.  A column of the
data with the same name wins.  The low-level :func:`gvcpanel.formula.evaluate.evaluate_formula`
and :func:`gvcpanel.formula.design.build_design` use only the names they are given.

``governance`` itself is a pandas ``Categorical`` with :data:`GOVERNANCE_TYPES` as categories in
a FirmPanel (the schema says so) and after :func:`domain_frame`, so that the term ``governance``
or ``C(governance)`` gives dummies against ``market``, the first category.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType

import numpy as np
import pandas as pd

from gvcpanel.errors import SpecificationError
from gvcpanel.formula.design import model_columns as generic_model_columns
from gvcpanel.formula.evaluate import DerivedColumn

#: The Humphrey & Schmitz (2002) governance types; the first is the base of the dummies.
GOVERNANCE_TYPES = ("market", "network", "quasi_hierarchy", "hierarchy")
#: The dummies that enter models (all types but the base).
GOVERNANCE_DUMMIES = GOVERNANCE_TYPES[1:]
NETWORK_COMPONENTS = ("n_partners", "alliance", "university_link", "association_member")
#: Controls of the package's models (Humphrey & Schmitz 2002 hypotheses; see gvc.hypotheses).
CONTROLS = ("log(employees)", "firm_age", "foreign_owned", "export_share")
#: Governance against market plus the controls: the right-hand side of the default hazards.
DEFAULT_COVARIATES = GOVERNANCE_DUMMIES + CONTROLS


def governance_codes(frame: pd.DataFrame) -> np.ndarray:
    """Positions of each row's governance in :data:`GOVERNANCE_TYPES` (-1 where missing).

    Raises
    ------
    SpecificationError
        When the frame has no ``governance`` column or it holds other values.
    """
    if "governance" not in frame.columns:
        raise SpecificationError(
            "the panel has no 'governance' column; run gp.classify_governance(panel) first or "
            "load a panel whose 'governance' column is filled."
        )
    gov = frame["governance"]
    if isinstance(gov.dtype, pd.CategoricalDtype) and tuple(gov.cat.categories) == GOVERNANCE_TYPES:
        return np.asarray(gov.cat.codes)  # a FirmPanel's governance: the codes are the answer
    unknown = ~(gov.isin(GOVERNANCE_TYPES) | gov.isna()).to_numpy()
    if unknown.any():
        bad = sorted({str(v) for v in gov[unknown]})
        raise SpecificationError(
            f"governance has values {bad} outside {GOVERNANCE_TYPES}; recode them or classify again."
        )
    # categorical codes, not object strings: this runs on millions of rows
    return np.asarray(pd.Categorical(gov, categories=GOVERNANCE_TYPES).codes)


def governance_dummy(kind: str) -> DerivedColumn:
    """The 0/1 dummy of one governance type, missing where governance is missing."""
    position = GOVERNANCE_TYPES.index(kind)

    def compute(frame: pd.DataFrame) -> np.ndarray:
        codes = governance_codes(frame)
        return np.where(codes < 0, np.nan, (codes == position).astype(float))

    return DerivedColumn(compute, reads=("governance",), reason="governance")


def governance_dummies(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with a 0/1 column per governance type added (missing where governance is)."""
    codes = governance_codes(frame)
    out = frame.copy()
    for position, kind in enumerate(GOVERNANCE_TYPES):
        if kind not in out.columns:
            out[kind] = np.where(codes < 0, np.nan, (codes == position).astype(float))
    return out


def _strength(centred: bool) -> DerivedColumn:
    def compute(frame: pd.DataFrame) -> pd.Series:
        from gvcpanel.gvc.upgrading import network_strength

        strength = network_strength(frame)
        return strength.centred if centred else strength.values

    return DerivedColumn(compute, reads=NETWORK_COMPONENTS)


def _dependence(measure: str) -> DerivedColumn:
    """A lock-in measure of :func:`gvcpanel.gvc.lockin.buyer_dependence` (defaults: 0.5, 3 years)."""

    def compute(frame: pd.DataFrame) -> np.ndarray:
        from gvcpanel.gvc.lockin import buyer_dependence

        values = buyer_dependence(frame).values[measure]
        # buyer_dependence works on the sorted panel; hand the values back in the frame's order
        aligned = values.reindex(frame.index) if values.index.names == frame.index.names else values
        return aligned.to_numpy(dtype=float, na_value=np.nan)

    return DerivedColumn(compute, reads=("main_buyer_share",))


#: Every derived name of the value-chain layer (read-only).
DOMAIN_COLUMNS = MappingProxyType({
    **{kind: governance_dummy(kind) for kind in GOVERNANCE_TYPES},
    "network_strength": _strength(False),
    "network_strength_c": _strength(True),
    **{measure: _dependence(measure) for measure in ("main_buyer_share_lag", "dependence_years", "locked_in")},
})


def domain_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``governance`` as a Categorical of :data:`GOVERNANCE_TYPES` (a frame as given otherwise).

    A FirmPanel's governance already is; a DataFrame with text governance gets its categories in
    the order of the theory (market first) instead of the alphabetical order the generic code
    would use.
    """
    if "governance" not in frame.columns or isinstance(frame["governance"].dtype, pd.CategoricalDtype):
        return frame
    governance_codes(frame)  # rejects unknown values
    return frame.assign(governance=pd.Categorical(frame["governance"], categories=GOVERNANCE_TYPES))


def model_columns(formula: str | Sequence[str], extra: Sequence[str] = ("cluster_id",)) -> list[str]:
    """Data columns a model reads, for ``load_panel(path, columns=...)`` projection pushdown.

    As :func:`gvcpanel.formula.design.model_columns`, with governance dummies mapped to
    ``governance`` and network strength to its four components.

    Examples
    --------
    >>> model_columns("labour_productivity ~ quasi_hierarchy + log(employees)")
    ['labour_productivity', 'governance', 'employees', 'cluster_id']
    """
    return generic_model_columns(formula, extra, derived=DOMAIN_COLUMNS)
