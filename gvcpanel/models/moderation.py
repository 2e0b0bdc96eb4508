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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from gvcpanel.errors import SpecificationError
from gvcpanel.results import EstimationResult

#: estimator name of hazard results (coefficients on the log hazard / odds ratio scale)
HAZARD = "discrete_hazard"

QUARTILES = {"p25": 0.25, "p50": 0.50, "p75": 0.75}


@dataclass(frozen=True)
class ModerationResult:
    """Conditional effects of ``focal`` across ``moderator``.

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
    cluster-robust inference; the smaller of the two terms' when they differ, as with CR2; the
    normal when the result has none).  The effect is significant where
    :math:`\\theta(m)^2 > c^2 \\operatorname{se}^2\\theta(m)`, i.e. where

    .. math::

        (b_{fm}^2 - c^2 V_{fm,fm}) m^2 + 2 (b_f b_{fm} - c^2 V_{f,fm}) m + (b_f^2 - c^2 V_{ff}) > 0,

    whose roots are the Johnson-Neyman boundaries.  When the leading coefficient is negative
    (the interaction itself is not significant) the region is bounded or empty; when positive it
    is the outside of the roots or everything.  Results whose inference is a bootstrap keep their
    bootstrap p-values for single coefficients, but conditional effects here use the analytic
    covariance.
    """
    names = list(result.params.index)
    interaction = next((t for t in (f"{focal}:{moderator}", f"{moderator}:{focal}") if t in names), None)
    missing = [t for t in (focal,) if t not in names]
    if interaction is None or missing:
        raise SpecificationError(
            f"moderation needs the terms {focal!r} and '{focal}:{moderator}' in the model; its terms are "
            f"{names}. Add '{focal}:{moderator}' (or '{focal}*{moderator}') to the covariates."
        )
    if not 0 < level < 1:
        raise SpecificationError(f"level must lie strictly between 0 and 1, not {level!r}.")
    values = _moderator_values(result, moderator)
    labels, points = _evaluation_points(at, values, moderator)

    b_f, b_i = float(result.params[focal]), float(result.params[interaction])
    cov = result.cov
    v_ff, v_fi, v_ii = float(cov.loc[focal, focal]), float(cov.loc[focal, interaction]), float(
        cov.loc[interaction, interaction]
    )
    df = _degrees_of_freedom(result, focal, interaction)
    dist = stats.norm if df is None else stats.t(df)
    critical = float(dist.ppf(0.5 + level / 2))

    effect = b_f + b_i * points
    se = np.sqrt(v_ff + 2 * points * v_fi + points**2 * v_ii)
    statistic = effect / se
    table = pd.DataFrame(
        {
            "moderator": points,
            "effect": effect,
            "std_error": se,
            "statistic": statistic,
            "p_value": 2 * dist.sf(np.abs(statistic)),
            "ci_low": effect - critical * se,
            "ci_high": effect + critical * se,
        },
        index=pd.Index(labels, name="at"),
    )
    scale = _scale(result)
    on_log_scale = scale != "coefficient"
    for column, source in (("exp_effect", "effect"), ("exp_ci_low", "ci_low"), ("exp_ci_high", "ci_high")):
        table[column] = np.exp(table[source]) if on_log_scale else np.nan

    intervals, boundaries = johnson_neyman(b_f, b_i, v_ff, v_fi, v_ii, critical)
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
    if isinstance(at, Mapping):
        return [str(k) for k in at], np.asarray(list(at.values()), dtype=float)
    points = np.atleast_1d(np.asarray(at, dtype=float))
    return [f"{v:.6g}" for v in points], points


def _degrees_of_freedom(result: EstimationResult, focal: str, interaction: str) -> float | None:
    inf = result.inference
    if inf.df_by_term is not None:
        return float(min(inf.df_by_term[focal], inf.df_by_term[interaction]))
    return None if inf.df is None else float(inf.df)


def _scale(result: EstimationResult) -> str:
    if result.spec.estimator != HAZARD:
        return "coefficient"
    return "log hazard ratio" if result.spec.method == "cloglog" else "log odds ratio"
