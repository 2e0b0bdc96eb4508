"""The absorption engine against dense least squares on the explicit dummy matrix."""

from __future__ import annotations

import numpy as np
import pytest

from gvcpanel.models.absorb import (
    Absorber,
    FixedEffect,
    demean,
    factorize,
    interact,
    n_components,
    rank_of,
    refines,
    singleton_mask,
)
from gvcpanel.errors import ConvergenceError


def dense_projection(X: np.ndarray, effects: list[FixedEffect]) -> tuple[np.ndarray, int]:
    """Residuals of X on the explicit stacked dummies, and the rank of the dummies."""
    D = np.hstack([np.eye(fe.n_levels)[fe.codes] for fe in effects])
    coef, *_ = np.linalg.lstsq(D, X, rcond=None)
    return X - D @ coef, int(np.linalg.matrix_rank(D))


def unbalanced(seed: int = 3, n: int = 1200):
    rng = np.random.default_rng(seed)
    firm = factorize(rng.integers(0, 150, n), "firm")
    year = factorize(rng.integers(0, 12, n), "year")
    cluster = factorize(rng.integers(0, 300, 150)[firm.codes] % 9, "cluster")
    return rng, firm, year, cluster


@pytest.mark.parametrize("direct_max", [3000, 0])  # 0 forces conjugate gradients
@pytest.mark.parametrize("which", ["one", "two", "three_redundant", "three"])
def test_matches_dense_least_squares(which, direct_max):
    rng, firm, year, cluster = unbalanced()
    effects = {
        "one": [firm],
        "two": [firm, year],
        "three_redundant": [firm, year, interact(cluster, year)],  # year lies in cluster^year
        "three": [firm, year, factorize(rng.integers(0, 25, firm.codes.size), "buyer")],
    }[which]
    X = rng.normal(size=(firm.codes.size, 3)) * [1.0, 50.0, 1e-3]
    out, info = demean(X, effects, direct_max=direct_max)
    expected, rank = dense_projection(X, effects)
    scale = np.abs(X).max(axis=0)  # columns differ in scale on purpose
    np.testing.assert_allclose(out / scale, expected / scale, rtol=0, atol=1e-8)
    if info.dof_exact:
        assert info.k_absorbed == rank
    else:  # documented approximation: at most the true rank is overstated (conservative)
        assert info.k_absorbed >= rank
    if which == "three_redundant":
        assert info.redundant_effects == ("year",)


def test_balanced_two_way_closed_form():
    rng = np.random.default_rng(5)
    firms, years = 40, 6
    firm = FixedEffect("firm", np.repeat(np.arange(firms), years), firms)
    year = FixedEffect("year", np.tile(np.arange(years), firms), years)
    x = rng.normal(size=firms * years)
    grid = x.reshape(firms, years)
    textbook = grid - grid.mean(axis=1, keepdims=True) - grid.mean(axis=0, keepdims=True) + grid.mean()
    out, info = demean(x, [firm, year])
    np.testing.assert_allclose(out, textbook.ravel(), rtol=0, atol=1e-13)
    assert info.k_absorbed == firms + years - 1 and info.method == "direct"


def weakly_connected(n_movers: int, seed: int = 11):
    """Workers x employers in two blocks joined only by a few movers (both effects large)."""
    rng = np.random.default_rng(seed)
    n_workers, per_worker, half = 300, 4, 60
    worker = np.repeat(np.arange(n_workers), per_worker)
    block = (np.arange(n_workers) >= n_workers // 2).astype(int)
    home = rng.integers(0, half, n_workers) + half * block  # two disjoint sets of employers
    employer = np.repeat(home, per_worker)
    switch = rng.random(worker.size) < 0.3
    employer = np.where(switch, rng.integers(0, half, worker.size) + half * block[worker], employer)
    movers = rng.choice(n_workers, n_movers, replace=False)
    for m in movers:  # last spell at an employer of the other block
        employer[m * per_worker + per_worker - 1] = rng.integers(0, half) + half * (1 - block[m])
    return rng, factorize(worker, "worker"), factorize(employer, "employer")


@pytest.mark.parametrize("n_movers", [0, 1, 20])
def test_weakly_connected_conjugate_gradient(n_movers):
    rng, worker, employer = weakly_connected(n_movers)
    X = rng.normal(size=(worker.codes.size, 2))
    out, info = demean(X, [worker, employer], direct_max=0)
    expected, rank = dense_projection(X, [worker, employer])
    assert info.method == "conjugate gradient"
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-8)
    assert info.k_absorbed == rank
    assert n_components(worker, employer) == (2 if n_movers == 0 else 1)


