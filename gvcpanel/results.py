"""The result contract shared by every result gvcpanel returns.

Every result is a set of estimates (``params``) with an inference (an
:class:`~gvcpanel.inference.spec.Inference`: covariance, reference distribution and, for the
bootstraps, their own p-values and intervals).  :class:`ResultBase` derives everything else from
those two, so regressions, hazards, conditional effects, specification tests, bootstrap tests
and the hypothesis report all answer the same calls:

- ``params``: estimates (a :class:`pandas.Series` indexed by term);
- ``std_errors``, ``tvalues``: from the covariance (``cov``);
- ``pvalues``: the bootstrap's own when the inference is a bootstrap, else from t or the normal;
- ``conf_int(level=0.95)``: the inference's intervals (bootstrap test inversion included) at any
  confidence level, or an explicit :class:`~gvcpanel.errors.InferenceUnavailableError` when the
  inference has none (the score bootstrap), never a silent swap for sandwich intervals;
- ``to_frame(level=0.95)``: a tidy table, one row per term;
- ``summary(level=0.95)``: a :class:`Summary`, whose ``str()`` is the text table (HTML in
  notebooks, through ``_repr_html_``);
- ``wald_test(...)``: linear restrictions under the same inference (a :class:`TestResult`);
- ``with_inference(kind, **options)``: a new result with another inference, this one unchanged;
- pickling: results keep no lambdas or closures;
- ``__maketables_*__``: the plug-in interface of the ``maketables`` package (``ETable``).

Confidence is ``level`` everywhere (0.95), significance is ``alpha`` (0.05).

Writing a new result type
-------------------------
Subclass :class:`ResultBase` with a frozen dataclass (``repr=False`` keeps the short
representation of the base) that has the fields ``params`` and ``inference``; override the
hooks that apply::

    @dataclass(frozen=True, repr=False)
    class EventStudyResult(ResultBase):
        params: pd.Series
        inference: Inference
        model: Any = None

        def _refit(self, spec):           # with_inference(...) and conf_int at a new level
            return replace(self, inference=self.model.inference(spec))

        def _summary_header(self):        # lines above the coefficient table
            return (("Estimator", "Callaway-Sant'Anna"),)

``_restriction_test(a, r, spec)`` gives bootstrap tests of one restriction :math:`a'b = r`
(``wald_test`` under a bootstrap); ``_intervals(level)`` replaces the interval logic when a
result gathers its intervals elsewhere (the hypothesis report); ``_depvar``, ``_fixef_string``
and ``_stats`` feed tables and ``maketables``.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd
from scipy import stats

from gvcpanel.errors import IdentificationError, InferenceUnavailableError, SpecificationError
from gvcpanel.options import check_level

if TYPE_CHECKING:  # at run time imported where used (see the note on imports below)
    from gvcpanel.inference.spec import Inference, InferenceSpec

# Imports: this module does not import the inference layer at module level.  The bootstraps'
# tests are results (``BootstrapTest`` subclasses :class:`ResultBase`), and importing
# ``gvcpanel.inference`` loads its dispatcher and through it the bootstraps; so the few
# functions here that build an ``InferenceSpec`` or an ``Inference`` import them when called.

#: inference kinds whose p-values (and intervals, when they have them) come from resampling
BOOTSTRAP_KINDS = ("wild", "score")

__all__ = [
    "BOOTSTRAP_KINDS",
    "EstimationResult",
    "FittedModel",
    "ModelSpec",
    "ResultBase",
    "Summary",
    "TestResult",
    "exclusion_table",
    "inference_name",
    "resolve_inference",
]


# ---------------------------------------------------------------------------------------------
def resolve_inference(
    inference: str | Mapping[str, Any] | InferenceSpec | None,
    options: Mapping[str, Any],
    current: InferenceSpec | None = None,
) -> InferenceSpec:
    """The :class:`InferenceSpec` of ``with_inference(inference, **options)``.

    Parameters
    ----------
    inference : str, mapping, InferenceSpec or None
        The new choice; None keeps ``current`` (so ``with_inference(level=0.9)`` changes only
        the level).
    options : mapping
        Fields of :class:`InferenceSpec` that override the choice (``draws=999``, ``seed=1``,
        ``cluster="firm_id"``, ``level=0.9``, ...).
    current : InferenceSpec, optional
        The inference in use.

    Examples
    --------
    >>> resolve_inference("wild", {"draws": 999}).draws
    999
    >>> from gvcpanel.inference.spec import InferenceSpec
    >>> resolve_inference(None, {"level": 0.9}, InferenceSpec(kind="cr2")).kind
    'cr2'
    """
    from gvcpanel.inference.spec import InferenceSpec, parse_inference

    known = {f.name for f in fields(InferenceSpec)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise SpecificationError(
            f"with_inference options {unknown} are not known; valid options: {sorted(known)}."
        )
    if inference is None:
        spec = current if current is not None else InferenceSpec()
    else:
        spec = parse_inference(inference)
    return replace(spec, **dict(options)) if options else spec


def _check_level(level: float) -> float:
    return check_level(level)


# --- restrictions for wald_test -----------------------------------------------------------------
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def _split_top(text: str) -> list[str]:
    """Split a linear expression at + and - outside parentheses and brackets, keeping signs."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch in "+-" and depth == 0:
            before = text[start:i].strip()
            # a leading sign, the sign of a factor (2*-a) or of an exponent (1e-3) does not split
            if not before or before[-1] in "*/" or re.search(r"(?:^|[\s*])(?:\d+\.?\d*|\.\d+)[eE]$", before):
                continue
            parts.append(text[start:i])
            start = i
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _linear_side(text: str, names: Sequence[str], where: str) -> tuple[dict[str, float], float]:
    """Coefficients by term and the constant of one side of an equation."""
    coefs: dict[str, float] = {}
    constant = 0.0
    for piece in _split_top(text):
        sign = -1.0 if piece.startswith("-") else 1.0
        body = piece.lstrip("+-").strip()
        if body in names:
            coefs[body] = coefs.get(body, 0.0) + sign
            continue
        if re.fullmatch(_NUMBER, body):
            constant += sign * float(body)
            continue
        match = re.fullmatch(rf"({_NUMBER})\s*\*\s*(.+)", body) or re.fullmatch(rf"(.+?)\s*\*\s*({_NUMBER})", body)
        if match:
            a, b = match.group(1).strip(), match.group(2).strip()
            number, term = (a, b) if re.fullmatch(_NUMBER, a) else (b, a)
            if term in names:
                coefs[term] = coefs.get(term, 0.0) + sign * float(number)
                continue
            body = term
        raise SpecificationError(
            f"wald_test: {body!r} in {where!r} is not a term of this result; its terms are {list(names)}."
        )
    return coefs, constant


