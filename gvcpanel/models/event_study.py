r"""Event studies with staggered adoption: one front end, four estimators, one result shape.

:func:`event_study` estimates the effect of a treatment that units adopt at different times
(their *cohort*), by time since adoption, with

- ``"twfe"``: the dynamic two-way fixed-effects regression, shown for contrast (biased when
  effects differ across cohorts; :mod:`gvcpanel.models.did_regression`);
- ``"cs"``: Callaway and Sant'Anna (2021) group-time effects, with never- or not-yet-treated
  comparison units, unconditional or with covariates by outcome regression, inverse probability
  weighting or doubly robust (:mod:`gvcpanel.models.callaway_santanna`);
- ``"sa"``: Sun and Abraham (2021) interaction-weighted estimator;
- ``"imputation"``: Borusyak, Jaravel and Spiess (2024) (:mod:`gvcpanel.models.did_imputation`).

Every estimator yields an :class:`EventStudyResult` by event time, which can be aggregated by
cohort, calendar period or overall (:meth:`EventStudyResult.aggregate`), tested for pre-trends
(:meth:`EventStudyResult.pretrend_test`) and given uniform (sup-t) bands from a multiplier
(wild cluster) bootstrap.  Inference for all four comes from unit-level influence functions
(:mod:`gvcpanel.models.influence`), so clustering may be coarser than the unit and is changed
without refitting (:meth:`EventStudyResult.with_inference`).

Aggregations (Callaway and Sant'Anna 2021, section 3.1; the same weights for ``sa`` and
``imputation`` count firm-years instead of units)
---------------------------------------------------------------------------------------------
With cells :math:`(g, t)`, event time :math:`e = t - g`, cell weights :math:`\pi_{gt}` (the
cohort's share of units for ``cs``; the cell's treated firm-years for ``sa`` and
``imputation``):

- event time :math:`\theta(e) = \sum_{g} \pi_{g,g+e}\,\widehat{ATT}(g,g+e) / \sum_g \pi_{g,g+e}`;
- cohort :math:`\theta(g)` = the same weighted mean over the cohort's post-treatment cells;
- calendar :math:`\theta(t)` = the weighted mean over cohorts treated by :math:`t`;
- overall ``how="simple"``: weighted mean over all post-treatment cells; ``"event_time"``: the
  plain mean of :math:`\theta(e), e \ge 0`; ``"cohort"``: the weighted mean of
  :math:`\theta(g)`; ``"calendar"``: the plain mean of :math:`\theta(t)`.

For ``cs`` the cohort shares are estimated and their influence is added
(:math:`\psi^w`, Callaway and Sant'Anna 2021, eq. (4.2)); for ``sa`` and ``imputation`` the
firm-year counts are taken as fixed.  A ``window=(lo, hi)`` keeps event times in
``[lo, hi]`` (and post-treatment cells up to ``hi`` in the other aggregations); the TWFE
regression bins the event times beyond it into the end points.

Inference
---------
``"cluster"`` (default): :math:`\hat V = a \sum_c s_c s_c'` over the clusters' summed unit
influences :math:`s_c`.  For ``twfe`` and ``sa`` :math:`a = \frac{G}{G-1}\frac{N-1}{N-K}`, the
package's CRV1 ``"stata"`` factor (so the covariance equals that of
:func:`gvcpanel.models.linear.fe_regression`), with :math:`t_{G-1}` intervals; for ``cs`` and
``imputation`` :math:`a = G/(G-1)` with :math:`t_{G-1}` intervals when clusters are coarser
than the unit, and :math:`a = 1` with normal intervals when clustering by unit (the
conventions of the R package ``did`` and of BJS).  ``"wild"``: p-values and intervals from the
multiplier bootstrap (symmetric bootstrap-t; for least squares this is the unrestricted wild
cluster bootstrap), standard errors from the analytic covariance.  Uniform bands always come from
the bootstrap draws (``draws``, ``seed``, ``weights`` of the inference).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from gvcpanel.errors import SpecificationError
from gvcpanel.inference.clusters import cluster_size_summary
from gvcpanel.inference.spec import Inference, InferenceSpec, parse_inference
from gvcpanel.models import influence as inf
from gvcpanel.models.staggered import Cells, StaggeredData, fmt_number, prepare
from gvcpanel.results import ResultBase, TestResult

ESTIMATORS = ("twfe", "cs", "sa", "imputation")
AGGREGATIONS = ("event_time", "cohort", "calendar", "overall", "cells")
OVERALL = ("simple", "event_time", "cohort", "calendar")
INFERENCE_KINDS = ("cluster", "wild")
_LABELS = {
    "twfe": "Two-way fixed effects",
    "cs": "Callaway-Sant'Anna",
    "sa": "Sun-Abraham",
    "imputation": "Imputation (BJS)",
}


@dataclass(frozen=True)
class EventStudySpec:
    """What was asked (enough to say in a table or a figure how a line was estimated)."""

    estimator: str
    formula: str
    dependent: str
    covariates: tuple[str, ...]
    cohort: str
    control: str
    base_period: str
    method: str
    window: tuple[float, float] | None
    reference: float
    anticipation: float
    leave_out: bool

    @property
    def label(self) -> str:
        return _LABELS[self.estimator]


@dataclass(frozen=True, eq=False)
class _Block:
    """Estimates with unit-level influence functions, the raw material of every result."""

    params: np.ndarray
    terms: pd.DataFrame  # index = labels; columns event_time, cohort, period, reference, ...
    psi: Mapping[str, np.ndarray]  # clustering variable -> units x k


@dataclass(frozen=True, eq=False)
class _InferenceContext:
    """What inference needs besides the block: units' clusters and the small-sample rule."""

    unit_clusters: Mapping[str, np.ndarray]
    default_cluster: str
    ols: bool
    dof_ratio: float


