"""Linear panel regressions: within (any fixed effects), first differences, random effects,
between and pooled OLS, with the Hausman and Mundlak (correlated random effects) tests.

Every method ends in ordinary least squares on transformed data; the transformed problem is
handed to the inference layer as a :class:`~gvcpanel.inference.designs.LinearDesign`, so
every covariance choice (CRV1 presets, CR2, wild bootstrap, ...) works on every method.

How each method treats the ``effects=`` argument
------------------------------------------------
- ``"fe"``: all listed effects are absorbed (``"firm"``, ``"year"``, any column, or an
  interaction ``"cluster_id^year"``; ``"a#b"`` is accepted as a synonym).  Effects come from the
  formula (``"y ~ x | firm + year"``) or, when it has no ``|`` part, from ``effects=``.
- ``"fd"``: the firm effect is removed by differencing; ``"year"`` enters as differenced year
  dummies (Wooldridge's ``d88``, ``d89`` in differences), otherwise an intercept (a trend in
  levels).  Differences are taken only between consecutive years of the same firm: the first
  year of each firm and any year that follows a gap have no difference and are counted in the
  exclusions.
- ``"re"``: the firm effect is random (Swamy-Arora variance components as estimated by
  linearmodels' ``RandomEffects``); ``"year"`` enters as year dummies next to an intercept.
- ``"between"``: OLS of firm means with an intercept; ``"year"`` is not used.
- ``"pooled"``: OLS with an intercept; ``"year"`` enters as year dummies; the firm effect is
  omitted.
Other effects than firm and year need ``method="fe"``.

The intercept of the ``re``, ``between``, ``pooled`` and (without year dummies) ``fd`` methods
follows the formula: ``- 1`` or ``+ 0`` leaves it out.  Dummies of categorical terms are coded
against their base whenever an intercept, absorbed effects or differencing span the constant.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from gvcpanel import kernels
from gvcpanel.models.absorb import (
    DEFAULT_MAXITER,
    DEFAULT_TOL,
    Absorber,
    FixedEffect,
    compress_codes,
    rank_of,
    refines,
)
from gvcpanel.errors import (
    AbsorbedVariableWarning,
    IdentificationError,
    PanelStructureError,
    SpecificationError,
    SpecificationTestWarning,
)
from gvcpanel.formula.evaluate import DerivedColumn
from gvcpanel.formula.frame import Arrays, canonical, derived_of, effect_columns, evaluate, panel_frame, take_rows
from gvcpanel.formula.parse import ParsedFormula, effect_label, parse_formula
from gvcpanel.inference.designs import CrossedDummies, LinearDesign
from gvcpanel.inference.spec import Inference, InferenceSpec, parse_inference
from gvcpanel.models.weights import inference_columns, row_weights
from gvcpanel.options import (
    check_bool,
    check_choice,
    check_cluster,
    check_magnitudes,
    check_squares,
    check_names,
    check_positive,
)
from gvcpanel.results import EstimationResult, ModelSpec, TestResult, exclusion_table

METHODS = ("fe", "fd", "re", "between", "pooled")
#: a regressor is absorbed when its transformed norm is below this fraction of its raw norm
#: (demeaning leaves rounding noise near 1e-14 of it, the absorption tolerance near 1e-10)
ABSORBED_TOL = 1e-7
#: a regressor is collinear when its residual on the earlier regressors has a norm below this
#: fraction of its own; the Gram matrix resolves norms only to about sqrt(machine eps), 1.5e-8
COLLINEAR_TOL = 1e-6


# --- public API --------------------------------------------------------------------------------
DEFAULT_EFFECTS = ("firm", "year")


def fe_regression(
    panel: Any,
    formula: str,
    effects: Sequence[str] | None = None,
    cluster: str | Sequence[str] | None = "cluster_id",
    method: str = "fe",
    inference: str | Mapping[str, Any] | InferenceSpec | None = "cluster",
    *,
    drop_singletons: bool = True,
    tol: float = DEFAULT_TOL,
    maxiter: int = DEFAULT_MAXITER,
    derived: Mapping[str, DerivedColumn] | None = None,
    weights: str | None = None,
) -> EstimationResult:
    """Linear panel regression of a firm-year outcome.

    Parameters
    ----------
    panel : FirmPanel or pandas.DataFrame
        A validated panel (``panel.data`` is used) or a frame indexed by (firm_id, year).
    formula : str
        ``"outcome ~ terms | effects"`` in the language of :mod:`gvcpanel.formula.parse`
        (``log(x)``, ``a*b*c``, ``C(x)``, ``i(x, ref=r)``, ``I(x**2)``, ``l(x, 1)``, ``d(x)``, ``- 1``;
        text and categorical columns give dummies).
    effects : str or sequence of str, optional
        Fixed effects when the formula has no ``|`` part (default firm and year); see the module
        docstring for their meaning under each method.  One name is one effect:
        ``effects="firm"`` means ``("firm",)``.  Giving effects in both places is an error.
    cluster : str or sequence of str, optional
        Default clustering variable(s) of the inference (``"firm"`` means ``firm_id``).
    method : {"fe", "fd", "re", "between", "pooled"}
    inference : str, mapping or InferenceSpec
        Covariance or bootstrap choice, see :func:`gvcpanel.inference.spec.parse_inference`.
    drop_singletons : bool
        Drop rows alone in a level of a fixed effect (method ``"fe"``), counted in the exclusions.
    tol, maxiter : float, int
        Convergence of the absorption, see :mod:`gvcpanel.models.absorb`.
    derived : mapping, optional
        Names computed from the data (:class:`gvcpanel.formula.evaluate.DerivedColumn`), added to
        the registered ones (:func:`gvcpanel.formula.frame.derived_of`).
    weights : str, optional
        Column of probability weights (methods ``"fe"`` and ``"pooled"``): weighted least squares
        with the fixed effects absorbed by weighted means; conventions in
        :mod:`gvcpanel.models.weights`.  Rows whose weight is missing or 0 are left out and counted.

    Returns
    -------
    EstimationResult
        ``model`` is the :class:`LinearDesign`; ``fit_stats`` holds R-squared values, the
        absorption report and dropped regressors.

    Notes
    -----
    Within: :math:`\\tilde y = \\tilde X \\beta + \\tilde u` with :math:`\\tilde z = M_D z`, the
    residual of :math:`z` on the fixed-effect dummies :math:`D`.  Random effects: with
    :math:`\\theta_i = 1 - \\sqrt{\\sigma^2_e / (T_i \\sigma^2_u + \\sigma^2_e)}`, OLS of
    :math:`y_{it} - \\theta_i \\bar y_i` on :math:`x_{it} - \\theta_i \\bar x_i` (and
    :math:`1 - \\theta_i`).  First differences: OLS of :math:`\\Delta y_{it}` on
    :math:`\\Delta x_{it}` for consecutive years.

    Examples
    --------
    >>> res = fe_regression(frame, "y ~ x1 + log(x2) | firm + year")  # doctest: +SKIP
    """
    # every option is checked before the data are touched
    method = check_choice(method, METHODS, "method")
    _check_formula(formula)
    effects = None if effects is None else check_names(effects, "effects", example="'firm'")
    clusters = _cluster_names(cluster)
    drop_singletons = check_bool(drop_singletons, "drop_singletons")
    tol = check_positive(tol, "tol")
    maxiter = check_positive(maxiter, "maxiter", integer=True)
    spec_inf = parse_inference(inference)
    if weights is not None and method not in ("fe", "pooled"):
        raise SpecificationError(
            f"weights= is available for method 'fe' and 'pooled'; method={method!r} would weight a "
            "transformation (differences, firm means, quasi-demeaning) whose weighted form is not defined here.")
    frame, provenance = panel_frame(panel)
    parsed = parse_formula(formula)
    effects = _effects(parsed, effects)
    _check_effects(effects, method)
    row_w, weight_exclusions, rows = row_weights(frame, weights, None)
    group_cols = [c for e in effects for c in effect_columns(e)] + list(clusters or ())
    group_cols += inference_columns(spec_inf, frame, group_cols)
    if "cluster_id" in frame.columns and "cluster_id" not in group_cols:
        # kept for clustering later, but rows missing it are not dropped for a model that does not need it
        optional = ["cluster_id"] if not frame["cluster_id"].isna().any() else []
    else:
        optional = []
    arrays = evaluate(frame, parsed, group_cols, derived=derived_of(panel, derived),
                      spans_intercept=_spans_intercept(parsed, method, effects), rows=rows, weights=row_w,
                      singletons=effects if method == "fe" and drop_singletons else (), later=optional)
    if weight_exclusions:
        arrays = replace(arrays, exclusions={**weight_exclusions, **arrays.exclusions})
    if method != "fe" or row_w is not None:
        # the unweighted within fit checks the sums of squares its absorption reads anyway
        check_magnitudes(arrays.data, (arrays.dependent, *arrays.terms), "the regression")
    fit = _FITTERS[method](arrays, effects, clusters, drop_singletons=drop_singletons, tol=tol, maxiter=maxiter,
                           intercept=parsed.intercept)
    design = fit.design
    spec = ModelSpec(
        estimator="fe_regression",
        method=method,
        dependent=parsed.dependent.expr,
        regressors=design.names,
        effects=fit.effects,
        cluster=clusters,
        formula=formula,
        options=(("drop_singletons", drop_singletons), ("tol", tol),
                 *((("weights", weights),) if weights is not None else ())),
    )
    return EstimationResult(
        spec=spec,
        params=pd.Series(design.params, index=list(design.names), name="estimate"),
        inference=design.inference(spec_inf),
        nobs=fit.nobs,
        n_firms=fit.n_firms,
        dep_mean=fit.dep_mean,
        exclusions=exclusion_table(fit.exclusions),
        fit_stats=fit.stats,
        provenance=provenance,
        model=design,
    )


def hausman_test(fe_result: EstimationResult, re_result: EstimationResult) -> TestResult:
    r"""Classical Hausman test of fixed against random effects, as plm's ``phtest`` and Stata's ``hausman``.

    Parameters
    ----------
    fe_result, re_result : EstimationResult
        Within (``method="fe"``) and random-effects (``method="re"``) fits of the same formula,
        in that order.  Their covariances are used as they are; the classical test assumes both
        are conventional (``inference="unadjusted"``).

    Returns
    -------
    TestResult
        ``df`` is the rank of :math:`V_{FE} - V_{RE}`; ``detail`` lists the terms compared, the
        eigenvalues of the difference, whether it is positive semi-definite and the covariance
        labels.

    Warns
    -----
    SpecificationTestWarning
        When :math:`V_{FE} - V_{RE}` has a negative eigenvalue (not positive semi-definite): the
        statistic is still the generalized-inverse form below, as plm and Stata report it, but
        the asymptotic argument behind the test fails in this sample.

    Notes
    -----
    Over the q coefficients both models estimate (time-varying regressors; the intercept and
    year dummies are not in the within fit), with :math:`d = b_{FE} - b_{RE}` and
    :math:`D = V_{FE} - V_{RE} = \sum_j \lambda_j e_j e_j'`,

    .. math:: H = d' D^{+} d = \sum_{j:\,|\lambda_j| > \tau} (e_j'd)^2 / \lambda_j
              \;\sim\; \chi^2_{\operatorname{rank} D},

    with the Moore-Penrose inverse :math:`D^+` and the rank counted as numpy's ``matrix_rank``
    does, :math:`\tau = q\,\epsilon\,\max_j|\lambda_j|`.  Negative eigenvalues are kept (a small
    negative eigenvalue is a property of the sample, not rounding), so with a full-rank D this
    is :math:`d'D^{-1}d` on q degrees of freedom, as ``plm::phtest`` (2.6-2) computes it; Stata's
    ``hausman`` uses a generalized inverse and its rank in the same way.  A negative H (possible
    only when D is not positive semi-definite) has no chi-squared p-value: the p-value is then
    NaN (plm would report the absolute value).  Reference: plm's ``Produc`` data,
    ``tests/test_produc_reference.py``.
    """
    for role, result, method in (("fe_result", fe_result, "fe"), ("re_result", re_result, "re")):
        spec = getattr(result, "spec", None)
        if spec is None or not hasattr(result, "params") or not hasattr(result, "cov"):
            raise SpecificationError(
                f"hausman_test: {role} must be a result of fe_regression, not {type(result).__name__}."
            )
        if getattr(spec, "method", None) != method:
            raise SpecificationError(
                f"hausman_test: {role} was estimated with method={spec.method!r}; pass the within fit "
                "(method='fe') first and the random-effects fit (method='re') second."
            )
    common = [t for t in fe_result.params.index if t in re_result.params.index and t != "Intercept"]
    if not common:
        raise SpecificationError(
            "the two results share no coefficient; estimate the same formula with method='fe' and 're'."
        )
    diff = (fe_result.params[common] - re_result.params[common]).to_numpy()
    vdiff = fe_result.cov.loc[common, common].to_numpy() - re_result.cov.loc[common, common].to_numpy()
    if not (np.all(np.isfinite(diff)) and np.all(np.isfinite(vdiff))):
        raise SpecificationError("hausman_test: the estimates or covariances are not finite; check both fits.")
    values, vectors = np.linalg.eigh((vdiff + vdiff.T) / 2)
    tolerance = len(common) * np.finfo(float).eps * max(float(np.abs(values).max()), 1e-300)
    nonzero = np.abs(values) > tolerance
    rank = int(nonzero.sum())
    if rank == 0:
        raise IdentificationError(
            "hausman_test: V_fe - V_re is zero, so the difference of the estimates has no variance to "
            "test against; the two fits are the same model."
        )
    proj = vectors[:, nonzero].T @ diff
    statistic = float(np.sum(proj**2 / values[nonzero]))
    negative = values < -tolerance
    note = ""
    if negative.any():
        note = (
            "V_fe - V_re is not positive semi-definite (negative eigenvalues "
            f"{', '.join(f'{v:.3g}' for v in values[negative])}); the statistic uses its generalized inverse, as plm and Stata do, but the test's "
            "asymptotic justification fails in this sample"
        )
        warnings.warn(
            f"Hausman test: {note}. Consider the cluster-robust Mundlak test (gp.mundlak_test).",
            SpecificationTestWarning,
            stacklevel=2,
        )
    return TestResult(
        name="Hausman (fe vs re)",
        statistic=statistic,
        df=rank,
        pvalue=float(stats.chi2.sf(statistic, rank)) if statistic >= 0 else float("nan"),
        detail={
            "terms": tuple(common),
            "positive_definite": bool((values > tolerance).all()),
            "positive_semidefinite": not bool(negative.any()),
            "eigenvalues": tuple(float(v) for v in values[::-1]),
            "rank": rank,
            "note": note,
            "inference": (fe_result.inference.label, re_result.inference.label),
        },
        # the contract: the differences b_fe - b_re with V_fe - V_re, and the test rerun under
        # another inference of both fits
        params=pd.Series(diff, index=common, name="estimate"),
        inference=Inference(fe_result.inference.spec, "V_fe - V_re (" + fe_result.inference.label + ")",
                            pd.DataFrame(vdiff, index=common, columns=common), None),
        distribution=f"chi2({rank})",
        recompute=partial(_hausman_again, fe_result, re_result),
    )


def _hausman_again(fe_result: EstimationResult, re_result: EstimationResult, spec: InferenceSpec) -> TestResult:
    return hausman_test(fe_result.with_inference(spec), re_result.with_inference(spec))


def mundlak_test(
    panel: Any,
    formula: str,
    cluster: str | Sequence[str] | None = "cluster_id",
    method: str = "re",
    effects: Sequence[str] | None = None,
    inference: str | Mapping[str, Any] | InferenceSpec | None = "cluster",
) -> TestResult:
    """Cluster-robust Mundlak (correlated random effects) test.

    Adds the firm means of the time-varying regressors to a random-effects (or pooled) model and
    tests them jointly with the chosen (by default cluster-robust) covariance.

    Parameters
    ----------
    panel, formula, cluster, effects, inference
        As in :func:`fe_regression`.
    method : {"re", "pooled"}

    Returns
    -------
    TestResult
        ``statistic`` is the Wald chi-squared, ``detail`` holds the F form, its p-value with
        the inference's degrees of freedom, the mean terms and the full result.

    Notes
    -----
    Model: :math:`y_{it} = x_{it}'\\beta + \\bar x_i'\\gamma + c_i + u_{it}`; H0: :math:`\\gamma = 0`
    (the firm effect is uncorrelated with the regressors).  :math:`W = \\hat\\gamma' V_\\gamma^{-1}
    \\hat\\gamma \\sim \\chi^2_q`.
    """
    if method not in ("re", "pooled"):
        raise SpecificationError(f"method={method!r}; mundlak_test needs method='re' or 'pooled'.")
    _check_formula(formula)
    effects = None if effects is None else check_names(effects, "effects", example="'firm'")
    clusters = _cluster_names(cluster)
    spec_inf = parse_inference(inference)
    frame, _ = panel_frame(panel)
    parsed = parse_formula(formula)
    effects = _effects(parsed, effects)
    _check_effects(effects, method)
    arrays = evaluate(frame, parsed, list(clusters or ()), derived=derived_of(panel),
                      spans_intercept=_spans_intercept(parsed, method, effects))
    check_magnitudes(arrays.data, (arrays.dependent, *arrays.terms), "the regression")
    firm = arrays.codes["firm_id"]
    counts = np.bincount(firm).astype(float)
    means, names = [], []
    for j, term in enumerate(arrays.terms, start=1):
        col = arrays.data[:, j]
        m = np.bincount(firm, col) / counts
        if np.abs(col - m[firm]).max() > 1e-12 * max(np.abs(col).max(), 1.0):
            means.append(m[firm])
            names.append(f"mean({term})")
    if not means:
        raise IdentificationError(
            f"no regressor of {formula!r} varies within firms; the Mundlak test has nothing to test."
        )
    data = np.asfortranarray(np.column_stack([arrays.data, *means]))
    augmented = Arrays(data, (*arrays.terms, *names), arrays.dependent, arrays.codes, arrays.labels,
                       arrays.exclusions)
    fit = _FITTERS[method](augmented, effects, clusters, intercept=parsed.intercept)
    return _mundlak_result(fit.design, tuple(n for n in names if n in fit.design.names), method, spec_inf)


def _mundlak_result(design: LinearDesign, present: tuple[str, ...], method: str, spec: InferenceSpec) -> TestResult:
    """The Mundlak Wald test of the firm-mean terms ``present`` under the inference ``spec``."""
    inf = design.inference(spec)
    idx = [design.names.index(n) for n in present]
    gamma = design.params[idx]
    cov = inf.cov.to_numpy()[np.ix_(idx, idx)]
    wald = float(gamma @ np.linalg.solve(cov, gamma))
    q = len(idx)
    f_df = inf.df if inf.df is not None else np.inf
    return TestResult(
        name=f"Mundlak ({method})",
        statistic=wald,
        df=q,
        pvalue=float(stats.chi2.sf(wald, q)),
        detail={
            "terms": tuple(present),
            "F": wald / q,
            "F_pvalue": float(stats.f.sf(wald / q, q, f_df)) if np.isfinite(f_df) else float(stats.chi2.sf(wald, q)),
            "inference": inf.label,
            "estimates": pd.Series(gamma, index=list(present)),
        },
        params=pd.Series(gamma, index=list(present), name="estimate"),
        inference=replace(inf, cov=inf.cov.loc[list(present), list(present)],
                          df_by_term=None if inf.df_by_term is None else inf.df_by_term[list(present)],
                          pvalues=None if inf.pvalues is None else inf.pvalues[list(present)],
                          ci=None if inf.ci is None else inf.ci.loc[list(present)]),
        distribution=f"chi2({q})",
        recompute=partial(_mundlak_result, design, present, method),
    )


# --- fitting ---------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class _Fit:
    design: LinearDesign
    nobs: int
    n_firms: int
    dep_mean: float
    exclusions: dict[str, int]
    stats: dict[str, Any]
    effects: tuple[str, ...]


def _cluster_names(cluster: str | Sequence[str] | None) -> tuple[str, ...] | None:
    names = check_cluster(cluster)
    return None if names is None else tuple(canonical(c) for c in names)


def _check_formula(formula: Any) -> None:
    if not isinstance(formula, str):
        raise SpecificationError(
            f"formula={formula!r}; give the model as a string, e.g. "
            "'y ~ x1 + log(x2) | firm + year'."
        )


def _effects(parsed: ParsedFormula, effects: Sequence[str] | None) -> tuple[str, ...]:
    """Effects from the formula's ``|`` part or from ``effects=`` (not both)."""
    if parsed.effects is not None:
        if effects is not None:
            raise SpecificationError(
                f"formula {parsed.formula!r} names its effects after '|' and effects={tuple(effects)!r} "
                "names them again; keep one of the two."
            )
        return parsed.effects
    if effects is None:
        return DEFAULT_EFFECTS
    if isinstance(effects, str):
        effects = (effects,)
    return tuple(effect_label(str(e).strip()) for e in effects)


