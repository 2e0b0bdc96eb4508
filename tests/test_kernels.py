"""The compiled kernels: weighted absorption and the weighted binary likelihood.

Integer frequency weights must give what replicating each row that many times gives (the
absorption's residuals row by row, the binary fit's estimates, log-likelihood, score sums and
information); the binary fit with weights is also compared with statsmodels' GLM
(``freq_weights`` and ``var_weights``, statsmodels 0.15.0, the version pinned in
constraints.txt), and the kernels with the NumPy formulas of :func:`gvcpanel.models.binary.derivatives`.
"""

from __future__ import annotations

import numpy as np
import pytest

from gvcpanel import kernels
from gvcpanel.errors import SpecificationError
from gvcpanel.models.absorb import Absorber, FixedEffect, demean, factorize, interact
from gvcpanel.models.binary import derivatives, fit_binary, information_matrix, log_likelihood, score_matrix


@pytest.fixture(scope="module")
def weighted_panel():
    rng = np.random.default_rng(20240611)
    n = 900
    firm = factorize(rng.integers(0, 120, n), "firm")
    year = factorize(rng.integers(0, 9, n), "year")
    cluster = factorize(rng.integers(0, 7, 120)[firm.codes], "cluster")
    X = rng.normal(size=(n, 3)) * [1.0, 20.0, 1e-2]
    weights = rng.integers(1, 4, n).astype(float)
    return rng, firm, year, cluster, X, weights


def replicate(effects: list[FixedEffect], X: np.ndarray, weights: np.ndarray):
    rows = np.repeat(np.arange(X.shape[0]), weights.astype(int))
    return [FixedEffect(fe.name, fe.codes[rows], fe.n_levels) for fe in effects], X[rows], rows


@pytest.mark.parametrize("direct_max", [3000, 0])  # 0: conjugate gradients
@pytest.mark.parametrize("which", ["one", "two", "three"])
def test_weighted_demeaning_equals_replicated_rows(weighted_panel, which, direct_max):
    _, firm, year, cluster, X, weights = weighted_panel
    effects = {"one": [firm], "two": [firm, year], "three": [firm, year, interact(cluster, year)]}[which]
    out, info = demean(X, effects, direct_max=direct_max, weights=weights)
    rep_effects, rep_X, rows = replicate(effects, X, weights)
    expected, rep_info = demean(rep_X, rep_effects, direct_max=direct_max)
    scale = np.abs(X).max(axis=0)
    np.testing.assert_allclose(out[rows] / scale, expected / scale, rtol=0, atol=1e-9)
    assert info.k_absorbed == rep_info.k_absorbed
    np.testing.assert_allclose(info.column_ss, (weights[:, None] * X**2).sum(axis=0), rtol=1e-12)
    # weighted level means of the result are zero
    for fe in effects:
        means = np.stack([np.bincount(fe.codes, weights * out[:, j], fe.n_levels) for j in range(3)], axis=1)
        assert np.abs(means).max() <= 1e-8 * np.abs(X).max()


def test_reweighted_absorber_reuses_structure_and_keeps_the_last_weights(weighted_panel):
    _, firm, year, _, X, weights = weighted_panel
    absorber = Absorber([firm, year])
    first = absorber.reweighted(weights)
    assert absorber.reweighted(weights.copy()) is first  # same values: prepared once
    assert first._main_codes is absorber._main_codes  # codes shared, not recomputed
    a = X.copy(order="F")
    b = X.copy(order="F")
    absorber.demean(a, weights=weights)
    first.demean(b)
    np.testing.assert_array_equal(a, b)
    c = X.copy(order="F")
    absorber.demean(c)  # the unweighted projection is unchanged by the weighted calls
    d, _ = demean(X, [firm, year])
    np.testing.assert_allclose(c, d, rtol=0, atol=1e-12)


def test_gram_of_the_demeaned_columns_comes_with_the_pass(weighted_panel):
    _, firm, year, _, X, weights = weighted_panel
    for w in (None, weights):
        work = X.copy(order="F")
        info = Absorber([firm, year], weights=w).demean(work, gram=True)
        ww = np.ones(X.shape[0]) if w is None else w
        np.testing.assert_allclose(info.gram, (work * ww[:, None]).T @ work, rtol=1e-12)


