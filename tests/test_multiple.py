"""Romano-Wolf stepdown and Holm adjusted p-values."""

from __future__ import annotations

import numpy as np
import pytest

from gvcpanel.errors import SpecificationError
from gvcpanel.inference.multiple import holm, romano_wolf


def test_romano_wolf_hand_worked_example():
    # three hypotheses, five draws.  Ordered by |t|: h0 (3.0), h2 (2.0), h1 (0.5).
    t_obs = np.array([3.0, 0.5, -2.0])
    t_boot = np.array(
        [
            [0.1, 0.2, 2.5],
            [3.5, 0.1, 0.3],
            [0.4, 0.6, 0.2],
            [1.0, -2.2, 1.1],
            [-0.2, 0.3, -0.1],
        ]
    )
    # step 1, set {0,1,2}: max|t*| = 2.5, 3.5, 0.6, 2.2, 0.3 -> exceed 3.0 once -> 1/5
    # step 2, set {2,1}:   max|t*| = 2.5, 0.3, 0.6, 2.2, 0.3 -> exceed 2.0 twice -> 2/5
    # step 3, set {1}:     |t*| = 0.2, 0.1, 0.6, 2.2, 0.3 -> exceed 0.5 twice -> 2/5 (monotone)
    np.testing.assert_allclose(romano_wolf(t_obs, t_boot), [0.2, 0.4, 0.4], atol=1e-15)


def test_romano_wolf_enforces_monotonicity_and_one_sided():
    t_obs = np.array([2.0, 1.9])
    t_boot = np.array([[2.5, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 1.95]])
    # step 1: max exceeds 2.0 in draws 0 -> 1/4; step 2 alone: 1.95 > 1.9 -> 1/4, not below step 1
    np.testing.assert_allclose(romano_wolf(t_obs, t_boot, ">"), [0.25, 0.25], atol=1e-15)
    # against "<" the observed statistics are -2.0 and -1.9: every draw exceeds them
    np.testing.assert_allclose(romano_wolf(t_obs, t_boot, ["<", "<"]), [1.0, 1.0], atol=1e-15)


def test_romano_wolf_single_hypothesis_is_the_bootstrap_pvalue():
    rng = np.random.default_rng(3)
    t_boot = rng.standard_normal((999, 1))
    p = romano_wolf(np.array([1.7]), t_boot)[0]
    assert p == pytest.approx(np.mean(np.abs(t_boot[:, 0]) > 1.7), abs=1e-15)


def test_romano_wolf_between_raw_and_bonferroni():
    rng = np.random.default_rng(8)
    common = rng.standard_normal((4999, 1))
    t_boot = 0.8 * common + 0.6 * rng.standard_normal((4999, 4))  # correlated statistics
    t_obs = np.array([2.6, 2.1, 1.2, 0.3])
    raw = np.mean(np.abs(t_boot) > np.abs(t_obs), axis=0)
    adjusted = romano_wolf(t_obs, t_boot)
    assert np.all(adjusted >= raw - 1e-15)
    assert np.all(adjusted <= np.minimum(1, 4 * raw) + 1e-15)


def test_romano_wolf_checks_shapes():
    with pytest.raises(SpecificationError, match="draws x hypotheses"):
        romano_wolf(np.zeros(3), np.zeros((10, 2)))
    with pytest.raises(SpecificationError, match="alternative"):
        romano_wolf(np.zeros(2), np.zeros((10, 2)), "both")


def test_holm_equals_statsmodels():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(4)
    p = rng.uniform(0, 0.2, 9)
    # statsmodels 0.15: multipletests(p, method="holm")[1]
    np.testing.assert_allclose(holm(p), multipletests(p, method="holm")[1], rtol=1e-14)


def test_holm_hand_worked():
    # sorted 0.01, 0.02, 0.04: 3*0.01 = 0.03, 2*0.02 = 0.04, 1*0.04 = 0.04
    np.testing.assert_allclose(holm(np.array([0.04, 0.01, 0.02])), [0.04, 0.03, 0.04], atol=1e-15)


def test_romano_wolf_counts_a_draw_tied_with_the_statistic():
    # a draw equal to the observed statistic (the draw that reproduces the data) counts, as in the
    # bootstrap p-values, so a family of one gives the bootstrap's own p-value
    np.testing.assert_allclose(romano_wolf(np.array([2.0]), np.array([[2.0], [-2.0], [0.3], [1.0]])), [0.5])


# --- family bootstrap: generic restrictions and alternatives -----------------------------------
def family_designs(seed: int = 4):
    from gvcpanel.inference.designs import LinearDesign

    rng = np.random.default_rng(seed)
    designs = []
    for keep in (slice(None), slice(0, 500)):  # the second model on a subsample (fewer clusters)
        codes_all = np.repeat(np.arange(15), 40)
        X = np.column_stack([np.ones(600), rng.normal(size=600), rng.normal(size=600)])
        y = X @ np.array([1.0, 0.2, 0.0]) + rng.normal(size=15)[codes_all] + rng.normal(size=600)
        X, y, codes = X[keep], y[keep], codes_all[keep]
        params = np.linalg.lstsq(X, y, rcond=None)[0]
        labels = np.array([f"g{c:02d}" for c in range(int(codes.max()) + 1)])
        designs.append(LinearDesign(X, y, params, y - X @ params, ("const", "x1", "x2"), {"cl": codes},
                                    {"cl": labels}, default_cluster=("cl",)))
    return designs


def test_family_bootstrap_shares_weights_by_label_and_takes_contrasts():
    import pandas as pd

    from gvcpanel.inference.bootstrap import wild_test
    from gvcpanel.inference.family import family_bootstrap, romano_wolf_family
    from gvcpanel.inference.resampling import choose_weights
    from gvcpanel.inference.spec import InferenceSpec

    designs = family_designs()
    spec = InferenceSpec(kind="wild", draws=499, seed=7)
    restrictions = ["x1", {"x1": 1.0, "x2": -1.0}]
    fam = family_bootstrap(designs, restrictions, ["two-sided", ">"], spec)
    assert fam.methods == ("wild (restricted)", "wild (restricted)") and fam.t_boot.shape == (499, 2)
    # the same draws by cluster label: the subsample's clusters g00..g12 take the family's columns
    weights = pd.DataFrame(choose_weights(15, spec)[0], columns=[f"g{c:02d}" for c in range(15)])
    own = designs[1].group_labels["cl"]
    alone = wild_test(designs[1], restrictions[1], 0.0, spec, weights=weights[list(own)], ci=False)
    np.testing.assert_allclose(fam.t_boot[:, 1], alone.t_boot, rtol=1e-12)
    assert fam.p_values[0] == np.mean(np.abs(fam.t_boot[:, 0]) >= abs(fam.t_obs[0]) - 1e-12)
    assert fam.p_values[1] == np.mean(fam.t_boot[:, 1] >= fam.t_obs[1] - 1e-12)
    adjusted, details = romano_wolf_family(designs, restrictions, ["two-sided", ">"], spec)
    np.testing.assert_array_equal(adjusted, romano_wolf(fam.t_obs, fam.t_boot, ["two-sided", ">"]))
    assert details["clusters"] == 15 and details["draws"] == 499