def _spans_intercept(parsed: ParsedFormula, method: str, effects: tuple[str, ...]) -> bool:
    """Whether something in the model spans the constant (dummies then drop their base)."""
    if method in ("fe", "fd"):
        return True  # absorbed effects; differencing removes every level
    year_dummies = method in ("re", "pooled") and "year" in (canonical(e) for e in effects)
    return parsed.intercept or year_dummies


def _check_effects(effects: tuple[str, ...], method: str) -> None:
    if method == "fe":
        return
    other = [e for e in effects if canonical(e) not in ("firm_id", "year")]
    if other:
        raise SpecificationError(
            f"effects {other} can only be absorbed with method='fe'; method={method!r} handles the "
            "firm effect itself and takes 'year' as dummies."
        )


def _fit_fe(arrays: Arrays, effects: tuple[str, ...], clusters, *, drop_singletons: bool = True,
            tol: float = DEFAULT_TOL, maxiter: int = DEFAULT_MAXITER, intercept: bool = True) -> _Fit:
    if not effects:
        raise SpecificationError("method='fe' needs at least one effect; use method='pooled' for none.")
    if drop_singletons and arrays.singletons is None:
        raise ValueError("_fit_fe drops singletons through evaluate(singletons=effects)")  # a caller's bug
    fes = [arrays.effect(e) for e in effects]
    exclusions = dict(arrays.exclusions)
    n_singletons = sum(arrays.singletons.values()) if drop_singletons else 0
    if arrays.data.shape[0] == 0:
        fix = ("; keep singletons with drop_singletons=False or absorb fewer effects" if n_singletons
               else "; check those columns")
        raise PanelStructureError(f"no observations are left (excluded rows by reason: {exclusions}){fix}.")
    w = arrays.weights
    root = None if w is None else np.sqrt(w)
    data = arrays.data  # evaluate() made this array for us alone: demean it in place
    absorber = Absorber.reuse_or_prepare(fes, tol=tol, maxiter=maxiter, weights=w)
    # one pass reads the level sums (and the raw columns' (weighted) sums and sums of squares),
    # one pass subtracts the effects and forms the (weighted) cross-products of the result
    names = (arrays.dependent, *arrays.terms)
    check = None if w is not None else partial(check_squares, values=data, names=names, what="the regression")
    info = absorber.demean(data, gram=True, check=check)
    raw_ss = info.column_ss
    dep_mean = float(info.column_sums[0]) / (data.shape[0] if w is None else float(w.sum()))
    if root is not None:  # weighted least squares: the OLS of W^(1/2)-scaled, weighted-demeaned data
        data *= root[:, None]
    groups, labels = _groups(arrays, clusters)
    active = tuple(fe for fe in fes if fe.name not in info.redundant_effects)
    nested = _NestedRanks(active, groups, labels)
    # the firms' runs of rows found by the absorber serve the cluster scores by firm
    runs = {name: absorber.run_bounds for name in clusters or () if name in groups and groups[name] is absorber.main.codes}
    design, dropped = _ols(data, arrays.terms, raw_ss, groups, labels, info.k_absorbed, nested, clusters, "fixed effects",
                           cross_products=info.gram, runs=runs)
    # the wild bootstrap re-absorbs its residuals when an effect cuts across the clusters
    design = replace(
        design,
        absorb=_annihilator(absorber, root),
        absorbed_effects=tuple(fe.name for fe in fes),
        # CR2/CR3 put effects that cut across the clusters back into the hat matrix (every
        # absorbed effect when weighted, see gvcpanel.inference.biasreduced)
        crossed=_crossed_effects(fes, info.redundant_effects, groups, labels, tol, maxiter, root),
        weights=w,
    )
    tss_within = float(info.gram[0, 0])
    rss = float(design.resid @ design.resid)
    return _Fit(
        design=design,
        nobs=int(data.shape[0]),
        n_firms=len(labels["firm_id"]),
        dep_mean=dep_mean,
        exclusions=exclusions,
        stats={
            "r2_within": 1 - rss / tss_within if tss_within > 0 else float("nan"),
            # overall: the residuals of the full model against the raw outcome's variation
            "r2_overall": _r2_from_sums(rss, raw_ss[0], dep_mean, data.shape[0]),
            "rss": rss,
            "k_absorbed": info.k_absorbed,
            "dof_exact": info.dof_exact,
            "absorb_method": info.method,
            "absorb_iterations": info.iterations,
            "absorb_max_level_mean": info.max_level_mean,
            "effect_levels": dict(zip(info.effects, info.n_levels)),
            "redundant_effects": info.redundant_effects,
            "singletons": n_singletons,
            "dropped_terms": dropped,
        },
        effects=effects,
    )


