"""The discrete-time hazard estimator against statsmodels and an independent sandwich.

References: statsmodels 0.15 ``GLM(y, X, family=Binomial(link=CLogLog() | Logit())).fit(tol=1e-14)``
on the same risk set with a design built here column by column (not with gvcpanel.formula), and
``fit(cov_type="cluster", cov_kwds={"groups": codes})`` whose default correction is
G/(G-1) (N-1)/(N-K).
"""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import gvcpanel as gp
from gvcpanel.errors import ConvergenceError, FewClustersWarning, IdentificationError, SpecificationError
from gvcpanel.gvc.hazard import upgrading_hazard
from gvcpanel.models.hazard import hazard_ratios
from gvcpanel.gvc.upgrading import network_strength, risk_set

CONTROLS = ("network", "quasi_hierarchy", "hierarchy", "log(employees)", "firm_age", "foreign_owned", "export_share")
RHS = " + ".join(CONTROLS)
PROCESS, PRODUCT, FUNCTIONAL = (f"{kind} ~ {RHS}" for kind in ("process", "product", "functional"))
LINKS = {"cloglog": sm.families.links.CLogLog, "logit": sm.families.links.Logit}


@pytest.fixture(scope="module")
def frame(hazard_frames) -> pd.DataFrame:
    return hazard_frames(1)


def reference_design(rows: pd.DataFrame, baseline: str = "year", extra: dict | None = None):
    """Covariates and baseline dummies written out by hand for statsmodels."""
    gov = rows["governance"]
    X = pd.DataFrame(
        {
            "network": (gov == "network").astype(float),
            "quasi_hierarchy": (gov == "quasi_hierarchy").astype(float),
            "hierarchy": (gov == "hierarchy").astype(float),
            "log(employees)": np.log(rows["employees"]),
            "firm_age": rows["firm_age"],
            "foreign_owned": rows["foreign_owned"],
            "export_share": rows["export_share"],
            **(extra or {}),
        },
        index=rows.index,
    )
    period = rows.index.get_level_values("year") if baseline == "year" else rows["duration"].to_numpy()
    for value in sorted(set(period)):
        X[f"{baseline}[{value}]"] = (np.asarray(period) == value).astype(float)
    return rows["event"].astype(float), X


def statsmodels_fit(y, X, link, groups=None, method="irls"):
    model = sm.GLM(y, X, family=sm.families.Binomial(link=LINKS[link]()))
    options = {"tol": 1e-14, "maxiter": 200, "method": method}
    if groups is None:
        return model.fit(**options)
    return model.fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(groups)[0]}, **options)


@pytest.mark.parametrize("link", ["cloglog", "logit"])
def test_params_and_cluster_covariance_equal_statsmodels(frame, link):
    result = upgrading_hazard(frame, PROCESS, link=link)
    rows = risk_set(frame, "process").frame.dropna(subset=["employees"])
    y, X = reference_design(rows)
    ref = statsmodels_fit(y, X, link, groups=rows["cluster_id"])
    assert list(result.params.index) == list(X.columns)
    np.testing.assert_allclose(result.params, ref.params, rtol=1e-8, atol=0)
    # entries near zero come from cancelling sums: an absolute floor at 1e-12 of the largest entry
    cov_ref = ref.cov_params().to_numpy()
    np.testing.assert_allclose(result.cov, cov_ref, rtol=1e-8, atol=1e-12 * np.abs(cov_ref).max())
    np.testing.assert_allclose(result.std_errors, ref.bse, rtol=1e-8, atol=0)
    assert result.fit_stats["loglik"] == pytest.approx(ref.llf, rel=1e-12)
    assert result.nobs == len(y) and result.n_clusters == 40
    assert result.fit_stats["n_events"] == int(y.sum())


def test_model_based_covariance_is_inverse_observed_information(frame):
    # statsmodels' Newton fit reports the inverse observed Hessian (IRLS would give the expected one)
    result = upgrading_hazard(frame, PROCESS, inference="unadjusted")
    rows = risk_set(frame, "process").frame.dropna(subset=["employees"])
    y, X = reference_design(rows)
    ref = statsmodels_fit(y, X, "cloglog", method="newton")
    np.testing.assert_allclose(result.cov, ref.cov_params(), rtol=1e-7, atol=0)


