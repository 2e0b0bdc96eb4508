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