def _crossed_effects(
    fes: Sequence[FixedEffect],
    redundant: Sequence[str],
    groups: Mapping[str, np.ndarray],
    labels: Mapping[str, np.ndarray],
    tol: float,
    maxiter: int,
    root: np.ndarray | None = None,
) -> Callable[[str], CrossedDummies | None]:
    r"""For a clustering variable, the absorbed effects not nested in it as residualized dummies
    (for a weighted fit, with ``root`` the square roots of the weights: every absorbed effect,
    scaled by ``root``).

    Notes
    -----
    An effect is nested in the clustering variable when it carries its name (``"firm"`` for
    ``firm_id``) or each of its levels lies in one cluster (:func:`gvcpanel.models.absorb.refines`).
    For the nested effects N and the others C the returned :class:`CrossedDummies` builds
    :math:`M_N C` with one column per level of each crossed effect (an absorption by N alone);
    :func:`gvcpanel.inference.covariance.crossed_columns` removes the redundant columns.
    Effects in the span of another (``redundant``) are left out: their dummies add nothing.
    """
    active = tuple(fe for fe in fes if fe.name not in redundant)
    return _CrossedEffects(active, groups, labels, tol, maxiter, root)


@dataclass(frozen=True, eq=False)
class _NestedRanks(Mapping):
    """``design.absorbed_nested``: for a grouping variable, the rank of the absorbed effects
    nested in it (0 for none), found when a covariance first asks (a pass over the rows that a
    fit clustered by another variable does not need)."""

    effects: tuple[FixedEffect, ...]
    groups: Mapping[str, np.ndarray]
    labels: Mapping[str, np.ndarray]
    found: dict[str, int] = field(default_factory=dict)

    def __getitem__(self, name: str) -> int:
        if name not in self.found:
            cluster_fe = FixedEffect(name, self.groups[name], len(self.labels[name]))  # KeyError: no such group
            inside = [fe for fe in self.effects if canonical(fe.name) == name or refines(fe, cluster_fe)]
            self.found[name] = rank_of(inside)[0] if inside else 0
        return self.found[name]

    def __iter__(self):
        return iter(self.groups)

    def __len__(self) -> int:
        return len(self.groups)