def _cloglog_scores(X: np.ndarray, y: np.ndarray, b: np.ndarray) -> np.ndarray:
    """GLM score (y - mu) / (mu (1 - mu)) dmu/deta x, with dmu/deta = exp(eta - exp(eta))."""
    eta = X @ b
    mu = 1 - np.exp(-np.exp(eta))
    return X * ((y - mu) / (mu * (1 - mu)) * np.exp(eta - np.exp(eta)))[:, None]


def test_cluster_covariance_equals_a_sandwich_computed_here(frame):
    result = upgrading_hazard(frame, PROCESS)
    rows = risk_set(frame, "process").frame.dropna(subset=["employees"])
    y, X = reference_design(rows)
    Xa, ya, b = X.to_numpy(), y.to_numpy(), result.params.to_numpy()
    # observed information by central differences of the summed scores (no second-derivative formula)
    k, h = Xa.shape[1], 1e-5
    hessian = np.empty((k, k))
    for j in range(k):
        step = np.zeros(k)
        step[j] = h
        hessian[:, j] = (_cloglog_scores(Xa, ya, b + step).sum(0) - _cloglog_scores(Xa, ya, b - step).sum(0)) / (2 * h)
    bread = np.linalg.inv(-hessian)
    codes = pd.factorize(rows["cluster_id"])[0]
    sums = np.zeros((codes.max() + 1, k))
    np.add.at(sums, codes, _cloglog_scores(Xa, ya, b))
    n, g = len(ya), codes.max() + 1
    cov = g / (g - 1) * (n - 1) / (n - k) * bread @ sums.T @ sums @ bread
    # central differences carry ~1e-10 relative error: near-zero covariances get an absolute floor
    np.testing.assert_allclose(result.cov.to_numpy(), cov, rtol=1e-6, atol=1e-8 * np.abs(cov).max())
    np.testing.assert_allclose(result.std_errors, np.sqrt(np.diag(cov)), rtol=1e-7, atol=0)


def test_duration_baseline_equals_statsmodels(frame):
    result = upgrading_hazard(frame, PROCESS, baseline="duration")
    rows = risk_set(frame, "process").frame.dropna(subset=["employees"])
    y, X = reference_design(rows, baseline="duration")
    ref = statsmodels_fit(y, X, "cloglog", groups=rows["cluster_id"])
    assert result.spec.option("baseline_terms") == tuple(c for c in X.columns if c.startswith("duration["))
    np.testing.assert_allclose(result.params, ref.params, rtol=1e-8, atol=0)
    np.testing.assert_allclose(result.std_errors, ref.bse, rtol=1e-8, atol=0)


def test_functional_hazard_with_centred_network_strength_interaction(frame):
    result = upgrading_hazard(frame, f"{FUNCTIONAL} + network_strength_c + quasi_hierarchy:network_strength_c")
    strength = network_strength(frame).centred
    rows = risk_set(frame.assign(network_strength_c=strength), "functional").frame
    rows = rows.dropna(subset=["employees", "network_strength_c"])
    qh = (rows["governance"] == "quasi_hierarchy").astype(float)
    y, X = reference_design(rows, extra={"network_strength_c": rows["network_strength_c"],
                                         "quasi_hierarchy:network_strength_c": qh * rows["network_strength_c"]})
    ref = statsmodels_fit(y, X, "cloglog", groups=rows["cluster_id"])
    np.testing.assert_allclose(result.params, ref.params, rtol=1e-8, atol=0)
    np.testing.assert_allclose(result.std_errors, ref.bse, rtol=1e-8, atol=0)
    assert "network_strength_c" in result.model.extra["frame"].columns


def test_every_panel_row_is_counted(frame):
    result = upgrading_hazard(frame, f"{FUNCTIONAL} + network_strength_c")
    assert result.nobs + result.exclusions["n_rows"].sum() == len(frame)
    reasons = set(result.exclusions["reason"])
    assert {"left-truncated: already upgraded when first observed", "missing employees",
            "missing network_strength_c"} <= reasons
    assert result.fit_stats["n_left_truncated"] == risk_set(frame, "functional").n_left_truncated > 0