def restriction_matrix(
    restrictions: Any, names: Sequence[str], value: float | Sequence[float] | None = None
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Turn the forms ``wald_test`` accepts into ``(R, r, labels)`` for :math:`R b = r`.

    Parameters
    ----------
    restrictions
        A term (``"network"``: network = 0); an equation (``"quasi_hierarchy = network"``,
        ``"2*a - b = 1"``); a mapping of term to weight (one restriction); a list of any of
        these (one restriction each); or a q x k array (with ``value``).
    names : sequence of str
        The terms, in the order of the columns of R.
    value : float or sequence of float, optional
        Right-hand sides when they are not written in the restrictions (default 0).

    Examples
    --------
    >>> R, r, labels = restriction_matrix("a = b", ["a", "b", "c"])
    >>> R.tolist(), r.tolist(), labels
    ([[1.0, -1.0, 0.0]], [0.0], ('a - b = 0',))
    """
    names = list(names)
    k = len(names)
    if isinstance(restrictions, np.ndarray) or (
        isinstance(restrictions, Sequence) and restrictions and not isinstance(restrictions, str)
        and all(isinstance(v, (int, float, np.number)) for v in restrictions)
    ):
        R = np.atleast_2d(np.asarray(restrictions, dtype=float))
        if R.shape[1] != k:
            raise SpecificationError(f"wald_test: R has {R.shape[1]} columns; this result has {k} terms {names}.")
        rows = list(R)
        values = [None] * len(rows)
    else:
        items = [restrictions] if isinstance(restrictions, (str, Mapping)) else list(restrictions)
        if not items:
            raise SpecificationError("wald_test needs at least one restriction.")
        rows, values = [], []
        for item in items:
            a = np.zeros(k)
            if isinstance(item, Mapping):
                unknown = [t for t in item if t not in names]
                if unknown:
                    raise SpecificationError(f"wald_test: terms {unknown} are not in this result; its terms are {names}.")
                for term, weight in item.items():
                    a[names.index(term)] += float(weight)
                rows.append(a)
                values.append(None)
                continue
            if not isinstance(item, str):
                raise SpecificationError(
                    f"wald_test: a restriction must be a term, an equation, a mapping or an array, not {type(item).__name__}."
                )
            text = item.strip()
            if text in names:
                a[names.index(text)] = 1.0
                rows.append(a)
                values.append(None)
                continue
            sides = text.split("=")
            if len(sides) > 2:
                raise SpecificationError(f"wald_test: {text!r} has more than one '='.")
            left, c_left = _linear_side(sides[0], names, text)
            right, c_right = _linear_side(sides[1], names, text) if len(sides) == 2 else ({}, 0.0)
            for term, w in left.items():
                a[names.index(term)] += w
            for term, w in right.items():
                a[names.index(term)] -= w
            rows.append(a)
            values.append(c_right - c_left)
    R = np.vstack(rows)
    if value is not None:
        given = np.broadcast_to(np.asarray(value, dtype=float), (R.shape[0],))
        r = np.array([g if v is None else v + g for v, g in zip(values, given)], dtype=float)
    else:
        r = np.array([0.0 if v is None else v for v in values], dtype=float)
    if not np.all(np.any(R != 0, axis=1)):
        raise SpecificationError("wald_test: a restriction has all weights zero, so it restricts nothing.")
    if np.linalg.matrix_rank(R) < R.shape[0]:
        raise SpecificationError(
            "wald_test: the restrictions are linearly dependent (one follows from the others); drop the redundant ones."
        )
    labels = tuple(_restriction_label(a, c, names) for a, c in zip(R, r))
    return R, r, labels


def combination_label(a: np.ndarray, names: Sequence[str]) -> str:
    """A readable name for the linear combination a'b, e.g. ``"quasi_hierarchy - network"``."""
    pieces = []
    for weight, name in zip(a, names):
        if weight == 0:
            continue
        magnitude = abs(float(weight))
        term = name if magnitude == 1 else f"{magnitude:g}*{name}"
        if not pieces:
            pieces.append(term if weight > 0 else f"-{term}")
        else:
            pieces.append(f"{'+' if weight > 0 else '-'} {term}")
    return " ".join(pieces)


def _restriction_label(a: np.ndarray, r: float, names: Sequence[str]) -> str:
    return f"{combination_label(a, names)} = {r:g}"


# --- display helpers ------------------------------------------------------------------------------
def _num(value: Any) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(v):
        return "" if math.isnan(v) else str(v)
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-4):
        return f"{v:.3e}"
    text = f"{v:.4f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def _pval(value: Any, floor: float = 1e-4) -> str:
    """A p-value to four decimals; below ``floor`` (the resolution of a bootstrap's draws, at
    least 1e-4) as ``<floor``."""
    v = float(value)
    if not math.isfinite(v):
        return ""
    floor = max(floor, 1e-4)
    return f"<{floor:.2g}" if v < floor else f"{v:.4f}"