@dataclass(frozen=True, eq=False)
class _CrossedEffects:
    """``design.crossed``: a class rather than a closure so that results can be pickled."""

    active: tuple[FixedEffect, ...]
    groups: Mapping[str, np.ndarray]
    labels: Mapping[str, np.ndarray]
    tol: float
    maxiter: int
    root: np.ndarray | None = None  # square roots of the probability weights, when weighted

    def __call__(self, name: str) -> CrossedDummies | None:
        if name not in self.groups:
            return None
        cluster_fe = FixedEffect(name, self.groups[name], len(self.labels[name]))
        if self.root is not None:
            # weighted CR2 is not invariant to absorbing nested effects: every effect goes back in
            inside: tuple[FixedEffect, ...] = ()
        else:
            inside = tuple(fe for fe in self.active if canonical(fe.name) == name or refines(fe, cluster_fe))
        crossed = tuple(fe for fe in self.active if not any(fe is other for other in inside))
        if not crossed:
            return None
        return CrossedDummies(
            effects=tuple(fe.name for fe in crossed),
            nested=tuple(fe.name for fe in inside),
            n_columns=sum(fe.n_levels for fe in crossed),
            build=partial(_build_crossed, cluster_fe.codes.size, crossed, inside, self.tol, self.maxiter,
                          self.root),
        )


