"""Shared fixtures: the example panel, seeded simulated panels, the benchmark designs and the
reference data under ``tests/reference`` (read as committed, never recomputed).

Session-scoped objects are shared between tests: a test that changes a frame works on a copy.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
from hypothesis import settings as _hypothesis_settings

REFERENCE = Path(__file__).parent / "reference"
BENCHMARK_DESIGNS = Path(__file__).parents[1] / "benchmarks" / "designs.py"

#: coefficients of the hazard DGP in :func:`simulated_hazard_frame` (log hazard ratios)
HAZARD_TRUE_BETA = {"network": 0.4, "quasi_hierarchy": 0.6, "hierarchy": 0.2, "log(employees)": 0.2,
                    "firm_age": -0.01, "foreign_owned": 0.3, "export_share": 0.5}


def simulated_hazard_frame(seed: int, n_firms: int = 800, n_years: int = 8, n_clusters: int = 40,
                           link: str = "cloglog") -> pd.DataFrame:
    """Firms with changing governance and controls; process, functional and product outcomes drawn
    from hazards with the coefficients HAZARD_TRUE_BETA (functional: shifted by -0.3, plus 0.3 x
    network strength).  Entry years differ, and 2% of employees and n_partners values are missing.
    Governance is text (not a Categorical), as in a user's own DataFrame."""
    rng = np.random.default_rng(seed)
    types = np.array(["market", "network", "quasi_hierarchy", "hierarchy"])
    cdf = (lambda e: -np.expm1(-np.exp(e))) if link == "cloglog" else (lambda e: 1 / (1 + np.exp(-e)))
    alpha = -3.0 + 0.05 * np.arange(n_years)
    cluster = rng.integers(0, n_clusters, n_firms)
    rows = []
    for i in range(n_firms):
        entry = int(rng.integers(0, 3))
        gov = rng.choice(4, p=[0.45, 0.15, 0.3, 0.1])
        log_emp, age0 = rng.normal(3.5, 1.0), rng.poisson(10)
        foreign, export = float(rng.random() < 0.2), rng.uniform(0, 1)
        iso = float(rng.random() < 0.15)
        level = int(rng.choice(4, p=[0.5, 0.3, 0.15, 0.05]))
        partner_trait = rng.normal(0, 0.5)
        for t in range(entry, n_years):
            if t > entry and rng.random() < 0.1:
                gov = rng.choice(4, p=[0.45, 0.15, 0.3, 0.1])
            log_emp += rng.normal(0.02, 0.1)
            x = {"network": gov == 1, "quasi_hierarchy": gov == 2, "hierarchy": gov == 3,
                 "log(employees)": log_emp, "firm_age": age0 + t - entry, "foreign_owned": foreign,
                 "export_share": export}
            eta = alpha[t] + sum(HAZARD_TRUE_BETA[k] * float(v) for k, v in x.items())
            partners = rng.poisson(np.exp(1 + partner_trait))
            links = rng.random(3) < 0.3 + 0.2 * (partner_trait > 0)
            if t > entry:
                iso = 1.0 if (iso == 1 or rng.random() < cdf(eta)) else 0.0
                strength = np.log1p(partners) - 1.0 + links.sum() - 0.9  # roughly centred
                if level < 3 and rng.random() < cdf(eta - 0.3 + 0.3 * strength):
                    level += 1
            rows.append({"firm_id": f"f{i:04d}", "year": 2001 + t, "cluster_id": f"c{cluster[i]:02d}",
                         "governance": types[gov], "employees": float(max(1, round(np.exp(log_emp)))),
                         "firm_age": float(age0 + t - entry), "foreign_owned": foreign,
                         "export_share": export, "iso_certified": iso, "function_level": level,
                         "new_product": float(rng.random() < cdf(eta + 0.5)), "n_partners": float(partners),
                         "alliance": float(links[0]), "university_link": float(links[1]),
                         "association_member": float(links[2])})
    frame = pd.DataFrame(rows).set_index(["firm_id", "year"])
    frame.loc[rng.random(len(frame)) < 0.02, "employees"] = np.nan
    frame.loc[rng.random(len(frame)) < 0.02, "n_partners"] = np.nan
    return frame


def _memoized(make: Callable) -> Callable:
    cache: dict[str, object] = {}

    def get(*args, **kwargs):
        key = repr((args, sorted(kwargs.items())))
        if key not in cache:
            cache[key] = make(*args, **kwargs)
        return cache[key]

    return get


@pytest.fixture(scope="session")
def example_panel():
    """``gp.example_panel()``: the calibrated simulated panel of the replication package."""
    import gvcpanel as gp

    return gp.example_panel()


@pytest.fixture(scope="session")
def simulated():
    """``simulated(n_firms=..., seed=..., ...)``: ``gp.simulate_panel`` with those arguments,
    built once per session (a SimulatedPanel: ``.panel``, ``.frame``, ``.truth``)."""
    from gvcpanel.gvc.simulate import simulate_panel

    return _memoized(simulate_panel)


@pytest.fixture(scope="session")
def hazard_frames():
    """``hazard_frames(seed, n_firms=800, ...)``: :func:`simulated_hazard_frame`, built once."""
    return _memoized(simulated_hazard_frame)


@pytest.fixture(scope="session")
def hazard_truth() -> dict[str, float]:
    return dict(HAZARD_TRUE_BETA)


@pytest.fixture(scope="session")
def designs() -> ModuleType:
    """``benchmarks/designs.py``: the seeded benchmark designs (``make_design``, ``FORMULA``)."""
    spec = importlib.util.spec_from_file_location("designs", BENCHMARK_DESIGNS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def cluster_panel() -> pd.DataFrame:
    """``tests/reference/cluster_panel.csv`` (502 firm-years, 60 firms, 12 clusters; written by
    ``tests/reference/make_cluster_panel.py``), keys as columns."""
    return pd.read_csv(REFERENCE / "cluster_panel.csv")


@pytest.fixture(scope="session")
def cluster_reference() -> pd.DataFrame:
    """R's numbers on the cluster panel (``make_cluster_reference.R``; versions in
    ``cluster_reference_versions.txt``), ``value`` as floats."""
    ref = pd.read_csv(REFERENCE / "cluster_reference.csv", keep_default_na=False)
    ref["value"] = ref["value"].astype(float)
    return ref


# property tests draw the same examples on every run (CI must not pass or fail by chance);
# HYPOTHESIS_PROFILE=explore draws fresh ones when hunting for new failures
_hypothesis_settings.register_profile("default", derandomize=True)
_hypothesis_settings.register_profile("explore", derandomize=False, max_examples=500)
_hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


class RReference:
    """Numbers R wrote to a long CSV (model, cluster, estimator, term_row, term_col, value):
    ``ref(model, cluster, estimator)`` is a Series by term, or a term x term frame."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def __call__(self, model: str, cluster: str, estimator: str) -> pd.Series | pd.DataFrame:
        ref = self.frame
        rows = ref[(ref.model == model) & (ref.cluster == cluster) & (ref.estimator == estimator)]
        assert not rows.empty, (model, cluster, estimator)
        if (rows.term_col == "").all():
            return rows.set_index("term_row")["value"]
        return rows.pivot(index="term_row", columns="term_col", values="value")


@pytest.fixture(scope="session")
def survey_reference() -> RReference:
    """R's weighted and survey-design numbers (tests/reference/make_survey_reference.R)."""
    ref = pd.read_csv(REFERENCE / "survey_reference.csv", keep_default_na=False)
    ref["value"] = ref["value"].astype(float)
    return RReference(ref)
