"""Conditional effects of a focal term across values of a moderator, and the Johnson-Neyman region.

In a model with :math:`\\ldots + b_f\\,f + b_m\\,m + b_{fm}\\,f m + \\ldots` the effect of :math:`f` at
moderator value :math:`m` is :math:`\\theta(m) = b_f + b_{fm} m`.  :func:`moderation` reports
:math:`\\theta(m)` with its delta-method standard error at chosen values of :math:`m` and the set of
:math:`m` at which :math:`\\theta(m)` differs significantly from zero (Johnson and Neyman 1936;
the "regions of significance" of Bauer and Curran 2005).  For hazard models :math:`\\theta(m)` is a
log hazard ratio (complementary log-log) or log odds ratio (logit) and the table also gives
:math:`\\exp\\theta(m)`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from gvcpanel.errors import ConvergenceError, SpecificationError
from gvcpanel.inference.dispatch import contrast_df
from gvcpanel.inference.spec import Inference, InferenceSpec
from gvcpanel.options import check_level
from gvcpanel.results import EstimationResult, ResultBase

#: estimator name of hazard results (coefficients on the log hazard / odds ratio scale)
HAZARD = "discrete_hazard"

QUARTILES = {"p25": 0.25, "p50": 0.50, "p75": 0.75}


@dataclass(frozen=True, repr=False)
class ModerationResult(ResultBase):
    """Conditional effects of ``focal`` across ``moderator``.

    It follows the result contract (:class:`gvcpanel.results.ResultBase`): ``params`` are the
    conditional effects :math:`\\theta(m)` at the evaluation points (indexed by their labels),
    ``cov`` their delta-method covariance :math:`G V G'` (rows of G are :math:`(1, m)` on the
    focal and interaction terms), ``wald_test`` compares them (``"p75 = p25"``),
    ``with_inference(...)`` recomputes them after ``source.with_inference(...)`` and
    ``to_frame()`` is the table below with ``effect`` named ``estimate``.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per moderator value (index: its label, ``p25``/``p50``/``p75`` by default) with
        ``moderator``, ``effect``, ``std_error``, ``statistic``, ``p_value``, ``ci_low``,
        ``ci_high`` and, for hazard models, ``exp_effect``, ``exp_ci_low``, ``exp_ci_high`` (the
        hazard or odds ratio and its interval; NaN for linear models).
    johnson_neyman : tuple of (float, float)
        Intervals of moderator values where the effect is significant at ``level``; ends may be
        ``-inf``/``inf``; empty when it is significant nowhere.
    boundaries : tuple of float
        The moderator values where the test statistic equals the critical value.
    moderator_range : (float, float) or None
        Smallest and largest moderator value in the estimation sample, when known.
    moderator_values : ndarray or None
        The moderator's values in the estimation sample, when known.
    critical_value : float
        Two-sided critical value of the reference distribution at ``level``.
    df : float or None
        Degrees of freedom of the t reference distribution (None: normal).
    scale : str
        ``"log hazard ratio"``, ``"log odds ratio"`` or ``"coefficient"``.
    source : EstimationResult, optional
        The model the effects come from (kept for ``cov``, ``with_inference`` and other levels).

    Notes
    -----
    When the source's inference is a bootstrap, the conditional effects and the Johnson-Neyman
    region still use the delta method with the analytic covariance the bootstrap studentizes
    with; the ``inference`` label says so.
    """

    focal: str
    moderator: str
    interaction: str
    table: pd.DataFrame
    johnson_neyman: tuple[tuple[float, float], ...]
    boundaries: tuple[float, ...]
    moderator_range: tuple[float, float] | None
    moderator_values: np.ndarray | None
    level: float
    critical_value: float
    df: float | None
    scale: str
    source: Any = field(default=None, compare=False)

    # --- the result contract ---------------------------------------------------------------
    _title = "Conditional effects"

    @property
    def params(self) -> pd.Series:  # type: ignore[override]
        return self.table["effect"].rename("estimate")

    @property
    def points(self) -> pd.Series:
        """Moderator value of each conditional effect."""
        return self.table["moderator"]

    @property
    def inference(self) -> Inference:  # type: ignore[override]
        index = list(self.table.index)
        if self.source is not None:
            names = [self.focal, self.interaction]
            V = self.source.cov.loc[names, names].to_numpy(dtype=float)
            G = np.column_stack([np.ones(len(index)), self.table["moderator"].to_numpy(dtype=float)])
            cov = G @ V @ G.T
            spec = self.source.inference.spec
            label = f"delta method, {self.source.inference.label}"
            if self.source.is_bootstrap:
                label += " (conditional effects use the analytic covariance, not the bootstrap)"
                spec = replace(spec, kind="cluster")
            clusters, sizes = self.source.inference.n_clusters, self.source.inference.cluster_sizes
        else:
            cov = np.diag(self.table["std_error"].to_numpy(dtype=float) ** 2)
            spec, label, clusters, sizes = InferenceSpec(), "delta method", None, None
        # under CR2 each conditional effect has its own Satterthwaite degrees of freedom
        per_row = self.table["df"].astype(float) if "df" in self.table.columns else None
        varies = per_row is not None and not np.allclose(per_row.to_numpy(), per_row.iloc[0], rtol=0, atol=0)
        return Inference(replace(spec, level=self.level), label, pd.DataFrame(cov, index=index, columns=index),
                         self.df, df_by_term=per_row if varies else None, n_clusters=clusters, cluster_sizes=sizes)

    def _intervals(self, level: float) -> pd.DataFrame:
        if abs(level - self.level) < 1e-12:
            return self.table[["ci_low", "ci_high"]].set_axis(["lower", "upper"], axis=1)
        if self.source is not None:
            return self._again(self.source, level).conf_int(level)
        return self._analytic_intervals(level)

    def _again(self, source: Any, level: float) -> "ModerationResult":
        at = dict(zip(map(str, self.table.index), self.table["moderator"].to_numpy(dtype=float)))
        return moderation(source, focal=self.focal, moderator=self.moderator, at=at, level=level)

    def _refit(self, spec: InferenceSpec) -> "ModerationResult":
        if self.source is None:
            return super()._refit(spec)
        return self._again(self.source.with_inference(spec), self.level)

    def to_frame(self, level: float | None = None) -> pd.DataFrame:
        """The table with ``effect`` named ``estimate`` (``exp_*``: hazard or odds ratios).

        At another ``level`` than the one computed, the intervals are recomputed.
        """
        if level is None or abs(level - self.level) < 1e-12:
            result = self
        elif self.source is not None:
            result = self._again(self.source, level)
        else:
            ci = self._analytic_intervals(level)
            table = self.table.assign(ci_low=ci["lower"], ci_high=ci["upper"])
            if self.scale != "coefficient":
                table = table.assign(exp_ci_low=np.exp(ci["lower"]), exp_ci_high=np.exp(ci["upper"]))
            result = replace(self, table=table, level=level)
        return result.table.rename(columns={"effect": "estimate", "exp_effect": "exp_estimate"})

    def _summary_header(self) -> tuple[tuple[str, str], ...]:
        return (("Focal term", self.focal), ("Moderator", self.moderator), ("Scale", self.scale),
                ("Johnson-Neyman", self.johnson_neyman_text))

    def _stats(self) -> dict[str, Any]:
        return {"inference": self.inference.label}

    @property
    def johnson_neyman_within_range(self) -> tuple[tuple[float, float], ...]:
        """The Johnson-Neyman intervals cut to the observed moderator range (empty if unknown)."""
        if self.moderator_range is None:
            return ()
        low, high = self.moderator_range
        cut = ((max(a, low), min(b, high)) for a, b in self.johnson_neyman)
        return tuple((a, b) for a, b in cut if a <= b)

    @property
    def johnson_neyman_text(self) -> str:
        """One sentence for a table note."""
        pct = f"{100 * (1 - self.level):g}%"
        if not self.johnson_neyman:
            where = "for no value of " + self.moderator
        elif self.johnson_neyman == ((-math.inf, math.inf),):
            where = "for every value of " + self.moderator
        else:
            parts = []
            for a, b in self.johnson_neyman:
                if math.isinf(a):
                    parts.append(f"{self.moderator} < {b:.3f}")
                elif math.isinf(b):
                    parts.append(f"{self.moderator} > {a:.3f}")
                else:
                    parts.append(f"{a:.3f} < {self.moderator} < {b:.3f}")
            where = "for " + " or ".join(parts)
        text = f"the effect of {self.focal} is significant at the {pct} level (two-sided) {where}"
        if self.moderator_range is not None:
            text += f"; observed range [{self.moderator_range[0]:.3f}, {self.moderator_range[1]:.3f}]"
        return text + "."


def moderation(
    result: EstimationResult,
    focal: str,
    moderator: str,
    at: Sequence[float] | Mapping[str, float] | None = None,
    level: float = 0.95,
) -> ModerationResult:
    """Conditional effect of ``focal`` at values of ``moderator``, with the Johnson-Neyman region.

    Parameters
    ----------
    result : EstimationResult
        A model containing ``focal`` and the interaction ``focal:moderator`` (or
        ``moderator:focal``).
    focal, moderator : str
        Term names as in ``result.params``.
    at : sequence of float or mapping {label: value}, optional
        Moderator values.  Default: the quartiles (25th, 50th, 75th percentiles, numpy's linear
        interpolation) of the moderator in the estimation sample, which hazard results keep in
        ``result.model.extra["frame"]``; for other results pass ``at=`` explicitly.

    Examples
    --------
    >>> moderation(result, "x", "z", at={"low": -1.0, "high": 1.0}).table  # doctest: +SKIP
    level : float
        Confidence level of intervals and of the Johnson-Neyman region.

    Returns
    -------
    ModerationResult

    Notes
    -----
    With :math:`V` the result's covariance matrix,

    .. math::

        \\theta(m) = b_f + b_{fm} m, \\qquad
        \\operatorname{se}\\,\\theta(m) = \\sqrt{V_{ff} + 2 m V_{f,fm} + m^2 V_{fm,fm}},

    and the interval is :math:`\\theta(m) \\pm c\\,\\operatorname{se}\\,\\theta(m)` with :math:`c` the
    :math:`(1+level)/2` quantile of :math:`t` with the result's degrees of freedom (G - 1 for
    cluster-robust inference; the normal when the result has none).  The effect is significant
    where :math:`\\theta(m)^2 > c^2 \\operatorname{se}^2\\theta(m)`, i.e. where

    .. math::

        (b_{fm}^2 - c^2 V_{fm,fm}) m^2 + 2 (b_f b_{fm} - c^2 V_{f,fm}) m + (b_f^2 - c^2 V_{ff}) > 0,

    whose roots are the Johnson-Neyman boundaries.  When the leading coefficient is negative
    (the interaction itself is not significant) the region is bounded or empty; when positive it
    is the outside of the roots or everything.

    Under CR2 each contrast :math:`\\theta(m) = c(m)'b` has its own Satterthwaite degrees of
    freedom :math:`\\nu(m)` (Pustejovsky and Tipton 2018, *JBES* 36(4); clubSandwich's
    ``linear_contrast``), often fewer than either term's: each row of the table then uses its own
    (column ``df``), and the Johnson-Neyman boundaries solve
    :math:`\\theta(m)^2 = t_{\\nu(m)}^2 \\operatorname{se}^2\\theta(m)` (see
    :func:`johnson_neyman_varying`); ``df`` and ``critical_value`` of the result are then those
    of the interaction coefficient, the limit as :math:`|m| \\to \\infty`.  Checked against
    clubSandwich 0.5.8 on plm's ``Produc`` data (``tests/test_produc_reference.py``).

    Results whose inference is a bootstrap keep their bootstrap p-values for single
    coefficients, but conditional effects here use the analytic covariance.
    """
    for option, value in (("focal", focal), ("moderator", moderator)):
        if not isinstance(value, str) or not value:
            raise SpecificationError(f"{option}={value!r}; name a term of the model, e.g. {option}='x1'.")
    if not hasattr(result, "params") or not hasattr(result, "cov"):
        raise SpecificationError(f"moderation needs an estimation result, not {type(result).__name__}.")
    names = list(result.params.index)
    interaction = next((t for t in (f"{focal}:{moderator}", f"{moderator}:{focal}") if t in names), None)
    missing = [t for t in (focal,) if t not in names]
    if interaction is None or missing:
        raise SpecificationError(
            f"moderation needs the terms {focal!r} and '{focal}:{moderator}' in the model; its terms are "
            f"{names}. Add '{focal}:{moderator}' (or '{focal}*{moderator}') to the covariates."
        )
    level = check_level(level)
    values = _moderator_values(result, moderator)
    labels, points = _evaluation_points(at, values, moderator)

    b_f, b_i = float(result.params[focal]), float(result.params[interaction])
    cov = result.cov
    v_ff, v_fi, v_ii = float(cov.loc[focal, focal]), float(cov.loc[focal, interaction]), float(
        cov.loc[interaction, interaction]
    )
    df_at = _contrast_degrees_of_freedom(result, focal, interaction)
    if df_at is None:
        df = _degrees_of_freedom(result, focal, interaction)
        dist = stats.norm if df is None else stats.t(df)
        critical = float(dist.ppf(0.5 + level / 2))
        row_df = np.full(points.shape, np.inf if df is None else df)
        row_critical = np.full(points.shape, critical)
        tail = dist.sf
    else:
        # the interaction's own degrees of freedom: the limit of the contrast's as |m| grows
        df = float(result.inference.df_by_term[interaction])
        critical = float(stats.t.ppf(0.5 + level / 2, df))
        row_df = df_at(points) if points.size else np.empty(0)
        row_critical = stats.t.ppf(0.5 + level / 2, row_df)

        def tail(x: np.ndarray) -> np.ndarray:
            return stats.t.sf(x, row_df)

    effect = b_f + b_i * points
    se = np.sqrt(v_ff + 2 * points * v_fi + points**2 * v_ii)
    statistic = effect / se
    table = pd.DataFrame(
        {
            "moderator": points,
            "effect": effect,
            "std_error": se,
            "statistic": statistic,
            "p_value": 2 * tail(np.abs(statistic)),
            "ci_low": effect - row_critical * se,
            "ci_high": effect + row_critical * se,
            "df": row_df,
        },
        index=pd.Index(labels, name="at"),
    )
    scale = _scale(result)
    on_log_scale = scale != "coefficient"
    for column, source in (("exp_effect", "effect"), ("exp_ci_low", "ci_low"), ("exp_ci_high", "ci_high")):
        table[column] = np.exp(table[source]) if on_log_scale else np.nan

    if df_at is None:
        intervals, boundaries = johnson_neyman(b_f, b_i, v_ff, v_fi, v_ii, critical)
    else:
        intervals, boundaries = johnson_neyman_varying(
            b_f, b_i, v_ff, v_fi, v_ii,
            lambda m: float(stats.t.ppf(0.5 + level / 2, df_at(np.array([m]))[0])), critical,
        )
    observed = values[np.isfinite(values)] if values is not None else None
    observed_range = (float(observed.min()), float(observed.max())) if observed is not None and observed.size else None
    return ModerationResult(
        focal=focal,
        moderator=moderator,
        interaction=interaction,
        table=table,
        johnson_neyman=intervals,
        boundaries=boundaries,
        moderator_range=observed_range,
        moderator_values=values,
        level=level,
        critical_value=critical,
        df=df,
        scale=scale,
        source=result,
    )


def johnson_neyman(
    b_f: float, b_i: float, v_ff: float, v_fi: float, v_ii: float, critical: float
) -> tuple[tuple[tuple[float, float], ...], tuple[float, ...]]:
    """Moderator intervals where :math:`|\\theta(m)| / se > c`, and the boundary values.

    Solves :math:`A m^2 + B m + C > 0` with :math:`A = b_{fm}^2 - c^2 V_{fm,fm}`,
    :math:`B = 2(b_f b_{fm} - c^2 V_{f,fm})`, :math:`C = b_f^2 - c^2 V_{ff}`.
    """
    c2 = critical**2
    a = b_i**2 - c2 * v_ii
    b = 2 * (b_f * b_i - c2 * v_fi)
    c = b_f**2 - c2 * v_ff
    inf = math.inf
    if a == 0.0:
        if b == 0.0:
            return (((-inf, inf),) if c > 0 else ()), ()
        root = -c / b
        return (((root, inf),) if b > 0 else ((-inf, root),)), (root,)
    disc = b * b - 4 * a * c
    if disc <= 1e-14 * (b * b + abs(4 * a * c)):
        # the quadratic never changes sign (it touches zero at most at one point; a discriminant
        # within rounding of zero is such a double root)
        return (((-inf, inf),) if a > 0 else ()), ()
    # numerically stable roots (no cancellation between -b and the square root)
    q = -0.5 * (b + math.copysign(math.sqrt(disc), b))
    low, high = sorted((q / a, c / q))
    if a > 0:
        return ((-inf, low), (high, inf)), (low, high)
    return ((low, high),), (low, high)


def johnson_neyman_varying(
    b_f: float,
    b_i: float,
    v_ff: float,
    v_fi: float,
    v_ii: float,
    critical_at: Callable[[float], float],
    critical_limit: float,
    *,
    tol: float = 1e-12,
    max_iter: int = 100,
) -> tuple[tuple[tuple[float, float], ...], tuple[float, ...]]:
    """Johnson-Neyman region when the critical value depends on the moderator value.

    Parameters
    ----------
    b_f, b_i, v_ff, v_fi, v_ii : float
        As in :func:`johnson_neyman`.
    critical_at : callable
        ``critical_at(m)``: the critical value at moderator value m (the t quantile with the
        contrast's own degrees of freedom, under CR2).
    critical_limit : float
        Its limit as :math:`|m| \\to \\infty`.

    Returns
    -------
    intervals, boundaries
        As in :func:`johnson_neyman`.

    Notes
    -----
    A boundary solves :math:`g(m) = \\theta(m)^2 - c(m)^2 \\operatorname{se}^2\\theta(m) = 0`.  Each
    root of the quadratic with the constant critical value :math:`c(m_j)` is a fixed point of
    :math:`m_{j+1} = \\text{root}(c(m_j))`; the iteration starts from the roots at the limit and at
    :math:`c(0)` and converges quickly because :math:`c(m)` varies slowly with m.  Each boundary is
    then polished by Brent's method on a bracket where g changes sign, and the region is read off
    the sign of g between and beyond the boundaries.
    """

    def excess(m: float) -> float:
        c = critical_at(m)
        return (b_f + b_i * m) ** 2 - c * c * (v_ff + 2 * m * v_fi + m * m * v_ii)

    def boundary_from(start: float) -> float | None:
        m = start
        for _ in range(max_iter):
            roots = johnson_neyman(b_f, b_i, v_ff, v_fi, v_ii, critical_at(m))[1]
            if not roots:
                return None  # this branch of boundaries does not exist with the critical value at m
            new = min(roots, key=lambda r: abs(r - m))
            if abs(new - m) <= tol * (1.0 + abs(m)):
                return new
            m = new
        raise ConvergenceError(
            f"the Johnson-Neyman boundary near {m:.6g} did not settle in {max_iter} iterations; the "
            "degrees of freedom change too fast with the moderator. Report the table at chosen values instead."
        )

    starts: list[float] = []
    for c in (critical_limit, critical_at(0.0)):
        starts.extend(johnson_neyman(b_f, b_i, v_ff, v_fi, v_ii, c)[1])
    found: list[float] = []
    for start in starts:
        m = boundary_from(start)
        if m is None:
            continue
        step = 1e-6 * (1.0 + abs(m))
        low, high = m - step, m + step
        if excess(low) * excess(high) < 0:
            m = optimize.brentq(excess, low, high, xtol=tol * (1.0 + abs(m)), rtol=4 * np.finfo(float).eps)
        if not any(abs(m - f) <= 1e-9 * (1.0 + abs(f)) for f in found):
            found.append(float(m))
    boundaries = tuple(sorted(found))
    inf = math.inf
    if not boundaries:
        return (((-inf, inf),) if excess(0.0) > 0 else ()), ()
    edges = (-inf, *boundaries, inf)
    far = 1e6 * (1.0 + max(abs(b) for b in boundaries))
    probes = [boundaries[0] - far, *((a + b) / 2 for a, b in zip(boundaries, boundaries[1:])), boundaries[-1] + far]
    intervals: list[tuple[float, float]] = []
    for (a, b), probe in zip(zip(edges, edges[1:]), probes):
        if excess(probe) > 0:
            if intervals and intervals[-1][1] == a:  # touching at a double root: one interval
                intervals[-1] = (intervals[-1][0], b)
            else:
                intervals.append((a, b))
    return tuple(intervals), boundaries


def _contrast_degrees_of_freedom(
    result: EstimationResult, focal: str, interaction: str
) -> Callable[[np.ndarray], np.ndarray] | None:
    """df of theta(m) at moderator values m, when the inference gives each contrast its own (CR2)."""
    model = result.model
    if model is None or result.inference.df_by_term is None or not hasattr(model, "names"):
        return None
    of_contrasts = contrast_df(model, result.inference.spec)
    if of_contrasts is None:
        return None
    names = list(model.names)
    focal_at, interaction_at = names.index(focal), names.index(interaction)

    def at(points: np.ndarray) -> np.ndarray:
        contrasts = np.zeros((len(points), len(names)))
        contrasts[:, focal_at] = 1.0
        contrasts[:, interaction_at] = points
        return of_contrasts(contrasts)

    return at


def _moderator_values(result: EstimationResult, moderator: str) -> np.ndarray | None:
    model = result.model
    frame = getattr(model, "extra", {}).get("frame") if model is not None else None
    if frame is None and model is not None:
        frame = getattr(model, "frame", None)
    if isinstance(frame, pd.DataFrame) and moderator in frame.columns:
        return frame[moderator].to_numpy(dtype=float)
    return None


def _evaluation_points(
    at: Sequence[float] | Mapping[str, float] | None, values: np.ndarray | None, moderator: str
) -> tuple[list[str], np.ndarray]:
    if at is None:
        if values is None:
            raise SpecificationError(
                f"this result does not keep the estimation sample's {moderator!r} values, so default "
                "quartiles cannot be computed; pass at=[...] (moderator values) explicitly."
            )
        return list(QUARTILES), np.quantile(values[np.isfinite(values)], list(QUARTILES.values()))
    try:
        if isinstance(at, Mapping):
            labels, points = [str(k) for k in at], np.asarray(list(at.values()), dtype=float)
        else:
            points = np.atleast_1d(np.asarray(at, dtype=float))
            labels = [f"{v:.6g}" for v in points]
    except (TypeError, ValueError) as err:
        raise SpecificationError(
            f"at={at!r}; give moderator values as numbers (at=[-1, 0, 1]) or {{label: value}}."
        ) from err
    if points.ndim != 1 or not np.all(np.isfinite(points)):
        raise SpecificationError(f"at={at!r}; moderator values must be a flat list of finite numbers.")
    return labels, points


def _degrees_of_freedom(result: EstimationResult, focal: str, interaction: str) -> float | None:
    inf = result.inference
    if inf.df_by_term is not None:
        return float(min(inf.df_by_term[focal], inf.df_by_term[interaction]))
    return None if inf.df is None else float(inf.df)


def _scale(result: EstimationResult) -> str:
    if result.spec.estimator != HAZARD:
        return "coefficient"
    return "log hazard ratio" if result.spec.method == "cloglog" else "log odds ratio"