def test_baseline_period_without_events_is_dropped_as_its_limit(frame):
    # no firm introduces a product in 2003: its dummy runs to -inf in statsmodels (about -36 here)
    # and the other coefficients converge to the fit without those rows
    quiet = frame.copy()
    quiet.loc[quiet.index.get_level_values("year") == 2003, "new_product"] = 0.0
    result = upgrading_hazard(quiet, PRODUCT)
    rows = risk_set(quiet, "product").frame.dropna(subset=["employees"])
    y, X = reference_design(rows)
    ref = statsmodels_fit(y, X, "cloglog")
    assert ref.params["year[2003]"] < -20
    assert "year[2003]" not in result.params.index
    np.testing.assert_allclose(result.params, ref.params.drop("year[2003]"), rtol=1e-8, atol=0)
    dropped = result.exclusions.set_index("reason")["n_rows"]
    assert dropped["baseline year without events or without non-events (hazard estimate 0 or 1)"] == (
        rows.index.get_level_values("year") == 2003).sum()
    assert result.fit_stats["baseline_periods_dropped"] == (2003,)


def test_recovers_known_log_hazard_ratios_from_the_package_simulation(simulated):
    sim = simulated(n_firms=3000, n_clusters=30, seed=7)
    result = upgrading_hazard(sim.panel, PROCESS)
    for term, truth in [("quasi_hierarchy", sim.truth.process_quasi_hierarchy),
                        ("network", sim.truth.process_network)]:
        assert abs(result.params[term] - truth) < 3 * result.std_errors[term]


def test_recovers_known_log_hazard_ratio_from_the_dgp_here(hazard_frames, hazard_truth):
    result = upgrading_hazard(hazard_frames(11, n_firms=1500), PROCESS)
    for term in ("quasi_hierarchy", "export_share"):
        assert abs(result.params[term] - hazard_truth[term]) < 3 * result.std_errors[term]


def test_hazard_ratios_exponentiate_estimates_and_interval(frame):
    result = upgrading_hazard(frame, PROCESS)
    ratios = hazard_ratios(result)
    table = result.to_frame().loc[list(CONTROLS)]
    assert list(ratios.index) == list(CONTROLS)
    np.testing.assert_allclose(ratios["ratio"], np.exp(table["estimate"]), rtol=1e-15)
    np.testing.assert_allclose(ratios[["ci_low", "ci_high"]], np.exp(table[["ci_low", "ci_high"]]), rtol=1e-15)


def test_score_bootstrap_hooks(frame):
    result = upgrading_hazard(frame, PROCESS, link="logit")
    extra = result.model.extra
    b = result.params.to_numpy()
    np.testing.assert_allclose(extra["score_fn"](b), result.model.scores, rtol=1e-15)
    np.testing.assert_allclose(extra["score_fn"](b).sum(0), 0, atol=1e-7)
    np.testing.assert_allclose(extra["information_fn"](b), result.model.information, rtol=1e-15)
    assert set(result.model.groups) == {"firm_id", "year", "cluster_id"}
    assert all(np.array_equal(np.unique(c), np.arange(c.max() + 1)) for c in result.model.groups.values())
    # restricted fit: quasi_hierarchy = 0 is the fit without it; = 0.25 is the fit with an offset
    j = list(result.params.index).index("quasi_hierarchy")
    R = np.eye(len(b))[[j]]
    rows = risk_set(frame, "process").frame.dropna(subset=["employees"])
    y, X = reference_design(rows)
    for value in (0.0, 0.25):
        restricted = extra["fit_restricted"](R, np.array([value]))
        ref = sm.GLM(y, X.drop(columns="quasi_hierarchy"), family=sm.families.Binomial(),
                     offset=value * X["quasi_hierarchy"]).fit(tol=1e-14, maxiter=200)
        assert restricted[j] == pytest.approx(value, abs=1e-12)
        np.testing.assert_allclose(np.delete(restricted, j), ref.params, rtol=1e-8, atol=1e-12)