@dataclass(frozen=True)
class Summary:
    """A printable summary: ``str(summary)`` is the text table; notebooks show its HTML.

    Attributes
    ----------
    title : str
    header : tuple of (str, str)
        Model facts shown above the table (estimator, observations, inference, ...).
    table : pandas.DataFrame
        The formatted coefficient table (strings), one row per term.
    notes : tuple of str
        Lines shown below the table.
    """

    title: str
    header: tuple[tuple[str, str], ...]
    table: pd.DataFrame
    notes: tuple[str, ...] = ()

    def as_text(self) -> str:
        """The summary as plain text."""
        body = self.table.to_string() if not self.table.empty else "(no estimates)"
        width = max(len(line) for line in [self.title, *body.splitlines()])
        key_width = max((len(k) for k, _ in self.header), default=0)
        out = [self.title.center(width).rstrip(), "=" * width]
        out += [f"{k + ':':<{key_width + 1}} {v}" for k, v in self.header]
        out += ["-" * width, body, "-" * width]
        out += list(self.notes)
        return "\n".join(out)

    def as_html(self) -> str:
        """The summary as an HTML fragment (no scripts or styles)."""
        e = html.escape
        head = "".join(f"<tr><th style=\"text-align:left\">{e(k)}</th><td>{e(v)}</td></tr>" for k, v in self.header)
        cols = "".join(f"<th>{e(str(c))}</th>" for c in self.table.columns)
        rows = "".join(
            f"<tr><th style=\"text-align:left\">{e(str(i))}</th>"
            + "".join(f"<td>{e(str(v))}</td>" for v in row)
            + "</tr>"
            for i, row in zip(self.table.index, self.table.to_numpy())
        )
        notes = "".join(f"<p>{e(n)}</p>" for n in self.notes)
        return (
            f"<div><strong>{e(self.title)}</strong>"
            f"<table>{head}</table>"
            f"<table><thead><tr><th></th>{cols}</tr></thead><tbody>{rows}</tbody></table>"
            f"{notes}</div>"
        )

    def __str__(self) -> str:
        return self.as_text()

    def __repr__(self) -> str:
        return self.as_text()

    def _repr_html_(self) -> str:
        return self.as_html()


