"""Figures from results: coefficient plots, conditional effects with their Johnson-Neyman region,
and event-study plots that overlay several estimators.

Every function draws what the results say (estimates and the intervals of the inference in use,
bootstrap intervals included) and returns the :class:`matplotlib.figure.Figure`; nothing is
shown or saved, so the caller decides (``fig.savefig("coef.pdf")``; notebooks display the
returned figure).  Figures are built without :mod:`matplotlib.pyplot`, so no global figure state
is touched and no display is needed.  Pass ``ax=`` to draw into an existing axes instead.

matplotlib is an optional dependency: ``pip install "gvcpanel[plot]"``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from gvcpanel.errors import InferenceUnavailableError, MissingDependencyError, SpecificationError
from gvcpanel.results import ResultBase

__all__ = ["coefplot", "event_study_frame", "event_study_plot", "moderation_plot"]

#: columns of the tidy frame an event-study plot draws
EVENT_COLUMNS = ("estimator", "event_time", "estimate", "ci_low", "ci_high")
#: optional columns of a uniform band, drawn as a wide pale bar behind the pointwise interval
BAND_COLUMNS = ("band_low", "band_high")


def _axes(ax: Any, figsize: tuple[float, float]) -> tuple[Any, Any]:
    """(figure, axes): the caller's axes, or a new figure with one axes."""
    try:
        from matplotlib.figure import Figure
    except ImportError as err:  # pragma: no cover - exercised only without the extra
        raise MissingDependencyError(
            "plots need matplotlib, an optional dependency of gvcpanel: pip install 'gvcpanel[plot]' "
            "(make replicate installs it)."
        ) from err
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=figsize)
    return fig, fig.add_subplot()


def _named_results(results: Any) -> dict[str, ResultBase]:
    if isinstance(results, ResultBase):
        return {"": results}
    if isinstance(results, Mapping):
        named = {str(k): v for k, v in results.items()}
    elif isinstance(results, Sequence) and not isinstance(results, str):
        named = {f"({i})": r for i, r in enumerate(results, start=1)}
    else:
        raise SpecificationError(
            f"expected a result, a list of results or a mapping {{name: result}}, not {type(results).__name__}."
        )
    if not named:
        raise SpecificationError("nothing to plot: no results were given.")
    wrong = [k for k, v in named.items() if not isinstance(v, ResultBase)]
    if wrong:
        raise SpecificationError(f"{wrong} are not gvcpanel results.")
    return named