def test_identification_and_convergence_errors(frame):
    no_events = frame.assign(iso_certified=0.0)
    with pytest.raises(IdentificationError, match="no events"):
        upgrading_hazard(no_events, PROCESS)
    with pytest.raises(IdentificationError, match="'constant'"):
        upgrading_hazard(frame.assign(constant=1.0), "process ~ quasi_hierarchy + constant")
    with pytest.raises(IdentificationError, match=r"collinear.*'foreign_owned'.*'foreign_copy'"):
        upgrading_hazard(frame.assign(foreign_copy=frame["foreign_owned"] * 2),
                         "process ~ quasi_hierarchy + foreign_owned + foreign_copy")
    # a covariate that is 1 only on firm-periods without a certification separates them
    rows = risk_set(frame, "process").frame
    separating = pd.Series(0.0, index=frame.index)
    separating.loc[rows.index[(rows["event"] == 0).to_numpy()][::2]] = 1.0
    with pytest.raises(ConvergenceError, match="separat.*'?separating'?"):
        upgrading_hazard(frame.assign(separating=separating), "process ~ quasi_hierarchy + separating")
    with pytest.raises(SpecificationError, match="choose one of cloglog, logit"):
        upgrading_hazard(frame, PROCESS, link="probit")


def test_accepts_a_firm_panel_and_counts_rows_without_a_cluster(frame):
    panel = gp.load_panel(frame.reset_index(), schema="firm_panel")
    from_panel = upgrading_hazard(panel, PROCESS)
    from_frame = upgrading_hazard(frame, PROCESS)
    np.testing.assert_allclose(from_panel.params, from_frame.params, rtol=1e-12)
    assert from_panel.provenance  # the panel's data hash and versions travel with the result
    # clustering on a variable with holes: those rows are excluded and counted
    region = frame["cluster_id"].str[:2].where(np.arange(len(frame)) % 50 != 0)
    with pytest.warns(FewClustersWarning, match="only 4 clusters"):
        result = upgrading_hazard(frame.assign(region=region), PROCESS, cluster="region")
    assert result.exclusions.set_index("reason")["n_rows"]["missing region"] > 0
    assert result.nobs + result.exclusions["n_rows"].sum() == len(frame)
    assert result.n_clusters == region.nunique()


@pytest.mark.bench
def test_two_million_firm_periods_fit_in_seconds():
    """Risk set and fit on ~2.06M functional firm-periods at risk (19 columns); run by -m bench."""
    import time

    rng = np.random.default_rng(7)
    n_firms, n_years = 250_000, 10
    n = n_firms * n_years
    governance = rng.choice(np.array(["market", "network", "quasi_hierarchy", "hierarchy"]), n, p=[.45, .15, .3, .1])
    employees = np.maximum(1, np.round(np.exp(rng.normal(3.5, 1, n))))
    firm_age = rng.integers(1, 40, n).astype(float)
    eta = -2.5 + 0.5 * (governance == "quasi_hierarchy") + 0.2 * np.log(employees) - 0.01 * firm_age
    steps = (rng.random(n) < -np.expm1(-np.exp(eta))).reshape(n_firms, n_years)
    steps[:, 0] = False
    level = np.minimum(3, rng.integers(0, 2, n_firms)[:, None] + np.cumsum(steps, axis=1)).ravel()
    frame = pd.DataFrame(
        {"firm_id": np.repeat(np.arange(n_firms), n_years), "year": np.tile(np.arange(2005, 2005 + n_years), n_firms),
         "cluster_id": np.repeat(np.arange(n_firms), n_years) % 40, "governance": pd.Categorical(governance),
         "employees": employees, "firm_age": firm_age, "foreign_owned": (rng.random(n) < .2).astype(float),
         "export_share": rng.random(n), "function_level": level}
    ).set_index(["firm_id", "year"])
    start = time.perf_counter()
    result = upgrading_hazard(frame, FUNCTIONAL)
    elapsed = time.perf_counter() - start
    assert result.nobs > 2_000_000
    assert abs(result.params["quasi_hierarchy"] - 0.5) < 3 * result.std_errors["quasi_hierarchy"]
    assert elapsed < 30, f"risk set + fit took {elapsed:.1f} s"


# --- the formula: outcome, terms, old calls -------------------------------------------------------
def test_old_list_form_gets_the_formula_to_write(frame):
    with pytest.raises(SpecificationError, match=r"write upgrading_hazard\(panel, 'functional ~ quasi_hierarchy \+ network'\)"):
        upgrading_hazard(frame, upgrade="functional", covariates=["quasi_hierarchy", "network"])
    with pytest.raises(SpecificationError, match=r"'process ~ network \+ quasi_hierarchy \+ hierarchy \+ log\(employees\)"):
        upgrading_hazard(frame, "process")
    with pytest.raises(SpecificationError, match="takes no '| effects'"):
        upgrading_hazard(frame, "process ~ network | firm")