@dataclass(frozen=True, repr=False, eq=False)
class EventStudyResult(ResultBase):
    """One estimator's event study (or one aggregation of it), under the common result contract.

    Attributes
    ----------
    params : pandas.Series
        Estimates by term (``"e=-2"``, ``"g=2010"``, ``"t=2012"``, ``"ATT"``, ``"g=2010,t=2012"``).
    inference : Inference
        Covariance and degrees of freedom; ``details["band_critical"]`` is the sup-t critical
        value of the uniform band (:meth:`bands`), ``details["draws"]`` the bootstrap draws.
    spec : EventStudySpec
    aggregation : str
        ``"event_time"``, ``"cohort"``, ``"calendar"``, ``"overall"`` or ``"cells"``.
    terms : pandas.DataFrame
        Per term: ``event_time``, ``cohort``, ``period`` (NaN where not applicable) and
        ``reference`` (normalised to zero, no variance).
    weights : pandas.DataFrame or None
        Cell weights of each term (``term``, ``cohort``, ``period``, ``weight``); None for the
        TWFE regression, whose coefficients are not convex averages of cell effects.
    nobs : int
        Firm-years used.
    n_firms : int
    exclusions : pandas.DataFrame
        Rows excluded, by reason (``reason``, ``n_rows``).
    fit_stats : Mapping
        Estimator details (seconds, skipped cells, first-step statistics, ...).
    """

    params: pd.Series
    inference: Inference
    spec: EventStudySpec
    aggregation: str
    terms: pd.DataFrame
    weights: pd.DataFrame | None
    nobs: int
    n_firms: int
    exclusions: pd.DataFrame
    fit_stats: Mapping[str, Any] = field(default_factory=dict)
    provenance: Mapping[str, str] = field(default_factory=dict)
    # what is needed to aggregate again and recompute inference
    _block: _Block | None = None
    _cells: Cells | None = None
    _cell_psi: Mapping[str, np.ndarray] | None = None
    _leads: _Block | None = None
    _context: _InferenceContext | None = None

    _title = "Event study"

    # --- the contract's hooks ---------------------------------------------------------------
    def _refit(self, spec: InferenceSpec) -> "EventStudyResult":
        return replace(self, inference=compute_inference(self._block, spec, self._context))

    def _summary_header(self) -> tuple[tuple[str, str], ...]:
        header = [("Estimator", self.spec.label), ("Outcome", self.spec.dependent),
                  ("Aggregation", self.aggregation.replace("_", " ")),
                  ("Firm-years", str(self.nobs)), ("Firms", str(self.n_firms))]
        crit = self.inference.details.get("band_critical")
        if crit is not None and np.isfinite(crit):
            header.append(("Uniform band", f"sup-t critical value {crit:.3f} "
                                           f"({self.inference.details['draws']} bootstrap draws)"))
        return tuple(header)

    def _depvar(self) -> str:
        return self.spec.dependent

    def _estimator_label(self) -> str:
        return self.spec.label

    def _stats(self) -> dict[str, Any]:
        return {"N": self.nobs, "n_firms": self.n_firms, "n_clusters": self.n_clusters,
                "inference": self.inference.label}

    # --- event-study additions --------------------------------------------------------------
    @property
    def estimator(self) -> str:
        return self.spec.estimator

    def bands(self) -> pd.DataFrame:
        """Uniform (sup-t) band at the inference's level over all terms: estimate -/+ c x s.e."""
        crit = self.inference.details.get("band_critical", np.nan)
        se = self.std_errors.to_numpy()
        est = self.params.to_numpy(dtype=float)
        return pd.DataFrame({"lower": est - crit * se, "upper": est + crit * se}, index=self.params.index)

    def to_frame(self, level: float = 0.95) -> pd.DataFrame:
        """Tidy table (the contract's columns) with the uniform band, the term's event time,
        cohort and period, whether it is a reference, and the estimator."""
        out = super().to_frame(level)
        band = self.bands()
        out["band_low"], out["band_high"] = band["lower"], band["upper"]
        for column in ("event_time", "cohort", "period", "reference"):
            out[column] = self.terms[column]
        out["estimator"] = self.spec.estimator
        return out

    def pretrend_test(self) -> TestResult:
        """Joint Wald test that all pre-treatment event-time estimates are zero (analytic covariance).

        ``cs`` and ``sa``: the pre-treatment event-time estimates (placebo effects);
        ``imputation``: the leads of BJS's Test 1; ``twfe``: the lead coefficients.  With
        clusters the statistic is W/q against F(q, G-1).
        """
        res = self if self.aggregation == "event_time" else self.aggregate("event_time")
        if res.is_bootstrap:
            res = res.with_inference("cluster")
        pre = res.terms.index[(res.terms["event_time"] < 0) & ~res.terms["reference"].astype(bool)]
        if len(pre) == 0:
            raise SpecificationError("there is no pre-treatment event time to test.")
        return res.wald_test(list(pre))

    # --- aggregation ------------------------------------------------------------------------
    def aggregate(self, kind: str = "event_time", how: str = "simple") -> "EventStudyResult":
        """The estimates aggregated by ``kind`` (see the module Notes); ``how`` for ``"overall"``."""
        if kind not in AGGREGATIONS:
            raise SpecificationError(f"aggregation {kind!r} is not known; choose one of {AGGREGATIONS}.")
        if kind == "overall" and how not in OVERALL:
            raise SpecificationError(f"how={how!r}; choose one of {OVERALL}.")
        if self._cells is None:
            if kind == "event_time":
                return self
            if kind == "overall" and how in ("simple", "event_time"):
                block, weights = _mean_of_post(self._block), None
            else:
                raise SpecificationError(
                    f"the {self.spec.label} regression pools cohorts, so it has no {kind!r} aggregation; "
                    "use estimator 'cs', 'sa' or 'imputation'."
                )
        else:
            block, weights = _aggregate(self._cells, self._cell_psi, kind, how, self.spec.window,
                                        self._leads, self.spec.estimator == "cs")
        return replace(self, aggregation=kind, params=pd.Series(block.params, index=block.terms.index, name="estimate"),
                       terms=block.terms, weights=weights, _block=block,
                       inference=compute_inference(block, self.inference.spec, self._context))

    def event_time(self) -> "EventStudyResult":
        return self.aggregate("event_time")

    def by_cohort(self) -> "EventStudyResult":
        return self.aggregate("cohort")

    def by_calendar(self) -> "EventStudyResult":
        return self.aggregate("calendar")

    def overall(self, how: str = "simple") -> "EventStudyResult":
        return self.aggregate("overall", how)

    def cells(self) -> "EventStudyResult":
        """Cohort-by-period effects (ATT(g,t) for ``cs``, CATT for ``sa``, cell means for ``imputation``)."""
        return self.aggregate("cells")


