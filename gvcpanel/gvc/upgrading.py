"""Upgrading events, risk sets and the network-strength index.

A discrete-time hazard model needs, for each upgrading type, the firm-years in which a firm *could*
upgrade (the risk set), whether it did (``event``) and how long it has been at risk (``duration``).
:func:`risk_set` builds that frame from a panel and counts every row it leaves out, by reason.

Upgrading types and their events
--------------------------------
``process``
    Time to first international quality certification: ``iso_certified`` goes 0 -> 1.
    ``iso_certified`` is a *state*, so the first observed year only tells where the firm stands: it
    is the firm's entry year, not a year at risk.  A firm is at risk in year t when it was observed
    uncertified in t-1; the event is ``iso_certified[t] == 1``.  After the first event the firm
    leaves the risk set.
``product``
    Time to the first new product: ``new_product == 1``.  ``new_product`` is a *flow* (did the firm
    introduce a new or improved product in year t), so the first observed year is already a year at
    risk; "first" means the first one observed.  After the first event the firm leaves.
``functional``
    Each step up ``function_level`` (0 assembly, 1 OEM, 2 ODM, 3 OBM) is an event.  A firm is at
    risk in t when it was observed at a level below 3 in t-1; the event is
    ``function_level[t] > function_level[t-1]`` (a jump of two levels is one event).  After an event
    it stays at risk from its new level until it reaches 3; a firm that falls back from 3 is at risk
    again.
``intersectoral``
    Time to the first change of main ``sector``: the event is ``sector[t] != sector[t-1]``.  Sectors
    are not ranked, so any change counts; the first observed year is the entry year and the firm
    leaves after its first change.
``diversification``
    Not an upgrading type but the exit route that lock-in closes (P8): time to the first new buyer
    or market, ``new_buyer_or_market == 1``.  Like ``new_product`` it is a *flow* (did the firm
    start supplying a new buyer or a new market in year t), so the risk set follows the product
    rules: at risk from the first observed year until the first event, and the spell ends at the
    first unobserved year.  See :mod:`gvcpanel.gvc.lockin` for the dependence measures that go
    with it.

Left truncation
---------------
Firms already upgraded when first observed (certified in their first observed year for process, at
level 3 for functional) entered and left the risk set before observation: all their rows are left
out and counted (``"left-truncated: ..."``).  For the other firms the first observed year is treated
as the entry into observation (delayed entry), so the model conditions on having survived to it;
in a discrete-time hazard whose hazard depends on the current covariates this conditioning leaves
the likelihood of the later years intact.  Product and inter-sectoral upgrading have no "already
upgraded" state, so no firm is left-truncated there.

Gaps and missing outcomes
-------------------------
A row whose outcome is missing is left out (``"missing <column>"``) and treated like an unobserved
year.  For the state-based types (process, functional, intersectoral) a year whose previous year is
not observed (a gap in the years, or a missing outcome) is left out because a change across it
happened in an unknown year; the spell resumes at the next year with an observed predecessor (that
is again delayed entry).  A change across the gap still ends a process or intersectoral spell.  For
product and diversification, any unobserved year may hold an unseen earlier event, so the spell ends
at the first gap and every later row is left out.

Duration
--------
``duration`` numbers the years of the current spell, the first year at risk being 1:
``year - origin`` where the origin is the firm's first observed year (process, intersectoral), the
year before the first observed year (product, diversification), or the latest year in which ``function_level``
changed (functional; the first observed year if it never changed).  The calendar distance is used,
so a gap the spell survives still adds to the duration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gvcpanel.errors import PanelStructureError, SchemaError, SpecificationError
from gvcpanel.formula.frame import panel_frame
from gvcpanel.gvc import risk_kernel

UPGRADES = ("process", "product", "functional", "intersectoral", "diversification")
#: types whose outcome is a yearly 0/1 flow (first occurrence), not a state
FLOW_TYPES = ("product", "diversification")
OUTCOME_COLUMN = {
    "process": "iso_certified",
    "product": "new_product",
    "diversification": "new_buyer_or_market",
    "functional": "function_level",
    "intersectoral": "sector",
}
TOP_FUNCTION_LEVEL = 3
NETWORK_LINKS = ("alliance", "university_link", "association_member")

# reasons in the report, in the order a reader meets them
MISSING = "missing {column}"
LEFT_TRUNCATED = "left-truncated: already upgraded when first observed"
ENTRY = "entry year (state observed, not at risk)"
AFTER_EVENT = "after the first event (left the risk set)"
AT_TOP = "at the top function level in the previous year"
GAP = "previous year not observed (gap)"
PREVIOUS_MISSING = "previous year's {column} missing"
SPELL_ENDED = "after an unobserved year (an earlier event may be unseen)"
_REASONS = ("", MISSING, LEFT_TRUNCATED, ENTRY, AFTER_EVENT, AT_TOP, GAP, PREVIOUS_MISSING, SPELL_ENDED)
_CODE = {label: code for code, label in enumerate(_REASONS)}


@dataclass(frozen=True)
class RiskSet:
    """Firm-years at risk of one upgrading type.

    Attributes
    ----------
    frame : pandas.DataFrame
        The panel's rows at risk, indexed by (firm_id, year), with every panel column plus
        ``event`` (0/1, int8) and ``duration`` (int64, first year at risk = 1).
    report : pandas.DataFrame
        Panel rows left out, one row per reason: ``reason``, ``n_rows``, ``n_firms``.
    upgrade : str
        ``process``, ``product``, ``functional``, ``intersectoral`` or ``diversification``.
    outcome : str
        The column the events were read from.
    n_left_truncated : int
        Firms left out because they had already upgraded when first observed.
    """

    frame: pd.DataFrame
    report: pd.DataFrame
    upgrade: str
    outcome: str
    n_left_truncated: int

    @property
    def n_events(self) -> int:
        return int(self.frame["event"].sum())

    @property
    def exclusions(self) -> dict[str, int]:
        """{reason: rows}, the form estimators merge into a result's exclusion table."""
        return dict(zip(self.report["reason"], self.report["n_rows"].astype(int)))


