"""Johnson-Neyman boundaries when each moderator value has its own degrees of freedom (CR2)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, stats

from gvcpanel.models.moderation import johnson_neyman, johnson_neyman_varying

COEF = dict(b_f=-0.5, b_i=0.3, v_ff=0.010, v_fi=-0.002, v_ii=0.004)
COEF_BOUNDED = dict(b_f=1.0, b_i=0.05, v_ff=0.04, v_fi=0.0, v_ii=0.01)


def t_ratio(m, b_f: float, b_i: float, v_ff: float, v_fi: float, v_ii: float):
    return (b_f + b_i * m) / np.sqrt(v_ff + 2 * m * v_fi + m * m * v_ii)


def test_constant_critical_value_gives_the_quadratic_roots():
    c = stats.t.ppf(0.975, 9)
    for coef in (COEF, COEF_BOUNDED):
        region, bounds = johnson_neyman_varying(*coef.values(), lambda m: c, c)
        expected_region, expected_bounds = johnson_neyman(*coef.values(), c)
        np.testing.assert_allclose(bounds, expected_bounds, rtol=1e-12)
        np.testing.assert_allclose(np.array(region), np.array(expected_region), rtol=1e-12)


@pytest.mark.parametrize("coef", [COEF, COEF_BOUNDED], ids=["outside", "between"])
def test_varying_critical_value_matches_brute_force_roots(coef):
    # degrees of freedom that vary smoothly with m, from 4 near m = 0 to 12 far away
    def critical(m):
        return stats.t.ppf(0.975, 4 + 8 * np.square(m) / (1 + np.square(m)))

    region, bounds = johnson_neyman_varying(*coef.values(), lambda m: float(critical(m)), float(stats.t.ppf(0.975, 12)))

    def excess(m):
        return np.abs(t_ratio(m, **coef)) - critical(m)

    grid = np.linspace(-200, 200, 40001)
    values = excess(grid)
    change = np.flatnonzero(np.diff(np.sign(values)))
    expected = [optimize.brentq(excess, grid[i], grid[i + 1], xtol=1e-13) for i in change]
    np.testing.assert_allclose(bounds, expected, rtol=1e-9)
    # inside the region |t| exceeds the critical value of its own m, outside it does not
    for (a, b) in region:
        probe = (a + b) / 2 if math.isfinite(a) and math.isfinite(b) else (b - 1 if math.isfinite(b) else a + 1)
        assert excess(probe) > 0