class EventStudySet(Mapping[str, EventStudyResult]):
    """The event studies of several estimators on the same data, by estimator name.

    ``to_frame()`` stacks their tidy tables (column ``estimator``) for tables and for plots that
    overlay the estimators; ``pretrend_tests()`` tabulates their pre-trend tests.
    """

    def __init__(self, results: Mapping[str, EventStudyResult]) -> None:
        self._results = dict(results)

    def __getitem__(self, key: str) -> EventStudyResult:
        if key not in self._results:
            raise KeyError(f"no {key!r} event study here; estimated: {list(self._results)}")
        return self._results[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._results)

    def __len__(self) -> int:
        return len(self._results)

    def to_frame(self, level: float = 0.95) -> pd.DataFrame:
        return pd.concat([r.to_frame(level) for r in self._results.values()])

    def aggregate(self, kind: str = "event_time", how: str = "simple") -> "EventStudySet":
        out = {}
        for name, res in self._results.items():
            try:
                out[name] = res.aggregate(kind, how)
            except SpecificationError:
                continue  # TWFE has no cohort or calendar aggregation
        return EventStudySet(out)

    def pretrend_tests(self) -> pd.DataFrame:
        rows = []
        for name, res in self._results.items():
            test = res.pretrend_test()
            rows.append({"estimator": name, "statistic": test.statistic, "df": test.df,
                         "distribution": test.distribution, "p_value": test.pvalue})
        return pd.DataFrame(rows).set_index("estimator")

    def summary(self) -> str:
        """The summaries of every estimator, one after the other, as text."""
        return "\n\n".join(str(r.summary()) for r in self._results.values())

    def __repr__(self) -> str:
        return f"EventStudySet({list(self._results)})"