def test_outcome_names_the_type_or_a_column(frame):
    by_type = upgrading_hazard(frame, PROCESS)
    by_column = upgrading_hazard(frame, f"iso_certified ~ {RHS}")
    own = upgrading_hazard(frame.assign(my_cert=frame["iso_certified"]), f"my_cert ~ {RHS}", upgrade="process")
    for other in (by_column, own):
        np.testing.assert_allclose(other.params, by_type.params, rtol=1e-13)
    assert (by_type.spec.option("upgrade"), by_type.spec.option("outcome")) == ("process", "iso_certified")
    assert own.spec.option("outcome") == "my_cert" and own.spec.dependent == "process upgrading event"
    assert by_type.spec.formula == PROCESS and by_type.spec.estimator == "discrete_hazard"
    with pytest.raises(SpecificationError, match="say which type's rules read it"):
        upgrading_hazard(frame.assign(my_cert=frame["iso_certified"]), f"my_cert ~ {RHS}")
    with pytest.raises(SpecificationError, match=r"neither an upgrading type .* \(closest: process, product\)"):
        upgrading_hazard(frame, f"proces ~ {RHS}")
    with pytest.raises(SpecificationError, match="models process upgrading but upgrade='product'"):
        upgrading_hazard(frame, PROCESS, upgrade="product")


def test_governance_term_gives_dummies_against_market(frame):
    dummies = upgrading_hazard(frame, PROCESS)
    categorical = upgrading_hazard(frame, PROCESS.replace("network + quasi_hierarchy + hierarchy", "governance"))
    names = {"governance[T.network]": "network", "governance[T.quasi_hierarchy]": "quasi_hierarchy",
             "governance[T.hierarchy]": "hierarchy"}
    assert list(categorical.params.index[:3]) == list(names)
    np.testing.assert_allclose(categorical.params.rename(names), dummies.params, rtol=1e-10)
    np.testing.assert_allclose(categorical.std_errors.rename(names), dummies.std_errors, rtol=1e-8)


def test_lags_read_the_years_before_the_risk_set(frame):
    # l(log(employees), 1) reads the previous year also where that year is not at risk (the entry
    # year); the same fit with the lag built by hand on the whole panel
    logged = np.log(frame["employees"])
    shifted = logged.copy()
    shifted.index = pd.MultiIndex.from_arrays([frame.index.get_level_values(0),
                                               frame.index.get_level_values(1) + 1], names=frame.index.names)
    hand = frame.assign(lag_emp=shifted.reindex(frame.index))
    ours = upgrading_hazard(frame, "process ~ quasi_hierarchy + network + l(log(employees), 1)")
    theirs = upgrading_hazard(hand, "process ~ quasi_hierarchy + network + lag_emp")
    np.testing.assert_allclose(ours.params.to_numpy(), theirs.params.to_numpy(), rtol=1e-12)
    assert ours.nobs == theirs.nobs
    reasons = ours.exclusions.set_index("reason")["n_rows"]
    assert reasons["l(log(employees), 1): previous year's log(employees) missing"] == \
        theirs.exclusions.set_index("reason")["n_rows"]["missing lag_emp"]
    assert ours.nobs + reasons.sum() == len(frame)


def test_generic_hazard_on_a_prepared_risk_set(frame):
    from gvcpanel.gvc.columns import DOMAIN_COLUMNS
    from gvcpanel.models.hazard import discrete_hazard

    rows = risk_set(frame, "process").frame
    generic = discrete_hazard(rows, f"event ~ {RHS}", derived=DOMAIN_COLUMNS)
    domain = upgrading_hazard(frame, PROCESS)
    np.testing.assert_allclose(generic.params, domain.params, rtol=1e-13)
    assert generic.nobs == domain.nobs
    # the generic model counts only its own exclusions; the domain one adds the risk set's first
    assert generic.exclusions["reason"].tolist() == ["missing employees"]
    assert domain.exclusions["reason"].tolist()[-1] == "missing employees"
    with pytest.raises(SpecificationError, match="must be 0/1"):
        discrete_hazard(rows.assign(count=rows["event"] * 2.0), "count ~ network", derived=DOMAIN_COLUMNS)
