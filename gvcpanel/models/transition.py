r"""Markov transitions of a categorical panel state: tables and a multinomial logit model.

:func:`transition_pairs` pairs each unit's state in period t with its state in the next period;
:func:`transition_table` counts the pairs (origin x destination, with row shares, like Stata's
``xttrans, freq``); :func:`transition_model` fits a first-order Markov model whose yearly
transition probabilities depend on covariates measured in the origin period:

.. math::

    P(S_{i,t+1} = j \mid S_{it} = r, x_{it}) =
    \frac{\exp(x_{it}'\beta_{rj})}{\sum_k \exp(x_{it}'\beta_{rk})},\qquad \beta_{rr} = 0,

a multinomial logit for each origin r with *staying in r* as the base (``by_origin=True``), so
that :math:`\beta_{rj}` are log odds of moving to j rather than staying, per unit of the
covariate.  With ``by_origin=False`` every origin shares the slopes,
:math:`\log P(j)/P(b) = \alpha_{rj} + x'\gamma_j` with a fixed base destination b (the model
``nnet::multinom(next ~ origin + x)`` fits).

The module knows panels (a unit-time index) and category labels, nothing about what the states
mean; the value-chain wrappers are in :mod:`gvcpanel.gvc.transitions`.

Pairs and gaps
--------------
``spacing="consecutive"`` (the default, as ``xttrans``, which uses the lag operator) pairs t
with t+1 only: a unit whose next row is two or more periods later contributes no pair for t
(reason ``"next period not observed (gap)"``), because a move across a gap happened in an
unknown period and a two-period transition has another matrix.  ``spacing="next_observed"``
pairs each row with the unit's next row whatever the distance (survey waves years apart); the
``gap`` column of the pairs holds the distance, and the model then estimates transition
probabilities over the observed intervals, which are only comparable when the intervals are.
Every row of the panel that is not the origin of a used pair is counted under exactly one
reason: state missing in t, the unit's last row, a gap, or the state missing in the next row.

Estimation and inference
------------------------
Each origin's multinomial logit is fitted by Newton's method (:mod:`gvcpanel.models.multinomial`)
on the pairs from that origin; destinations never reached from an origin in the sample have
probability 0 there and no parameters (listed in ``fit_stats["never_observed"]``).  The origins'
likelihoods share no parameter, so the joint information is block-diagonal, but the scores are
stacked into one matrix so that cluster-robust covariances (the default, CRV1 by
``cluster_id``, :math:`\frac{G}{G-1}\frac{N-1}{N-K}` times the sandwich as for every likelihood
model of the package) include the covariance between origins' estimates.  Probabilities at chosen
covariate values come with delta-method standard errors; their intervals are computed on the
logit scale and transformed back, so they stay inside (0, 1).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import linalg, stats
from scipy.special import expit, logit

from gvcpanel.errors import IdentificationError, PanelStructureError, SpecificationError
from gvcpanel.formula.evaluate import DerivedColumn, evaluate_formula
from gvcpanel.formula.frame import derived_of, panel_frame
from gvcpanel.formula.parse import parse_formula
from gvcpanel.inference.designs import LikelihoodDesign
from gvcpanel.inference.spec import InferenceSpec, parse_inference
from gvcpanel.models import multinomial as mnl
from gvcpanel.results import EstimationResult, ModelSpec, exclusion_table

SPACINGS = ("consecutive", "next_observed")
INTERCEPT = "Intercept"
FROM = "state_from"
TO = "state_to"
GAP = "gap"
DESTINATION = "_next_state_code"  # internal outcome column of the formula

STATE_MISSING = "{state} missing in t"
LAST_ROW = "last observed period of the unit (no next period)"
GAP_REASON = "next period not observed (gap)"
NEXT_MISSING = "{state} missing in the next period"


# --------------------------------------------------------------------------------------------
# pairs and tables
@dataclass(frozen=True)
class TransitionPairs:
    """Origin rows paired with the next period's state.

    Attributes
    ----------
    frame : pandas.DataFrame
        The origin rows (unit, time index; every panel column, measured in t) with ``state_from``,
        ``state_to`` (categoricals over ``states``) and ``gap`` (periods between the two rows).
    states : tuple of str
        The state labels in order.
    exclusions : pandas.DataFrame
        Panel rows that are not the origin of a pair: ``reason``, ``n_rows``.
    state : str
    spacing : str
    """

    frame: pd.DataFrame
    states: tuple[str, ...]
    exclusions: pd.DataFrame
    state: str
    spacing: str

    @property
    def n_pairs(self) -> int:
        return int(len(self.frame))


def _states_of(series: pd.Series, states: Sequence[str] | None, state: str) -> tuple[str, ...]:
    observed = [str(v) for v in pd.unique(series.dropna())]
    if states is None:
        return tuple(sorted(observed))
    states = tuple(str(s) for s in states)
    if len(set(states)) != len(states):
        raise SpecificationError(f"states={states} lists a state twice.")
    unknown = sorted(set(observed) - set(states))
    if unknown:
        raise SpecificationError(
            f"{state} takes the values {unknown}, which are not in states={list(states)}; add them or "
            "recode the column."
        )
    return states


def transition_pairs(
    panel: Any,
    state: str,
    *,
    states: Sequence[str] | None = None,
    spacing: str = "consecutive",
) -> TransitionPairs:
    """Pair each unit's state in t with its state in the next period.

    Parameters
    ----------
    panel : FirmPanel or pandas.DataFrame
        Panel indexed by (unit, time) with integer time (a frame with ``firm_id`` and ``year``
        columns is accepted).
    state : str
        The categorical column.
    states : sequence of str, optional
        State labels in the order tables and models use; defaults to the observed labels sorted.
    spacing : {"consecutive", "next_observed"}
        See the module notes.

    Returns
    -------
    TransitionPairs
    """
    frame, _ = panel_frame(panel)
    pairing = _pair(frame, state, states, spacing)
    used = pairing.used
    pairs = pairing.frame.loc[used].copy()
    categories = pd.CategoricalDtype(list(pairing.states))
    pairs[FROM] = pd.Categorical.from_codes(pairing.origin[used], dtype=categories)
    pairs[TO] = pd.Categorical.from_codes(pairing.destination[used], dtype=categories)
    pairs[GAP] = pairing.gap[used]
    return TransitionPairs(pairs, pairing.states, exclusion_table(pairing.exclusions), state, spacing)


@dataclass(frozen=True, eq=False)
class _Pairing:
    """Every row of the (sorted) panel as a possible origin: the pair it starts, or why not."""

    frame: pd.DataFrame
    states: tuple[str, ...]
    used: np.ndarray  # rows that start a pair
    origin: np.ndarray  # state code in t (-1 missing)
    destination: np.ndarray  # state code of the paired row (-1 where no pair)
    gap: np.ndarray  # periods to the paired row (0 where no next row)
    exclusions: dict[str, int]


def _pair(frame: pd.DataFrame, state: str, states: Sequence[str] | None, spacing: str) -> _Pairing:
    if spacing not in SPACINGS:
        raise SpecificationError(f"spacing={spacing!r}; use one of {SPACINGS}.")
    if state not in frame.columns:
        raise SpecificationError(
            f"the panel has no column {state!r}; its columns are {sorted(map(str, frame.columns))[:12]}..."
        )
    clash = [c for c in (FROM, TO, GAP, DESTINATION) if c in frame.columns]
    if clash:
        raise SpecificationError(f"the panel already has columns {clash}; rename them before pairing states.")
    if frame.index.has_duplicates:
        raise PanelStructureError(
            f"the panel index (unit, time) must be unique; {frame.index[frame.index.duplicated()][0]} repeats. "
            "Aggregate or drop the duplicate rows first."
        )
    if not frame.index.is_monotonic_increasing:
        frame = frame.sort_index()
    labels = _states_of(frame[state], states, state)
    unit = pd.factorize(frame.index.get_level_values(0))[0]
    time = np.asarray(frame.index.get_level_values(1), dtype=np.int64)
    values = frame[state].astype("object").where(frame[state].notna(), None)
    codes = pd.Categorical(values, categories=list(labels)).codes.astype(np.int64)
    n = len(frame)
    has_next = np.zeros(n, dtype=bool)
    has_next[:-1] = unit[1:] == unit[:-1]
    nxt = np.minimum(np.arange(n) + 1, max(n - 1, 0))
    gap = np.where(has_next, time[nxt] - time, 0)
    reason = np.zeros(n, dtype=np.int8)  # 0 used; 1 state missing; 2 last row; 3 gap; 4 next missing
    reason[codes < 0] = 1
    reason[(reason == 0) & ~has_next] = 2
    if spacing == "consecutive":
        reason[(reason == 0) & (gap != 1)] = 3
    reason[(reason == 0) & (codes[nxt] < 0)] = 4
    used = reason == 0
    names = {1: STATE_MISSING.format(state=state), 2: LAST_ROW, 3: GAP_REASON,
             4: NEXT_MISSING.format(state=state)}
    exclusions = {names[c]: int(np.sum(reason == c)) for c in names if np.any(reason == c)}
    return _Pairing(frame, labels, used, codes, np.where(used, codes[nxt], -1), gap, exclusions)


@dataclass(frozen=True)
class TransitionTable:
    """Counts and row shares of transitions (origin in rows, destination in columns).

    Attributes
    ----------
    counts : pandas.DataFrame
        Pairs per origin and destination, with a ``total`` column and a ``total`` row.
    shares : pandas.DataFrame
        Row shares (each origin's row sums to 1; the ``total`` row is the distribution of
        destinations over all pairs), as ``xttrans`` reports them in percent.
    exclusions : pandas.DataFrame
        Panel rows that are not the origin of a pair, per reason.
    n_units : int
        Units contributing at least one pair.
    """

    counts: pd.DataFrame
    shares: pd.DataFrame
    exclusions: pd.DataFrame
    state: str
    states: tuple[str, ...]
    spacing: str
    n_units: int

    @property
    def n_pairs(self) -> int:
        return int(self.counts.loc["total", "total"])

    def to_frame(self) -> pd.DataFrame:
        """Tidy form: one row per origin and destination with ``count`` and ``share``."""
        body = self.counts.loc[list(self.states), list(self.states)]
        share = self.shares.loc[list(self.states), list(self.states)]
        out = body.stack().rename("count").to_frame().join(share.stack().rename("share"))
        out.index.names = ["origin", "destination"]
        return out.reset_index()


def transition_table(
    panel: Any,
    state: str,
    *,
    states: Sequence[str] | None = None,
    spacing: str = "consecutive",
) -> TransitionTable:
    """Transition counts and row shares, like Stata's ``xttrans, freq``.

    Parameters are those of :func:`transition_pairs`.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"firm_id": [1, 1, 1, 2, 2], "year": [1, 2, 3, 1, 3],
    ...                    "s": ["a", "a", "b", "b", "a"]})
    >>> tab = transition_table(df, "s")
    >>> tab.counts
           a  b  total
    a      1  1      2
    b      0  0      0
    total  1  1      2
    >>> tab.exclusions
                                                  reason  n_rows
    0  last observed period of the unit (no next period)       2
    1                     next period not observed (gap)       1
    """
    pairs = transition_pairs(panel, state, states=states, spacing=spacing)
    return _count(pairs.frame, pairs)


def _count(used: pd.DataFrame, pairs: TransitionPairs) -> TransitionTable:
    """Counts and row shares of the pairs in ``used`` (all pairs, or those a model used)."""
    return _count_codes(used[FROM].cat.codes.to_numpy(), used[TO].cat.codes.to_numpy(), used.index,
                        pairs.states, pairs.state, pairs.spacing,
                        dict(zip(pairs.exclusions["reason"], pairs.exclusions["n_rows"])))


def _count_codes(origin: np.ndarray, destination: np.ndarray, index: pd.Index, states: Sequence[str],
                 state: str, spacing: str, exclusions: Mapping[str, int]) -> TransitionTable:
    labels = list(states)
    # codes, not crosstab: crosstab of categoricals drops or reorders empty levels by version
    n = len(labels)
    cells = np.bincount(origin * n + destination, minlength=n * n).reshape(n, n)
    counts = pd.DataFrame(cells.astype(np.int64), index=labels, columns=labels)
    counts["total"] = counts.sum(axis=1)
    counts.loc["total"] = counts.sum(axis=0)
    totals = counts["total"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = counts.drop(columns="total").div(np.where(totals > 0, totals, np.nan), axis=0)
    n_units = int(pd.unique(index.get_level_values(0)).size)
    return TransitionTable(counts, shares, exclusion_table(exclusions), state, tuple(states), spacing, n_units)


# --------------------------------------------------------------------------------------------
# the model
@dataclass(frozen=True)
class _Block:
    """One multinomial logit: the rows of one origin (or all rows, for common slopes)."""

    label: str  # origin label, or "" for the common-slopes model
    rows: np.ndarray  # positions in the estimation sample
    categories: tuple[int, ...]  # state codes of the block's outcome categories, in state order
    base: int  # position of the base category in ``categories``
    start: int  # first parameter of the block in the stacked vector
    n_params: int


@dataclass(frozen=True, eq=False)
class _TransitionLikelihood:
    """Stacked scores and block-diagonal information of the origins' multinomial logits."""

    X: np.ndarray  # n x p, intercept first
    y: np.ndarray  # destination state codes
    blocks: tuple[_Block, ...]
    n_params: int

    def _local(self, block: _Block) -> tuple[np.ndarray, np.ndarray]:
        codes = np.searchsorted(np.asarray(block.categories), self.y[block.rows])
        return self.X[block.rows], codes

    def loglik(self, theta: np.ndarray) -> float:
        total = 0.0
        for b in self.blocks:
            X, y = self._local(b)
            total += mnl.loglik(X, y, theta[b.start:b.start + b.n_params], len(b.categories), b.base)
        return total

    def scores(self, theta: np.ndarray) -> np.ndarray:
        out = np.zeros((self.y.size, self.n_params))
        for b in self.blocks:
            X, y = self._local(b)
            out[np.ix_(b.rows, np.arange(b.start, b.start + b.n_params))] = mnl.scores(
                X, y, theta[b.start:b.start + b.n_params], len(b.categories), b.base)
        return out

    def information(self, theta: np.ndarray) -> np.ndarray:
        out = np.zeros((self.n_params, self.n_params))
        for b in self.blocks:
            X, _ = self._local(b)
            span = slice(b.start, b.start + b.n_params)
            out[span, span] = mnl.information(X, theta[span], len(b.categories), b.base)
        return out

    def fit(self, names: Sequence[str], start: np.ndarray | None = None,
            offset: np.ndarray | None = None, null: np.ndarray | None = None) -> mnl.NewtonFit:
        """Maximize over theta = offset + null @ gamma (unrestricted: offset 0, null = I)."""
        k = self.n_params
        offset = np.zeros(k) if offset is None else offset
        null = np.eye(k) if null is None else null
        gamma0 = np.zeros(null.shape[1]) if start is None else null.T @ (start - offset)

        def objective(gamma: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
            theta = offset + null @ gamma
            return 0.0, null.T @ self.scores(theta).sum(axis=0), null.T @ self.information(theta) @ null

        fit = mnl.newton(objective, lambda g: self.loglik(offset + null @ g), gamma0,
                         list(names) if null.shape[1] == k else [f"restricted direction {j}" for j in range(null.shape[1])],
                         what="transition model")
        return mnl.NewtonFit(offset + null @ fit.params, fit.loglik, fit.n_iterations)

    def fit_restricted(self, R: np.ndarray, r: np.ndarray | float, start: np.ndarray) -> np.ndarray:
        """Estimates under R theta = r (the score bootstrap's null)."""
        R = np.atleast_2d(np.asarray(R, dtype=float))
        r = np.atleast_1d(np.asarray(r, dtype=float))
        offset = np.linalg.lstsq(R, r, rcond=None)[0]
        null = linalg.null_space(R)
        return self.fit([], start=start, offset=offset, null=null).params


@dataclass(frozen=True, repr=False)
class TransitionResult(EstimationResult):
    """A fitted transition model: the result contract plus transition probabilities.

    Everything of :class:`~gvcpanel.results.EstimationResult`, and the attributes below.

    Attributes
    ----------
    states : tuple of str
        State labels.
    covariates : tuple of str
        Covariate terms (the intercept excluded).
    by_origin : bool
    blocks : tuple
        Per multinomial logit: origin label (``""`` for common slopes), outcome categories and
        base (internal layout used by :meth:`probabilities`).
    means : pandas.Series
        Mean of each covariate over the pairs used (the default evaluation point).
    table : TransitionTable
        Counts of the pairs used for estimation.
    """

    states: tuple[str, ...] = ()
    covariates: tuple[str, ...] = ()
    by_origin: bool = True
    blocks: tuple[Any, ...] = field(default=(), repr=False)
    means: pd.Series = field(default_factory=lambda: pd.Series(dtype=float), repr=False)
    table: Any = field(default=None, repr=False)

    def _design_row(self, origin: str, values: Mapping[str, float]) -> np.ndarray:
        x = [1.0]
        if not self.by_origin:
            x += [1.0 if origin == s else 0.0 for s in self.states[1:]]
        x += [float(values[c]) for c in self.covariates]
        return np.asarray(x)

    def probabilities(
        self,
        at: Mapping[str, Any] | pd.DataFrame | None = None,
        origins: Sequence[str] | None = None,
        level: float = 0.95,
    ) -> pd.DataFrame:
        """Transition probabilities at covariate values, with delta-method intervals.

        Parameters
        ----------
        at : mapping or DataFrame, optional
            Values of covariate terms, e.g. ``{"capability_score": [-1, 0, 1]}`` (the grid of
            all combinations of the mapping's lists) or a DataFrame with one row per point.
            Terms not given are held at their mean over the pairs used.  Terms are set as the
            model uses them: an interaction term is not recomputed from its factors.
        origins : sequence of str, optional
            Origins to report (default: every origin of the model).
        level : float
            Confidence level.

        Returns
        -------
        pandas.DataFrame
            One row per point, origin and destination: the covariate values, ``origin``,
            ``destination``, ``probability``, ``std_error``, ``ci_low``, ``ci_high`` and
            ``estimated`` (False for transitions never observed from that origin, whose
            probability is 0).

        Notes
        -----
        For origin r with base b, :math:`\\partial p_j/\\partial\\beta_k = p_j(1[j=k] - p_k)x`;
        :math:`\\operatorname{se}(p_j) = \\sqrt{g_j' V g_j}` with V the result's covariance.  The
        interval is :math:`\\Lambda(\\operatorname{logit} p_j \\pm q\\,\\operatorname{se}(p_j)/(p_j(1-p_j)))`
        with q the t quantile on the result's degrees of freedom (normal when none).
        """
        if not 0 < level < 1:
            raise SpecificationError(f"level={level}; use a number between 0 and 1, e.g. 0.95.")
        points = self._points(at)
        wanted = list(self.states if origins is None else origins)
        unknown = [o for o in wanted if o not in self.states]
        if unknown:
            raise SpecificationError(f"origins {unknown} are not states of this model; states: {list(self.states)}.")
        cov = self.cov.to_numpy()
        theta = self.params.to_numpy()
        df = self.df_resid.iloc[0] if len(self.params) else np.inf
        q = float(stats.t.ppf(0.5 + level / 2, df)) if np.isfinite(df) else float(stats.norm.ppf(0.5 + level / 2))
        rows = []
        for _, point in points.iterrows():
            values = {**self.means.to_dict(), **point.to_dict()}
            for origin in wanted:
                block = self._block_for(origin)
                if block is None:
                    continue
                x = self._design_row(origin, values)
                span = slice(block.start, block.start + block.n_params)
                K = len(block.categories)
                if K == 1:  # the origin's pairs all end in one state
                    prob, se = np.ones(1), np.zeros(1)
                else:
                    prob = mnl.probabilities(x[None, :], theta[span], K, block.base)[0]
                    jac = mnl.probability_gradient(x, prob, block.base)
                    se = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", jac, cov[span, span], jac), 0.0))
                by_code = dict(zip(block.categories, zip(prob, se)))
                for code, destination in enumerate(self.states):
                    p, s = by_code.get(code, (0.0, 0.0))
                    estimated = code in by_code
                    if estimated and 0 < p < 1:
                        half = q * s / (p * (1 - p))
                        low, high = expit(logit(p) - half), expit(logit(p) + half)
                    else:
                        low = high = p
                    rows.append({**point.to_dict(), "origin": origin, "destination": destination,
                                 "probability": float(p), "std_error": float(s), "ci_low": float(low),
                                 "ci_high": float(high), "estimated": estimated})
        return pd.DataFrame(rows)

    def covariate_quantiles(self, term: str, q: Sequence[float]) -> np.ndarray:
        """Quantiles of a covariate over the pairs used (e.g. points for :meth:`probabilities`)."""
        if term not in self.covariates:
            raise SpecificationError(f"{term!r} is not a covariate of this model; covariates: {list(self.covariates)}.")
        values = self.model.extra["covariates"][term] if self.model is not None else None
        if values is None:
            raise SpecificationError("this result keeps no covariate values; re-estimate it.")
        return np.quantile(np.asarray(values, dtype=float), np.asarray(q, dtype=float))

    def matrix(self, at: Mapping[str, float] | None = None) -> pd.DataFrame:
        """The transition matrix (origin rows, destination columns) at one covariate point."""
        if at is not None and any(np.ndim(v) > 0 for v in at.values()):
            raise SpecificationError("matrix(at=...) takes one value per covariate; use probabilities() for grids.")
        table = self.probabilities(at)
        out = table.pivot(index="origin", columns="destination", values="probability")
        order = [s for s in self.states if s in out.index]
        return out.loc[order, list(self.states)].rename_axis(index=None, columns=None)

    def _block_for(self, origin: str) -> Any:
        if not self.by_origin:
            return self.blocks[0] if origin in self.table.states else None
        return next((b for b in self.blocks if b.label == origin), None)

    def _points(self, at: Mapping[str, Any] | pd.DataFrame | None) -> pd.DataFrame:
        if at is None:
            return pd.DataFrame(index=[0])
        frame = at if isinstance(at, pd.DataFrame) else None
        if frame is None:
            grids = {k: np.atleast_1d(np.asarray(v, dtype=float)) for k, v in at.items()}
            mesh = np.meshgrid(*grids.values(), indexing="ij") if grids else []
            frame = pd.DataFrame({k: m.ravel() for k, m in zip(grids, mesh)})
        unknown = [c for c in frame.columns if c not in self.covariates]
        if unknown:
            raise SpecificationError(
                f"at= names {unknown}, which are not covariates of this model; covariates: {list(self.covariates)}."
            )
        return frame.reset_index(drop=True)


def transition_model(
    panel: Any,
    formula: str,
    *,
    states: Sequence[str] | None = None,
    by_origin: bool = True,
    spacing: str = "consecutive",
    cluster: str | Sequence[str] | None = "cluster_id",
    inference: str | Mapping[str, Any] | InferenceSpec = "cluster",
    derived: Mapping[str, DerivedColumn] | None = None,
) -> TransitionResult:
    """Multinomial logit of next period's state given this period's state and covariates.

    Parameters
    ----------
    panel : FirmPanel or pandas.DataFrame
        Panel indexed by (unit, time).
    formula : str
        ``"<state column> ~ covariates"`` (``"state ~ 1"`` for none): the outcome names the
        categorical state, the terms (:mod:`gvcpanel.formula.parse`: ``log(x)``, ``a:b``,
        ``C(z)``, lags ``l(x, 1)``) are measured in the origin period.  Terms are evaluated on
        the whole panel (lags and derived names such as a centred index see every row) and then
        taken at the pairs' origin rows.
    states : sequence of str, optional
        State labels in order (default: observed labels sorted).  With ``by_origin=False`` the
        first is the base destination and the reference origin.
    by_origin : bool
        Origin-specific coefficients with staying as the base (default), or common slopes.
    spacing : {"consecutive", "next_observed"}
        Which pairs count as transitions (module notes).
    cluster : str or sequence of str, optional
        Clustering variable(s) of the default covariance; rows where it is missing are excluded
        and counted.
    inference : str, mapping or InferenceSpec
        ``"cluster"`` (default), ``"unadjusted"``, ``"twoway"`` or ``"score"``.
    derived : mapping, optional
        Names computed from the panel when it lacks such a column
        (:class:`gvcpanel.formula.evaluate.DerivedColumn`), beyond the registered ones.

    Returns
    -------
    TransitionResult
        ``params`` are named ``"<origin>-><destination>:<term>"`` (``by_origin=True``) or
        ``"<destination>:<term>"`` with origin terms ``from[<origin>]``; ``nobs`` counts the
        pairs (origin unit-periods) used; ``exclusions`` every panel row that is not one, by reason.

    Raises
    ------
    IdentificationError
        When no pair remains, or a covariate does not vary among an origin's pairs.
    """
    spec_inference = parse_inference(inference)
    if not isinstance(formula, str) or "~" not in formula:
        raise SpecificationError(
            f"formula={formula!r}; write the model as '<state column> ~ covariates', e.g. "
            "'state ~ x1 + x2' ('state ~ 1' for none)."
        )
    parsed = parse_formula(formula)
    if parsed.effects is not None:
        raise SpecificationError(f"formula {formula!r}: a transition model takes no '| effects'.")
    if not parsed.intercept:
        raise SpecificationError(
            f"formula {formula!r}: the transition model needs its intercepts (one per move); remove '- 1' / '0 +'."
        )
    if parsed.dependent.kind != "column":
        raise SpecificationError(
            f"formula {formula!r}: the outcome must name the state column, not {parsed.dependent.expr!r}."
        )
    state = parsed.dependent.column
    clusters = () if cluster is None else ((cluster,) if isinstance(cluster, str) else tuple(cluster))
    frame, provenance = panel_frame(panel)
    names_offered = derived_of(panel, derived)
    pairing = _pair(frame, state, states, spacing)
    frame, labels = pairing.frame, pairing.states
    data = frame.assign(**{DESTINATION: np.where(pairing.used, pairing.destination, np.nan).astype(float)})
    keep = [c for c in clusters if c not in frame.index.names]
    rhs = formula.split("~", 1)[1]
    ev = evaluate_formula(data, f"{DESTINATION} ~ {rhs}", keep=keep, rows=pairing.used,
                          derived=names_offered, spans_intercept=True)
    exclusions = {**pairing.exclusions, **ev.exclusions}
    y = ev.data[:, 0].astype(np.int64)
    if y.size == 0:
        raise IdentificationError(
            f"no transition pair of {state!r} remains for estimation; exclusions: {exclusions}."
        )
    terms = tuple(ev.names)
    reserved = [t for t in terms if t == INTERCEPT or t.startswith("from[")]
    if reserved:
        raise SpecificationError(f"covariate names {reserved} are reserved for the model's own terms; rename them.")
    index = frame.index[ev.kept]
    origin = pairing.origin[ev.kept]
    X_cov = ev.data[:, 1:]
    if by_origin:
        X = np.column_stack([np.ones(y.size), X_cov])
        term_names = (INTERCEPT, *terms)
        groups_of_rows = [(labels[r], np.flatnonzero(origin == r)) for r in range(len(labels))]
    else:
        dummies = [(origin == r).astype(float) for r in range(1, len(labels))]
        X = np.column_stack([np.ones(y.size), *dummies, X_cov])
        term_names = (INTERCEPT, *(f"from[{s}]" for s in labels[1:]), *terms)
        groups_of_rows = [("", np.arange(y.size))]
    blocks, names, never, bases, start = [], [], {}, {}, 0
    for label, rows in groups_of_rows:
        if rows.size == 0:
            continue
        reached = tuple(int(c) for c in np.unique(y[rows]))
        if by_origin:
            own = labels.index(label)
            never[label] = [labels[c] for c in range(len(labels)) if c not in reached]
            base_code = own if own in reached else reached[0]
        else:
            never["all origins"] = [labels[c] for c in range(len(labels)) if c not in reached]
            base_code = 0 if 0 in reached else reached[0]
        if len(reached) < 2:  # every pair of this origin ends in one state: probability 1, nothing to fit
            blocks.append(_Block(label, rows, reached, 0, start, 0))
            continue
        _check_variation(X[rows], term_names, label or "the sample")
        base = reached.index(base_code)
        bases[label or "all origins"] = labels[base_code]
        others = [c for c in reached if c != base_code]
        prefix = f"{label}->" if by_origin else ""
        names += [f"{prefix}{labels[c]}:{t}" for c in others for t in term_names]
        n_params = len(others) * X.shape[1]
        blocks.append(_Block(label, rows, reached, base, start, n_params))
        start += n_params
    if not by_origin:
        _check_common_slopes_cells(y, origin, labels, blocks[0].categories if blocks else ())
    if start == 0:
        raise IdentificationError(f"no origin of {state!r} has pairs ending in two or more states; nothing to estimate.")
    likelihood = _TransitionLikelihood(X, y, tuple(b for b in blocks if b.n_params), start)
    fit = likelihood.fit(names)
    params = fit.params
    groups, group_labels = _groups(frame.loc[ev.kept, keep], index, keep)
    model = LikelihoodDesign(
        scores=likelihood.scores(params),
        information=likelihood.information(params),
        params=params,
        names=tuple(names),
        groups=groups,
        group_labels=group_labels,
        default_cluster=clusters or None,
        extra={
            "score_fn": likelihood.scores,
            "information_fn": likelihood.information,
            # a partial of a bound method, not a lambda: results must pickle
            "fit_restricted": functools.partial(likelihood.fit_restricted, start=params),
            "covariates": pd.DataFrame(X_cov, index=index, columns=list(terms)),
            # the intercepts are the baseline odds of each move: the score bootstrap gives them
            # p-values and inverts its test only for the covariates, as for a hazard's year terms
            "baseline_terms": tuple(n for n in names if n.rsplit(":", 1)[-1] == INTERCEPT),
        },
    )
    table = _count_codes(origin, y, index, labels, state, spacing, pairing.exclusions)
    spec = ModelSpec(
        estimator="transition_model",
        method="multinomial logit" + (" by origin" if by_origin else ", common slopes"),
        dependent=f"next period's {state}",
        regressors=tuple(terms),
        cluster=clusters or None,
        formula=formula,
        options=(("state", state), ("states", labels), ("by_origin", by_origin), ("spacing", spacing)),
    )
    return TransitionResult(
        spec=spec,
        params=pd.Series(params, index=names, name="estimate"),
        inference=model.inference(spec_inference),
        nobs=int(y.size),
        n_firms=int(pd.unique(index.get_level_values(0)).size),
        dep_mean=float("nan"),
        exclusions=exclusion_table(exclusions),
        fit_stats={
            "loglik": fit.loglik,
            "n_iterations": fit.n_iterations,
            "never_observed": never,
            "base_by_origin": bases,
            "spacing": spacing,
            "n_params": start,
        },
        provenance=provenance,
        model=model,
        states=labels,
        covariates=tuple(terms),
        by_origin=by_origin,
        blocks=tuple(blocks),
        means=pd.Series(X_cov.mean(axis=0), index=list(terms)),
        table=table,
    )


def _check_common_slopes_cells(y: np.ndarray, origin: np.ndarray, labels: Sequence[str],
                               reached: Sequence[int]) -> None:
    """Common slopes give each origin one intercept per destination: an empty cell sends it to -inf."""
    present = np.unique(origin)
    empty = [f"{labels[r]}->{labels[c]}" for r in present for c in reached
             if not np.any((origin == r) & (y == c))]
    if empty:
        raise IdentificationError(
            f"with by_origin=False every origin needs pairs ending in every destination, but "
            f"{empty} never occur, so those intercepts have no finite estimate. Use by_origin=True "
            "(transitions never observed from an origin then get probability 0), or leave out the "
            "origins or destinations concerned (states=)."
        )


def _check_variation(X: np.ndarray, names: Sequence[str], where: str) -> None:
    for j in range(1, X.shape[1]):
        if np.ptp(X[:, j]) == 0:
            raise IdentificationError(
                f"covariate {names[j]!r} takes the single value {X[0, j]:.6g} on every pair from "
                f"{where}, so its coefficients are not identified; drop it or use by_origin=False."
            )


def _groups(frame: pd.DataFrame, index: pd.MultiIndex, keep: Sequence[str]) -> tuple[dict, dict]:
    """Contiguous codes for the unit, the time and each kept clustering column."""
    sources: dict[str, Any] = {name: index.get_level_values(level) for level, name in enumerate(index.names)}
    for name in keep:
        sources[name] = frame[name].to_numpy()
    groups, labels = {}, {}
    for name, values in sources.items():
        codes, uniques = pd.factorize(values, sort=True)
        groups[name], labels[name] = codes.astype(np.int64), np.asarray(uniques)
    return groups, labels