# --- the front end ---------------------------------------------------------------------------------
def event_study(
    panel: Any,
    formula: str,
    cohort: str,
    estimator: str | Sequence[str] = ESTIMATORS,
    *,
    control: str = "never",
    base_period: str = "varying",
    method: str = "dr",
    window: tuple[float, float] | None = None,
    reference: float = -1,
    anticipation: float = 0,
    cluster: str | None = "cluster_id",
    inference: str | Mapping[str, Any] = "cluster",
    leave_out: bool = True,
    missing_cohort: str = "exclude",
) -> EventStudySet:
    """Event study of a staggered treatment with one or more estimators.

    Parameters
    ----------
    panel : FirmPanel or DataFrame
        Firm-year panel (unbalanced panels and survey waves with gaps are fine: event time is
        the difference of calendar years).
    formula : str
        ``"outcome ~ covariates"`` (``"outcome ~ 1"`` for none).  Covariates enter the
        regressions linearly and the Callaway-Sant'Anna comparisons at their base-period values.
    cohort : str
        Column with each firm's first treated year; 0 or inf for never treated, missing for
        unknown (a domain function such as ``gp.chain_cohorts`` builds it from the data).
    estimator : str or sequence of str
        Any of ``"twfe"``, ``"cs"``, ``"sa"``, ``"imputation"`` (default: all four).
    control : {"never", "not_yet"}
        Comparison units of ``cs``.  ``sa`` uses never-treated firms (or the last cohort when
        there are none); ``imputation`` uses every untreated firm-year.
    base_period : {"varying", "universal"}
        Base period of ``cs`` (see :mod:`gvcpanel.models.callaway_santanna`).
    method : {"dr", "reg", "ipw"}
        Covariate adjustment of ``cs`` (doubly robust, outcome regression, inverse probability
        weighting); irrelevant without covariates.
    window : (float, float), optional
        Event times to report, ``(lo, hi)``; TWFE bins the event times beyond them.
    reference : float
        Reference event time of TWFE (-1; the last observed pre-period when -1 is not observed).
    anticipation : float
        Years of anticipation for ``cs``.
    cluster : str, optional
        Clustering variable (constant within firm); None or ``"firm"`` clusters by firm.
    inference : str, mapping or InferenceSpec
        ``"cluster"`` (analytic) or ``"wild"`` (multiplier bootstrap), or a mapping with ``kind``
        and the options ``level``, ``draws`` (9999), ``seed`` (12345), ``weights`` and
        ``cluster``; the uniform band uses the same draws.
    leave_out : bool
        BJS's leave-out residuals for the imputation variance (recommended with small cells).
    missing_cohort : {"exclude", "never"}
        Whether a missing cohort means unknown (rows excluded and counted) or never treated.

    Returns
    -------
    EventStudySet
        One :class:`EventStudyResult` by event time per estimator, in the order asked.

    Examples
    --------
    >>> import gvcpanel as gp                                                  # doctest: +SKIP
    >>> es = gp.event_study(panel, "log(sales) ~ 1", cohort="entry_year", window=(-4, 6))  # doctest: +SKIP
    >>> es["cs"].pretrend_test().pvalue                                         # doctest: +SKIP
    >>> es["imputation"].by_cohort().to_frame()                                  # doctest: +SKIP
    >>> es.to_frame()  # all estimators stacked, for a plot that overlays them   # doctest: +SKIP
    """
    names = (estimator,) if isinstance(estimator, str) else tuple(estimator)
    unknown = [e for e in names if e not in ESTIMATORS]
    if unknown or not names:
        raise SpecificationError(f"estimator {unknown or names!r} is not known; choose from {ESTIMATORS}.")
    if window is not None:
        if len(window) != 2 or not window[0] < 0 <= window[1]:
            raise SpecificationError(f"window={window!r}; give (lo, hi) with lo < 0 <= hi, e.g. (-5, 5).")
        window = (float(window[0]), float(window[1]))
    settings = parse_inference(inference)
    _check_kind(settings)
    start = time.perf_counter()
    data = prepare(panel, formula, cohort, cluster, missing_cohort)
    prepare_seconds = time.perf_counter() - start
    cluster_name = next((c for c in data.unit_clusters if c != "firm_id"), "firm_id")
    results = {}
    for name in dict.fromkeys(names):
        spec = EventStudySpec(
            estimator=name, formula=formula, dependent=data.dependent, covariates=data.covariates,
            cohort=cohort, control=control, base_period=base_period, method=method, window=window,
            reference=float(reference), anticipation=float(anticipation), leave_out=leave_out,
        )
        start = time.perf_counter()
        results[name] = _estimate(data, spec, settings, cluster_name)
        seconds = time.perf_counter() - start
        object.__setattr__(results[name], "fit_stats", {**results[name].fit_stats, "seconds": seconds,
                                                        "prepare_seconds": prepare_seconds})
    return EventStudySet(results)