def test_bad_weights_are_refused(weighted_panel):
    _, firm, year, _, X, weights = weighted_panel
    for bad in (weights[:-1], -weights, np.where(weights > 2, np.nan, weights)):
        with pytest.raises(SpecificationError, match="weights"):
            Absorber([firm, year], weights=bad)


def test_zero_weight_rows_do_not_move_the_projection(weighted_panel):
    _, firm, year, _, X, weights = weighted_panel
    w = weights.copy()
    w[::5] = 0.0
    out, _ = demean(X, [firm, year], weights=w)
    keep = w > 0
    sub = [FixedEffect(fe.name, fe.codes[keep], fe.n_levels) for fe in (firm, year)]
    sub = [fe.subset(np.ones(keep.sum(), bool)) for fe in sub]
    expected, _ = demean(X[keep], sub, weights=w[keep])
    np.testing.assert_allclose(out[keep], expected, rtol=0, atol=1e-9)


# --- the binary likelihood ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def binary_data():
    rng = np.random.default_rng(7)
    n = 3000
    periods = rng.integers(0, 6, n)
    x = rng.normal(size=(n, 2))
    eta = -2.5 + 0.2 * periods + x @ np.array([0.4, -0.3])
    y = (rng.random(n) < 1 - np.exp(-np.exp(eta))).astype(float)
    X = np.column_stack([x, np.eye(6)[periods]])
    weights = rng.integers(1, 4, n).astype(float)
    return X, y, periods, weights