def _build_crossed(
    n: int, crossed: Sequence[FixedEffect], inside: Sequence[FixedEffect], tol: float, maxiter: int,
    root: np.ndarray | None = None,
) -> np.ndarray:
    """Dummies of every level of the crossed effects, residualized on the nested ones (scaled by
    the square roots of the weights for a weighted fit)."""
    columns = np.zeros((n, sum(fe.n_levels for fe in crossed)), order="F")
    rows = np.arange(n)
    offset = 0
    for fe in crossed:
        columns[rows, offset + fe.codes] = 1.0 if root is None else root
        offset += fe.n_levels
    if inside:
        Absorber(inside, tol=tol, maxiter=maxiter).demean(columns)
    return columns


@dataclass(frozen=True, eq=False)
class _Annihilator:
    """M_D as a function of an n x m array (a new array), reusing the prepared absorption.

    A class rather than a closure so that results (which keep their design) can be pickled.
    """

    absorber: Absorber
    root: np.ndarray | None = None  # weighted fits: columns are W^(1/2)-scaled

    def __call__(self, block: np.ndarray) -> np.ndarray:
        out = np.array(block, dtype=np.float64, order="F", copy=True)
        if self.root is None:
            self.absorber.demean(out)
            return out
        flat = out.ndim == 1
        work = np.asfortranarray((out.reshape(-1, 1) if flat else out) / self.root[:, None])
        self.absorber.demean(work)
        work *= self.root[:, None]
        return work.ravel() if flat else work