def _estimate(data: StaggeredData, spec: EventStudySpec, settings: InferenceSpec, cluster: str) -> EventStudyResult:
    from gvcpanel.models import callaway_santanna, did_imputation, did_regression

    exclusions = dict(data.exclusions)
    fit_stats: dict[str, Any] = {}
    cells = leads = None
    cell_psi = None
    ols, dof_ratio = False, 1.0
    nobs = data.nobs
    if spec.estimator == "twfe":
        terms, fit = did_regression.twfe_event_study(data, spec.window, spec.reference)
        kept = terms[~terms["reference"]]
        k = len(kept)
        params = np.concatenate([fit.params, np.zeros(len(terms) - k)])
        psi = np.column_stack([fit.psi, np.zeros((data.n_units, len(terms) - k))])
        order = np.argsort(terms["event_time"].to_numpy(), kind="stable")
        terms = terms.iloc[order].reset_index(drop=True)
        terms["cohort"], terms["period"] = np.nan, np.nan
        terms.index = [f"e={fmt_number(e)}" for e in terms["event_time"]]
        block = _Block(params[order], terms, {name: psi[:, order] for name in data.unit_clusters})
        ols, dof_ratio = True, fit.dof_ratio
        fit_stats["r2_within"] = fit.r2_within
        weights = None
    else:
        if spec.estimator == "cs":
            cells, skipped = callaway_santanna.group_time_effects(
                data, spec.control, spec.base_period, spec.method, spec.anticipation)
            cell_psi = {name: cells.psi for name in data.unit_clusters}
            fit_stats["skipped_cells"] = skipped
        elif spec.estimator == "sa":
            cells, fit, extra = did_regression.sun_abraham(data)
            cell_psi = {name: cells.psi for name in data.unit_clusters}
            exclusions.update(extra)
            nobs = fit.nobs
            ols, dof_ratio = True, fit.dof_ratio
        else:
            cells, cell_psi, extra, first = did_imputation.imputation_effects(data, spec.leave_out)
            exclusions.update(extra)
            fit_stats.update(first)
            nobs = first["n_untreated"] + first["n_imputed"]
            lead_terms, lead_fit = did_imputation.pretrend_regression(data, spec.window)
            lead_terms["cohort"], lead_terms["period"] = np.nan, np.nan
            lead_terms.index = [f"e={fmt_number(e)}" for e in lead_terms["event_time"]]
            leads = _Block(lead_fit.params, lead_terms, {name: lead_fit.psi for name in data.unit_clusters})
            fit_stats["pretrend_dof_ratio"] = lead_fit.dof_ratio
            fit_stats["leads_left_out"] = tuple(lead_terms.attrs.get("left_out", ()))
        block, weights = _aggregate(cells, cell_psi, "event_time", "simple", spec.window, leads,
                                    spec.estimator == "cs")
    context = _InferenceContext(dict(data.unit_clusters), cluster, ols, dof_ratio)
    return EventStudyResult(
        params=pd.Series(block.params, index=block.terms.index, name="estimate"),
        inference=compute_inference(block, settings, context),
        spec=spec,
        aggregation="event_time",
        terms=block.terms,
        weights=weights,
        nobs=int(nobs),
        n_firms=data.n_units,
        exclusions=pd.DataFrame([(k, int(v)) for k, v in exclusions.items() if int(v) > 0],
                                columns=["reason", "n_rows"]),
        fit_stats=fit_stats,
        provenance=dict(data.provenance),
        _block=block,
        _cells=cells,
        _cell_psi=cell_psi,
        _leads=leads,
        _context=context,
    )