# ---------------------------------------------------------------------------------------------
class ResultBase:
    """Mixin deriving the result contract from ``params`` and ``inference``.

    Subclasses are frozen dataclasses with (at least) the fields

    - ``params`` : :class:`pandas.Series`, the estimates indexed by term;
    - ``inference`` : :class:`~gvcpanel.inference.spec.Inference`, their covariance, degrees
      of freedom and, for bootstraps, their own p-values (``pvalues``) and intervals (``ci``,
      at ``inference.spec.level``).

    and override the hooks that apply (see the module docstring).  Nothing here prints or
    mutates: every method returns a new object.
    """

    params: pd.Series
    inference: Inference

    _title: str = "Estimates"

    # --- hooks ------------------------------------------------------------------------------
    def _refit(self, spec: InferenceSpec) -> "ResultBase":
        """The same estimates under another inference (used by with_inference and conf_int)."""
        raise InferenceUnavailableError(
            f"this {type(self).__name__} keeps no fitted model, so its inference cannot be recomputed; "
            "re-estimate with inference=... instead."
        )

    def _restriction_test(self, a: np.ndarray, r: float, spec: InferenceSpec) -> Any:
        """A bootstrap test of a'b = r (a :class:`~gvcpanel.inference.bootstrap.BootstrapTest`)."""
        raise InferenceUnavailableError(
            f"{type(self).__name__} cannot run a {spec.kind!r} bootstrap test of a new restriction; "
            "use with_inference('cluster') for a Wald test with the analytic covariance."
        )

    def _contrast_df(self, R: np.ndarray) -> np.ndarray | None:
        """Degrees of freedom of each restriction (row of R) when they depend on it (CR2), else None."""
        return None

    def _nulls(self) -> pd.Series:
        """Null values of the reported p-values (zero unless a test says otherwise)."""
        return pd.Series(0.0, index=self.params.index)

    def _summary_header(self) -> tuple[tuple[str, str], ...]:
        return ()

    def _depvar(self) -> str:
        return ""

    def _fixef_string(self) -> str | None:
        return None

    def _stats(self) -> dict[str, Any]:
        """Model statistics by key: ``N`` (observations), ``n_firms``, ``n_clusters``, ``r2``
        (overall R-squared), ``r2_within``, ``ll`` (log-likelihood), ``dep_mean``, ``inference``."""
        return {}

    def _estimator_label(self) -> str:
        """Short name of the estimator for a table row (``"within"``, ``"cloglog hazard"``)."""
        return ""

    def _table_effects(self) -> dict[str, str]:
        """Effects of the model for table rows: {effect: cell}, e.g. ``{"firm": "Yes",
        "cluster_id^year": "Yes"}`` or ``{"year": "baseline"}``; {} when the idea does not apply."""
        return {}

    def _table_note(self) -> str:
        """A sentence a table adds to its notes when this result is a column (scale of estimates)."""
        return ""

    # --- inference kinds ------------------------------------------------------------------------
    @property
    def is_bootstrap(self) -> bool:
        """Whether p-values (and intervals) come from a bootstrap rather than the covariance."""
        return self.inference.spec.kind in BOOTSTRAP_KINDS or self.inference.pvalues is not None

    def _pvalue_floor(self) -> float:
        """The smallest p-value worth printing: one over the bootstrap's draws (0 otherwise)."""
        details = self.inference.details if isinstance(self.inference.details, Mapping) else {}
        draws = details.get("draws")
        return 1.0 / int(draws) if self.is_bootstrap and draws else 0.0

    # --- accessors ----------------------------------------------------------------------------
    @property
    def cov(self) -> pd.DataFrame:
        """Covariance of ``params`` (the analytic one a bootstrap studentizes with)."""
        return self.inference.cov

    @property
    def std_errors(self) -> pd.Series:
        cov = self.cov.reindex(index=self.params.index, columns=self.params.index).to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            se = np.sqrt(np.diag(cov))
        return pd.Series(se, index=self.params.index, name="std_error")

    @property
    def tvalues(self) -> pd.Series:
        """(estimate - null) / standard error."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return ((self.params - self._nulls()) / self.std_errors).rename("t")

    @property
    def df_resid(self) -> pd.Series:
        """Degrees of freedom of each term's reference t distribution (inf for the normal)."""
        inf = self.inference
        if inf.df_by_term is not None:
            return inf.df_by_term.reindex(self.params.index).astype(float)
        df = np.inf if inf.df is None else float(inf.df)
        return pd.Series(df, index=self.params.index)

    @property
    def pvalues(self) -> pd.Series:
        """Two-sided p-values: the bootstrap's own when the inference is a bootstrap."""
        if self.inference.pvalues is not None:
            return self.inference.pvalues.reindex(self.params.index).rename("p")
        t = self.tvalues.to_numpy(dtype=float)
        df = self.df_resid.to_numpy(dtype=float)
        return pd.Series(2 * stats.t.sf(np.abs(t), df), index=self.params.index, name="p")

    @property
    def n_clusters(self) -> int | None:
        return self.inference.n_clusters

    @property
    def cluster_sizes(self) -> tuple[int, float, int] | None:
        return self.inference.cluster_sizes

    def pvalue_one_sided(self, term: str, sign: str) -> float:
        """p-value of H0: coefficient = null against the alternative ``sign`` (``">"`` or ``"<"``).

        Bootstraps give two-sided p-values; the one-sided value is then half the two-sided one
        when the estimate lies on the side of the alternative and one minus half otherwise.
        """
        if sign not in (">", "<"):
            raise SpecificationError(f"sign must be '>' or '<', not {sign!r}.")
        self._check_term(term)
        if self.inference.pvalues is not None:
            p2 = float(self.inference.pvalues[term])
            est = float(self.params[term] - self._nulls()[term])
            right = est > 0 if sign == ">" else est < 0
            return p2 / 2 if right else 1 - p2 / 2
        t = float(self.tvalues[term])
        df = float(self.df_resid[term])
        return float(stats.t.sf(t, df) if sign == ">" else stats.t.cdf(t, df))

    # --- intervals ------------------------------------------------------------------------------
    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        """Confidence intervals (columns ``lower``, ``upper``) from the inference in use.

        Analytic inferences give :math:`b \\pm q\\,se` with q the (1 + level)/2 quantile of
        t(df) (the normal without df).  The wild bootstrap gives test-inversion intervals; at
        another level than the one it was run with they are recomputed with the same draws.
        The score bootstrap inverts its test for every covariate (the baseline terms of a hazard
        are NaN).  An inference without intervals raises
        :class:`~gvcpanel.errors.InferenceUnavailableError` rather than returning sandwich ones.
        """
        return self._intervals(_check_level(level))

    def _intervals(self, level: float) -> pd.DataFrame:
        inf = self.inference
        if self.is_bootstrap:
            if inf.ci is not None and abs(inf.spec.level - level) < 1e-12:
                return inf.ci.reindex(self.params.index)
            if inf.ci is None:
                raise InferenceUnavailableError(
                    f"{inf.label}: this bootstrap gives p-values but no confidence intervals. For intervals "
                    "use with_inference('wild') (least squares), or analytic ones with "
                    "with_inference('cluster'), and say which you report."
                )
            try:
                refit = self._refit(replace(inf.spec, level=level))
            except InferenceUnavailableError as err:
                raise InferenceUnavailableError(
                    f"bootstrap intervals were computed at level {inf.spec.level:g}, and this result cannot "
                    f"recompute them at {level:g} ({err}); ask for level={inf.spec.level:g}."
                ) from err
            return refit.conf_int(level)
        return self._analytic_intervals(level)

    def _analytic_intervals(self, level: float) -> pd.DataFrame:
        q = stats.t.ppf(0.5 + level / 2, self.df_resid.to_numpy(dtype=float))
        se = self.std_errors.to_numpy()
        est = self.params.to_numpy(dtype=float)
        return pd.DataFrame({"lower": est - q * se, "upper": est + q * se}, index=self.params.index)

    def _intervals_or_none(self, level: float) -> pd.DataFrame | None:
        try:
            return self.conf_int(level)
        except InferenceUnavailableError:
            return None

    # --- tables ---------------------------------------------------------------------------------
    def to_frame(self, level: float = 0.95) -> pd.DataFrame:
        """Tidy table, one row per term: ``estimate``, ``std_error``, ``statistic``,
        ``p_value``, ``ci_low``, ``ci_high`` (NaN when the inference gives no intervals)."""
        return self._tidy(_check_level(level))

    def _tidy(self, level: float) -> pd.DataFrame:
        ci = self._intervals_or_none(level)
        out = pd.DataFrame(
            {
                "estimate": self.params,
                "std_error": self.std_errors,
                "statistic": self.tvalues,
                "p_value": self.pvalues,
                "ci_low": np.nan if ci is None else ci["lower"],
                "ci_high": np.nan if ci is None else ci["upper"],
            }
        )
        out.index.name = "term"
        return out

    def summary(self, level: float = 0.95) -> Summary:
        """Header, coefficient table and notes; ``str()`` of it is the text table."""
        level = _check_level(level)
        frame = self._tidy(level)
        pct = f"{100 * level:g}%"
        table = pd.DataFrame(
            {
                "estimate": [_num(v) for v in frame["estimate"]],
                "std. error": [_num(v) for v in frame["std_error"]],
                "t": [_num(v) for v in frame["statistic"]],
                "p": [_pval(v, self._pvalue_floor()) for v in frame["p_value"]],
                f"{pct} lower": [_num(v) for v in frame["ci_low"]],
                f"{pct} upper": [_num(v) for v in frame["ci_high"]],
            },
            index=frame.index,
        )
        header = (*self._summary_header(), ("Inference", self.inference.label))
        notes = []
        if self.is_bootstrap:
            notes.append(
                "p-values and intervals come from the bootstrap; standard errors and t from the analytic "
                "covariance it studentizes with."
            )
            if frame["ci_low"].isna().all() and len(frame):
                notes.append("No intervals: this bootstrap gives p-values only (conf_int raises).")
        return Summary(self._title, tuple(header), table, tuple(notes))

    def _repr_html_(self) -> str:
        return self.summary().as_html()

    def __str__(self) -> str:
        return self.summary().as_text()

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {len(self.params)} estimates; {self.inference.label}>"

    # --- inference ------------------------------------------------------------------------------
    def with_inference(
        self, inference: str | Mapping[str, Any] | InferenceSpec | None = None, /, **options: Any
    ) -> "ResultBase":
        """A new result with another inference; this one is unchanged.

        Parameters
        ----------
        inference : str, mapping or InferenceSpec, optional
            ``"cluster"``, ``"cr2"``, ``"wild"``, ``"score"``, a preset (``"stata"``), a mapping
            ``{"kind": "wild", "draws": 999}`` or an :class:`InferenceSpec`.  None keeps the
            current one, so that ``with_inference(level=0.9)`` changes only an option.
        **options
            Fields of :class:`InferenceSpec`: ``draws``, ``seed``, ``weights``, ``cluster``,
            ``level``, ``preset``, ``bootstrap``, ``lags``.

        Examples
        --------
        >>> res.with_inference("wild", draws=999, seed=1)  # doctest: +SKIP
        """
        spec = resolve_inference(inference, options, self.inference.spec)
        return self._refit(spec)

    def wald_test(
        self, restrictions: Any = None, value: float | Sequence[float] | None = None
    ) -> "TestResult":
        """Test linear restrictions :math:`R b = r` under the inference in use.

        Parameters
        ----------
        restrictions
            A term (``"network"``), an equation (``"quasi_hierarchy = network"``,
            ``"a + b = 1"``), a mapping ``{term: weight}``, a list of these (joint test) or a
            q x k array.  None tests that every coefficient is zero.
        value : float or sequence, optional
            Right-hand side(s) not written in the restrictions (default 0).

        Returns
        -------
        TestResult
            ``params`` are the restricted combinations :math:`R b`, ``null`` their values
            under H0, ``statistic`` F (or chi-squared without degrees of freedom), and for a
            bootstrap the bootstrap t with its p-value and test-inversion interval.

        Notes
        -----
        Analytic: :math:`W = (Rb - r)'(R V R')^{-1}(Rb - r)`; with df degrees of freedom the
        statistic is :math:`F = W/q` with an F(q, df) p-value (one restriction: the square of
        the t statistic, the same p-value), otherwise :math:`W \\sim \\chi^2_q`.  Under CR2 each
        restriction has its own Satterthwaite degrees of freedom (Pustejovsky and Tipton 2018);
        one restriction uses its own, a joint test the smallest of them (conservative; not the
        Hotelling-T2 approximation of clubSandwich's ``Wald_test``).  Under the wild or score
        bootstrap one restriction is tested with the bootstrap; joint bootstrap tests raise
        :class:`InferenceUnavailableError`.
        """
        if restrictions is None:
            restrictions = list(self.params.index)
        R, r, labels = restriction_matrix(restrictions, list(self.params.index), value)
        return self._wald(R, r, labels, restrictions, value)

    def _wald(self, R: np.ndarray, r: np.ndarray, labels: tuple[str, ...], restrictions: Any,
              value: Any) -> "TestResult":
        spec = self.inference.spec
        recompute = partial(rerun_wald, self, restrictions, value)
        if self.is_bootstrap:
            if R.shape[0] > 1:
                raise InferenceUnavailableError(
                    f"joint tests of {R.shape[0]} restrictions are not available under {spec.kind!r} (the "
                    "bootstrap tests one restriction at a time); test them one by one, or use "
                    "with_inference('cluster').wald_test(...) for the analytic joint test."
                )
            test = self._restriction_test(R[0], float(r[0]), spec)
            return TestResult.from_bootstrap(test, labels[0], recompute=recompute, n_clusters=self.n_clusters)
        b = self.params.to_numpy(dtype=float)
        V = self.cov.reindex(index=self.params.index, columns=self.params.index).to_numpy(dtype=float)
        combo = R @ b
        V_r = R @ V @ R.T
        if not np.all(np.isfinite(V_r)):
            raise InferenceUnavailableError(
                "the covariance of these restrictions is not known (they combine estimates whose covariance "
                "this result does not carry); test restrictions within one model."
            )
        diff = combo - r
        try:
            W = float(diff @ np.linalg.solve(V_r, diff))
        except np.linalg.LinAlgError as err:
            raise IdentificationError(
                "the covariance of the restricted combinations is singular; the restrictions may involve "
                "terms without variance."
            ) from err
        q = R.shape[0]
        involved = np.any(R != 0, axis=0)
        if self.inference.df_by_term is not None:
            own = self._contrast_df(R)
            # each contrast's own degrees of freedom when the inference gives them (CR2); for a
            # joint test the smallest, and without them the smallest of the terms involved:
            # both conservative
            df2 = float(np.min(own)) if own is not None else float(
                np.nanmin(self.df_resid.to_numpy(dtype=float)[involved]))
        else:
            df2 = None if self.inference.df is None else float(self.inference.df)
        if df2 is not None and math.isfinite(df2):
            statistic, pvalue = W / q, float(stats.f.sf(W / q, q, df2))
            distribution = f"F({q}, {df2:g})"
        else:
            statistic, pvalue = W, float(stats.chi2.sf(W, q))
            distribution = f"chi2({q})"
        from gvcpanel.inference.spec import Inference

        inference = Inference(
            spec,
            f"Wald test, {self.inference.label}",
            pd.DataFrame(V_r, index=list(labels), columns=list(labels)),
            df2,
            n_clusters=self.inference.n_clusters,
            cluster_sizes=self.inference.cluster_sizes,
        )
        return TestResult(
            name="Wald test",
            statistic=float(statistic),
            df=q,
            pvalue=pvalue,
            detail={"restrictions": labels, "W": W, "df_denom": df2},
            params=pd.Series(combo, index=list(labels), name="estimate"),
            inference=inference,
            null=pd.Series(r, index=list(labels)),
            distribution=distribution,
            recompute=recompute,
        )

    # --- maketables plug-in -------------------------------------------------------------------
    @property
    def __maketables_coef_table__(self) -> pd.DataFrame:
        """Coefficients for ``maketables.ETable``: ``b``, ``se``, ``t``, ``p``, ``ci95l``, ``ci95u``.

        Under a bootstrap ``se`` is NaN: its p-values (stars) and intervals do not come from a
        standard error, and ETable would otherwise print the analytic one beside bootstrap
        stars.  Show the interval with ``coef_fmt="b* \\n [ci95l, ci95u]"``.
        """
        frame = self._tidy(0.95)
        out = pd.DataFrame(
            {
                "b": frame["estimate"],
                "se": np.nan if self.is_bootstrap else frame["std_error"],
                "t": frame["statistic"],
                "p": frame["p_value"],
                "ci95l": frame["ci_low"],
                "ci95u": frame["ci_high"],
            }
        )
        out.index.name = "Coefficient"
        return out

    def __maketables_stat__(self, key: str) -> Any:
        return self._stats().get(key)

    @property
    def __maketables_depvar__(self) -> str:
        return self._depvar()

    @property
    def __maketables_fixef_string__(self) -> str | None:
        return self._fixef_string()

    @property
    def __maketables_vcov_info__(self) -> dict[str, Any]:
        spec = self.inference.spec
        return {"vcov_type": inference_name(self.inference, self._default_cluster()),
                "clustervar": "+".join(spec.cluster or self._default_cluster() or ()) or None}

    def _default_cluster(self) -> tuple[str, ...] | None:
        spec = getattr(self, "spec", None)
        return spec.cluster if isinstance(spec, ModelSpec) else None

    @property
    def __maketables_stat_labels__(self) -> dict[str, str]:
        return {"n_firms": "Firms", "n_clusters": "Clusters", "r2_within": "R2 (within)", "r2": "R2 (overall)",
                "ll": "Log-likelihood", "inference": "Inference", "dep_mean": "Mean of dependent variable"}

    @property
    def __maketables_default_stat_keys__(self) -> list[str]:
        available = self._stats()
        return [k for k in ("N", "n_firms", "n_clusters", "r2_within", "r2", "ll", "inference") if available.get(k) is not None]

    def _check_term(self, term: str) -> None:
        if term not in self.params.index:
            raise SpecificationError(
                f"term {term!r} is not in this result; its terms are {list(self.params.index)}."
            )