def _firm_structure(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Firm codes (0..F-1 in order, the frame being sorted) and integer years."""
    index = frame.index
    # the index's own codes of firm_id: equal on a firm's rows, no column of ids hashed
    firm_codes = np.asarray(index.codes[index.names.index("firm_id")]) if isinstance(index, pd.MultiIndex) else None
    if firm_codes is None or (firm_codes.size and firm_codes.min() < 0):
        firm_codes = pd.factorize(index.get_level_values("firm_id"), sort=False)[0]
    years = index.get_level_values("year")
    try:
        year_values = np.asarray(years, dtype=np.int64)
    except (TypeError, ValueError) as e:
        raise PanelStructureError(
            f"year must be an integer calendar year; found {years.dtype} values such as {years[0]!r}."
        ) from e
    return firm_codes, year_values


def _outcome_values(frame: pd.DataFrame, upgrade: str, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Outcome as comparable numbers and a 'value observed' mask; checks the allowed values."""
    series = frame[column]
    observed = series.notna().to_numpy()
    if upgrade == "intersectoral":
        codes = pd.factorize(series)[0].astype(float)
        return np.where(observed, codes, np.nan), observed
    try:
        values = pd.to_numeric(series, errors="raise").to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as e:
        raise SchemaError(f"{column} must be numeric for {upgrade} upgrading; found dtype {series.dtype}.") from e
    allowed = (0.0, 1.0) if upgrade in ("process", *FLOW_TYPES) else (0.0, 1.0, 2.0, 3.0)
    bad = observed.copy()
    for value in allowed:  # a few comparisons; np.isin sorts the column
        bad &= values != value
    if bad.any():
        where = frame.index[bad][:5].tolist()
        raise SchemaError(
            f"{column} must take the values {allowed} (missing allowed); found {sorted(set(values[bad]))[:5]} "
            f"at (firm_id, year) {where}. Recode the column before building the risk set."
        )
    return values, observed


def risk_set(panel: Any, upgrade: str = "process", *, outcome: str | None = None) -> RiskSet:
    """Build the firm-year risk set of one upgrading type.

    Parameters
    ----------
    panel : FirmPanel or pandas.DataFrame
        Panel indexed by (firm_id, year) (a frame with those columns is also accepted).
    upgrade : {"process", "product", "functional", "intersectoral", "diversification"}
        Upgrading type; see the module docstring for each type's event, entry and exit.
    outcome : str, optional
        Read the events from this column instead of the type's canonical one
        (``iso_certified``, ``new_product``, ``function_level``, ``sector``); it must be coded the
        same way.

    Returns
    -------
    RiskSet
        The rows at risk with ``event`` and ``duration``, and the count of every row left out.

    Notes
    -----
    With states :math:`s_{it}` (process, functional, intersectoral), firm :math:`i` is at risk in
    year :math:`t` when :math:`s_{i,t-1}` is observed and below the absorbing level, and

    .. math:: \\text{event}_{it} = 1[s_{it} > s_{i,t-1}] \\quad(\\text{intersectoral: } 1[s_{it} \\ne s_{i,t-1}]).

    For the product flow :math:`d_{it}` the firm is at risk from its first observed year until the
    first :math:`d_{it} = 1`, as long as no year is unobserved.  Every other row of the panel is
    counted in ``report`` under exactly one reason.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"firm_id": [1, 1, 1], "year": [2001, 2002, 2003],
    ...                    "iso_certified": [0, 0, 1]}).set_index(["firm_id", "year"])
    >>> rs = risk_set(df, "process")
    >>> rs.frame["event"].tolist(), rs.frame["duration"].tolist()
    ([0, 1], [1, 2])
    """
    frame, _ = panel_frame(panel)
    rows = risk_rows(frame, upgrade, outcome=outcome)
    kept = frame.loc[rows.at_risk].assign(event=rows.event[rows.at_risk], duration=rows.duration[rows.at_risk])
    return RiskSet(
        frame=kept,
        report=rows.report,
        upgrade=upgrade,
        outcome=rows.outcome,
        n_left_truncated=rows.n_left_truncated,
    )


@dataclass(frozen=True, eq=False)
class RiskRows:
    """The risk set as arrays over every row of the (sorted) panel frame.

    ``at_risk`` marks the rows at risk; ``event`` and ``duration`` are meaningful on them (0
    elsewhere); ``report`` counts every other row by reason, as in :class:`RiskSet`.
    """

    at_risk: np.ndarray
    event: np.ndarray
    duration: np.ndarray
    report: pd.DataFrame
    outcome: str
    n_left_truncated: int

    @property
    def exclusions(self) -> dict[str, int]:
        return dict(zip(self.report["reason"], self.report["n_rows"].astype(int)))


def risk_rows(frame: pd.DataFrame, upgrade: str, *, outcome: str | None = None) -> RiskRows:
    """:func:`risk_set` as arrays over the rows of ``frame`` (sorted by firm_id and year, as
    :func:`gvcpanel.formula.frame.panel_frame` returns it), without copying the frame."""
    if upgrade not in UPGRADES:
        raise SpecificationError(f"upgrade={upgrade!r} is not known; choose one of {', '.join(UPGRADES)}.")
    column = outcome or OUTCOME_COLUMN[upgrade]
    if column not in frame.columns:
        raise SpecificationError(
            f"{upgrade} upgrading reads column {column!r}, which the panel does not have; map your "
            f"source's column to {column!r} (mapping=) or pass outcome='your_column'."
        )
    clash = [c for c in ("event", "duration") if c in frame.columns]
    if clash:
        raise SpecificationError(f"the panel already has columns {clash}; rename them before building a risk set.")
    firm, year = _firm_structure(frame)
    values, observed = _outcome_values(frame, upgrade, column)
    kind = (risk_kernel.FLOW if upgrade in FLOW_TYPES else
            risk_kernel.FUNCTIONAL if upgrade == "functional" else risk_kernel.STATE)
    truncating = {"process": 1.0, "functional": float(TOP_FUNCTION_LEVEL)}.get(upgrade, np.nan)
    # the rules of the module docstring, applied firm by firm in one compiled pass
    reason, event, duration, n_truncated = risk_kernel.risk_pass(
        firm, year, values, observed, kind, upgrade == "intersectoral", truncating)
    at_risk = reason == _CODE[""]
    report = _report(reason, firm, _reason_labels(column))
    return RiskRows(at_risk, event, duration, report, column, int(n_truncated))


def _reason_labels(column: str) -> list[str]:
    return [label.format(column=column) for label in _REASONS]


def _report(reason: np.ndarray, firms: np.ndarray, labels: list[str]) -> pd.DataFrame:
    """Rows and firms per reason among rows not at risk, reasons in the order of :data:`_REASONS`."""
    rows, n_firms = risk_kernel.reason_counts(reason, firms, len(labels))
    present = np.flatnonzero(rows)
    return pd.DataFrame(
        {
            "reason": pd.Series([labels[c] for c in present], dtype=object),
            "n_rows": rows[present],
            "n_firms": n_firms[present],
        }
    )


@dataclass(frozen=True)
class NetworkStrength:
    """The network-strength index and its parts.

    Attributes
    ----------
    values : pandas.Series
        The index per firm-year (missing where any component is missing).
    centred : pandas.Series
        ``values`` minus their mean over all firm-years where the index is observed.
    components : pandas.DataFrame
        ``partners_z`` (standardized log1p of ``n_partners``), ``alliance``, ``university_link``,
        ``association_member`` as floats.
    mean, sd : float
        Mean and standard deviation (ddof=1) of log1p(``n_partners``) used for ``partners_z``.
    index_mean : float
        Mean of ``values`` removed to make ``centred``.
    """

    values: pd.Series
    centred: pd.Series
    components: pd.DataFrame
    mean: float
    sd: float
    index_mean: float


def network_strength(panel: Any) -> NetworkStrength:
    """Strength of a firm's strategic multi-partner network.

    Parameters
    ----------
    panel : FirmPanel or pandas.DataFrame
        Needs ``n_partners``, ``alliance``, ``university_link`` and ``association_member``.

    Returns
    -------
    NetworkStrength

    Notes
    -----
    The index adds one point for each kind of partner beyond the lead firm and the number of
    co-operation partners on a standardized log scale:

    .. math::

        z_{it} = \\frac{\\log(1 + n\\_partners_{it}) - \\bar m}{s}, \\qquad
        NS_{it} = z_{it} + alliance_{it} + university\\_link_{it} + association\\_member_{it},

    with :math:`\\bar m` and :math:`s` (ddof = 1, the sample standard deviation) taken over every
    firm-year where ``n_partners`` is observed, and the centred index
    :math:`NS^c_{it} = NS_{it} - \\overline{NS}`, the mean over every firm-year where :math:`NS` is
    observed.  The index is missing when any component is.

    Why this form: the 2023 strategic-networks paper ("How do strategic networks help SMEs upgrade
    in global value chains? A cross-national analysis", Cogent Business & Management, article
    2202833; ``shared/seeds/002_*``) argues that it is the *breadth* of partners beyond the lead firm -
    alliances, universities, business associations, other buyers - that supplies the capabilities a
    dependent supplier lacks.  Each kind of link therefore counts one point, and the number of
    partners enters on a log scale (the tenth partner adds less than the second), standardized so
    that one standard deviation of partners weighs as much as one kind of link.  Centring makes the
    quasi-hierarchy coefficient in a model with the interaction the effect at average network
    strength.  The simulation module generates data with exactly this definition.
    """
    frame, _ = panel_frame(panel)
    needed = ("n_partners", *NETWORK_LINKS)
    absent = [c for c in needed if c not in frame.columns]
    if absent:
        raise SpecificationError(
            f"network_strength needs columns {list(needed)}; the panel lacks {absent}. Map your "
            "source's network items to these names (mapping=)."
        )
    partners = pd.to_numeric(frame["n_partners"], errors="raise").to_numpy(dtype=float, na_value=np.nan)
    negative = partners < 0
    if negative.any():
        raise SchemaError(
            f"n_partners must be >= 0; found negative values at (firm_id, year) "
            f"{frame.index[negative][:5].tolist()}."
        )
    logged = np.log1p(partners)
    observed = ~np.isnan(logged)
    if observed.sum() < 2 or np.nanstd(logged) == 0:
        raise PanelStructureError(
            "n_partners needs at least two firm-years with different observed values to be "
            f"standardized; found {int(observed.sum())} observed value(s) without variation."
        )
    mean = float(np.mean(logged[observed]))
    sd = float(np.std(logged[observed], ddof=1))
    components = pd.DataFrame({"partners_z": (logged - mean) / sd}, index=frame.index)
    for link in NETWORK_LINKS:
        link_values = pd.to_numeric(frame[link].astype("Float64"), errors="raise").to_numpy(
            dtype=float, na_value=np.nan
        )
        bad = ~np.isnan(link_values) & ~np.isin(link_values, (0.0, 1.0))
        if bad.any():
            raise SchemaError(
                f"{link} must be 0/1 (missing allowed); found {sorted(set(link_values[bad]))[:5]} at "
                f"(firm_id, year) {frame.index[bad][:5].tolist()}."
            )
        components[link] = link_values
    values = components.sum(axis=1, skipna=False).rename("network_strength")
    index_mean = float(values.mean())
    return NetworkStrength(
        values=values,
        centred=(values - index_mean).rename("network_strength_c"),
        components=components,
        mean=mean,
        sd=sd,
        index_mean=index_mean,
    )