def _annihilator(absorber: Absorber, root: np.ndarray | None = None) -> Callable[[np.ndarray], np.ndarray]:
    return _Annihilator(absorber, root)


def _fit_fd(arrays: Arrays, effects: tuple[str, ...], clusters, *, intercept: bool = True, **_: Any) -> _Fit:
    firm, years = arrays.codes["firm_id"], arrays.years
    # rows are sorted by (firm_id, year) in a FirmPanel; sort anyway for plain frames
    order = np.lexsort((years, firm))
    if not np.array_equal(order, np.arange(order.size)):
        arrays = Arrays(take_rows(arrays.data[order], np.ones(order.size, bool)), arrays.terms, arrays.dependent,
                        {k: v[order] for k, v in arrays.codes.items()}, arrays.labels, arrays.exclusions)
        firm, years = arrays.codes["firm_id"], arrays.years
    same = np.zeros(firm.size, dtype=bool)
    same[1:] = firm[1:] == firm[:-1]
    consecutive = np.zeros(firm.size, dtype=bool)
    consecutive[1:] = same[1:] & (years[1:] - years[:-1] == 1)
    exclusions = dict(arrays.exclusions)
    exclusions["first year of firm (no difference)"] = int((~same).sum())
    exclusions["year after a gap (no difference)"] = int((same & ~consecutive).sum())
    if not consecutive.any():
        raise PanelStructureError("no firm is observed in two consecutive years; first differences are empty.")
    later = np.flatnonzero(consecutive)
    diff = np.asfortranarray(arrays.data[later] - arrays.data[later - 1])
    dep_mean = float(arrays.data[later, 0].mean())
    kept = np.zeros(firm.size, dtype=bool)
    kept[later] = True
    sub = arrays.subset(kept)
    names = list(sub.terms)
    cols = [diff]
    use_year = any(canonical(e) == "year" for e in effects)
    if use_year:
        all_years = np.unique(arrays.years)
        dummies, dnames = [], []
        for y in all_years[1:]:
            d = (arrays.years == y).astype(float)
            dummies.append(d[later] - d[later - 1])
            dnames.append(f"year[{y}]")
        cols.append(np.column_stack(dummies))
        names += dnames
    elif intercept:  # a linear trend in levels
        cols.append(np.ones((later.size, 1)))
        names.append("Intercept")
    data = np.asfortranarray(np.column_stack(cols))
    raw_ss = np.einsum("ij,ij->j", data, data)
    groups, labels = _groups(sub, clusters)
    design, dropped = _ols(data, tuple(names), raw_ss, groups, labels, 0, {}, clusters, "differencing")
    return _Fit(design, int(later.size), len(labels["firm_id"]), dep_mean, exclusions,
                {"r2": _r2(data[:, 0], design.resid), "dropped_terms": dropped},
                ("firm", "year") if use_year else ("firm",))