#: what ``wald_test`` needs from the inference layer, installed by
#: :mod:`gvcpanel.inference.dispatch` (which builds on this module, so it cannot be imported here)
_RESTRICTION_TEST: list[Callable[..., Any]] = []
_CONTRAST_DF: list[Callable[..., Any]] = []


def register_inference_layer(restriction_test: Callable[..., Any], contrast_df: Callable[..., Any]) -> None:
    """Install the two functions of the inference layer that :meth:`ResultBase.wald_test` uses
    (called by the inference dispatcher when it is imported).

    Parameters
    ----------
    restriction_test : callable
        ``restriction_test(design, a, r, spec) -> BootstrapTest``: the bootstrap test of
        a'b = r under a bootstrap inference.
    contrast_df : callable
        ``contrast_df(design, spec)``: None, or a function of a q x k array giving the degrees
        of freedom of each contrast (CR2's Satterthwaite degrees of freedom).
    """
    _RESTRICTION_TEST[:] = [restriction_test]
    _CONTRAST_DF[:] = [contrast_df]


def rerun_wald(result: ResultBase, restrictions: Any, value: Any, spec: InferenceSpec) -> "TestResult":
    """The same Wald test after ``result.with_inference(spec)`` (kept picklable: no closure)."""
    return result.with_inference(spec).wald_test(restrictions, value)


