"""A panel with staggered adoption, prepared once for every event-study estimator.

:func:`prepare` turns a panel, a formula and a cohort column into :class:`StaggeredData`: the
kept firm-years as arrays, each unit's cohort (first treated period, ``inf`` for never treated)
and the clustering codes of each unit, with every excluded row counted by reason.

Conventions
-----------
- A unit's cohort is the calendar year (or period label) of its first treated observation; 0 or
  infinity means never treated.  A missing cohort means unknown: those rows are excluded and
  counted, unless ``missing_cohort="never"`` says that missing means never treated.  The cohort
  must be constant within a unit.
- Event time is ``year - cohort`` in the units of the time variable, so survey waves a few years
  apart give event times such as -4, 0, 3 (nothing is recoded to consecutive integers).
- Units treated from their first kept observation have no untreated observation: no estimator
  can use them to learn anything about untreated outcomes, so they are excluded (counted) here,
  for every estimator alike.
- Units observed in one year only carry no within-unit comparison (their unit effect or their
  own change absorbs them) and are excluded (counted) too, so that every estimator and every
  weight sees the same sample.
- Clusters must be constant within a unit (they are summed over units); the unit itself is
  always available as ``"firm_id"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gvcpanel.errors import PanelStructureError, SpecificationError
from gvcpanel.formula.frame import canonical, derived_of, evaluate, panel_frame
from gvcpanel.formula.parse import parse_formula

NEVER = np.inf


@dataclass(frozen=True, eq=False)
class StaggeredData:
    """Kept firm-years of an event study as arrays.

    Attributes
    ----------
    unit, period : ndarray of int
        Per row: unit code (0..N-1) and period code (0..T-1, into ``periods``).
    y : ndarray
        Outcome per row.
    X : ndarray (n x p)
        Covariates per row (no intercept); ``covariates`` names the columns.
    periods : ndarray
        Sorted distinct calendar periods of the kept rows.
    unit_labels : ndarray
        The ``firm_id`` of each unit code.
    unit_cohort : ndarray of float
        First treated period of each unit, ``inf`` if never treated.
    unit_clusters : Mapping[str, ndarray]
        For each clustering variable the code (0..G-1) of each unit; always has ``"firm_id"``.
    exclusions : dict
        Rows excluded, by reason.
    """

    unit: np.ndarray
    period: np.ndarray
    y: np.ndarray
    X: np.ndarray
    covariates: tuple[str, ...]
    dependent: str
    periods: np.ndarray
    unit_labels: np.ndarray
    unit_cohort: np.ndarray
    unit_clusters: Mapping[str, np.ndarray]
    exclusions: dict[str, int]
    cohort_column: str
    provenance: Mapping[str, str] = field(default_factory=dict)

    @property
    def nobs(self) -> int:
        return int(self.y.size)

    @property
    def n_units(self) -> int:
        return int(self.unit_labels.size)

    @property
    def year(self) -> np.ndarray:
        """Calendar period of each row."""
        return self.periods[self.period]

    @property
    def cohort(self) -> np.ndarray:
        """Cohort of each row (``inf`` for never treated)."""
        return self.unit_cohort[self.unit]

    @property
    def event_time(self) -> np.ndarray:
        """``year - cohort`` per row (``-inf`` for never treated)."""
        return self.year - self.cohort

    @property
    def treated(self) -> np.ndarray:
        """Row is at or after its unit's cohort."""
        return self.year >= self.cohort

    def cohorts(self) -> np.ndarray:
        """Distinct finite cohorts, sorted."""
        finite = self.unit_cohort[np.isfinite(self.unit_cohort)]
        return np.unique(finite)

    def frame(self) -> pd.DataFrame:
        """The kept rows as a (firm_id, year)-indexed frame: outcome ``y``, covariates
        ``x0..x{p-1}``, ``cohort`` and the clustering columns (for the regression estimators)."""
        index = pd.MultiIndex.from_arrays([self.unit_labels[self.unit], self.year], names=["firm_id", "year"])
        data = {"y": self.y}
        for j in range(self.X.shape[1]):
            data[f"x{j}"] = self.X[:, j]
        data["cohort"] = self.cohort
        for name, codes in self.unit_clusters.items():
            if name != "firm_id":
                data[name] = codes[self.unit]
        return pd.DataFrame(data, index=index)


