"""Size of cluster-robust t-tests and of the wild cluster bootstrap with 12 clusters.

Run with ``make montecarlo`` (``pytest -m montecarlo -s`` prints the rejection rates).
DGP (balanced, 12 clusters x 8 firms x 8 years): regressor x and moderator m with cluster-year
shocks, errors with cluster-year shocks whose variance grows with |x| (so clustering matters and
CRV1 over-rejects), firm and year effects removed by the two-way within transformation.  The
null is true for the coefficient of x and for the x:m interaction.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

from gvcpanel.errors import FewClustersWarning
from gvcpanel.inference.bootstrap import wild_test
from gvcpanel.inference.covariance import LinearDesign
from gvcpanel.inference.spec import InferenceSpec

N_CLUSTERS, FIRMS_PER_CLUSTER, N_YEARS = 12, 8, 8
REPLICATIONS, DRAWS, LEVEL = 500, 399, 0.05


def simulate(rng: np.random.Generator) -> LinearDesign:
    firms = N_CLUSTERS * FIRMS_PER_CLUSTER
    cluster = np.repeat(np.arange(N_CLUSTERS), FIRMS_PER_CLUSTER * N_YEARS)
    firm = np.repeat(np.arange(firms), N_YEARS)
    year = np.tile(np.arange(N_YEARS), firms)
    cy = cluster * N_YEARS + year
    # cluster heterogeneity in scale makes few clusters dominate: the hard case for CRV1
    cluster_scale = rng.lognormal(0, 0.7, N_CLUSTERS)[cluster]
    x = rng.normal(size=N_CLUSTERS * N_YEARS)[cy] + 0.5 * rng.normal(size=firm.size) + rng.normal(size=firms)[firm]
    m = rng.normal(size=N_CLUSTERS)[cluster] + rng.normal(size=firm.size)
    u = cluster_scale * (rng.normal(size=N_CLUSTERS * N_YEARS)[cy] * (1 + np.abs(x)) + rng.normal(size=firm.size))
    y = 0.5 * m + rng.normal(size=firms)[firm] + rng.normal(size=N_YEARS)[year] + u  # x and x:m have 0
    X = np.column_stack([x, m, x * m])

    def within(a: np.ndarray) -> np.ndarray:
        # balanced panel: the two-way within transformation is exact double demeaning
        a = a.reshape(firms, N_YEARS, -1)
        return (a - a.mean(axis=1, keepdims=True) - a.mean(axis=0, keepdims=True) + a.mean(axis=(0, 1))).reshape(firm.size, -1)

    Xw, yw = within(X), within(y)[:, 0]
    params = np.linalg.lstsq(Xw, yw, rcond=None)[0]
    return LinearDesign(
        Xw, yw, params, yw - Xw @ params, ("x", "m", "x:m"), {"cluster_id": cluster, "firm_id": firm, "year": year},
        k_absorbed=firms + N_YEARS - 1, absorbed_nested={"cluster_id": firms, "firm_id": firms},
        default_cluster=("cluster_id",),
    )


@pytest.mark.montecarlo
def test_wild_bootstrap_size_with_12_clusters():
    rng = np.random.default_rng(20240611)
    rejections = {("crv1", "x"): 0, ("crv1", "x:m"): 0, ("wild", "x"): 0, ("wild", "x:m"): 0}
    spec = InferenceSpec(kind="wild", draws=DRAWS, weights="rademacher")
    for rep in range(REPLICATIONS):
        design = simulate(rng)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FewClustersWarning)
            crv1 = design.inference(InferenceSpec(kind="cluster"))
        se = np.sqrt(np.diag(crv1.cov.to_numpy()))
        for j, term in ((0, "x"), (2, "x:m")):
            p_crv1 = 2 * stats.t.sf(abs(design.params[j] / se[j]), crv1.df)
            rejections[("crv1", term)] += p_crv1 < LEVEL
            seeded = InferenceSpec(kind="wild", draws=DRAWS, weights="rademacher", seed=rep)
            rejections[("wild", term)] += wild_test(design, term, 0.0, seeded, ci=False).pvalue < LEVEL
    rates = {key: count / REPLICATIONS for key, count in rejections.items()}
    band = 1.96 * np.sqrt(LEVEL * (1 - LEVEL) / REPLICATIONS)
    print(
        f"\n{REPLICATIONS} panels, {N_CLUSTERS} clusters, {DRAWS} Rademacher draws, true null, 5% test"
        f" (binomial 95% band around 5%: +-{band:.3f})"
    )
    for (method, term), rate in rates.items():
        print(f"  {method:5s} {term:4s} rejection rate {rate:.3f}")
    assert spec.draws == DRAWS
    assert 0.03 <= rates[("wild", "x")] <= 0.07
    assert 0.03 <= rates[("wild", "x:m")] <= 0.07