_INFERENCE_NAMES = {"cluster": "CRV1", "cr2": "CR2", "cr3": "CR3", "wild": "wild bootstrap",
                    "score": "score bootstrap", "unadjusted": "conventional", "robust": "HC1",
                    "twoway": "two-way clustered", "driscoll_kraay": "Driscoll-Kraay"}


def inference_name(inference: Inference, default_cluster: Sequence[str] | None = None) -> str:
    """A short name of an inference for a table row: ``"CRV1 (stata) by cluster_id"``,
    ``"wild bootstrap (9,999 draws) by cluster_id"``, ``"HC1"``.

    Examples
    --------
    >>> from gvcpanel.inference.spec import Inference, InferenceSpec
    >>> inf = Inference(InferenceSpec(kind="cr2", cluster="cluster_id"), "", pd.DataFrame(), 11)
    >>> inference_name(inf)
    'CR2 by cluster_id'
    """
    spec = inference.spec
    name = _INFERENCE_NAMES.get(spec.kind, spec.kind)
    if spec.kind == "cluster":
        name += f" ({spec.preset})"
    draws = inference.details.get("draws") if isinstance(inference.details, Mapping) else None
    if spec.kind in BOOTSTRAP_KINDS and draws is not None:
        name += f" ({int(draws):,} draws)"
    cluster = spec.cluster or tuple(default_cluster or ())
    if cluster and spec.kind not in ("unadjusted", "robust", "driscoll_kraay"):
        name += f" by {'/'.join(cluster)}"
    return name


def _effect_name(effect: str) -> str:
    """Display name of an effect: ``firm_id`` as ``firm``, ``a#b`` as ``a^b``."""
    parts = [p.strip() for p in effect.replace("#", "^").split("^")]
    return "^".join("firm" if p == "firm_id" else p for p in parts)


_METHOD_LABELS = {"fe": "within", "fd": "first difference", "re": "random effects", "between": "between",
                  "pooled": "pooled OLS"}
_FIRM_EFFECT_BY_METHOD = {"fd": "differenced", "re": "random", "between": "firm means"}


# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelSpec:
    """What was asked: enough to say in a table how a column was estimated."""

    estimator: str  # the estimating function, e.g. "fe_regression" or "discrete_hazard"
    method: str  # fe / fd / re / between / pooled, or cloglog / logit
    dependent: str
    regressors: tuple[str, ...]
    effects: tuple[str, ...] = ()
    cluster: tuple[str, ...] | None = None
    formula: str | None = None
    options: tuple[tuple[str, Any], ...] = ()

    def option(self, name: str, default: Any = None) -> Any:
        return dict(self.options).get(name, default)