def _cohort_per_unit(frame: pd.DataFrame, cohort: str, missing_cohort: str) -> pd.Series:
    if cohort not in frame.columns:
        raise SpecificationError(
            f"cohort column {cohort!r} is not in the panel; it has {sorted(map(str, frame.columns))[:20]}. "
            "Build it with gp.chain_cohorts(panel) or pass the column that holds each firm's first treated year."
        )
    try:
        values = pd.to_numeric(frame[cohort], errors="raise").astype(float)
    except (TypeError, ValueError) as err:
        raise SpecificationError(
            f"cohort column {cohort!r} must hold years (numbers); found values such as "
            f"{list(frame[cohort].dropna().unique()[:3])}."
        ) from err
    if missing_cohort not in ("exclude", "never"):
        raise SpecificationError(f"missing_cohort={missing_cohort!r}; use 'exclude' or 'never'.")
    never = values == 0
    if missing_cohort == "never":
        never |= values.isna()
    values = values.where(~never, np.inf)
    firms = frame.index.get_level_values("firm_id")
    per_firm = values.groupby(firms, sort=False)
    spread = per_firm.nunique(dropna=False)
    bad = spread[spread > 1]
    if len(bad):
        firm = bad.index[0]
        seen = sorted(set(values[firms == firm].tolist()))
        raise SpecificationError(
            f"cohort column {cohort!r} changes within firm_id {firm!r} (values {seen}); a cohort is the "
            f"firm's first treated year and must be the same in every year ({len(bad)} firms differ)."
        )
    return per_firm.first()


def prepare(
    panel: Any,
    formula: str,
    cohort: str,
    cluster: str | None = "cluster_id",
    missing_cohort: str = "exclude",
) -> StaggeredData:
    """Evaluate an event-study formula on a panel and attach cohorts and clusters.

    Parameters
    ----------
    panel : FirmPanel or DataFrame
        Indexed by (firm_id, year) or with those columns.
    formula : str
        ``"outcome ~ covariates"``; ``"outcome ~ 1"`` for none.
    cohort : str
        Column with each firm's first treated year (missing, 0 or inf: never treated).
    cluster : str, optional
        Clustering variable, constant within firm (``None`` or ``"firm"``: the firm).
    missing_cohort : {"exclude", "never"}
        What a missing cohort means.

    Returns
    -------
    StaggeredData
    """
    frame, provenance = panel_frame(panel)
    if "~" not in formula:
        raise SpecificationError(
            f"formula {formula!r} has no '~'; write 'outcome ~ covariates' or 'outcome ~ 1'."
        )
    lhs, rhs = (part.strip() for part in formula.split("~", 1))
    no_covariates = rhs in ("", "1", "0", "1 - 1")
    # the parser wants a regressor: without covariates the outcome stands in and is dropped below
    internal = f"{lhs} ~ {lhs}" if no_covariates else formula
    parsed = parse_formula(internal, outcome_as_term=no_covariates)
    if parsed.effects:
        raise SpecificationError(
            f"formula {formula!r} absorbs effects after '|'; event studies absorb firm and period effects "
            "themselves: write 'outcome ~ covariates'."
        )
    dependent = parsed.dependent.expr
    cohort_by_firm = _cohort_per_unit(frame, cohort, missing_cohort)
    cluster_name = None if cluster is None else canonical(cluster)
    if cluster_name == "firm_id":
        cluster_name = None
    groups = [cluster_name] if cluster_name else []
    # covariates are coded as in a model with firm effects (they span the constant)
    try:
        arrays = evaluate(frame, parsed, groups, derived=derived_of(panel))
    except SpecificationError as e:
        if internal == formula:
            raise
        # name the user's formula, not the stand-in
        raise SpecificationError(str(e).replace(repr(internal), repr(formula))) from e
    if arrays.data.shape[0] == 0:
        raise PanelStructureError(f"no firm-year has every variable of {formula!r}; exclusions: {arrays.exclusions}.")
    exclusions = dict(arrays.exclusions)
    unit = arrays.codes["firm_id"]
    unit_labels = arrays.labels["firm_id"]
    years = arrays.years.astype(float)
    unit_cohort = cohort_by_firm.reindex(unit_labels).to_numpy(dtype=float)
    unknown = np.isnan(unit_cohort)[unit]
    if unknown.any():
        exclusions[f"missing {cohort} (cohort unknown)"] = int(unknown.sum())
        arrays = arrays.subset(~unknown)
        unit = arrays.codes["firm_id"]
        unit_labels = arrays.labels["firm_id"]
        years = arrays.years.astype(float)
        unit_cohort = cohort_by_firm.reindex(unit_labels).to_numpy(dtype=float)
    # a unit treated from its first kept row has no untreated observation
    first = np.full(unit_labels.size, np.inf)
    np.minimum.at(first, unit, years)
    always = unit_cohort <= first
    keep = ~always[unit]
    n_always = int((~keep).sum())
    if n_always:
        exclusions["treated from the firm's first observed year (no untreated observation)"] = n_always
        if not keep.any():
            raise PanelStructureError(
                f"every firm is treated from its first observed year in {cohort!r}; an event study "
                "needs firms observed before their cohort year or never treated."
            )
        arrays = arrays.subset(keep)
        unit = arrays.codes["firm_id"]
        unit_labels = arrays.labels["firm_id"]
        years = arrays.years.astype(float)
        unit_cohort = cohort_by_firm.reindex(unit_labels).to_numpy(dtype=float)
    counts = np.bincount(unit, minlength=unit_labels.size)
    single = counts[unit] == 1
    if single.any():
        exclusions["firm observed in one year only (no within-firm comparison)"] = int(single.sum())
        arrays = arrays.subset(~single)
        unit = arrays.codes["firm_id"]
        unit_labels = arrays.labels["firm_id"]
        years = arrays.years.astype(float)
        unit_cohort = cohort_by_firm.reindex(unit_labels).to_numpy(dtype=float)
    unit_clusters = {"firm_id": np.arange(unit_labels.size)}
    if cluster_name:
        codes = arrays.codes[cluster_name]
        per_unit = np.full(unit_labels.size, -1, dtype=np.intp)
        per_unit[unit] = codes
        if not np.array_equal(per_unit[unit], codes):
            moved = unit_labels[np.unique(unit[per_unit[unit] != codes])]
            raise SpecificationError(
                f"cluster variable {cluster_name!r} changes within firm_id {moved[0]!r} ({moved.size} firms); "
                "event-study influence functions are summed over firms, so each firm needs one cluster. "
                "Use the firm's main cluster or cluster by firm."
            )
        used, per_unit = np.unique(per_unit, return_inverse=True)
        unit_clusters[cluster_name] = per_unit.astype(np.intp)
    periods, period = np.unique(years, return_inverse=True)
    if not np.isfinite(unit_cohort).any():
        raise PanelStructureError(f"no firm is ever treated in {cohort!r}; there is no event to study.")
    return StaggeredData(
        unit=unit.astype(np.intp),
        period=period.astype(np.intp),
        y=np.ascontiguousarray(arrays.data[:, 0]),
        X=np.ascontiguousarray(arrays.data[:, 1:1] if no_covariates else arrays.data[:, 1:]),
        covariates=() if no_covariates else tuple(arrays.terms),
        dependent=dependent,
        periods=periods,
        unit_labels=unit_labels,
        unit_cohort=unit_cohort,
        unit_clusters=unit_clusters,
        exclusions=exclusions,
        cohort_column=cohort,
        provenance=provenance,
    )