# ---------------------------------------------------------------------------------------------
def coefplot(
    results: Any,
    terms: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
    level: float = 0.95,
    *,
    ax: Any = None,
    title: str = "",
    figsize: tuple[float, float] | None = None,
    dodge: float = 0.15,
) -> Any:
    """Estimates with their confidence intervals, one row per term, one colour per model.

    Parameters
    ----------
    results : result, list of results or mapping {name: result}
        Any gvcpanel result (regression, hazard, conditional effects, ...).
    terms : sequence of str, optional
        Terms to draw, top to bottom; default every term except baseline and year dummies.
    labels : mapping, optional
        Display names of terms.
    level : float
        Confidence level of the intervals (from each result's own inference; a wild bootstrap's
        test-inversion intervals).  A result whose inference has no intervals is drawn as
        points and named so in the legend.
    ax : matplotlib Axes, optional
    title : str
    figsize : (float, float), optional
        Default: 6 inches wide, 0.45 inch per term.
    dodge : float
        Vertical offset between models on the same term.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import gvcpanel as gp
    >>> panel = gp.simulate_panel(n_firms=300, n_clusters=12, seed=1).panel
    >>> fe = gp.fe_regression(panel, "labour_productivity ~ quasi_hierarchy + network")
    >>> fig = gp.coefplot({"CRV1": fe, "CR2": fe.with_inference("cr2")})
    >>> [line.get_label() for line in fig.axes[0].lines[:2]]
    ['CRV1', 'CR2']
    """
    from gvcpanel.report.tables import _is_baseline

    named = _named_results(results)
    labels = dict(labels or {})
    if terms is None:
        terms = []
        for res in named.values():
            terms += [t for t in res.params.index if t not in terms and not _is_baseline(t, res)]
    terms = list(terms)
    if not terms:
        raise SpecificationError("coefplot has no terms to draw.")
    fig, ax = _axes(ax, figsize or (6.0, 1.2 + 0.45 * len(terms)))
    positions = -np.arange(len(terms), dtype=float)
    n_models = len(named)
    for j, (name, res) in enumerate(named.items()):
        present = [t for t in terms if t in res.params.index]
        y = positions[[terms.index(t) for t in present]] + dodge * ((n_models - 1) / 2 - j)
        est = res.params[present].to_numpy(dtype=float)
        colour = f"C{j}"
        label = name
        try:
            ci = res.conf_int(level).loc[present]
            ax.hlines(y, ci["lower"].to_numpy(), ci["upper"].to_numpy(), color=colour, linewidth=1.5)
        except InferenceUnavailableError:
            label = f"{name} (no intervals)".strip()
        ax.plot(est, y, "o", color=colour, label=label, markersize=5, zorder=3)
    ax.axvline(0.0, color="0.5", linewidth=0.8, linestyle="--")
    ax.set_yticks(positions, [labels.get(t, t) for t in terms])
    ax.set_ylim(positions[-1] - 0.6, 0.6)
    ax.set_xlabel(f"estimate with {100 * level:g}% interval")
    if title:
        ax.set_title(title, fontsize=10)
    if n_models > 1 or next(iter(named)):
        ax.legend(frameon=False, loc="best")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
def moderation_plot(
    result: Any,
    *,
    points: int = 41,
    trim: float = 0.01,
    level: float | None = None,
    johnson_neyman: bool = True,
    ax: Any = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str = "",
    figsize: tuple[float, float] = (6.0, 4.0),
) -> Any:
    """The conditional effect of the focal term across the moderator, with its interval and
    the Johnson-Neyman region of significance.

    Parameters
    ----------
    result : ModerationResult
        From :func:`gvcpanel.moderation` (it keeps the model and the moderator's values).
    points : int
        Moderator values on the curve, evenly spaced.
    trim : float
        The curve spans the ``trim`` to ``1 - trim`` quantiles of the moderator in the
        estimation sample (1% and 99%), where the data are.
    level : float, optional
        Confidence level of the band and of the region; default the result's.
    johnson_neyman : bool
        Shade the moderator values (within the plotted range) where the effect is significant
        and mark the boundaries.
    ax, xlabel, ylabel, title, figsize
        Axes and labels (default: the moderator's name and "effect of <focal> (<scale>)").

    Returns
    -------
    matplotlib.figure.Figure

    Notes
    -----
    The curve is :math:`\\theta(m) = b_f + b_{fm} m` with the delta-method band of
    :func:`gvcpanel.moderation`; the shaded region is the set of m with
    :math:`|\\theta(m)|/\\operatorname{se}\\,\\theta(m)` above the critical value (Johnson and
    Neyman 1936), cut to the plotted range.
    """
    from gvcpanel.models.moderation import ModerationResult, moderation

    if not isinstance(result, ModerationResult):
        raise SpecificationError(
            f"moderation_plot takes the result of gvcpanel.moderation(...), not {type(result).__name__}."
        )
    if result.source is None:
        raise SpecificationError("this ModerationResult keeps no model; compute it with gvcpanel.moderation(result, ...).")
    if not 0 <= trim < 0.5:
        raise SpecificationError(f"trim={trim!r} must lie in [0, 0.5).")
    level = result.level if level is None else level
    values = result.moderator_values
    if values is not None:
        values = np.asarray(values, dtype=float)
        values = values[np.isfinite(values)]
    if values is None or values.size == 0:
        values = result.table["moderator"].to_numpy(dtype=float)
    grid = np.linspace(np.quantile(values, trim), np.quantile(values, 1 - trim), int(points))
    curve = moderation(result.source, focal=result.focal, moderator=result.moderator, at=grid, level=level)
    table = curve.table
    fig, ax = _axes(ax, figsize)
    if johnson_neyman:
        low, high = float(grid[0]), float(grid[-1])
        first = True
        for a, b in curve.johnson_neyman:
            a, b = max(a, low), min(b, high)
            if a >= b:
                continue
            ax.axvspan(a, b, color="#dbe8f5", zorder=0,
                       label=f"significant at {100 * (1 - level):g}% (Johnson-Neyman)" if first else None)
            first = False
        for boundary in curve.boundaries:
            if low <= boundary <= high:
                ax.axvline(boundary, color="#4a7ab5", linewidth=0.8, linestyle=":")
    ax.fill_between(grid, table["ci_low"], table["ci_high"], color="0.85", label=f"{100 * level:g}% interval")
    ax.plot(grid, table["effect"], color="black", label="conditional effect")
    ax.axhline(0, color="0.4", linewidth=0.8, linestyle="--")
    ax.set_xlabel(xlabel if xlabel is not None else result.moderator)
    ax.set_ylabel(ylabel if ylabel is not None else f"effect of {result.focal} ({result.scale})")
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(frameon=False, loc="best")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
_EVENT_TIME = re.compile(r"(-?\d+)\]?\s*$")