class FittedModel(Protocol):
    """What an estimator keeps so that inference can be recomputed without refitting."""

    def inference(self, spec: InferenceSpec) -> Inference: ...


@dataclass(frozen=True, repr=False)
class EstimationResult(ResultBase):
    """Coefficients of a regression or hazard model with their inference.

    Attributes
    ----------
    spec : ModelSpec
        What was estimated.
    params : pandas.Series
        Estimates, indexed by term.
    inference : Inference
        Covariance, reference distribution and (bootstraps) p-values and intervals.
    nobs : int
        Firm-years (or firm-periods at risk, for hazards) used in estimation.
    n_firms : int
        Firms contributing at least one observation.
    dep_mean : float
        Mean of the dependent variable on the estimation sample (before any transformation).
    exclusions : pandas.DataFrame
        Rows excluded before estimation, one row per reason (``reason``, ``n_rows``).
    fit_stats : Mapping
        Model-specific statistics (``r2``, ``r2_within``, ``loglik``, ...).
    provenance : Mapping
        Data hash, schema version, ...
    model : FittedModel
        The fitted design kept for :meth:`with_inference` (not compared, not shown).

    Examples
    --------
    >>> import gvcpanel as gp
    >>> panel = gp.simulate_panel(seed=1, n_firms=300, n_clusters=12).panel
    >>> res = gp.fe_regression(panel, "labour_productivity ~ quasi_hierarchy + network",
    ...                        inference="cr2")
    >>> res.nobs == len(res.model.y)
    True
    >>> print(res.summary())  # doctest: +ELLIPSIS
                               fe_regression (fe) of labour_productivity...
    """

    spec: ModelSpec
    params: pd.Series
    inference: Inference
    nobs: int
    n_firms: int
    dep_mean: float
    exclusions: pd.DataFrame
    fit_stats: Mapping[str, Any] = field(default_factory=dict)
    provenance: Mapping[str, str] = field(default_factory=dict)
    model: FittedModel | None = field(default=None, repr=False, compare=False)

    @property
    def _title(self) -> str:  # type: ignore[override]
        return f"{self.spec.estimator} ({self.spec.method}) of {self.spec.dependent}"

    def _refit(self, spec: InferenceSpec) -> "EstimationResult":
        if self.model is None:
            raise InferenceUnavailableError(
                "this result keeps no fitted model; re-estimate with inference=... instead."
            )
        return replace(self, inference=self.model.inference(spec))

    def _restriction_test(self, a: np.ndarray, r: float, spec: InferenceSpec) -> Any:
        if self.model is None or not _RESTRICTION_TEST:
            return super()._restriction_test(a, r, spec)
        return _RESTRICTION_TEST[0](self.model, a, r, spec)

    def _contrast_df(self, R: np.ndarray) -> np.ndarray | None:
        if self.model is None or not _CONTRAST_DF or not hasattr(self.model, "names"):
            return None
        if list(self.model.names) != list(self.params.index):
            return None
        of_contrasts = _CONTRAST_DF[0](self.model, self.inference.spec)
        return None if of_contrasts is None else np.asarray(of_contrasts(np.atleast_2d(R)), dtype=float)

    def _summary_header(self) -> tuple[tuple[str, str], ...]:
        rows: list[tuple[str, str]] = [("Observations", f"{self.nobs:,}"), ("Firms", f"{self.n_firms:,}")]
        if self.n_clusters is not None:
            rows.append(("Clusters", f"{self.n_clusters:,}"))
        if self.spec.effects:
            rows.append(("Effects", ", ".join(self.spec.effects)))
        for key, label in (("r2_within", "R-squared (within)"), ("r2_overall", "R-squared (overall)"),
                           ("r2", "R-squared (transformed data)" if self.spec.method in ("fd", "re") else "R-squared"),
                           ("r2_between", "R-squared (between)"), ("loglik", "Log-likelihood")):
            if key == "r2" and "r2_overall" in self.fit_stats:
                continue
            if key in self.fit_stats:
                rows.append((label, _num(self.fit_stats[key])))
        excluded = int(self.exclusions["n_rows"].sum()) if len(self.exclusions) else 0
        if excluded:
            rows.append(("Rows excluded", f"{excluded:,} (see .exclusions)"))
        return tuple(rows)

    def _depvar(self) -> str:
        return self.spec.dependent

    def _fixef_string(self) -> str | None:
        if self.spec.estimator != "fe_regression" or self.spec.method != "fe":
            return None
        return "+".join(self.spec.effects) or None

    @property
    def _is_hazard(self) -> bool:
        return self.spec.option("baseline") is not None

    def _estimator_label(self) -> str:
        if self._is_hazard:
            return f"{self.spec.method} hazard"
        return _METHOD_LABELS.get(self.spec.method, self.spec.method)

    def _table_effects(self) -> dict[str, str]:
        effects = [_effect_name(e) for e in self.spec.effects]
        if self._is_hazard:  # baseline-hazard dummies by period: calendar year or duration
            return {e: "baseline" for e in effects}
        if self.spec.method == "fe":
            return {e: "Yes" for e in effects}
        out = {}
        if self.spec.method in _FIRM_EFFECT_BY_METHOD:
            out["firm"] = _FIRM_EFFECT_BY_METHOD[self.spec.method]
        if "year" in effects and self.spec.method != "between":
            out["year"] = "Yes"
        return out

    def _table_note(self) -> str:
        if not self._is_hazard:
            return ""
        return "Hazard coefficients are log hazard ratios." if self.spec.method == "cloglog" else (
            "Hazard coefficients are log odds ratios.")

    def _stats(self) -> dict[str, Any]:
        fs = self.fit_stats
        return {
            "N": int(self.nobs),
            "n_firms": int(self.n_firms),
            "n_clusters": self.n_clusters,
            "r2": fs.get("r2_overall"),
            "r2_within": fs.get("r2_within"),
            "ll": fs.get("loglik"),
            "dep_mean": self.dep_mean,
            "inference": inference_name(self.inference, self.spec.cluster),
            "se_type": inference_name(self.inference, self.spec.cluster),
        }

    def __repr__(self) -> str:
        return (
            f"<EstimationResult: {self._title}; {len(self.params)} terms, {self.nobs:,} obs, "
            f"{self.n_firms:,} firms; {self.inference.label}>"
        )


# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, repr=False)
class TestResult(ResultBase):
    """A test: its statistic, degrees of freedom and p-value, with what was tested.

    Specification tests (Hausman, Mundlak), Wald tests of linear restrictions and bootstrap
    tests seen through :meth:`ResultBase.wald_test` share this shape.

    Attributes
    ----------
    name : str
        What the test is (``"Wald test"``, ``"Hausman (fe vs re)"``, ...).
    statistic : float
        The test statistic (F, chi-squared or bootstrap t; ``distribution`` says which).
    df : int
        Number of restrictions.
    pvalue : float
    detail : Mapping
        Test-specific facts (terms compared, notes, denominator degrees of freedom).
    params : pandas.Series
        The tested quantities (restricted combinations, differences of estimates, ...).
    inference : Inference
        Their covariance and reference distribution.
    null : pandas.Series, optional
        Their values under the null hypothesis (zero when omitted).
    distribution : str
        Reference distribution of ``statistic``, e.g. ``"F(1, 29)"`` or ``"chi2(3)"``.
    recompute : callable, optional
        ``recompute(spec)`` runs the same test under another inference (a picklable
        :func:`functools.partial`); None when the test cannot be rerun.
    """

    __test__ = False  # not a pytest test class, despite its name

    name: str
    statistic: float
    df: int
    pvalue: float
    detail: Mapping[str, Any] = field(default_factory=dict)
    params: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))
    inference: Inference | None = None
    null: pd.Series | None = None
    distribution: str = ""
    recompute: Callable[[InferenceSpec], "TestResult"] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.inference is None:
            from gvcpanel.inference.spec import Inference, InferenceSpec

            empty = pd.DataFrame(np.zeros((0, 0)))
            object.__setattr__(self, "inference", Inference(InferenceSpec(kind="unadjusted"), self.name, empty, None))

    @property
    def _title(self) -> str:  # type: ignore[override]
        return self.name

    def _nulls(self) -> pd.Series:
        if self.null is None:
            return super()._nulls()
        return self.null.reindex(self.params.index).fillna(0.0)

    def _refit(self, spec: InferenceSpec) -> "TestResult":
        if self.recompute is None:
            return super()._refit(spec)
        return self.recompute(spec)

    def _restriction_test(self, a: np.ndarray, r: float, spec: InferenceSpec) -> Any:
        bootstrap = self.detail.get("bootstrap") if isinstance(self.detail, Mapping) else None
        if bootstrap is not None and a.size == 1 and bootstrap.recompute is not None:
            return bootstrap.recompute(r=r / float(a[0]), spec=spec)
        return super()._restriction_test(a, r, spec)

    def _summary_header(self) -> tuple[tuple[str, str], ...]:
        rows = [("Statistic", f"{_num(self.statistic)}" + (f" ~ {self.distribution}" if self.distribution else "")),
                ("p-value", _pval(self.pvalue)), ("Restrictions", str(self.df))]
        note = self.detail.get("note") if isinstance(self.detail, Mapping) else None
        if note:
            rows.append(("Note", str(note)))
        return tuple(rows)

    def _stats(self) -> dict[str, Any]:
        return {"statistic": self.statistic, "pvalue": self.pvalue, "df": self.df, "inference": self.inference.label}

    def __repr__(self) -> str:
        dist = f" ~ {self.distribution}" if self.distribution else f" (df {self.df})"
        return f"<TestResult {self.name}: statistic {self.statistic:.4g}{dist}, p = {self.pvalue:.4g}>"

    def relabel(self, labels: Sequence[str]) -> "TestResult":
        """The same test with its restrictions named ``labels`` (one per restriction)."""
        labels = list(labels)
        inf = self.inference
        rename = dict(zip(self.params.index, labels))
        return replace(
            self,
            params=self.params.set_axis(labels),
            null=None if self.null is None else self.null.set_axis(labels),
            inference=replace(
                inf,
                cov=inf.cov.rename(index=rename, columns=rename),
                df_by_term=None if inf.df_by_term is None else inf.df_by_term.rename(index=rename),
                pvalues=None if inf.pvalues is None else inf.pvalues.rename(index=rename),
                ci=None if inf.ci is None else inf.ci.rename(index=rename),
            ),
            detail={**self.detail, "restrictions": tuple(labels)},
        )

    @classmethod
    def from_bootstrap(
        cls,
        test: Any,
        label: str,
        recompute: Callable[[InferenceSpec], "TestResult"] | None = None,
        n_clusters: int | None = None,
    ) -> "TestResult":
        """A :class:`TestResult` carrying a bootstrap test of one restriction (``test``)."""
        inner = test.inference
        inference = replace(
            inner,
            cov=pd.DataFrame(inner.cov.to_numpy(), index=[label], columns=[label]),
            pvalues=pd.Series([test.pvalue], index=[label]),
            ci=None if inner.ci is None else pd.DataFrame(inner.ci.to_numpy(), index=[label], columns=["lower", "upper"]),
            n_clusters=inner.n_clusters if inner.n_clusters is not None else n_clusters,
        )
        return cls(
            name=f"{inner.spec.kind} bootstrap test",
            statistic=float(test.statistic),
            df=1,
            pvalue=float(test.pvalue),
            detail={"restrictions": (label,), "bootstrap": test},
            params=pd.Series([test.estimate], index=[label], name="estimate"),
            inference=inference,
            null=pd.Series([test.null], index=[label]),
            distribution=f"{inner.spec.kind} bootstrap t ({test.draws} draws)",
            recompute=recompute,
        )


def exclusion_table(counts: Mapping[str, int]) -> pd.DataFrame:
    """Build the ``exclusions`` table from {reason: rows}, keeping reasons with zero rows out."""
    rows = [(reason, int(n)) for reason, n in counts.items() if int(n) > 0]
    return pd.DataFrame(rows, columns=["reason", "n_rows"])
