r"""Lock-in: dependence on the main buyer and its persistence (P8).

Humphrey and Schmitz (2002) describe suppliers whose main buyer takes most of their output and
who then find it costly to move to other buyers, markets or functions: dependence *persists*
and locks the supplier in.  :func:`buyer_dependence` turns the yearly share of sales to the main
buyer into three covariates for the hazards of :mod:`gvcpanel.models.hazard`:

``main_buyer_share_lag``
    The share in the previous calendar year (missing when that year is not observed).
``dependence_years``
    The number of consecutive years up to and including t in which the share was at or above
    ``threshold``, counted up to ``years`` (so it takes the values 0, 1, ..., ``years``).
``locked_in``
    1 when ``dependence_years`` reaches ``years`` (dependent in each of the last ``years``
    years), else 0.

The diversification hazard these measures go with (time to the first new buyer or market) has
its risk set in :func:`gvcpanel.gvc.upgrading.risk_set` (``upgrade="diversification"``).

Notes
-----
With share :math:`s_{it}`, threshold :math:`c` and cap :math:`K`,

.. math::

    D_{it} = \min\bigl(K,\ \max\{d \ge 0 : s_{i,t-l} \ge c \text{ for } l = 0, \dots, d-1\}\bigr),
    \qquad L_{it} = 1[D_{it} = K].

Spells are *left-censored at the firm's first observed year*: years before it count as not
dependent, as the risk sets count durations from the first observed year, because a survey
cannot tell what happened before a firm entered it.  Inside a firm's observed span, a year that
is unobserved (a gap in the years, or a missing share) makes :math:`D_{it}` unknown when the
walk back from t reaches it before it has found a year below :math:`c` or counted :math:`K`
years; such rows get a missing value and are counted by reason in
:attr:`BuyerDependence.report`.  The simulator (:mod:`gvcpanel.gvc.simulate`) computes lock-in
with exactly these rules on its complete latent data, so the package's value equals the
simulated one wherever it is not missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gvcpanel.errors import PanelStructureError, SchemaError, SpecificationError
from gvcpanel.formula.frame import panel_frame

DEPENDENCE_COLUMNS = ("main_buyer_share_lag", "dependence_years", "locked_in")
SHARE_MISSING = "{column} missing in year t"
SPELL_SHARE_MISSING = "{column} missing in an earlier year of the dependence spell"
SPELL_GAP = "an earlier year of the dependence spell not observed (gap)"
LAG_FIRST = "first observed year of the firm (no previous year)"
LAG_GAP = "previous year not observed (gap)"
LAG_MISSING = "{column} missing in year t-1"


@dataclass(frozen=True)
class BuyerDependence:
    """Dependence measures per firm-year.

    Attributes
    ----------
    values : pandas.DataFrame
        Indexed like the panel (firm_id, year): ``main_buyer_share_lag`` (Float64),
        ``dependence_years`` and ``locked_in`` (Int64), missing where they cannot be determined.
    report : pandas.DataFrame
        Rows with a missing value, per measure and reason: ``measure``, ``reason``, ``n_rows``.
        ``locked_in`` is missing exactly where ``dependence_years`` is, for the same reasons.
    threshold : float
    years : int
    column : str
        The share column read.
    """

    values: pd.DataFrame
    report: pd.DataFrame
    threshold: float
    years: int
    column: str


def buyer_dependence(panel: Any, threshold: float = 0.5, years: int = 3,
                     column: str = "main_buyer_share") -> BuyerDependence:
    """Lagged main-buyer share, years of dependence and the lock-in indicator.

    Parameters
    ----------
    panel : FirmPanel or pandas.DataFrame
        Panel indexed by (firm_id, year) (a frame with those columns is accepted).
    threshold : float
        Share of sales to the main buyer at or above which a year counts as dependent; the default
        0.5 is the "takes at least half of sales" of the quasi-hierarchy rule in
        :func:`gvcpanel.classify_governance`.
    years : int
        Years of uninterrupted dependence that make a firm locked in (and the cap of
        ``dependence_years``).
    column : str
        The share column (0-1).

    Returns
    -------
    BuyerDependence

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"firm_id": 1, "year": [2001, 2002, 2003, 2004],
    ...                    "main_buyer_share": [0.6, 0.7, 0.8, 0.3]})
    >>> dep = buyer_dependence(df, years=3)
    >>> dep.values["dependence_years"].tolist(), dep.values["locked_in"].tolist()
    ([1, 2, 3, 0], [0, 0, 1, 0])
    """
    if not 0.0 < float(threshold) <= 1.0:
        raise SpecificationError(f"threshold={threshold!r}; use a share in (0, 1], e.g. 0.5.")
    if isinstance(years, bool) or not isinstance(years, (int, np.integer)) or years < 1:
        raise SpecificationError(f"years={years!r}; use a positive whole number of years, e.g. 3.")
    frame, _ = panel_frame(panel)
    if column not in frame.columns:
        raise SpecificationError(
            f"buyer_dependence reads column {column!r}, which the panel does not have; map your "
            f"source's share of sales to the main buyer to {column!r} or pass column=."
        )
    if frame.index.has_duplicates:
        raise PanelStructureError(
            f"(firm_id, year) must be unique; found {frame.index[frame.index.duplicated()][0]} more than once. "
            "Aggregate or drop the duplicate rows first."
        )
    if not frame.index.is_monotonic_increasing:
        frame = frame.sort_index()
    try:
        share = pd.to_numeric(frame[column], errors="raise").to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as e:
        raise SchemaError(f"{column} must be numeric (a share of sales, 0-1); found dtype {frame[column].dtype}.") from e
    bad = ~np.isnan(share) & ((share < 0) | (share > 1))
    if bad.any():
        raise SchemaError(
            f"{column} must lie in [0, 1]; found {sorted(set(share[bad]))[:5]} at (firm_id, year) "
            f"{frame.index[bad][:5].tolist()}. Divide percentages by 100."
        )
    firm = pd.factorize(frame.index.get_level_values(0))[0]
    year = np.asarray(frame.index.get_level_values(1), dtype=np.int64)
    first_year = pd.Series(year).groupby(firm).transform("min").to_numpy()
    # position of (firm, year - l) in the frame, or -1: one hash lookup per lag
    lookup = pd.MultiIndex.from_arrays([firm, year])

    def position(lag: int) -> np.ndarray:
        return lookup.get_indexer(pd.MultiIndex.from_arrays([firm, year - lag]))

    n = len(frame)
    count = np.zeros(n, dtype=np.int64)
    done = np.zeros(n, dtype=bool)
    reason = np.zeros(n, dtype=np.int8)  # 0 determined, 1 share missing in t, 2 earlier missing, 3 gap
    for lag in range(int(years)):
        pos = position(lag)
        active = ~done
        before_entry = active & (year - lag < first_year)
        done |= before_entry  # left-censored: the spell cannot reach before the first observed year
        active = ~done
        unobserved_row = active & (pos < 0)
        value = np.where(pos >= 0, share[np.maximum(pos, 0)], np.nan)
        missing_value = active & (pos >= 0) & np.isnan(value)
        reason[unobserved_row] = 3
        reason[missing_value] = 1 if lag == 0 else 2
        done |= unobserved_row | missing_value
        active = ~done
        below = active & (value < threshold)
        done |= below
        counting = ~done
        count[counting] += 1
        done |= count >= years
    determined = reason == 0
    dependence_years = pd.array(np.where(determined, count, 0), dtype="Int64")
    dependence_years[~determined] = pd.NA
    locked_in = pd.array((count >= years).astype(np.int64), dtype="Int64")
    locked_in[~determined] = pd.NA

    previous = position(1)
    lag_value = np.where(previous >= 0, share[np.maximum(previous, 0)], np.nan)
    lag_reason = np.zeros(n, dtype=np.int8)
    lag_reason[(previous < 0) & (year == first_year)] = 1
    lag_reason[(previous < 0) & (year > first_year)] = 2
    lag_reason[(previous >= 0) & np.isnan(lag_value)] = 3
    values = pd.DataFrame(
        {
            "main_buyer_share_lag": pd.array(lag_value, dtype="Float64"),
            "dependence_years": dependence_years,
            "locked_in": locked_in,
        },
        index=frame.index,
    )
    spell_labels = {1: SHARE_MISSING, 2: SPELL_SHARE_MISSING, 3: SPELL_GAP}
    lag_labels = {1: LAG_FIRST, 2: LAG_GAP, 3: LAG_MISSING}
    rows = []
    for measure, codes, labels in (("main_buyer_share_lag", lag_reason, lag_labels),
                                   ("dependence_years", reason, spell_labels),
                                   ("locked_in", reason, spell_labels)):
        for code, label in labels.items():
            count_rows = int(np.sum(codes == code))
            if count_rows:
                rows.append({"measure": measure, "reason": label.format(column=column), "n_rows": count_rows})
    report = pd.DataFrame(rows, columns=["measure", "reason", "n_rows"])
    return BuyerDependence(values, report, float(threshold), int(years), column)


def with_buyer_dependence(panel: Any, threshold: float = 0.5, years: int = 3,
                          column: str = "main_buyer_share") -> Any:
    """The panel with the columns of :func:`buyer_dependence` added (those it lacks).

    A FirmPanel stays a FirmPanel (validated again, the step recorded in its provenance); a
    DataFrame comes back as a (firm_id, year)-indexed DataFrame.  Columns the panel already has
    under these names are kept as they are (your own definition wins).
    """
    frame, _ = panel_frame(panel)
    wanted = [c for c in DEPENDENCE_COLUMNS if c not in frame.columns]
    if not wanted:
        return panel
    dependence = buyer_dependence(frame, threshold=threshold, years=years, column=column)
    data = frame.join(dependence.values[wanted])
    if hasattr(panel, "derive") and not isinstance(panel, pd.DataFrame):
        return panel.derive(data.reset_index(), step=(
            f"buyer dependence ({column} >= {threshold} for {years} years: {', '.join(wanted)})"))
    return data
