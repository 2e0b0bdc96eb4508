"""Wild cluster bootstrap and score bootstrap.

Independent references: the ``wildboottest`` package (0.3.2, used in tests only; it works with
numpy 2.4) fed the same weights, and a brute-force loop that refits OLS for every draw.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
import pytest

from gvcpanel.errors import FewClustersWarning, SpecificationError
from gvcpanel.inference.bootstrap import (
    choose_weights,
    draw_weights,
    enumerate_rademacher,
    wild_test,
)
from gvcpanel.inference.covariance import LikelihoodDesign, LinearDesign
from gvcpanel.inference.score import score_test
from gvcpanel.inference.spec import InferenceSpec
from gvcpanel.models.hazard import fit_restricted, information_matrix, score_matrix


def simulated_design(n_clusters: int = 14, n: int = 600, seed: int = 1, slope: float = 0.1) -> LinearDesign:
    rng = np.random.default_rng(seed)
    codes = np.sort(np.concatenate([np.arange(n_clusters), rng.integers(0, n_clusters, n - n_clusters)]))
    x1 = rng.normal(size=n) + rng.normal(size=n_clusters)[codes]
    X = np.column_stack([np.ones(n), x1, rng.normal(size=n), x1 * rng.integers(0, 2, n)])
    y = X @ np.array([1.0, slope, 0.3, 0.0]) + rng.normal(size=n_clusters)[codes] * (1 + np.abs(x1)) + rng.normal(size=n)
    params = np.linalg.lstsq(X, y, rcond=None)[0]
    labels = np.array([f"C{g:02d}" for g in range(n_clusters)])
    return LinearDesign(
        X, y, params, y - X @ params, ("const", "x1", "x2", "x1_d"), {"cl": codes}, {"cl": labels},
        default_cluster=("cl",),
    )


def brute_force_t(design: LinearDesign, j: int, r: float, v: np.ndarray, restricted: bool) -> np.ndarray:
    """Refit OLS on every bootstrap sample and compute the CRV1 t statistic (stata preset)."""
    X, y, codes = design.X, design.y, design.groups["cl"]
    if restricted:
        keep = [i for i in range(X.shape[1]) if i != j]
        b_r = np.zeros(X.shape[1])
        b_r[keep] = np.linalg.lstsq(X[:, keep], y - r * X[:, j], rcond=None)[0]
        b_r[j] = r
        base, centre = b_r, r
    else:
        base, centre = design.params, design.params[j]
    u = y - X @ base
    bread = np.linalg.inv(X.T @ X)
    n, k = X.shape
    n_groups = codes.max() + 1
    scale = n_groups / (n_groups - 1) * (n - 1) / (n - k)
    out = np.empty(v.shape[0])
    for b in range(v.shape[0]):
        y_star = X @ base + v[b, codes] * u
        beta = bread @ X.T @ y_star
        e = y_star - X @ beta
        sums = np.zeros((codes.max() + 1, X.shape[1]))
        np.add.at(sums, codes, X * e[:, None])
        var = scale * (bread @ sums.T @ sums @ bread)[j, j]
        out[b] = (beta[j] - centre) / np.sqrt(var)
    return out


@pytest.mark.parametrize("bootstrap", ["restricted", "unrestricted"])
@pytest.mark.parametrize("r", [0.0, 0.25])
def test_bootstrap_t_equals_brute_force_refits(bootstrap, r):
    design = simulated_design()
    v = draw_weights(14, 199, "webb", seed=3)
    spec = InferenceSpec(kind="wild", bootstrap=bootstrap)
    test = wild_test(design, "x1", r, spec, weights=v, ci=False)
    np.testing.assert_allclose(test.t_boot, brute_force_t(design, 1, r, v, bootstrap == "restricted"), rtol=1e-9)


# wildboottest compiles its numba kernel on every call (2-9 s), so two cases cover it
@pytest.mark.slow
@pytest.mark.parametrize("impose_null,kind", [(True, "rademacher"), (False, "webb")])
def test_agrees_with_wildboottest_package(impose_null, kind):
    import wildboottest.wildboottest as wbt
    design = simulated_design()
    v = draw_weights(14, 999, kind, seed=11)
    spec = InferenceSpec(kind="wild", bootstrap="restricted" if impose_null else "unrestricted")
    mine = wild_test(design, "x1", 0.0, spec, weights=v, ci=False)
    # wildboottest 0.3.2, WildboottestCL(X, Y, cluster, R, B).get_scores("11", impose_null), with
    # its weight matrix (clusters x draws) replaced by ours so both use the same draws
    ref = wbt.WildboottestCL(X=design.X, Y=design.y, cluster=design.groups["cl"], R=np.array([0, 1.0, 0, 0]), B=999, seed=1)
    ref.get_scores(bootstrap_type="11", impose_null=impose_null)
    ref.get_weights(weights_type=kind)
    ref.v, ref.B = v.T.copy(), v.shape[0]
    ref.get_numer()
    ref.get_denom()
    ref.get_tboot()
    ref.get_vcov()
    ref.get_tstat()
    ref.get_pvalue(pval_type="two-tailed")
    np.testing.assert_allclose(mine.t_boot, ref.t_boot, rtol=1e-8)
    assert mine.statistic == pytest.approx(float(np.ravel(ref.t_stat)[0]), rel=1e-8)
    assert mine.pvalue == pytest.approx(float(ref.pvalue), abs=1e-12)
    ref.get_pvalue(pval_type="equal-tailed")
    assert mine.pvalue_equal_tail == pytest.approx(float(ref.pvalue), abs=1e-12)


def test_weights_are_seeded_and_have_the_right_support():
    a = draw_weights(7, 500, "webb", seed=5)
    assert np.array_equal(a, draw_weights(7, 500, "webb", seed=5))
    assert not np.array_equal(a, draw_weights(7, 500, "webb", seed=6))
    assert np.allclose(np.unique(np.abs(a)), np.sqrt([0.5, 1.0, 1.5]))
    assert set(np.unique(draw_weights(7, 100, "rademacher", seed=5))) == {-1.0, 1.0}
    assert a.shape == (500, 7)


def test_defaults_webb_below_12_clusters_and_enumeration():
    v, kind, enumerated = choose_weights(11, InferenceSpec(kind="wild"))
    assert (kind, enumerated, v.shape) == ("webb", False, (9999, 11))
    v, kind, enumerated = choose_weights(12, InferenceSpec(kind="wild"))
    assert (kind, enumerated, v.shape) == ("rademacher", True, (4096, 12))
    assert np.unique(v, axis=0).shape[0] == 4096
    v, kind, enumerated = choose_weights(14, InferenceSpec(kind="wild"))  # 2^14 > 9999
    assert (kind, enumerated) == ("rademacher", False)
    assert enumerate_rademacher(3).shape == (8, 3)


def test_enumeration_gives_exact_symmetric_distribution():
    design = simulated_design(n_clusters=10)
    test = wild_test(design, "x1", 0.0, InferenceSpec(kind="wild", weights="rademacher"), ci=False)
    assert test.enumerated and test.draws == 1024
    # v and -v give t* and -t*: the enumerated distribution is exactly symmetric
    np.testing.assert_allclose(np.sort(test.t_boot), -np.sort(test.t_boot)[::-1], rtol=1e-10, atol=1e-12)


def test_interval_inverts_the_pvalue():
    design = simulated_design()
    spec = InferenceSpec(kind="wild", draws=999, level=0.9)
    test = wild_test(design, "x1", 0.0, spec)
    lower, upper = test.ci
    assert lower < test.estimate < upper
    eps = 1e-6 * (upper - lower)
    for end, inside, outside in ((lower, lower + eps, lower - eps), (upper, upper - eps, upper + eps)):
        p_in = wild_test(design, "x1", inside, spec, ci=False).pvalue
        p_out = wild_test(design, "x1", outside, spec, ci=False).pvalue
        assert p_in > 0.1 >= p_out
    # p-value of the test at 0 and whether 0 is in the interval tell the same story
    assert (test.pvalue > 0.1) == (lower < 0 < upper)


def test_contrast_and_mapping_restriction():
    design = simulated_design()
    spec = InferenceSpec(kind="wild", draws=499)
    by_map = wild_test(design, {"x1": 1, "x2": -1}, 0.0, spec, ci=False)
    by_array = wild_test(design, np.array([0, 1.0, -1.0, 0]), 0.0, spec, ci=False)
    assert by_map.pvalue == by_array.pvalue
    assert by_map.estimate == pytest.approx(design.params[1] - design.params[2], rel=1e-12)
    with pytest.raises(SpecificationError, match="one restriction"):
        wild_test(design, np.eye(4)[:2], 0.0, spec)
    with pytest.raises(SpecificationError, match="not in the model"):
        wild_test(design, "network", 0.0, spec)


def test_weights_shared_by_cluster_label():
    design = simulated_design()
    v = draw_weights(14, 299, "rademacher", seed=2)
    frame = pd.DataFrame(v[:, ::-1], columns=design.group_labels["cl"][::-1])  # shuffled columns
    a = wild_test(design, "x1", 0.0, InferenceSpec(kind="wild"), weights=frame, ci=False)
    b = wild_test(design, "x1", 0.0, InferenceSpec(kind="wild"), weights=v, ci=False)
    np.testing.assert_allclose(a.t_boot, b.t_boot, rtol=1e-12)


def test_inference_wild_gives_bootstrap_pvalues_and_intervals():
    design = simulated_design(n_clusters=14)
    inf = design.inference(InferenceSpec(kind="wild", draws=999))
    assert inf.pvalues.index.tolist() == list(design.names)
    assert (inf.ci["lower"] < design.params).all() and (design.params < inf.ci["upper"]).all()
    # covariance is CRV1 (stata preset): same as kind="cluster"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        crv1 = design.inference(InferenceSpec(kind="cluster"))
    np.testing.assert_allclose(inf.cov.to_numpy(), crv1.cov.to_numpy(), rtol=1e-12)
    single = wild_test(design, "x1", 0.0, InferenceSpec(kind="wild", draws=999))
    assert inf.pvalues["x1"] == single.pvalue
    assert inf.n_clusters == 14 and inf.details["draws"] == 999


@pytest.mark.slow
@pytest.mark.bench
def test_speed_9999_draws_30_clusters_45000_rows():
    rng = np.random.default_rng(2)
    n, k, G = 45_000, 10, 30
    codes = rng.integers(0, G, n)
    X = rng.normal(size=(n, k)) + rng.normal(size=(G, k))[codes]
    y = X @ np.full(k, 0.1) + rng.normal(size=G)[codes] + rng.normal(size=n)
    params = np.linalg.lstsq(X, y, rcond=None)[0]
    design = LinearDesign(X, y, params, y - X @ params, tuple(f"x{j}" for j in range(k)), {"cl": codes}, default_cluster=("cl",))
    start = time.perf_counter()
    test = wild_test(design, "x1", 0.0, InferenceSpec(kind="wild", draws=9999))
    elapsed = time.perf_counter() - start
    assert test.draws == 9999 and test.ci is not None
    assert elapsed < 10, elapsed


# --- score bootstrap ---------------------------------------------------------------------------
def simulated_logit(n_clusters: int, seed: int, link: str = "logit", beta1: float = 0.0):
    import statsmodels.api as sm

    rng = np.random.default_rng(seed)
    sizes = rng.integers(20, 60, n_clusters)
    codes = np.repeat(np.arange(n_clusters), sizes)
    n = codes.size
    x1 = rng.normal(size=n) + 0.7 * rng.normal(size=n_clusters)[codes]
    x2 = rng.normal(size=n)
    X = np.column_stack([np.ones(n), x1, x2])
    eta = -1.0 + beta1 * x1 + 0.5 * x2 + 0.8 * rng.normal(size=n_clusters)[codes]
    prob = 1 / (1 + np.exp(-eta)) if link == "logit" else 1 - np.exp(-np.exp(eta))
    y = (rng.random(n) < prob).astype(float)
    family = sm.families.Binomial(sm.families.links.Logit() if link == "logit" else sm.families.links.CLogLog())
    fit = sm.GLM(y, X, family=family).fit(cov_type="cluster", cov_kwds={"groups": codes})
    # the score bootstrap takes the likelihood from the model: here the hazard module's binomial one
    design = LikelihoodDesign(
        score_matrix(X, y, fit.params, link), information_matrix(X, y, fit.params, link), fit.params,
        ("const", "x1", "x2"), {"cl": codes}, default_cluster=("cl",),
        extra={
            "X": X, "y": y, "link": link,
            "score_fn": lambda b: score_matrix(X, y, b, link),
            "information_fn": lambda b: information_matrix(X, y, b, link),
            "fit_restricted": lambda R, r: fit_restricted(X, y, link, R, r, start=fit.params),
        },
    )
    return design, fit


@pytest.mark.parametrize("link", ["logit", "cloglog"])
def test_score_bootstrap_close_to_wald_with_many_clusters(link):
    design, fit = simulated_logit(200, seed=4, link=link, beta1=0.12)
    test = score_test(design, "x1", 0.0, InferenceSpec(kind="score", draws=1999))
    # statsmodels 0.15 GLM(..., cov_type="cluster") Wald p-value; asymptotically equivalent
    assert test.pvalue == pytest.approx(float(fit.pvalues[1]), abs=0.03)
    assert np.sign(test.statistic) == np.sign(fit.params[1])


def test_score_restricted_fit_satisfies_the_restriction_and_zeroes_other_scores():
    design, _ = simulated_logit(30, seed=5, link="cloglog")
    X, y = design.extra["X"], design.extra["y"]
    a = np.array([0.0, 1.0, -1.0])
    theta = design.extra["fit_restricted"](a[None, :], 0.2)
    assert a @ theta == pytest.approx(0.2, abs=1e-12)
    grad = design.extra["score_fn"](theta).sum(axis=0)
    # the gradient is orthogonal to the restricted parameter space (a Lagrange multiplier times a)
    assert np.allclose(grad - a * (grad @ a) / (a @ a), 0, atol=1e-7)


def test_score_inference_uses_fit_restricted_when_given():
    design, _ = simulated_logit(20, seed=6)
    calls = []

    def counting_fit(R, r):
        calls.append((R.shape, r))
        return fit_restricted(design.extra["X"], design.extra["y"], "logit", R, r)

    from dataclasses import replace

    with_fit = replace(design, extra={**design.extra, "fit_restricted": counting_fit})
    inf = with_fit.inference(InferenceSpec(kind="score", draws=499))
    # one restricted fit per term for the p-values, more for the test-inversion intervals (issue 10)
    assert len(calls) > 3 and all(shape == (1, 3) for shape, _ in calls)
    plain = design.inference(InferenceSpec(kind="score", draws=499))
    np.testing.assert_allclose(inf.pvalues.to_numpy(), plain.pvalues.to_numpy(), atol=1e-12)
    np.testing.assert_allclose(inf.ci.to_numpy(), plain.ci.to_numpy(), rtol=1e-6)
    assert inf.n_clusters == 20


# --- absorbed effects that cut across the clusters ----------------------------------------------
def panel_with_effects(seed: int = 7, n_clusters: int = 10, firms_per_cluster: int = 4, n_years: int = 6) -> dict:
    """Unbalanced firm-year panel, firms nested in clusters, outcome with firm and year effects."""
    rng = np.random.default_rng(seed)
    n_firms = n_clusters * firms_per_cluster
    keep = rng.random((n_firms, n_years)) < 0.8
    keep[:, :2] = True  # every firm in at least two years: no singletons
    firm, year = np.nonzero(keep)
    cluster = firm // firms_per_cluster
    cluster_year = rng.normal(size=(n_clusters, n_years))[cluster, year]
    x1 = cluster_year + rng.normal(size=firm.size) + rng.normal(size=n_years)[year]
    x2 = rng.normal(size=firm.size) + rng.normal(size=n_firms)[firm]
    shock = rng.normal(size=(n_clusters, n_years))[cluster, year] * (1 + np.abs(x1))
    y = 0.4 * x2 + rng.normal(size=n_firms)[firm] + 2 * rng.normal(size=n_years)[year] + shock + rng.normal(size=firm.size)
    return {"X": np.column_stack([x1, x2]), "y": y, "firm": firm, "year": year, "cluster": cluster}


def absorbed_design(data: dict, effects: tuple[str, ...] = ("firm", "year"), absorb: bool = True,
                    nested_known: bool = True) -> LinearDesign:
    from gvcpanel.models.absorb import Absorber, factorize

    absorber = Absorber([factorize(data[e], e) for e in effects])

    def apply(block: np.ndarray) -> np.ndarray:
        out = np.array(block, dtype=float, order="F", copy=True)
        absorber.demean(out)
        return out

    both = apply(np.column_stack([data["y"], data["X"]]))
    y, X = both[:, 0], both[:, 1:]
    params = np.linalg.solve(X.T @ X, X.T @ y)
    k_absorbed = absorber.dof()[0]
    n_firms = int(data["firm"].max()) + 1
    return LinearDesign(
        X, y, params, y - X @ params, ("x1", "x2"), {"cl": data["cluster"]},
        k_absorbed=k_absorbed, absorbed_nested={"cl": n_firms} if nested_known else {},
        default_cluster=("cl",), absorb=apply if absorb else None, absorbed_effects=effects,
    )


def dummy_design(data: dict) -> np.ndarray:
    """The regressors with every firm dummy and the year dummies but the first."""
    firms = (data["firm"][:, None] == np.arange(data["firm"].max() + 1)).astype(float)
    years = (data["year"][:, None] == np.arange(1, data["year"].max() + 1)).astype(float)
    return np.column_stack([data["X"], firms, years])


def brute_force_dummies(data: dict, j: int, r: float, v: np.ndarray, restricted: bool, scale: float) -> np.ndarray:
    """Refit OLS with explicit firm and year dummies on every bootstrap sample (CRV1 t, given scale)."""
    X, y, codes = dummy_design(data), data["y"], data["cluster"]
    if restricted:
        others = [i for i in range(X.shape[1]) if i != j]
        base = np.zeros(X.shape[1])
        base[others] = np.linalg.lstsq(X[:, others], y - r * X[:, j], rcond=None)[0]
        base[j] = r
    else:
        base = np.linalg.lstsq(X, y, rcond=None)[0]
    centre = base[j] if not restricted else r
    u = y - X @ base
    bread = np.linalg.inv(X.T @ X)
    out = np.empty(v.shape[0])
    for b in range(v.shape[0]):
        y_star = X @ base + v[b, codes] * u
        beta = bread @ (X.T @ y_star)
        e = y_star - X @ beta
        sums = np.zeros((codes.max() + 1, X.shape[1]))
        np.add.at(sums, codes, X * e[:, None])
        out[b] = (beta[j] - centre) / np.sqrt(scale * (bread @ sums.T @ sums @ bread)[j, j])
    return out


def _scale(design: LinearDesign) -> float:
    from gvcpanel.inference.covariance import crv1_scale

    n, k = design.X.shape
    return crv1_scale("stata", n, k, 10, design.k_absorbed, design.absorbed_nested.get("cl", 0))


@pytest.mark.parametrize("bootstrap", ["restricted", "unrestricted"])
@pytest.mark.parametrize("r", [0.0, 0.3])
def test_year_effects_across_clusters_equal_refits_with_dummies(bootstrap, r):
    data = panel_with_effects()
    design = absorbed_design(data)
    v = draw_weights(10, 199, "webb", seed=4)
    spec = InferenceSpec(kind="wild", bootstrap=bootstrap)
    test = wild_test(design, "x1", r, spec, weights=v, ci=False)
    reference = brute_force_dummies(data, 0, r, v, bootstrap == "restricted", _scale(design))
    assert test.reabsorbed
    np.testing.assert_allclose(test.t_boot, reference, rtol=1e-9)
    # the once-partialled shortcut is not exact here: the reference can tell the two apart
    shortcut = wild_test(absorbed_design(data, absorb=False), "x1", r, spec, weights=v, ci=False)
    assert not shortcut.reabsorbed
    assert np.max(np.abs(shortcut.t_boot - reference) / np.abs(reference)) > 1e-3


def test_contrast_with_year_effects_equals_refits():
    data = panel_with_effects(seed=8)
    design = absorbed_design(data)
    v = draw_weights(10, 99, "rademacher", seed=5)
    test = wild_test(design, {"x1": 1.0, "x2": -1.0}, 0.0, InferenceSpec(kind="wild"), weights=v, ci=False)
    # on the regressors (x1, x1 + x2) the first coefficient is b1 - b2: the contrast as one term
    swapped = dict(data, X=np.column_stack([data["X"][:, 0], data["X"].sum(axis=1)]))
    reference = brute_force_dummies(swapped, 0, 0.0, v, True, _scale(design))
    np.testing.assert_allclose(test.t_boot, reference, rtol=1e-9)


def test_nested_effects_exact_and_fast_paths_agree():
    data = panel_with_effects(seed=9)
    v = draw_weights(10, 299, "rademacher", seed=6)
    spec = InferenceSpec(kind="wild")
    # firm effects alone are nested in the clusters: M_D w_h = w_h and both paths are exact
    unknown_design = absorbed_design(data, ("firm",), nested_known=False)
    fast_design = absorbed_design(data, ("firm",), absorb=False)
    unknown = wild_test(unknown_design, "x1", 0.1, spec, weights=v, ci=False)
    fast = wild_test(fast_design, "x1", 0.1, spec, weights=v, ci=False)
    known = wild_test(absorbed_design(data, ("firm",)), "x1", 0.1, spec, weights=v, ci=False)
    assert unknown.reabsorbed and not fast.reabsorbed and not known.reabsorbed
    # without the nested count the Stata factor counts the firm effects in K: compare unscaled t
    np.testing.assert_allclose(
        unknown.t_boot * np.sqrt(_scale(unknown_design)), fast.t_boot * np.sqrt(_scale(fast_design)), rtol=1e-9
    )
    assert unknown.pvalue == fast.pvalue
    np.testing.assert_allclose(known.t_boot, fast.t_boot, rtol=1e-12)


def test_reabsorbed_interval_inverts_the_pvalue():
    design = absorbed_design(panel_with_effects(seed=10))
    spec = InferenceSpec(kind="wild", draws=999, level=0.9, weights="webb")
    test = wild_test(design, "x2", 0.0, spec)
    lower, upper = test.ci
    eps = 1e-6 * (upper - lower)
    for inside, outside in ((lower + eps, lower - eps), (upper - eps, upper + eps)):
        assert wild_test(design, "x2", inside, spec, ci=False).pvalue > 0.1
        assert wild_test(design, "x2", outside, spec, ci=False).pvalue <= 0.1


@pytest.mark.slow
def test_reabsorbed_agrees_with_wildboottest_on_dummies():
    import wildboottest.wildboottest as wbt
    data = panel_with_effects(seed=11)
    design = absorbed_design(data)
    v = draw_weights(10, 999, "webb", seed=12)
    mine = wild_test(design, "x1", 0.0, InferenceSpec(kind="wild"), weights=v, ci=False)
    X = dummy_design(data)
    R = np.zeros(X.shape[1])
    R[0] = 1.0
    # wildboottest 0.3.2 on the regressors with explicit firm and year dummies, WCR ("11"),
    # our weights swapped in; its factor is G/(G-1)(N-1)/(N-K) with K counting every dummy
    ref = wbt.WildboottestCL(X=X, Y=data["y"], cluster=data["cluster"], R=R, B=999, seed=1)
    ref.get_scores(bootstrap_type="11", impose_null=True)
    ref.get_weights(weights_type="webb")
    ref.v, ref.B = v.T.copy(), v.shape[0]
    ref.get_numer()
    ref.get_denom()
    ref.get_tboot()
    ref.get_vcov()
    ref.get_tstat()
    ref.get_pvalue(pval_type="two-tailed")
    # the two small-sample factors differ by a constant; the p-values do not depend on it
    np.testing.assert_allclose(mine.t_boot * np.sqrt(_scale(design)), np.ravel(ref.t_boot) * np.sqrt(ref.ssc), rtol=1e-8)
    assert mine.pvalue == pytest.approx(float(ref.pvalue), abs=1e-12)


def test_fe_regression_design_reabsorbs_and_equals_refits():
    from gvcpanel.models.linear import fe_regression

    data = panel_with_effects(seed=13)
    frame = pd.DataFrame(
        {"y": data["y"], "x1": data["X"][:, 0], "x2": data["X"][:, 1], "cluster_id": data["cluster"]},
        index=pd.MultiIndex.from_arrays([data["firm"], data["year"] + 2010], names=["firm_id", "year"]),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fe_regression(frame, "y ~ x1 + x2", effects=("firm", "year"), cluster="cluster_id")
    design = fit.model
    assert fit.nobs == data["y"].size and design.absorb is not None
    v = draw_weights(10, 199, "rademacher", seed=14)
    test = wild_test(design, "x1", 0.0, InferenceSpec(kind="wild"), weights=v, ci=False)
    n, k = design.X.shape
    from gvcpanel.inference.covariance import crv1_scale

    scale = crv1_scale("stata", n, k, 10, design.k_absorbed, design.absorbed_nested["cluster_id"])
    assert test.reabsorbed
    np.testing.assert_allclose(test.t_boot, brute_force_dummies(data, 0, 0.0, v, True, scale), rtol=1e-9)


@pytest.mark.bench
def test_speed_fe_regression_wild_45000_firm_years_30_clusters():
    """Issue 4 target through the estimator: 9,999 draws, G = 30, ~45,000 firm-years, firm and
    year effects (year cuts across clusters, so residuals are re-absorbed), every term's p-value
    and interval."""
    from gvcpanel.models.linear import fe_regression
    from gvcpanel.gvc.simulate import simulate_panel

    panel = simulate_panel(n_firms=5300, n_clusters=30, seed=1).panel
    formula = "labour_productivity ~ network + quasi_hierarchy + hierarchy + log(employees) + foreign_owned + export_share"
    start = time.perf_counter()
    fit = fe_regression(panel, formula, inference="wild")
    elapsed = time.perf_counter() - start
    assert 44_000 <= fit.nobs <= 47_000 and fit.n_clusters == 30
    assert fit.inference.details["reabsorbed"] and fit.inference.details["draws"] == 9999
    assert elapsed < 10, elapsed


def test_many_clusters_fall_back_to_partialling_out_once(monkeypatch):
    import gvcpanel.inference.bootstrap as bootstrap

    design = absorbed_design(panel_with_effects(seed=15))
    monkeypatch.setattr(bootstrap, "REABSORB_MAX_CLUSTERS", 9)  # the design has 10 clusters
    inf = design.inference(InferenceSpec(kind="wild", draws=99))
    assert not inf.details["reabsorbed"] and "partialled out once" in inf.label
    monkeypatch.setattr(bootstrap, "REABSORB_MAX_CLUSTERS", 10)
    inf = design.inference(InferenceSpec(kind="wild", draws=99))
    assert inf.details["reabsorbed"] and "re-absorbed" in inf.label


# --- few clusters: enumeration, the draws that reproduce the data, honest p-values ---------------
def test_enumerated_pvalues_count_the_draws_that_reproduce_the_data():
    design = simulated_design(n_clusters=3, n=200, seed=5, slope=2.0)
    with pytest.warns(FewClustersWarning, match="smallest p-value it can give is 0.25"):
        test = wild_test(design, "x1", 0.0, InferenceSpec(kind="wild", weights="rademacher"))
    assert test.enumerated and test.draws == 8
    # v = (1, 1, 1) gives back the data and v = -(1, 1, 1) its mirror: t* = +-t exactly
    assert np.sum(np.isclose(np.abs(test.t_boot), abs(test.statistic), rtol=1e-10)) >= 2
    assert test.pvalue >= 0.25 and test.pvalue_equal_tail >= 0.25
    # no interval excludes anything at 95% when a quarter of the draws reproduce the data
    assert test.ci == (-np.inf, np.inf)


def test_webb_weights_are_enumerated_when_they_fit_in_the_draws():
    v, kind, enumerated = choose_weights(3, InferenceSpec(kind="wild"))
    assert (kind, enumerated, v.shape) == ("webb", True, (216, 3))
    assert np.unique(v, axis=0).shape[0] == 216
    assert choose_weights(5, InferenceSpec(kind="wild", draws=7776))[2]
    assert not choose_weights(5, InferenceSpec(kind="wild", draws=7775))[2]


def test_bootstrap_pvalues_count_ties_as_exceedances():
    from gvcpanel.inference.resampling import bootstrap_pvalues, data_draw_share

    t_boot = np.array([2.0, -2.0, 0.5, -0.1])
    assert bootstrap_pvalues(2.0, t_boot) == (0.5, 0.5)  # |t*| >= 2 twice; 2 min(3/4, 1/4)
    assert bootstrap_pvalues(2.0 + 1e-13, t_boot)[0] == 0.5  # within the relative tie margin
    assert bootstrap_pvalues(2.1, t_boot) == (0.0, 0.0)
    assert data_draw_share(np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [0.5, 0.5]])) == 0.75


def test_few_clusters_warn_once_per_inference_not_per_term():
    design = simulated_design(n_clusters=6, seed=3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        design.inference(InferenceSpec(kind="wild", draws=199))
    few = [w for w in caught if issubclass(w.category, FewClustersWarning)]
    assert len(few) == 1 and "fewer than 12" in str(few[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FewClustersWarning)
        simulated_design(n_clusters=12).inference(InferenceSpec(kind="wild", draws=199))