# --- aggregation of cells ---------------------------------------------------------------------------
def _weight_influence(unit_cohort: np.ndarray, groups: np.ndarray, shares: np.ndarray,
                      estimates: np.ndarray) -> np.ndarray:
    """Influence (per unit, psi scale) of estimating cohort shares in sum_k w_k theta_k.

    With :math:`w_k = \\pi_k/\\sum_j\\pi_j` and :math:`\\hat\\pi_k` the share of units in cohort
    :math:`g_k`: :math:`\\sum_k \\theta_k [I_{ik}/\\Pi - \\pi_k \\sum_j I_{ij}/\\Pi^2]/N` with
    :math:`I_{ik} = 1[G_i = g_k] - \\pi_k` and :math:`\\Pi = \\sum_k \\pi_k`.
    """
    n = unit_cohort.size
    total = shares.sum()
    indicator = (unit_cohort[:, None] == groups[None, :]).astype(float) - shares[None, :]
    return (indicator @ estimates / total - indicator.sum(axis=1) * (shares @ estimates) / total**2) / n


def _combine(estimates: np.ndarray, psi: Mapping[str, np.ndarray], raw: np.ndarray, groups: np.ndarray,
             keep_sets: list[np.ndarray], unit_cohort: np.ndarray | None) -> tuple[np.ndarray, dict[str, np.ndarray], list[np.ndarray]]:
    """Weighted means of ``estimates`` over each boolean ``keep`` set, with their influence."""
    params = np.empty(len(keep_sets))
    out = {name: np.empty((next(iter(psi.values())).shape[0], len(keep_sets))) for name in psi}
    weights = []
    for j, keep in enumerate(keep_sets):
        w = raw[keep] / raw[keep].sum()
        params[j] = w @ estimates[keep]
        extra = 0.0
        if unit_cohort is not None:
            extra = _weight_influence(unit_cohort, groups[keep], raw[keep], estimates[keep])
        for name, matrix in psi.items():
            out[name][:, j] = matrix[:, keep] @ w + extra
        full = np.zeros(estimates.size)
        full[keep] = w
        weights.append(full)
    return params, out, weights


def _in_window(event: np.ndarray, window: tuple[float, float] | None) -> np.ndarray:
    if window is None:
        return np.ones(event.size, dtype=bool)
    return (event >= window[0]) & (event <= window[1])