@pytest.mark.parametrize("link", ["cloglog", "logit"])
def test_kernel_derivatives_equal_the_numpy_formulas(binary_data, link):
    X, y, _, weights = binary_data
    beta = np.r_[0.4, -0.3, np.linspace(-3, -1, 6)]
    ll, d1, d2 = derivatives(X @ beta, y, link)
    got_ll, got_gradient, got_information = kernels.binary_pass(
        np.asfortranarray(X), y, kernels.NO_WEIGHTS, beta, 0 if link == "cloglog" else 1, weights, 2)
    np.testing.assert_allclose(got_ll, np.sum(weights * ll), rtol=1e-12)
    np.testing.assert_allclose(got_gradient, X.T @ (weights * d1), rtol=1e-11, atol=1e-9)
    np.testing.assert_allclose(got_information, (X * (weights * np.maximum(-d2, 0))[:, None]).T @ X, rtol=1e-11)
    np.testing.assert_allclose(score_matrix(X, y, beta, link, weights=weights), X * (weights * d1)[:, None],
                               rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("link", ["cloglog", "logit"])
def test_indicator_block_gives_the_dense_results(binary_data, link):
    X, y, periods, weights = binary_data
    beta = np.r_[0.4, -0.3, np.linspace(-3, -1, 6)]
    for w in (None, weights):
        dense = information_matrix(X, y, beta, link, weights=w)
        sparse = information_matrix(X, y, beta, link, weights=w, indicators=periods)
        np.testing.assert_allclose(sparse, dense, rtol=1e-12)
    a = fit_binary(X, y, link, weights=weights)
    b = fit_binary(X, y, link, weights=weights, indicators=periods)
    np.testing.assert_allclose(b.params, a.params, rtol=1e-10)


@pytest.mark.parametrize("link", ["cloglog", "logit"])
def test_frequency_weights_equal_replicated_rows(binary_data, link):
    X, y, periods, weights = binary_data
    rows = np.repeat(np.arange(y.size), weights.astype(int))
    weighted = fit_binary(X, y, link, weights=weights, indicators=periods)
    replicated = fit_binary(X[rows], y[rows], link, indicators=periods[rows])
    np.testing.assert_allclose(weighted.params, replicated.params, rtol=1e-9)
    np.testing.assert_allclose(weighted.loglik, replicated.loglik, rtol=1e-12)
    np.testing.assert_allclose(
        information_matrix(X, y, weighted.params, link, weights=weights),
        information_matrix(X[rows], y[rows], weighted.params, link), rtol=1e-11)
    np.testing.assert_allclose(
        score_matrix(X, y, weighted.params, link, weights=weights).sum(axis=0),
        score_matrix(X[rows], y[rows], weighted.params, link).sum(axis=0), atol=1e-8)
    np.testing.assert_allclose(log_likelihood(X, y, weighted.params, link, weights=weights), weighted.loglik,
                               rtol=1e-13)


@pytest.mark.parametrize("kind", ["freq_weights", "var_weights"])
@pytest.mark.parametrize("link", ["cloglog", "logit"])
def test_weighted_fit_equals_statsmodels_glm(binary_data, link, kind):
    import statsmodels.api as sm

    X, y, periods, weights = binary_data
    family = sm.families.Binomial(link=sm.families.links.CLogLog() if link == "cloglog" else sm.families.links.Logit())
    reference = sm.GLM(y, X, family=family, **{kind: weights}).fit(tol=1e-12)
    fit = fit_binary(X, y, link, weights=weights, indicators=periods)
    np.testing.assert_allclose(fit.params, reference.params, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(fit.loglik, reference.llf, rtol=1e-9) if kind == "freq_weights" else None
    # the observed information at the estimates; for the canonical logit link it is the
    # expected information behind statsmodels' covariance
    if link == "logit":
        info = information_matrix(X, y, fit.params, link, weights=weights)
        np.testing.assert_allclose(np.linalg.inv(info), reference.cov_params(), rtol=1e-6)


def _singleton_mask_numpy(effects):
    """The rule written with NumPy counts (the implementation before the compiled sweeps)."""
    keep = np.ones(effects[0].codes.size, dtype=bool)
    dropped = {fe.name: 0 for fe in effects}
    changed = True
    while changed:
        changed = False
        for fe in effects:
            counts = np.bincount(fe.codes, weights=keep, minlength=fe.n_levels)
            alone = keep & (counts[fe.codes] == 1)
            if alone.any():
                keep &= ~alone
                dropped[fe.name] += int(alone.sum())
                changed = True
    return keep, {k: v for k, v in dropped.items() if v}


@pytest.mark.parametrize("seed", range(6))
def test_compiled_singleton_sweeps_follow_the_numpy_rule(seed):
    from gvcpanel.models.absorb import singleton_mask, singleton_sweep

    rng = np.random.default_rng(seed)
    n = 400
    # sparse levels so that dropping one singleton makes others (chains of several sweeps)
    effects = [factorize(rng.integers(0, 150, n), "firm"), factorize(rng.integers(0, 120, n), "year"),
               factorize(rng.integers(0, 90, n), "region")][: 2 + seed % 2]
    keep, dropped = singleton_mask(effects)
    expected_keep, expected_dropped = _singleton_mask_numpy(effects)
    assert np.array_equal(keep, expected_keep)
    assert dropped == expected_dropped
    assert sum(dropped.values()) == int((~keep).sum()) > 0
    # the rows left in each level, and the same sweep started from a subset of the rows
    _, _, counts = singleton_sweep(effects)
    for fe, count in zip(effects, counts):
        assert np.array_equal(count, np.bincount(fe.codes[keep], minlength=fe.n_levels))
    start = np.random.default_rng(seed + 10).random(n) < 0.8
    sub = [FixedEffect(fe.name, fe.codes[start], fe.n_levels) for fe in effects]
    masked = [FixedEffect(fe.name, np.where(start, fe.codes, -1), fe.n_levels) for fe in effects]  # never read
    keep_sub, dropped_sub = singleton_mask(sub)
    keep_masked, dropped_masked = singleton_mask(masked, start)
    assert np.array_equal(keep_masked[start], keep_sub) and not keep_masked[~start].any()
    assert dropped_masked == dropped_sub


@pytest.mark.parametrize("seed", range(4))
def test_union_find_components_equal_scipy_graph_components(seed):
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components

    from gvcpanel.models.absorb import n_components

    rng = np.random.default_rng(seed)
    n = 300
    a = FixedEffect("a", rng.integers(0, 200, n), 210)  # some levels occur in no row
    b = FixedEffect("b", rng.integers(0, 150, n), 150)
    cross = sparse.csr_matrix((np.ones(n), (a.codes, b.codes)), shape=(a.n_levels, b.n_levels))
    graph = sparse.bmat([[None, cross], [cross.T, None]], format="csr")
    assert n_components(a, b) == connected_components(graph, directed=False)[0]


@pytest.mark.parametrize("weighted", [False, True])
def test_schur_cross_from_rows_equals_the_sparse_product(weighted_panel, weighted):
    from scipy import sparse

    rng, firm, year, cluster, _, weights = weighted_panel
    cy = interact(cluster, year)
    w = weights if weighted else np.ones(firm.codes.size)
    rest = np.column_stack([year.codes, cy.codes]).astype(np.int64)
    offsets = np.array([0, year.n_levels, year.n_levels + cy.n_levels], dtype=np.int64)
    C = sparse.hstack([sparse.csr_matrix((w, (firm.codes, fe.codes)), shape=(firm.n_levels, fe.n_levels))
                       for fe in (year, cy)], format="csr")
    div = np.asarray(C[:, : year.n_levels].sum(axis=1)).ravel()
    div = np.where(div > 0, div, 1.0)
    expected = (C.T @ C.multiply(1.0 / div[:, None]).tocsr()).toarray()
    got = kernels.schur_cross(kernels.as_codes(firm.codes), firm.n_levels, np.asfortranarray(rest), offsets,
                              kernels.as_weights(weights if weighted else None), div)
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("main_levels", [120, 4])  # 4: levels of ~450 entries outgrow the buffer
def test_schur_cross_and_counts_by_runs_equal_the_sparse_product(weighted_panel, weighted, main_levels):
    from scipy import sparse

    rng, _, year, cluster, _, weights = weighted_panel
    cy = interact(cluster, year)
    main = np.sort(rng.integers(0, main_levels, year.codes.size))  # rows sorted: levels are runs
    w = weights if weighted else np.ones(main.size)
    rest = np.column_stack([year.codes, cy.codes]).astype(np.int64)
    offsets = np.array([0, year.n_levels, year.n_levels + cy.n_levels], dtype=np.int64)
    C = sparse.hstack([sparse.csr_matrix((w, (main, fe.codes)), shape=(main_levels, fe.n_levels))
                       for fe in (year, cy)], format="csr")
    div = np.asarray(C[:, : year.n_levels].sum(axis=1)).ravel()
    expected = (C.T @ C.multiply(1.0 / div[:, None]).tocsr()).toarray()
    for target in (1, 100, main.size):  # one chunk per level, several levels each, one chunk
        bounds = kernels.run_bounds(kernels.as_codes(main), target)
        assert bounds.size >= 2
        got, main_counts, rest_counts = kernels.run_schur_counts(
            kernels.as_codes(main), main_levels + 2, np.asfortranarray(rest), offsets,
            kernels.as_weights(weights if weighted else None), bounds)
        np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-12)
        np.testing.assert_array_equal(got, got.T)
        np.testing.assert_allclose(main_counts, np.r_[div, 0, 0], rtol=1e-14)  # two levels without rows
        np.testing.assert_allclose(rest_counts, np.asarray(C.sum(axis=0)).ravel(), rtol=1e-14)
        assert kernels.run_squared_sizes(kernels.as_codes(main), bounds) == (np.bincount(main) ** 2).sum()


def test_threeway_absorption_does_not_depend_on_how_the_schur_complement_is_formed(weighted_panel):
    _, firm, year, cluster, X, _ = weighted_panel
    effects = [firm, year, interact(cluster, year)]
    fast, info = demean(X, effects)  # C'D^{-1}C from the rows (small firm levels)
    absorber = Absorber(effects)
    assert absorber.method == "direct"
    # the same projection by conjugate gradients on the sparse cross-tabulation
    slow, _ = demean(X, effects, direct_max=0)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-8 * np.abs(X).max())