def _fit_re(arrays: Arrays, effects: tuple[str, ...], clusters, *, intercept: bool = True, **_: Any) -> _Fit:
    from linearmodels import RandomEffects

    data, names = _with_intercept_and_years(arrays, effects, intercept)
    firm = arrays.codes["firm_id"]
    index = pd.MultiIndex.from_arrays([firm, arrays.years], names=["firm_id", "year"])
    exog = pd.DataFrame(data[:, 1:], index=index, columns=[f"c{j}" for j in range(data.shape[1] - 1)])
    try:
        fitted = RandomEffects(pd.Series(data[:, 0], index=index), exog, check_rank=False).fit()
    except Exception as err:  # linearmodels raises plain ValueError/LinAlgError
        raise IdentificationError(f"random-effects variance components could not be estimated: {err}") from err
    theta_by_firm = fitted.theta.reindex(np.arange(len(arrays.labels["firm_id"]))).to_numpy().ravel()
    theta = theta_by_firm[firm]
    counts = np.bincount(firm).astype(float)
    transformed = np.empty_like(data, order="F")
    for j in range(data.shape[1]):
        col = data[:, j]
        transformed[:, j] = col - theta * (np.bincount(firm, col) / counts)[firm]
    raw_ss = np.einsum("ij,ij->j", data, data)
    groups, labels = _groups(arrays, clusters)
    design, dropped = _ols(transformed, tuple(names), raw_ss, groups, labels, 0, {}, clusters, "quasi-demeaning")
    vd = fitted.variance_decomposition
    return _Fit(design, int(data.shape[0]), len(labels["firm_id"]), float(data[:, 0].mean()), dict(arrays.exclusions),
                {"sigma2_u": float(vd["Effects"]), "sigma2_e": float(vd["Residual"]), "rho": float(vd["Percent due to Effects"]),
                 "theta_min": float(theta_by_firm.min()), "theta_max": float(theta_by_firm.max()),
                 "r2": _r2(transformed[:, 0], design.resid), "dropped_terms": dropped},
                tuple(e for e in effects if canonical(e) in ("firm_id", "year")))


def _fit_between(arrays: Arrays, effects: tuple[str, ...], clusters, *, intercept: bool = True, **_: Any) -> _Fit:
    firm = arrays.codes["firm_id"]
    n_firms = len(arrays.labels["firm_id"])
    counts = np.bincount(firm, minlength=n_firms).astype(float)
    means = np.empty((n_firms, arrays.data.shape[1] + 1), order="F")
    for j in range(arrays.data.shape[1]):
        means[:, j] = np.bincount(firm, arrays.data[:, j], n_firms) / counts
    means[:, -1] = 1.0
    order = [0, means.shape[1] - 1, *range(1, means.shape[1] - 1)] if intercept else list(range(means.shape[1] - 1))
    data = np.asfortranarray(means[:, order])
    names = ("Intercept", *arrays.terms) if intercept else tuple(arrays.terms)
    groups = {"firm_id": np.arange(n_firms)}
    labels = {"firm_id": arrays.labels["firm_id"]}
    for name, codes in arrays.codes.items():
        if name in ("firm_id", "year"):
            continue
        first = np.zeros(n_firms, dtype=np.intp)
        first[firm] = codes
        if np.array_equal(first[firm], codes):  # only variables constant within firms can cluster firm means
            groups[name], used = compress_codes(first, len(arrays.labels[name]))
            labels[name] = arrays.labels[name][used]
    raw_ss = np.einsum("ij,ij->j", data, data)
    design, dropped = _ols(data, names, raw_ss, groups, labels, 0, {}, clusters, "averaging", time=None)
    return _Fit(design, int(arrays.data.shape[0]), n_firms, float(arrays.data[:, 0].mean()), dict(arrays.exclusions),
                {"r2_between": _r2(data[:, 0], design.resid), "dropped_terms": dropped}, ("firm",))


def _fit_pooled(arrays: Arrays, effects: tuple[str, ...], clusters, *, intercept: bool = True, **_: Any) -> _Fit:
    data, names = _with_intercept_and_years(arrays, effects, intercept)
    w = arrays.weights
    if w is not None:  # weighted least squares as OLS of W^(1/2)-scaled data
        data = np.asfortranarray(data * np.sqrt(w)[:, None])
    raw_ss = np.einsum("ij,ij->j", data, data)
    groups, labels = _groups(arrays, clusters)
    dep_mean = float(arrays.data[:, 0].mean()) if w is None else float(np.average(arrays.data[:, 0], weights=w))
    design, dropped = _ols(data, tuple(names), raw_ss, groups, labels, 0, {}, clusters, "the intercept")
    if w is not None:
        design = replace(design, weights=w)
    return _Fit(design, int(data.shape[0]), len(labels["firm_id"]), dep_mean, dict(arrays.exclusions),
                {"r2": _r2(data[:, 0], design.resid), "r2_overall": _r2(data[:, 0], design.resid),
                 "dropped_terms": dropped},
                tuple(e for e in effects if canonical(e) == "year"))


_FITTERS = {"fe": _fit_fe, "fd": _fit_fd, "re": _fit_re, "between": _fit_between, "pooled": _fit_pooled}