def _aggregate(cells: Cells, cell_psi: Mapping[str, np.ndarray], kind: str, how: str,
               window: tuple[float, float] | None, leads: _Block | None,
               estimated_weights: bool) -> tuple[_Block, pd.DataFrame]:
    event = cells.event_time
    post = (event >= 0) & _in_window(event, (-np.inf, window[1]) if window else None)
    unit_cohort = cells.unit_cohort if estimated_weights else None
    nan = np.nan
    if kind == "cells":
        labels = cells.labels()
        keep_sets = [np.arange(cells.estimate.size) == j for j in range(cells.estimate.size)]
        info = [(e, g, t, bool(r)) for e, g, t, r in zip(event, cells.cohort, cells.period, cells.reference)]
        unit_cohort = None  # one cell each: no weights to estimate
    elif kind == "event_time":
        times = np.unique(event[_in_window(event, window)])
        if leads is not None:  # imputation: pre-periods come from the lead regression
            times = times[times >= 0]
        keep_sets = [event == e for e in times]
        labels = [f"e={fmt_number(e)}" for e in times]
        info = [(e, nan, nan, bool(cells.reference[event == e].all())) for e in times]
    elif kind == "cohort":
        groups = np.unique(cells.cohort[post])
        keep_sets = [post & (cells.cohort == g) for g in groups]
        labels = [f"g={fmt_number(g)}" for g in groups]
        info = [(nan, g, nan, False) for g in groups]
    elif kind == "calendar":
        periods = np.unique(cells.period[post])
        keep_sets = [post & (cells.period == t) for t in periods]
        labels = [f"t={fmt_number(t)}" for t in periods]
        info = [(nan, nan, t, False) for t in periods]
    else:
        return _overall(cells, cell_psi, how, window, post, estimated_weights)
    if not keep_sets:
        raise SpecificationError(f"no cell falls in the {kind} aggregation (window={window}).")
    params, psi, weights = _combine(cells.estimate, cell_psi, cells.weight, cells.cohort, keep_sets, unit_cohort)
    terms = pd.DataFrame(info, columns=["event_time", "cohort", "period", "reference"], index=labels)
    block = _Block(params, terms, psi)
    if leads is not None and kind == "event_time":
        block = _stack(leads, block)
    return block, _weight_table(labels, weights, cells)


def _overall(cells: Cells, cell_psi: Mapping[str, np.ndarray], how: str, window, post: np.ndarray,
             estimated_weights: bool) -> tuple[_Block, pd.DataFrame]:
    unit_cohort = cells.unit_cohort if estimated_weights else None
    if not post.any():
        raise SpecificationError("no post-treatment cell to average.")
    if how == "simple":
        params, psi, weights = _combine(cells.estimate, cell_psi, cells.weight, cells.cohort, [post], unit_cohort)
        cell_weights = weights[0]
    else:
        sub = {"event_time": "event_time", "cohort": "cohort", "calendar": "calendar"}[how]
        inner, table = _aggregate(cells, cell_psi, sub, "simple", window, None, estimated_weights)
        keep = np.ones(inner.params.size, dtype=bool)
        if how == "event_time":
            keep = inner.terms["event_time"].to_numpy() >= 0
        if how == "cohort":
            groups = inner.terms["cohort"].to_numpy()
            raw = np.array([cells.weight[post & (cells.cohort == g)].sum() if unit_cohort is None
                            else cells.weight[cells.cohort == g][0] for g in groups])
            params, psi, w = _combine(inner.params, inner.psi, raw, groups, [keep], unit_cohort)
        else:
            raw = np.ones(inner.params.size)
            params, psi, w = _combine(inner.params, inner.psi, raw, inner.terms["cohort"].to_numpy(), [keep], None)
        by_term = table.pivot_table(index=["cohort", "period"], columns="term", values="weight", fill_value=0.0)
        by_term = by_term.reindex(columns=list(inner.terms.index), fill_value=0.0)
        combined = by_term.to_numpy() @ w[0]
        cell_weights = np.zeros(cells.estimate.size)
        lookup = {key: value for key, value in zip(by_term.index, combined)}
        for j, key in enumerate(zip(cells.cohort, cells.period)):
            cell_weights[j] = lookup.get(key, 0.0)
    terms = pd.DataFrame([(np.nan, np.nan, np.nan, False)], columns=["event_time", "cohort", "period", "reference"],
                         index=["ATT"])
    return _Block(params, terms, psi), _weight_table(["ATT"], [cell_weights], cells)