def wide(data: StaggeredData, values: np.ndarray) -> np.ndarray:
    """Rows of ``values`` (n or n x p) laid out as units x periods (x p), NaN where unobserved."""
    shape = (data.n_units, data.periods.size) + values.shape[1:]
    out = np.full(shape, np.nan)
    out[data.unit, data.period] = values
    return out


def cluster_names(data: StaggeredData) -> Sequence[str]:
    return tuple(data.unit_clusters)


@dataclass(frozen=True, eq=False)
class Cells:
    """Estimates by (cohort, calendar period) cell with their unit-level influence functions.

    ``psi`` is units x cells, scaled so that ``estimate - truth ~ psi.sum(axis=0)``.  ``weight``
    is what an aggregation weights a cell by: the cohort's share of units for Callaway-Sant'Anna
    (estimated, with its own influence in ``weight_psi``), the number of treated firm-years in
    the cell for Sun-Abraham and the imputation estimator (fixed).  ``reference`` cells are
    normalised to zero (no variance).
    """

    cohort: np.ndarray
    period: np.ndarray
    estimate: np.ndarray
    psi: np.ndarray
    reference: np.ndarray
    weight: np.ndarray
    base_period: np.ndarray | None = None
    #: for estimated cohort shares: the cohort of each unit (inf never), so that aggregations can
    #: add the influence of the estimated weights (Callaway and Sant'Anna 2021, eq. (4.2))
    unit_cohort: np.ndarray | None = None

    @property
    def event_time(self) -> np.ndarray:
        return self.period - self.cohort

    def labels(self) -> list[str]:
        return [f"g={_fmt(g)},t={_fmt(t)}" for g, t in zip(self.cohort, self.period)]


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def fmt_number(value: float) -> str:
    """A period or event time as a label: integers without a decimal point."""
    return _fmt(value)