def test_convergence_error_names_effects():
    rng, worker, employer = weakly_connected(1)
    X = rng.normal(size=(worker.codes.size, 1))
    with pytest.raises(ConvergenceError, match="worker, employer"):
        demean(X, [worker, employer], direct_max=0, maxiter=2)


def test_singletons_dropped_iteratively():
    # row 4 is alone in firm 2; once it goes, row 3 is alone in year 9
    firm = FixedEffect("firm", np.array([0, 0, 1, 1, 2]), 3)
    year = FixedEffect("year", np.array([0, 1, 0, 1, 2]), 3)
    keep, dropped = singleton_mask([firm, year])
    assert keep.tolist() == [True, True, True, True, False]
    firm = FixedEffect("firm", np.array([0, 0, 1, 1, 2, 2]), 3)
    year = FixedEffect("year", np.array([0, 1, 0, 1, 3, 2]), 4)
    keep, dropped = singleton_mask([firm, year])
    assert keep.tolist() == [True, True, True, True, False, False]
    assert dropped == {"year": 2}


def test_refines_and_rank():
    rng, firm, year, cluster = unbalanced()
    assert refines(firm, cluster)  # firms never move between clusters here
    assert not refines(cluster, firm)
    assert not refines(firm, year)
    cy = interact(cluster, year)
    assert refines(cy, year) and refines(cy, cluster)
    rank, exact = rank_of([firm, cluster])
    assert (rank, exact) == (firm.n_levels, True)


def test_absorber_reuse_and_in_place():
    rng, firm, year, _ = unbalanced()
    absorber = Absorber([firm, year])
    a = np.asfortranarray(rng.normal(size=(firm.codes.size, 2)))
    b = a.copy(order="F")
    absorber.demean(a)
    twice = b.copy(order="F")
    absorber.demean(twice)
    absorber.demean(twice)  # a projection: applying it again changes nothing
    np.testing.assert_allclose(twice, a, rtol=0, atol=1e-12)


def test_fits_on_one_sample_share_the_absorber_and_match_a_fresh_one():
    """Absorber.reuse_or_prepare: a second model on the same rows uses the absorber the first
    result holds; its estimates equal those of an absorber built anew, and another sample (or
    other weights) gets its own."""
    import gc

    import pandas as pd

    import gvcpanel.models.absorb as absorb
    from gvcpanel.models.linear import fe_regression

    rng = np.random.default_rng(5)
    firm = np.repeat(np.arange(300), 6)
    year = np.tile(np.arange(2000, 2006), 300)
    frame = pd.DataFrame({"x": rng.normal(size=firm.size), "z": rng.normal(size=firm.size),
                          "cluster_id": firm // 10},
                         index=pd.MultiIndex.from_arrays([firm, year], names=["firm_id", "year"]))
    frame["y1"] = frame.x + rng.normal(size=firm.size)
    frame["y2"] = frame.z - frame.x + rng.normal(size=firm.size)
    first = fe_regression(frame, "y1 ~ x + z")
    second = fe_regression(frame, "y2 ~ x + z")
    assert second.model.absorb.absorber is first.model.absorb.absorber
    absorb._RECENT.clear()  # nothing to reuse: the same fit from a new absorber
    fresh = fe_regression(frame, "y2 ~ x + z")
    assert fresh.model.absorb.absorber is not first.model.absorb.absorber
    np.testing.assert_allclose(second.params, fresh.params, rtol=1e-13)
    np.testing.assert_allclose(second.std_errors, fresh.std_errors, rtol=1e-12)
    # another sample: rows of one year left out
    other = fe_regression(frame[frame.index.get_level_values("year") < 2005], "y2 ~ x + z")
    assert other.model.absorb.absorber is not fresh.model.absorb.absorber
    weighted = fe_regression(frame.assign(w=1.0 + (firm % 3)), "y2 ~ x + z", weights="w")
    assert weighted.model.absorb.absorber is not fresh.model.absorb.absorber
    # held weakly: once no result uses it, it is not kept
    del first, second, fresh, other, weighted
    gc.collect()
    assert all(ref() is None for ref in absorb._RECENT)