def _weight_table(labels: Sequence[str], weights: Sequence[np.ndarray], cells: Cells) -> pd.DataFrame:
    rows = []
    for label, w in zip(labels, weights):
        for j in np.flatnonzero(w):
            rows.append((label, cells.cohort[j], cells.period[j], float(w[j])))
    return pd.DataFrame(rows, columns=["term", "cohort", "period", "weight"])


def _stack(first: _Block, second: _Block) -> _Block:
    return _Block(
        np.concatenate([first.params, second.params]),
        pd.concat([first.terms, second.terms]),
        {name: np.column_stack([first.psi[name], second.psi[name]]) for name in second.psi},
    )


def _mean_of_post(block: _Block) -> _Block:
    post = (block.terms["event_time"].to_numpy() >= 0) & ~block.terms["reference"].to_numpy(dtype=bool)
    w = post / post.sum()
    terms = pd.DataFrame([(np.nan, np.nan, np.nan, False)], columns=["event_time", "cohort", "period", "reference"],
                         index=["ATT"])
    return _Block(np.array([block.params @ w]), terms, {k: (v @ w)[:, None] for k, v in block.psi.items()})


# --- inference --------------------------------------------------------------------------------------
def _check_kind(spec: InferenceSpec) -> None:
    if spec.kind not in INFERENCE_KINDS:
        raise SpecificationError(
            f"event-study inference {spec.kind!r} is not available; choose one of {INFERENCE_KINDS} "
            "('cluster': analytic cluster-robust; 'wild': multiplier (unrestricted wild cluster) bootstrap)."
        )


def compute_inference(block: _Block, spec: InferenceSpec, context: _InferenceContext) -> Inference:
    """Covariance, degrees of freedom, sup-t critical value and, for ``"wild"``, bootstrap p-values
    and intervals of a block (module Notes)."""
    _check_kind(spec)
    name = spec.cluster[0] if spec.cluster else context.default_cluster
    name = "firm_id" if name == "firm" else name
    if name not in context.unit_clusters:
        raise SpecificationError(
            f"cluster={name!r} was not kept by this estimation; available: {list(context.unit_clusters)}. "
            "Re-estimate with cluster=... to cluster on another variable."
        )
    codes = context.unit_clusters[name]
    sums = inf.cluster_sums(block.psi[name], codes)
    n_groups = sums.shape[0]
    if n_groups < 2:
        raise SpecificationError(f"one cluster in {name!r}: cluster-robust inference needs at least two.")
    coarse = n_groups < codes.size
    factor = (n_groups / (n_groups - 1) if (context.ols or coarse) else 1.0) * context.dof_ratio
    df = float(n_groups - 1) if (context.ols or coarse) else None
    reference = block.terms["reference"].to_numpy(dtype=bool)
    labels = list(block.terms.index)
    cov = inf.cluster_cov(sums, factor)
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    deviations = inf.multiplier_draws(sums, factor, int(spec.draws), spec.weights, int(spec.seed))
    ok = ~reference & (se > 0)
    critical = inf.sup_t_critical(deviations[:, ok], se[ok], float(spec.level))
    weights = spec.weights or ("webb" if n_groups < inf.WEBB_BELOW else "rademacher")
    pvalues = ci = None
    kind = "analytic cluster-robust" if spec.kind == "cluster" else "multiplier (unrestricted wild) bootstrap"
    label = f"{kind} by {name} ({n_groups} clusters)"
    if spec.kind == "wild":
        pvalues, ci = inf.bootstrap_t(block.params, se, deviations, float(spec.level))
        pvalues = pd.Series(np.where(ok, pvalues, np.nan), index=labels, name="p")
        ci = pd.DataFrame(ci, index=labels, columns=["lower", "upper"])
        label += f", {spec.draws} {weights} draws"
    return Inference(
        spec=replace(spec, cluster=(name,)),
        label=label,
        cov=pd.DataFrame(cov, index=labels, columns=labels),
        df=df,
        pvalues=pvalues,
        ci=ci,
        n_clusters=int(n_groups),
        cluster_sizes=cluster_size_summary(codes),
        details={"band_critical": critical, "draws": int(spec.draws), "weights": weights, "factor": float(factor),
                 "bootstrap_se": deviations.std(axis=0)},
    )