def event_study_frame(data: Any, level: float = 0.95) -> pd.DataFrame:
    """The tidy frame an event-study plot draws: ``estimator``, ``event_time``, ``estimate``,
    ``ci_low``, ``ci_high``, sorted by estimator and event time.

    Parameters
    ----------
    data : DataFrame, result, list of them, or mapping {estimator: DataFrame or result}
        A frame with ``event_time``, ``estimate``, ``ci_low`` and ``ci_high`` (and
        ``estimator`` when it holds several); a result (anything with ``to_frame(level)``) whose
        frame has an ``event_time`` column, or whose terms end in the event time
        (``"event_time[-2]"``, ``"rel::3"``); a list of these; or a mapping of estimator names
        to either (the names replace any ``estimator`` column).
    level : float
        Confidence level of the intervals taken from results.

    Examples
    --------
    >>> frame = pd.DataFrame({"event_time": [-2, 0, 1], "estimate": [0.0, 0.3, 0.5],
    ...                       "ci_low": [-0.1, 0.1, 0.2], "ci_high": [0.1, 0.5, 0.8]})
    >>> event_study_frame({"TWFE": frame})["estimator"].unique().tolist()
    ['TWFE']
    """
    if isinstance(data, Mapping):
        parts = [event_study_frame(part, level).assign(estimator=str(name)) for name, part in data.items()]
        if not parts:
            raise SpecificationError("event_study_frame: the mapping holds no estimator.")
        return pd.concat(parts, ignore_index=True).sort_values(["estimator", "event_time"], kind="stable",
                                                               ignore_index=True)
    if isinstance(data, (list, tuple)):
        if not data:
            raise SpecificationError("event_study_frame: the list holds no estimates.")
        return pd.concat([event_study_frame(part, level) for part in data], ignore_index=True).sort_values(
            ["estimator", "event_time"], kind="stable", ignore_index=True)
    if not isinstance(data, pd.DataFrame) and callable(getattr(data, "to_frame", None)):
        frame = data.to_frame(level)
        if "event_time" not in frame.columns:
            times = []
            for term in frame.index:
                match = _EVENT_TIME.search(str(term))
                if match is None:
                    raise SpecificationError(
                        f"term {term!r} does not end in an event time; give a frame with an event_time column."
                    )
                times.append(int(match.group(1)))
            frame = frame.assign(event_time=times)
        data = frame.reset_index(drop=True)
    if not isinstance(data, pd.DataFrame):
        raise SpecificationError(f"event_study_frame takes a DataFrame, a result or a mapping, not {type(data).__name__}.")
    missing = [c for c in ("event_time", "estimate", "ci_low", "ci_high") if c not in data.columns]
    if missing:
        raise SpecificationError(
            f"the event-study frame lacks columns {missing}; it needs event_time, estimate, ci_low, ci_high "
            "(and estimator when it holds several)."
        )
    out = data.copy()
    if "estimator" not in out.columns:
        out["estimator"] = ""
    # uniform (sup-t) bands ride along when the estimates carry them (gp.event_study results)
    bands = [c for c in BAND_COLUMNS if c in out.columns] if all(c in out.columns for c in BAND_COLUMNS) else []
    out = out[list(EVENT_COLUMNS) + bands].astype(
        {"event_time": float, "estimate": float, "ci_low": float, "ci_high": float, **{c: float for c in bands}})
    out["estimator"] = out["estimator"].astype(str)
    return out.sort_values(["estimator", "event_time"], kind="stable", ignore_index=True)