# --- shared pieces -------------------------------------------------------------------------------
def _with_intercept_and_years(
    arrays: Arrays, effects: tuple[str, ...], intercept: bool = True
) -> tuple[np.ndarray, list[str]]:
    """Outcome, intercept, regressors and (if asked) year dummies: without the first year next to
    the intercept, every year without it."""
    cols = [arrays.data[:, :1]] + ([np.ones((arrays.data.shape[0], 1))] if intercept else []) + [arrays.data[:, 1:]]
    names = (["Intercept"] if intercept else []) + list(arrays.terms)
    if any(canonical(e) == "year" for e in effects):
        year_codes = arrays.codes["year"]
        levels = arrays.labels["year"]
        first = 1 if intercept else 0
        dummies = np.zeros((year_codes.size, len(levels) - first))
        rows = np.flatnonzero(year_codes >= first)
        dummies[rows, year_codes[rows] - first] = 1.0
        cols.append(dummies)
        names += [f"year[{y}]" for y in levels[first:]]
    return np.asfortranarray(np.column_stack(cols)), names


def _groups(arrays: Arrays, clusters) -> tuple[Mapping[str, np.ndarray], Mapping[str, np.ndarray]]:
    """The grouping codes and labels of the kept rows (a column kept for later is coded when asked)."""
    return arrays.codes, arrays.labels


def _r2_from_sums(rss: float, sum_of_squares: float, mean: float, n: int) -> float:
    """1 - RSS / TSS with TSS = sum(y^2) - n mean^2 (the raw outcome is no longer at hand)."""
    tss = float(sum_of_squares) - n * mean * mean
    return 1 - rss / tss if tss > 0 else float("nan")


def _r2(y: np.ndarray, resid: np.ndarray) -> float:
    centred = y - y.mean()
    tss = float(centred @ centred)
    return 1 - float(resid @ resid) / tss if tss > 0 else float("nan")


def _ols(
    data: np.ndarray,
    names: Sequence[str],
    raw_ss: np.ndarray,
    groups: dict[str, np.ndarray],
    labels: dict[str, np.ndarray],
    k_absorbed: int,
    nested: dict[str, int],
    clusters: tuple[str, ...] | None,
    transformation: str,
    time: str | None = "year",
    cross_products: np.ndarray | None = None,
    runs: Mapping[str, np.ndarray] | None = None,
) -> tuple[LinearDesign, tuple[str, ...]]:
    """OLS of column 0 on the other columns of ``data``, dropping absorbed or collinear ones.

    A regressor is *absorbed* when its transformed norm is below ``ABSORBED_TOL`` (1e-7) times
    its untransformed norm, and *collinear* when its residual on the earlier kept regressors has
    a norm below ``COLLINEAR_TOL`` (1e-6) times its transformed norm.  Both are named in an
    :class:`AbsorbedVariableWarning` and left out of the results.
    """
    X = data[:, 1:]
    y = data[:, 0]
    if cross_products is None:
        cross_products = kernels.crossprod(data, kernels.NO_WEIGHTS)
    gram = cross_products[1:, 1:]
    cross_y = cross_products[1:, 0]
    kept: list[int] = []
    absorbed, collinear = [], []
    for j in range(X.shape[1]):
        if gram[j, j] <= ABSORBED_TOL**2 * raw_ss[j + 1]:
            absorbed.append(names[j])
            continue
        if kept:
            g = gram[np.ix_(kept, kept)]
            v = gram[kept, j]
            resid_ss = gram[j, j] - v @ np.linalg.solve(g, v)
            if resid_ss <= COLLINEAR_TOL**2 * gram[j, j]:
                collinear.append(names[j])
                continue
        kept.append(j)
    if absorbed or collinear:
        parts = []
        if absorbed:
            parts.append(f"{absorbed} absorbed by {transformation}")
        if collinear:
            parts.append(f"{collinear} collinear with earlier regressors")
        warnings.warn(
            f"dropped regressors: {'; '.join(parts)}. They are not identified in this model; remove "
            "them from the formula or use a method that keeps their variation.",
            AbsorbedVariableWarning,
            stacklevel=4,
        )
    if not kept:
        raise IdentificationError(f"no regressor is identified: all of {list(names)} were dropped.")
    if len(kept) < X.shape[1]:
        X = np.asfortranarray(X[:, kept])
        gram = gram[np.ix_(kept, kept)]
        cross_y = cross_y[kept]
    gram = np.ascontiguousarray(gram)
    params = np.linalg.solve(gram, cross_y)
    resid = np.empty_like(y)
    score_cache = None
    bounds = kernels.NO_CODES
    if clusters is not None and len(clusters) == 1 and clusters[0] in groups:
        codes = kernels.as_codes(groups[clusters[0]])
        known = (runs or {}).get(clusters[0])
        bounds = known if known is not None else kernels.run_bounds(codes, kernels.CHUNK)
    if bounds.size:  # clusters are runs of rows (firms of a sorted panel): scores come with the residuals
        sums, sizes = kernels.residuals_and_scores(X, y, params, resid, codes, len(labels[clusters[0]]), bounds)
        score_cache = (clusters[0], X, resid, sums, sizes)
    else:
        kernels.residuals(X, y, params, resid)
    default = clusters if clusters is None else tuple(clusters)
    design = LinearDesign(
        X=X,
        y=y,
        params=params,
        resid=resid,
        names=tuple(names[j] for j in kept),
        groups=groups,
        group_labels=labels,
        k_absorbed=int(k_absorbed),
        absorbed_nested=nested,
        default_cluster=default,
        time=time if time in groups else None,
        gram=gram,
        score_cache=score_cache,
    )
    return design, tuple(absorbed + collinear)
