r"""Wild cluster bootstrap for one linear restriction :math:`a'b = r` of a least-squares fit.

The bootstrap works on the transformed design of a :class:`LinearDesign` (fixed effects already
partialled out, :math:`X = M_D X_{raw}`).  When the absorbed effects are nested in the bootstrap
clusters (firm effects with clustering by industrial cluster or by firm), the bootstrap errors
:math:`v\circ\tilde u` stay orthogonal to the absorbed dummies and the transformed design is all
one needs.  When an effect cuts across the clusters (year effects with industrial clusters) the
bootstrap residuals must be absorbed again (see "Effects not nested in the clusters" below);
this is done whenever the design carries ``absorb`` (:math:`M_D`).

Algorithm (restricted, WCR).  With :math:`M = (X'X)^{-1}`, :math:`\rho = M a`,
:math:`\delta = a'\hat b - r`, the restricted residuals are
:math:`\tilde u = \hat u + X\rho\,\delta / a'\rho`.  A draw :math:`v` (one weight per cluster)
gives :math:`y^* = X\tilde b + v\circ\tilde u` and

.. math::

    a'\hat b^* - r = \sum_g v_g c_g,\qquad c_g = \rho' X_g'\tilde u_g,

    \rho' X_g'\hat u^*_g = v_g c_g - d_g' M \sum_h v_h X_h'\tilde u_h,\qquad d_g = X_g'X_g\rho,

so that the bootstrap CRV1 t statistic needs only G-vectors and G x G matrices precomputed from
the cluster sums :math:`X_g'\hat u_g` and :math:`X_g'X_g\rho`: each draw costs O(G^2) instead of
O(nk), and all draws are one matrix product.  Because :math:`\tilde u` is linear in the null value
r, the same precomputed pieces give the bootstrap distribution at any r without refitting, which
makes confidence intervals by test inversion cheap.  The unrestricted bootstrap (WCU) uses
:math:`\hat u` and centres :math:`\hat b^*` on :math:`\hat b`.

Effects not nested in the clusters.  The bootstrap outcome is
:math:`y^* = X_{raw}\tilde b + D\tilde\alpha + v\circ\tilde u`; after absorption
:math:`\hat b^* - \tilde b = M X'M_D(v\circ\tilde u) = M X'(v\circ\tilde u)` (the
coefficients are unaffected) but the residuals are
:math:`\hat u^* = M_D(v\circ\tilde u) - X(\hat b^* - \tilde b)`, which differ from
:math:`v\circ\tilde u - X(\hat b^* - \tilde b)`.  Following boottest (Roodman, Nielsen,
MacKinnon and Webb 2019, *Stata Journal*), write :math:`w_h` for :math:`\tilde u` on the rows
of cluster h (zero elsewhere) and :math:`P_h = M_D w_h`; then
:math:`M_D(v\circ\tilde u) = \sum_h v_h P_h` and the scores become

.. math:: \rho' X_g'\hat u^*_g = \sum_h v_h A_{gh} - d_g' M \sum_h v_h X_h'\tilde u_h,
          \qquad A_{gh} = \rho' X_g' (P_h)_g,

still linear in the weights.  :math:`M_D` is applied once to the G columns :math:`w_h` (in
blocks, never forming an n x B array); each draw then costs O(G^2) instead of O(G).  As
:math:`\tilde u` is linear in r, :math:`A = A_0 + \frac{a'\hat b - r}{a'\rho} A_1` with
:math:`A_0` from :math:`\hat u` (shared by every restriction, cached per design) and
:math:`A_1` from :math:`X\rho` (one absorption of G columns per restriction).  With nested
effects :math:`A` is diagonal with :math:`A_{gg} = c_g`, the case above.  Beyond
``REABSORB_MAX_CLUSTERS`` clusters the O(G^2) draws would dominate, and the effects are
treated as partialled out once, as ``boottest`` does after ``areg``; the result says which.

p-values: symmetric :math:`P(|t^*| \ge |t|)` and equal-tailed
:math:`2\min(P(t^* \le t), P(t^* \ge t))` with B in the denominator; a draw that reproduces the
data (weights proportional to the ones vector, whose restricted t* is exactly :math:`\pm t`)
counts as exceeding it, so that two clusters cannot give p = 0 (see
:mod:`gvcpanel.inference.resampling`).  With many clusters such draws do not occur and the
p-values are those of ``boottest`` and ``wildboottest``.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from gvcpanel.errors import InferenceUnavailableError, SpecificationError
from gvcpanel.inference.clusters import crv1_scale, sum_by_group, warn_few_clusters
from gvcpanel.inference.designs import LinearDesign
from gvcpanel.inference.resampling import (  # noqa: F401 - the weights are re-exported
    WEBB_BELOW,
    bootstrap_pvalues,
    choose_weights,
    cluster_weights,
    data_draw_share,
    draw_weights,
    enumerate_rademacher,
    enumerate_webb,
    restriction_vector,
    smallest_pvalue_note,
)
from gvcpanel.inference.spec import Inference, InferenceSpec
from gvcpanel.progress import progress
from gvcpanel.results import ResultBase, combination_label

#: above this many clusters the G x G re-absorbed scores cost more than they correct (module notes)
REABSORB_MAX_CLUSTERS = 500
#: largest n x m block handed to the absorption at once (64 MB of float64)
_BLOCK_CELLS = 1 << 23


@dataclass(frozen=True, repr=False, eq=False)
class BootstrapTest(ResultBase):
    """Result of a wild (or score) bootstrap test of one linear restriction :math:`a'b = r`.

    It follows the result contract (:class:`gvcpanel.results.ResultBase`): ``params`` is the
    tested combination :math:`a'\\hat b`, ``pvalues`` the bootstrap p-value of H0: a'b = r,
    ``conf_int()`` the test-inversion interval (wild bootstrap; recomputed with the same draws
    at another level), ``with_inference("wild", draws=..., seed=...)`` reruns the test.

    Attributes
    ----------
    statistic : float
        Observed t statistic (CRV1, the preset's small-sample factor) of :math:`a'b = r`.
    pvalue : float
        Bootstrap p-value of the kind asked for (``pvalue_type``).
    pvalue_symmetric, pvalue_equal_tail : float
        Both two-sided p-values.
    ci : tuple of float or None
        Confidence interval for :math:`a'b` by test inversion (same draws), or None.
    t_boot : ndarray
        Bootstrap t statistics at the tested null value (length ``draws``).
    draws : int
        Number of bootstrap draws actually used (2^G when enumerated).
    weights_kind : str
        ``"rademacher"``, ``"webb"`` or ``"user"``.
    enumerated : bool
        Whether every weight vector (2^G Rademacher or 6^G Webb) was used once.
    bootstrap : str
        ``"restricted"`` or ``"unrestricted"``.
    estimate : float
        :math:`a'\\hat b`.
    null : float
        r.
    reabsorbed : bool
        Whether bootstrap residuals were absorbed again because an absorbed effect is not
        nested in the clusters (module notes).
    spec : InferenceSpec, optional
        The bootstrap asked for (kind, draws, seed, level of ``ci``).
    label : str
        Name of the combination a'b (``"quasi_hierarchy - network"``).
    n_clusters : int, optional
    recompute : callable, optional
        ``recompute(r=..., spec=...)`` reruns the test (a picklable :func:`functools.partial`
        of :func:`wild_test` or :func:`~gvcpanel.inference.score.score_test`).

    Notes
    -----
    The standard error shown is the one that makes ``statistic`` a t ratio,
    :math:`(a'\\hat b - r)/t`: the CRV1 standard error for the wild bootstrap, the implied
    one of the score (LM) statistic for the score bootstrap.
    """

    statistic: float
    pvalue: float
    ci: tuple[float, float] | None
    t_boot: np.ndarray
    draws: int
    weights_kind: str
    enumerated: bool
    pvalue_symmetric: float = np.nan
    pvalue_equal_tail: float = np.nan
    bootstrap: str = "restricted"
    estimate: float = np.nan
    null: float = 0.0
    reabsorbed: bool = False
    spec: InferenceSpec | None = None
    label: str = "a'b"
    n_clusters: int | None = None
    recompute: Callable[..., "BootstrapTest"] | None = field(default=None, compare=False)

    @property
    def kind(self) -> str:
        return self.spec.kind if self.spec is not None else "wild"

    @property
    def level(self) -> float:
        return self.spec.level if self.spec is not None else 0.95

    @property
    def std_error(self) -> float:
        if not np.isfinite(self.statistic) or self.statistic == 0:
            return np.nan
        return float(abs((self.estimate - self.null) / self.statistic))

    @property
    def params(self) -> pd.Series:  # type: ignore[override]
        return pd.Series([self.estimate], index=[self.label], name="estimate")

    @property
    def inference(self) -> Inference:  # type: ignore[override]
        spec = self.spec if self.spec is not None else InferenceSpec(kind="wild")
        draws = f"all {self.draws} sign vectors" if self.enumerated else f"{self.draws} draws"
        what = "score (Kline-Santos)" if spec.kind == "score" else f"wild cluster ({self.bootstrap})"
        index = [self.label]
        return Inference(
            spec,
            f"{what} bootstrap, {self.weights_kind} weights, {draws}",
            pd.DataFrame([[self.std_error**2]], index=index, columns=index),
            None,
            pvalues=pd.Series([self.pvalue], index=index, name="p"),
            ci=None if self.ci is None else pd.DataFrame([list(self.ci)], index=index, columns=["lower", "upper"]),
            n_clusters=self.n_clusters,
        )

    @property
    def _title(self) -> str:  # type: ignore[override]
        return f"Bootstrap test of {self.label} = {self.null:g}"

    def _nulls(self) -> pd.Series:
        return pd.Series([self.null], index=[self.label])

    def _summary_header(self) -> tuple[tuple[str, str], ...]:
        return (("Bootstrap t", f"{self.statistic:.4f}"), ("p-value", f"{self.pvalue:.4f}"),
                ("Symmetric / equal-tail p", f"{self.pvalue_symmetric:.4f} / {self.pvalue_equal_tail:.4f}"))

    def _rerun(self, **changes: Any) -> "BootstrapTest":
        if self.recompute is None:
            raise InferenceUnavailableError(
                "this bootstrap test keeps no design to rerun it; call wild_test or score_test again."
            )
        return self.recompute(**changes)

    def _refit(self, spec: InferenceSpec) -> "BootstrapTest":
        if spec.kind != self.kind:
            raise InferenceUnavailableError(
                f"a {self.kind} bootstrap test can be rerun with other bootstrap options (draws, seed, "
                f"weights, level), not as {spec.kind!r}; use result.with_inference({spec.kind!r}).wald_test(...)."
            )
        return self._rerun(r=self.null, spec=spec)

    def _restriction_test(self, a: np.ndarray, r: float, spec: InferenceSpec) -> "BootstrapTest":
        if spec.kind != self.kind:
            return self._refit(spec)  # raises, naming the alternatives
        return self._rerun(r=r / float(a[0]), spec=spec)

    def _intervals(self, level: float) -> pd.DataFrame:
        if self.ci is not None and abs(self.level - level) < 1e-12:
            return self.inference.ci
        if self.kind == "wild":
            spec = replace(self.spec or InferenceSpec(kind="wild"), level=level)
            return self._rerun(r=self.null, spec=spec, ci=True).inference.ci
        return super()._intervals(level)

    def __repr__(self) -> str:
        return (f"<BootstrapTest {self.label} = {self.null:g}: t = {self.statistic:.4g}, "
                f"p = {self.pvalue:.4g} ({self.kind}, {self.draws} draws)>")


def needs_reabsorption(design: LinearDesign, name: str) -> bool:
    """Whether bootstrap residuals clustered by ``name`` must be absorbed again.

    True when the design carries its absorption (``design.absorb``), has at most
    ``REABSORB_MAX_CLUSTERS`` clusters, and not every absorbed parameter belongs to an effect
    nested in ``name`` (``absorbed_nested[name] < k_absorbed``; an unknown count counts as not
    nested, which is always correct, only slower).
    """
    if design.absorb is None:
        return False
    if int(np.asarray(design.groups[name]).max()) + 1 > REABSORB_MAX_CLUSTERS:
        return False
    return not _all_nested(design, name)


def _all_nested(design: LinearDesign, name: str) -> bool:
    nested = design.absorbed_nested.get(name, 0)
    return design.k_absorbed > 0 and nested >= design.k_absorbed


def absorbed_cross(
    design: LinearDesign, codes: np.ndarray, left: np.ndarray, piece: np.ndarray
) -> np.ndarray:
    r"""Cluster cross-products with the absorbed cluster pieces of a vector.

    Parameters
    ----------
    design : LinearDesign
        Must carry ``absorb`` (:math:`M_D`).
    codes : ndarray (n)
        Cluster codes 0..G-1.
    left : ndarray (n x p)
    piece : ndarray (n)

    Returns
    -------
    ndarray (p x G x G)
        :math:`C_{jgh} = \sum_{i \in g} \mathrm{left}_{ij} (M_D w_h)_i`, with :math:`w_h` equal to
        ``piece`` on the rows of cluster h and zero elsewhere.

    Notes
    -----
    :math:`M_D` is applied to blocks of the G columns :math:`w_h` (at most ``_BLOCK_CELLS``
    entries at once); the sums over rows of each cluster are one sparse product per block.
    """
    n, p = left.shape
    n_groups = int(codes.max()) + 1
    rows = np.arange(n)
    # row j*G + g of `weighted` holds left[:, j] on the rows of cluster g
    weighted = sparse.csr_matrix(
        (left.T.ravel(), ((np.arange(p)[:, None] * n_groups + codes[None, :]).ravel(), np.tile(rows, p))),
        shape=(p * n_groups, n),
    )
    out = np.empty((p, n_groups, n_groups))
    step = max(1, _BLOCK_CELLS // max(n, 1))
    for lo in range(0, n_groups, step):
        hi = min(n_groups, lo + step)
        inside = (codes >= lo) & (codes < hi)
        block = np.zeros((n, hi - lo), order="F")
        block[rows[inside], codes[inside] - lo] = piece[inside]
        projected = np.asarray(design.absorb(block), dtype=float)
        out[:, :, lo:hi] = np.asarray(weighted @ projected).reshape(p, n_groups, hi - lo)
    return out


# the G x G x k cross-products of X with the absorbed cluster pieces of the unrestricted
# residuals serve every restriction on a design: kept while the design lives
_RESIDUAL_CROSS: "weakref.WeakKeyDictionary[LinearDesign, dict[str, np.ndarray]]" = weakref.WeakKeyDictionary()


def _residual_cross(design: LinearDesign, name: str, codes: np.ndarray) -> np.ndarray:
    cached = _RESIDUAL_CROSS.setdefault(design, {})
    if name not in cached:
        cached[name] = absorbed_cross(design, codes, design.X, design.resid)
    return cached[name]


class _WildEngine:
    """Precomputed cluster-level pieces of one restriction; t* at any null value by matrix algebra."""

    def __init__(
        self,
        design: LinearDesign,
        a: np.ndarray,
        codes: np.ndarray,
        v: np.ndarray,
        scale: float,
        restricted: bool,
        reabsorb_as: str | None = None,
    ):
        X, u = design.X, design.resid
        bread = np.linalg.inv(X.T @ X)
        rho = bread @ a
        self.a_rho = float(a @ rho)
        self.estimate = float(a @ design.params)
        self.scale = scale
        self.restricted = restricted
        s0 = sum_by_group(X * u[:, None], codes)  # X_g' u_g
        fitted_rho = X @ rho
        d = sum_by_group(X * fitted_rho[:, None], codes)  # X_g' X_g rho
        self.c0 = s0 @ rho  # rho' X_g' u_g
        self.c1 = d @ rho  # rho' X_g' X_g rho
        md = bread @ d.T  # k x G
        self.v = v
        self.vc0 = v @ self.c0
        self.vc1 = v @ self.c1
        self.vp0 = v @ (s0 @ md)  # B x G: sum_h v_h s_h' M d_g
        self.vp1 = v @ (d @ md)
        self.se = float(np.sqrt(scale * np.sum(self.c0**2)))
        self.reabsorbed = reabsorb_as is not None
        if self.reabsorbed:
            # A0[g, h] = rho' X_g' (M_D u_h)_g and A1 the same with X rho for u (module notes)
            a0 = np.einsum("j,jgh->gh", rho, _residual_cross(design, reabsorb_as, codes))
            a1 = absorbed_cross(design, codes, fitted_rho[:, None], fitted_rho)[0]
            self.va0 = v @ a0.T  # B x G: sum_h v_h A0[g, h]
            self.va1 = v @ a1.T

    def t_observed(self, r: float) -> float:
        return (self.estimate - r) / self.se

    def t_boot(self, r: float) -> np.ndarray:
        # restricted residuals move linearly with the null value; unrestricted ones do not
        shift = (self.estimate - r) / self.a_rho if self.restricted else 0.0
        numer = self.vc0 + shift * self.vc1
        if self.reabsorbed:
            own = self.va0 + shift * self.va1
        else:
            own = self.v * (self.c0 + shift * self.c1)
        scores = own - (self.vp0 + shift * self.vp1)
        denom = np.sqrt(self.scale * np.sum(scores**2, axis=1))
        return numer / denom

    def pvalues(self, r: float) -> tuple[float, float, np.ndarray, float]:
        t = self.t_observed(r)
        tb = self.t_boot(r)
        sym, equal = bootstrap_pvalues(t, tb)
        return sym, equal, tb, t


def _invert(engine: _WildEngine, alpha: float, pvalue_type: str, half_width: float) -> tuple[float, float]:
    """Interval {r : p(r) > alpha} by bisection on each side of the estimate."""
    pick = 0 if pvalue_type == "symmetric" else 1

    def accepted(r: float) -> bool:
        return engine.pvalues(r)[pick] > alpha

    if engine.restricted and data_draw_share(engine.v) > alpha:
        # the draws that reproduce the data keep every p-value above alpha: no r is rejected
        return -np.inf, np.inf
    ends = []
    for sign in (-1.0, 1.0):
        inner = engine.estimate
        step = max(half_width, 1e-12 * max(1.0, abs(engine.estimate)))
        outer = inner + sign * step
        n_expand = 0
        while accepted(outer):
            inner, outer = outer, outer + sign * step * 2**n_expand
            n_expand += 1
            if n_expand > 60:
                raise SpecificationError(
                    "the bootstrap confidence set is unbounded at this level; too few clusters "
                    "or draws for an interval (report the p-value instead)."
                )
        tol = 1e-9 * max(half_width, 1e-300)
        while abs(outer - inner) > tol:
            mid = (inner + outer) / 2
            if accepted(mid):
                inner = mid
            else:
                outer = mid
        ends.append((inner + outer) / 2)
    return ends[0], ends[1]


def wild_test(
    design: LinearDesign,
    R: np.ndarray | Mapping[str, float] | str,
    r: float = 0.0,
    spec: InferenceSpec | None = None,
    weights: np.ndarray | pd.DataFrame | None = None,
    *,
    pvalue_type: str = "symmetric",
    ci: bool = True,
) -> BootstrapTest:
    """Wild cluster bootstrap test of one linear restriction R b = r.

    Parameters
    ----------
    design : LinearDesign
    R : str, mapping or array
        The restriction: a term (``"quasi_hierarchy"``), a contrast
        (``{"quasi_hierarchy": 1, "network": -1}``) or a length-k array.
    r : float
        Null value.
    spec : InferenceSpec, optional
        Draws, weights, restricted/unrestricted, seed, level, preset and cluster
        (default ``InferenceSpec(kind="wild")``).
    weights : ndarray (B x G) or DataFrame (columns = cluster labels), optional
        Draws to use instead of drawing them (to share draws across tests).
    pvalue_type : {"symmetric", "equal_tail"}
        Which p-value is reported as ``pvalue`` and inverted for the interval.
    ci : bool
        Compute the confidence interval by test inversion.

    Returns
    -------
    BootstrapTest

    Notes
    -----
    See the module docstring for the algorithm and :mod:`gvcpanel.inference.resampling` for the
    p-values.  The interval is :math:`\\{r_0 : p(r_0) > 1 - level\\}` with the same draws at
    every :math:`r_0`, found by bisection from the estimate outwards to 1e-9 of the CRV1
    half-width; it is the whole line when the draws that reproduce the data are more than
    1 - level of all draws (two clusters, for example).  Below
    :data:`~gvcpanel.inference.clusters.FEW_CLUSTERS_BOOTSTRAP` clusters a
    :class:`~gvcpanel.errors.FewClustersWarning` says so, with the smallest attainable p-value,
    unless ``weights`` are given (the caller then warns once for all its tests).
    """
    spec = spec or InferenceSpec(kind="wild")
    if pvalue_type not in ("symmetric", "equal_tail"):
        raise SpecificationError(f"pvalue_type={pvalue_type!r}; use 'symmetric' or 'equal_tail'.")
    if not isinstance(ci, bool):
        raise SpecificationError(f"ci={ci!r}; use True or False.")
    a = restriction_vector(design, R)
    name, codes, v, kind, enumerated = cluster_weights(design, spec, weights)
    n_groups = v.shape[1]
    if weights is None:
        note = smallest_pvalue_note(v, kind, enumerated, n_groups, spec.bootstrap == "restricted")
        warn_few_clusters(n_groups, "wild", name, note)
    n, k = design.X.shape
    scale = crv1_scale(spec.preset, n, k, n_groups, design.k_absorbed, design.absorbed_nested.get(name, 0))
    reabsorb_as = name if needs_reabsorption(design, name) else None
    engine = _WildEngine(design, a, codes, v, scale, spec.bootstrap == "restricted", reabsorb_as)
    sym, equal, tb, t = engine.pvalues(r)
    interval = None
    if ci:
        from scipy import stats

        half = float(stats.t.ppf(0.5 + spec.level / 2, n_groups - 1)) * engine.se
        interval = _invert(engine, 1 - spec.level, pvalue_type, half)
    return BootstrapTest(
        statistic=float(t),
        pvalue=sym if pvalue_type == "symmetric" else equal,
        ci=interval,
        t_boot=tb,
        draws=int(v.shape[0]),
        weights_kind=kind,
        enumerated=enumerated,
        pvalue_symmetric=sym,
        pvalue_equal_tail=equal,
        bootstrap=spec.bootstrap,
        estimate=engine.estimate,
        null=float(r),
        reabsorbed=engine.reabsorbed,
        spec=spec,
        label=combination_label(a, design.names),
        n_clusters=n_groups,
        recompute=partial(wild_test, design, R, weights=weights, pvalue_type=pvalue_type, ci=ci),
    )


def _draws_text(draws: int, kind: str, enumerated: bool) -> str:
    if not enumerated:
        return f"{draws} draws"
    return f"all {draws} {'sign' if kind == 'rademacher' else 'weight'} vectors"


def _absorption_note(design: LinearDesign, name: str, reabsorbed: bool) -> str:
    if reabsorbed:
        return f"; residuals re-absorbed for effects not nested in {name}"
    if design.absorb is not None and not _all_nested(design, name):
        return f"; effects not nested in {name} partialled out once (over {REABSORB_MAX_CLUSTERS} clusters)"
    return ""


def wild_inference(
    design: LinearDesign, spec: InferenceSpec, cov: pd.DataFrame, name: str, sizes: tuple[int, float, int]
) -> Inference:
    """Inference for ``kind="wild"``: CRV1 covariance, bootstrap p-values and intervals per term.

    One set of draws is shared by every coefficient's test (H0: b_j = 0) and interval.
    """
    codes = np.asarray(design.groups[name])
    n_groups = int(codes.max()) + 1
    v, kind, enumerated = choose_weights(n_groups, spec)
    note = smallest_pvalue_note(v, kind, enumerated, n_groups, spec.bootstrap == "restricted")
    warn_few_clusters(n_groups, "wild", name, note)
    reabsorbed = needs_reabsorption(design, name)
    pvals, lower, upper = [], [], []
    for j, term in enumerate(progress(design.names, desc="wild bootstrap", unit="term")):
        test = wild_test(design, term, 0.0, spec, weights=v)
        pvals.append(test.pvalue)
        lower.append(test.ci[0])
        upper.append(test.ci[1])
    index = list(design.names)
    label = (
        f"wild cluster bootstrap ({spec.bootstrap}, {kind} weights, "
        f"{_draws_text(v.shape[0], kind, enumerated)}) "
        f"by {name}{_absorption_note(design, name, reabsorbed)}; CRV1 ({spec.preset}) standard errors"
    )
    return Inference(
        spec,
        label,
        cov,
        n_groups - 1,
        pvalues=pd.Series(pvals, index=index, name="p"),
        ci=pd.DataFrame({"lower": lower, "upper": upper}, index=index),
        n_clusters=n_groups,
        cluster_sizes=sizes,
        details={"draws": int(v.shape[0]), "weights": kind, "enumerated": enumerated, "bootstrap": spec.bootstrap,
                 "reabsorbed": reabsorbed, "absorbed_effects": design.absorbed_effects},
    )