def event_study_plot(
    data: Any,
    *,
    level: float = 0.95,
    reference: float | None = -1,
    ax: Any = None,
    xlabel: str = "periods relative to treatment",
    ylabel: str = "estimate",
    title: str = "",
    figsize: tuple[float, float] = (7.0, 4.0),
    dodge: float = 0.12,
    bands: bool = True,
) -> Any:
    """Event-time estimates with their intervals, several estimators overlaid.

    Parameters
    ----------
    data : DataFrame, result or mapping {estimator: DataFrame or result}
        See :func:`event_study_frame`.
    level : float
        Confidence level of intervals taken from results (frames carry their own).
    reference : float, optional
        The omitted reference period (-1 by default): a dashed line is drawn between it and the
        next period, where treatment starts; None for no line.
    ax, xlabel, ylabel, title, figsize
    dodge : float
        Horizontal offset between estimators at the same event time.
    bands : bool
        Draw uniform (sup-t) bands, when the estimates carry ``band_low`` and ``band_high``,
        as wide pale bars behind the pointwise intervals.

    Returns
    -------
    matplotlib.figure.Figure
        One marker series and one set of vertical interval lines per estimator.

    Examples
    --------
    >>> frame = pd.DataFrame({"estimator": ["TWFE"] * 3 + ["CS"] * 3, "event_time": [-2, 0, 1] * 2,
    ...                       "estimate": [0.0, 0.3, 0.5, 0.01, 0.25, 0.45],
    ...                       "ci_low": [-0.1, 0.1, 0.2, -0.1, 0.05, 0.2],
    ...                       "ci_high": [0.1, 0.5, 0.8, 0.12, 0.45, 0.7]})
    >>> fig = event_study_plot(frame)
    >>> sorted(line.get_label() for line in fig.axes[0].lines if not line.get_label().startswith("_"))
    ['CS', 'TWFE']
    """
    frame = event_study_frame(data, level)
    fig, ax = _axes(ax, figsize)
    estimators = list(dict.fromkeys(frame["estimator"]))
    n = len(estimators)
    for j, name in enumerate(estimators):
        part = frame[frame["estimator"] == name]
        x = part["event_time"].to_numpy() + dodge * (j - (n - 1) / 2)
        colour = f"C{j}"
        if bands and "band_low" in part.columns:
            ax.vlines(x, part["band_low"].to_numpy(), part["band_high"].to_numpy(), color=colour, linewidth=5,
                      alpha=0.22)
        ax.vlines(x, part["ci_low"].to_numpy(), part["ci_high"].to_numpy(), color=colour, linewidth=1.4)
        ax.plot(x, part["estimate"].to_numpy(), "o", color=colour, markersize=5, label=name or None, zorder=3)
    ax.axhline(0.0, color="0.4", linewidth=0.8, linestyle="--")
    if reference is not None and math.isfinite(reference):
        ax.axvline(reference + 0.5, color="0.6", linewidth=0.8, linestyle=":")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    if any(estimators):
        ax.legend(frameon=False, loc="best")
    fig.tight_layout()
    return fig