# --- the baseline as codes, the scores as factors ---------------------------------------------
@pytest.mark.parametrize("link", ["cloglog", "logit"])
def test_factored_design_and_scores_equal_the_dense_ones(binary_data, link):
    from gvcpanel.inference.clusters import sum_by_group
    from gvcpanel.models.binary import BinaryDesign, BinaryScores, as_design, factored_scores

    X, y, periods, weights = binary_data
    design = as_design(X, periods)
    assert isinstance(design, BinaryDesign) and design.shape == X.shape and design.n_levels == 6
    np.testing.assert_array_equal(design.dense(), X)
    beta = np.r_[0.4, -0.3, np.linspace(-3, -1, 6)]
    np.testing.assert_allclose(design @ beta, X @ beta, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(design @ np.eye(8)[:, :3], X[:, :3], rtol=1e-14, atol=1e-14)
    clusters = np.random.default_rng(3).integers(0, 40, y.size)
    for w in (None, weights):
        dense = score_matrix(X, y, beta, link, weights=w)
        scores = factored_scores(design, y, beta, link, weights=w)
        assert isinstance(scores, BinaryScores) and scores.shape == dense.shape
        np.testing.assert_allclose(np.asarray(scores), dense, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(score_matrix(design, y, beta, link, weights=w), dense, rtol=1e-13, atol=1e-15)
        # cluster sums from the factors (what every sandwich reads) equal sums of the dense rows
        np.testing.assert_allclose(sum_by_group(scores, clusters), sum_by_group(dense, clusters),
                                   rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("link", ["cloglog", "logit"])
def test_fit_returns_information_and_score_factors_at_the_estimates(binary_data, link):
    from gvcpanel.models.binary import as_design, factored_scores

    X, y, periods, weights = binary_data
    design = as_design(X, periods)
    for w in (None, weights):
        fit = fit_binary(design, y, link, weights=w)
        np.testing.assert_array_equal(fit.information, information_matrix(design, y, fit.params, link, weights=w))
        np.testing.assert_allclose(fit.derivative, factored_scores(design, y, fit.params, link, weights=w).u,
                                   rtol=1e-13, atol=1e-15)
        assert fit.loglik == log_likelihood(design, y, fit.params, link, weights=w)
        # the same estimates as the dense design, Newton step for Newton step
        dense = fit_binary(X, y, link, weights=w)
        np.testing.assert_allclose(fit.params, dense.params, rtol=1e-10)
        assert fit.n_iterations == dense.n_iterations


@pytest.mark.parametrize("n", [1_000, 300_000])  # one part of rows; several parts on the cores
@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64])
def test_compiled_code_compaction_equals_numpy_unique(n, dtype):
    rng = np.random.default_rng(n)
    n_levels = 100 if dtype == np.int8 else 5_000
    codes = rng.integers(0, n_levels - 20, n).astype(dtype)  # the last levels never occur
    codes[rng.random(n) < 0.3] = 7  # one level that only some rows keep
    for keep in (None, rng.random(n) < 0.6, np.zeros(n, dtype=bool)):
        selected = codes if keep is None else codes[keep]
        used, expected = np.unique(selected, return_inverse=True)
        got, got_used = kernels.compact_codes(codes, n_levels, kernels.ALL_ROWS if keep is None else keep)
        assert got.dtype == np.int64 and np.array_equal(got, expected.ravel()) and np.array_equal(got_used, used)
    values = (codes.astype(np.int64) - 40) * 3  # whole numbers with gaps and negatives
    uniques, expected = np.unique(values, return_inverse=True)
    got, got_uniques = kernels.integer_codes(values, values.min(), values.max())
    assert np.array_equal(got, expected.ravel()) and np.array_equal(got_uniques, uniques)
    keep = rng.random(n) < 0.5
    uniques, expected = np.unique(values[keep], return_inverse=True)
    got, got_uniques = kernels.integer_codes(values, values.min(), values.max(), keep)
    assert np.array_equal(got, expected.ravel()) and np.array_equal(got_uniques, uniques)
