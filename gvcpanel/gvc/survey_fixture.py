r"""A simulated Enterprise-Survey panel with known truth: raw codes, waves, recall, weights, module.

:func:`simulate_survey` draws firms from :func:`gvcpanel.gvc.simulate.simulate_panel`, samples
them as an Enterprise Survey would (stratified by region and size, interviewed at waves years
apart) and writes what a researcher receives: the survey file in the survey's own codes
(``idstd``, ``a2``, ``b8``, ``h1``, ``l1``, ...; -9/-8/-7 missing codes; b8's -6 "still in
process"; weights ``wstrict``/``wmedian``/``wweak``; ``strata``) and a separate governance
module of the researcher's own, keyed by establishment and wave, in the codes of the shipped
mapping template ``governance_module``.  :attr:`SurveyFixture.truth` holds every true value.
The fixture is simulated: it checks the methods, it says nothing about real firms.

Notes
-----
**Population, sample and waves.**  The population is ``simulate_panel(n_firms, n_clusters =
n_regions, n_countries, years = (first wave, last wave), missing_rate = 0)``; region :math:`g`
is the simulator's cluster, in country :math:`g \bmod K`.  A firm's size class is that of its
first wave alive (``a6a``: 1 small, fewer than 20 permanent full-time employees; 2 medium,
20-99; 3 large, 100 or more); its stratum is (country, region, size class).  Firms are sampled
once, with probability ``sampling_rates[size class]``, and interviewed at every wave at which
they are alive with probability ``response_rate`` (unit non-response leaves the wave out).
Waves are the calendar years ``waves`` (default 2009, 2015, 2019).

**Weights.**  :math:`w^\text{median}_{it} = \frac{1}{\pi_h\,r}\,e_h\,a_{ht}` with :math:`\pi_h`
the sampling rate, :math:`r` the response rate, an eligibility factor :math:`e_h \sim U(0.85,
1)` per stratum and a wave adjustment :math:`a_{ht} \sim U(0.9, 1.1)`;
:math:`w^\text{strict} = w^\text{median} f_h`, :math:`f_h \sim U(0.8, 0.95)` and
:math:`w^\text{weak} = w^\text{median} v_h`, :math:`v_h \sim U(1.05, 1.25)` (the strict weights
count fewer units of unknown eligibility as eligible, the weak ones more).  Weights are rounded
to 4 decimals.  Sampling depends on size and region only, which the models condition on
(log employees) or cluster on, so weighted and unweighted estimators estimate the same
coefficients.

**Covariates.**  Governance, the governance indicators, the network items and the controls are
the simulator's values at the wave.  The controls are recorded in survey codes and the model
uses exactly what the ``wbes`` mapping derives from them: employees = ``l1``, firm_age =
year - ``b5``, foreign_owned = 1[``b2b`` >= 10], export_share = (``d3b`` + ``d3c``) / 100
(whole percents).  Centred network strength :math:`NS^c` is computed as
:func:`gvcpanel.gvc.upgrading.network_strength` computes it on the joined survey panel: the mean
and standard deviation (ddof 1) of log(1 + n_partners) and the mean of the index over the
firm-waves where the module observes them; the events use the index of the unmasked items with
these constants.

**Upgrading events: an annual process seen at waves.**  Between two interviews the survey sees
nothing, so the fixture holds every covariate at the value recorded at the *end* of the
interval: for firm :math:`i` with interviews at :math:`t_1 < t_2 < \dots`, the years
:math:`s \in (t_{k-1}, t_k]` take the covariates :math:`x_{i t_k}`.  In each such year,

.. math::

    \Pr(\text{event}_{is} \mid \text{at risk}) = 1 - \exp\{-\exp(\alpha^u + x_{it_k}'\beta^u)\},

complementary log-log with the simulator's coefficients :math:`\beta^u` and a constant baseline
:math:`\alpha^u` (the simulator's baseline level; its trend is set to zero).  Events are
correlated within region-years by the simulator's Gaussian copula (correlation
``event_rho``), with no frailty.  Hence over an interval of :math:`L` years

.. math::

    \Pr(\text{at least one event in } (t_{k-1}, t_k]) = 1 - \exp\{-L\exp(\alpha^u + x_{it_k}'\beta^u)\},

the grouped-duration proportional-hazards model (Prentice and Gloeckler 1978) with offset
:math:`\log L`: its coefficients are the annual log hazard ratios :math:`\beta^u`, whatever the
interval lengths.  (With covariates moving inside the interval, or a baseline trend, the
interval model would estimate an average instead.)

- process: ``b8`` is the certification status at the interview; the status at the firm's first
  interview is the simulator's (a draw from before the survey); afterwards an uncertified firm
  certifies in year :math:`s` with the process hazard.  An uncertified firm answers -6 "still
  in process" with probability 0.15 (it is not certified).
- product: ``h1`` (new or significantly improved product "in the last three years") is 1 when
  the annual product flow had an event in :math:`(t - W, t]`, :math:`W` = ``recall_window``; the
  flow runs from :math:`t_1 - W` with the covariates of the interview that closes each year.
  Overlapping windows (waves fewer than :math:`W` years apart) answer consistently.
- functional: the module's function level (1 assembly, 2 OEM, 3 ODM, 4 OBM) starts from the
  simulator's level at the first interview and steps up by one in year :math:`s` with the
  functional hazard (:math:`NS^c` and its interaction with quasi-hierarchy included) while below
  OBM.

**Raw codes and missingness.**  Each of ``b8, h1, l1, b5, b2b, d3b, d3c`` is set to -9 (don't
know) with probability ``code_rate`` and to -8 (refused) with probability ``code_rate / 2``;
``d3b`` to -7 (does not apply) with probability ``code_rate / 2``.  The module covers each
interview with probability ``module_coverage``; each module item is -99 (no answer) with
probability ``item_missing_rate``; a few module records belong to firm-waves that were not
interviewed (they must be reported as unmatched by the join).  All missingness is completely at
random.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri

from gvcpanel.errors import SpecificationError
from gvcpanel.gvc.simulate import GOVERNANCE_STATES, TrueParameters, simulate_panel

__all__ = ["SurveyFixture", "SurveyTruth", "simulate_survey", "ISIC_OF_SECTOR", "MODULE_CODES"]

HAZARDS = ("process", "product", "functional")
#: ISIC Rev. 4 division of each simulated sector (the survey's a4a)
ISIC_OF_SECTOR = {"apparel": 14, "footwear": 15, "electronics": 26, "auto_parts": 29, "furniture": 31}
#: the governance module's own item names (read by the shipped mapping template governance_module)
MODULE_CODES = {
    "gm_main_buyer_pct": "share of sales to the main buyer, percent",
    "gm_n_buyers": "number of buyers",
    "gm_buyer_design": "main buyer sets the product design or specification (1 yes, 2 no)",
    "gm_buyer_audit": "main buyer audits or sets process standards (1 yes, 2 no)",
    "gm_buyer_owns": "main buyer owns the establishment or its parent (1 yes, 2 no)",
    "gm_joint_dev": "products developed jointly with buyers (1 yes, 2 no)",
    "gm_partners": "number of co-operation partners other than the main buyer",
    "gm_alliance": "strategic alliance with another firm (1 yes, 2 no)",
    "gm_university": "co-operation with a university or research institute (1 yes, 2 no)",
    "gm_association": "member of a business association (1 yes, 2 no)",
    "gm_function": "most advanced function performed: 1 assembly, 2 OEM, 3 ODM, 4 OBM",
}
NO_ANSWER = -99
SIZE_CUTS = (20, 100)  # a6a: small 5-19, medium 20-99, large 100+ permanent full-time employees


@dataclass(frozen=True)
class SurveyTruth:
    """What the survey fixture was drawn from.

    Attributes
    ----------
    params : TrueParameters
        The simulator's coefficients, with the baseline trends of the process, product and
        functional hazards set to zero (the baseline level is the constant annual log baseline).
    waves : tuple of int
        Interview years.
    recall_windows : Mapping[str, int]
        Survey item -> window in years of its "in the last k years" question (``{"h1": 3}``).
    weights : tuple of str
        The weight columns (``wstrict``, ``wmedian``, ``wweak``).
    """

    params: TrueParameters
    waves: tuple[int, ...]
    recall_windows: Mapping[str, int]
    weights: tuple[str, ...] = ("wstrict", "wmedian", "wweak")

    def hazard(self, upgrade: str) -> dict[str, float]:
        """True annual log hazard ratios of one hazard, by the estimators' term names."""
        if upgrade not in HAZARDS:
            raise SpecificationError(f"upgrade {upgrade!r}; the survey fixture has {list(HAZARDS)}.")
        p = self.params
        out = {
            "network": getattr(p, f"{upgrade}_network"),
            "quasi_hierarchy": getattr(p, f"{upgrade}_quasi_hierarchy"),
            "hierarchy": getattr(p, f"{upgrade}_hierarchy"),
            "log(employees)": getattr(p, f"{upgrade}_log_employees"),
            "firm_age": getattr(p, f"{upgrade}_firm_age"),
            "foreign_owned": getattr(p, f"{upgrade}_foreign_owned"),
            "export_share": getattr(p, f"{upgrade}_export_share"),
        }
        if upgrade == "functional":
            out["network_strength_c"] = p.functional_network_strength
            out["quasi_hierarchy:network_strength_c"] = p.functional_interaction
        return out

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the coefficients, waves, windows and weights."""
        return {"params": self.params.as_dict(), "waves": list(self.waves),
                "recall_windows": dict(self.recall_windows), "weights": list(self.weights),
                "hazards": {u: self.hazard(u) for u in HAZARDS}}


@dataclass(frozen=True)
class SurveyFixture:
    """A simulated Enterprise-Survey panel, its governance module and its truth.

    Attributes
    ----------
    survey : pandas.DataFrame
        One row per interview in survey codes (read it with ``mapping="wbes"``).
    module : pandas.DataFrame
        The governance module, keyed by ``idstd`` and ``wave`` (1 = first interview year), in the
        codes of the mapping template ``governance_module``.
    truth : SurveyTruth
    latent : pandas.DataFrame
        Per interview (``firm_id`` = ``idstd``, ``year``): the canonical values the events were
        drawn from (governance, controls, latent centred network strength) and the outcomes
        before any missing code, for checks.
    seed : int
    codes : Mapping[str, int]
        Missing codes written, ``"<column> <code>"`` -> count.
    """

    survey: pd.DataFrame = field(repr=False)
    module: pd.DataFrame = field(repr=False)
    truth: SurveyTruth
    latent: pd.DataFrame = field(repr=False)
    seed: int
    codes: Mapping[str, int]

    def write(self, folder: str | Path, *, stata: bool = False) -> dict[str, Path]:
        """Write ``es_panel.csv`` (and ``es_panel.dta`` when ``stata``), ``governance_module.csv``
        and ``truth.json`` into ``folder``, all or none (:func:`gvcpanel.report.output.write_files`).

        Returns
        -------
        dict
            ``{"survey": path, "module": path, "truth": path[, "stata": path]}``.
        """
        from gvcpanel.report.output import write_files

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = {"survey": folder / "es_panel.csv", "module": folder / "governance_module.csv",
                 "truth": folder / "truth.json"}
        truth = {**self.truth.as_dict(), "seed": self.seed, "codes": dict(self.codes)}
        writers = {
            paths["survey"]: lambda p: self.survey.to_csv(p, index=False, lineterminator="\n"),
            paths["module"]: lambda p: self.module.to_csv(p, index=False, lineterminator="\n"),
            paths["truth"]: lambda p: Path(p).write_text(json.dumps(truth, indent=2) + "\n",
                                                         encoding="utf-8"),
        }
        if stata:
            paths["stata"] = folder / "es_panel.dta"
            writers[paths["stata"]] = lambda p: self.survey.to_stata(p, write_index=False, version=118)
        write_files(writers, stem=folder / "es_panel", option="survey fixture folder")
        return paths


def _check(waves: tuple[int, ...], recall_window: int, rates: tuple[float, ...], **shares: float) -> None:
    if len(waves) < 2 or any(b <= a for a, b in zip(waves, waves[1:])):
        raise SpecificationError(f"waves must be at least two increasing years; found {waves}.")
    if recall_window < 1:
        raise SpecificationError(f"recall_window must be at least one year; found {recall_window}.")
    if len(rates) != 3 or not all(0 < r <= 1 for r in rates):
        raise SpecificationError(f"sampling_rates needs three rates in (0, 1] (small, medium, large); "
                                 f"found {rates}.")
    for name, value in shares.items():
        if not 0 <= value <= 1:
            raise SpecificationError(f"{name} must lie in [0, 1]; found {value}.")


def simulate_survey(
    n_firms: int = 2000,
    n_regions: int = 15,
    n_countries: int = 3,
    waves: tuple[int, ...] = (2009, 2015, 2019),
    seed: int = 0,
    params: Mapping[str, float] | None = None,
    *,
    recall_window: int = 3,
    sampling_rates: tuple[float, float, float] = (0.35, 0.6, 0.9),
    response_rate: float = 0.9,
    code_rate: float = 0.01,
    module_coverage: float = 0.97,
    item_missing_rate: float = 0.02,
    event_rho: float = 0.2,
) -> SurveyFixture:
    """Draw an Enterprise-Survey-format panel with known truth (see the module Notes).

    Parameters
    ----------
    n_firms, n_regions, n_countries : int
        Population firms, regions (the simulator's clusters) and countries.
    waves : tuple of int
        Interview years, increasing (irregular intervals allowed).
    seed : int
        Seed; equal seeds give equal fixtures.
    params : Mapping[str, float], optional
        Overrides of :class:`~gvcpanel.gvc.simulate.TrueParameters` (for example
        ``{"process_quasi_hierarchy": 0.0}`` for size checks).  The baseline trends of the three
        hazards are fixed at zero.
    recall_window : int
        Years covered by ``h1`` ("in the last three years": 3).
    sampling_rates : (float, float, float)
        Sampling probability of small, medium and large firms.
    response_rate : float
        Probability that a sampled firm alive at a wave is interviewed.
    code_rate : float
        Probability of a -9 code per item (see Notes for -8, -7).
    module_coverage, item_missing_rate : float
        Share of interviews the governance module covers; probability of a -99 per module item.
    event_rho : float
        Copula correlation of events within region-years.

    Returns
    -------
    SurveyFixture
    """
    waves = tuple(int(w) for w in waves)
    _check(waves, recall_window, tuple(sampling_rates), response_rate=response_rate,
           code_rate=code_rate, module_coverage=module_coverage,
           item_missing_rate=item_missing_rate, event_rho=event_rho)
    trends = {f"{u}_baseline_trend" for u in HAZARDS}
    if any(float(v) != 0.0 for k, v in (params or {}).items() if k in trends):
        raise SpecificationError("the survey fixture holds the hazards' baseline trends at zero (a "
                                 "constant annual baseline within every interval); drop "
                                 f"{sorted(trends & set(params or {}))} from params.")
    population = simulate_panel(n_firms=n_firms, n_clusters=n_regions, n_countries=n_countries,
                                years=(waves[0], waves[-1]), seed=seed, params=params,
                                missing_rate=0.0, event_rho=event_rho)
    truth = SurveyTruth(replace(population.truth, **{k: 0.0 for k in trends}), waves,
                        {"h1": int(recall_window)})
    rng = np.random.default_rng([int(seed), 20091519])
    frame = population.frame
    at_waves = frame[frame["year"].isin(waves)].sort_values(["firm_id", "year"], ignore_index=True)

    # --- sample: strata (country, region, size at the first wave alive), then wave response ---
    first = at_waves.groupby("firm_id", sort=True).head(1).set_index("firm_id")
    size_class = 1 + np.searchsorted(np.asarray(SIZE_CUTS), first["employees"].to_numpy(), side="right")
    stratum_key = first["cluster_id"].astype(str) + "|" + pd.Series(size_class, index=first.index).astype(str)
    strata_codes, strata_labels = pd.factorize(stratum_key, sort=True)
    rates = np.asarray(sampling_rates, dtype=float)[size_class - 1]
    sampled = pd.Series(rng.random(first.shape[0]) < rates, index=first.index)
    rows = at_waves[at_waves["firm_id"].map(sampled).to_numpy()]
    responded = rng.random(len(rows)) < response_rate
    not_interviewed = rows[~responded]
    rows = rows[responded].reset_index(drop=True)
    firm_info = pd.DataFrame({"size_class": size_class, "strata": strata_codes + 1, "rate": rates},
                             index=first.index)
    info = firm_info.loc[rows["firm_id"]].reset_index(drop=True)

    # --- weights ---------------------------------------------------------------------------
    n_strata = len(strata_labels)
    eligibility = rng.uniform(0.85, 1.0, n_strata)
    strict, weak = rng.uniform(0.8, 0.95, n_strata), rng.uniform(1.05, 1.25, n_strata)
    wave_adjust = rng.uniform(0.9, 1.1, (n_strata, len(waves)))
    h = info["strata"].to_numpy() - 1
    k = np.searchsorted(np.asarray(waves), rows["year"].to_numpy())
    median = 1.0 / (info["rate"].to_numpy() * response_rate) * eligibility[h] * wave_adjust[h, k]

    # --- controls in survey codes, and the values the mapping derives from them ------------------
    n = len(rows)
    employees = rows["employees"].to_numpy(dtype=np.int64)
    founded = (rows["year"] - rows["firm_age"]).to_numpy(dtype=np.int64)
    foreign = rows["foreign_owned"].to_numpy() == 1
    b2b = np.where(foreign, rng.choice([10, 20, 35, 49, 51, 75, 100], n),
                   np.where(rng.random(n) < 0.9, 0, rng.integers(1, 10, n)))
    exported = np.rint(100 * rows["export_share"].to_numpy()).astype(np.int64)
    direct = np.rint(exported * rng.uniform(0.5, 1.0, n)).astype(np.int64)
    indirect = exported - direct
    state = pd.Categorical(rows["governance"], categories=GOVERNANCE_STATES).codes.astype(np.int64)
    x = {"network": (state == 1) * 1.0, "quasi_hierarchy": (state == 2) * 1.0,
         "hierarchy": (state == 3) * 1.0, "log(employees)": np.log(np.maximum(employees, 1)),
         "firm_age": (rows["year"].to_numpy() - founded) * 1.0, "foreign_owned": foreign * 1.0,
         "export_share": exported / 100.0}

    # --- the module: coverage, item non-response, and the network strength the package will see --
    covered = rng.random(n) < module_coverage
    items = ("n_partners", "alliance", "university_link", "association_member")
    item_masks = {name: rng.random(n) < item_missing_rate for name in (
        "main_buyer_share", "n_buyers", "buyer_sets_design", "buyer_monitors_process",
        "buyer_owned", "joint_development", *items, "function_level")}
    seen = {name: covered & ~item_masks[name] for name in items}
    log_partners = np.log1p(rows["n_partners"].to_numpy(dtype=float))
    p_mean = float(log_partners[seen["n_partners"]].mean())
    p_sd = float(log_partners[seen["n_partners"]].std(ddof=1))
    index = ((log_partners - p_mean) / p_sd + rows["alliance"].to_numpy()
             + rows["university_link"].to_numpy() + rows["association_member"].to_numpy())
    index_seen = np.logical_and.reduce([seen[name] for name in items])
    x["network_strength_c"] = index - float(index[index_seen].mean())
    x["quasi_hierarchy:network_strength_c"] = x["quasi_hierarchy"] * x["network_strength_c"]

    # --- events: an annual process with the covariates of the interview that closes each year ---
    outcomes = _draw_events(rows, x, truth, population.frame, recall_window, event_rho, rng)

    # --- the survey file ---------------------------------------------------------------------
    region = rows["cluster_id"].astype(str).str.extract(r"(\d+)$")[0].astype(int).to_numpy() - 1
    n_countries_ = max(1, int(n_countries))
    b8 = np.where(outcomes["iso_certified"] == 1, 1, np.where(rng.random(n) < 0.15, -6, 2))
    survey = pd.DataFrame({
        "idstd": 100000 + rows["firm_id"].to_numpy(dtype=np.int64),
        "year": rows["year"].to_numpy(dtype=np.int64),
        "a1": rows["country"].astype(str).str.replace("country_", "Country ", regex=False).to_numpy(),
        "a2": region // n_countries_ + 1,
        "a4a": rows["sector"].astype(str).map(ISIC_OF_SECTOR).to_numpy(dtype=np.int64),
        "a6a": info["size_class"].to_numpy(dtype=np.int64),
        "strata": info["strata"].to_numpy(dtype=np.int64),
        "b8": b8,
        "h1": np.where(outcomes["new_product"] == 1, 1, 2),
        "l1": employees,
        "b5": founded,
        "b2b": b2b,
        "d3a": 100 - exported,
        "d3b": indirect,
        "d3c": direct,
        "wstrict": np.round(median * strict[h], 4),
        "wmedian": np.round(median, 4),
        "wweak": np.round(median * weak[h], 4),
    })
    codes: dict[str, int] = {}
    for column in ("b8", "h1", "l1", "b5", "b2b", "d3b", "d3c"):
        draws = rng.random(n)
        plan = [(-9, draws < code_rate), (-8, (draws >= code_rate) & (draws < 1.5 * code_rate))]
        if column == "d3b":
            plan.append((-7, (draws >= 1.5 * code_rate) & (draws < 2.0 * code_rate)))
        for code, hit in plan:
            survey.loc[hit, column] = code
            codes[f"{column} {code}"] = int(hit.sum())
    codes["b8 -6"] = int((survey["b8"] == -6).sum())

    # --- the governance module (keyed by idstd and wave number) --------------------------------
    module = _module_frame(rows, outcomes, covered, item_masks, waves, rng)
    orphans = not_interviewed.sample(n=min(len(not_interviewed), max(1, n // 200)),
                                     random_state=int(rng.integers(2**31)))
    if len(orphans):
        extra = _module_frame(orphans.reset_index(drop=True),
                              {"function_level": orphans["function_level"].to_numpy()},
                              np.ones(len(orphans), bool),
                              {k: np.zeros(len(orphans), bool) for k in item_masks}, waves, rng)
        module = pd.concat([module, extra], ignore_index=True).sort_values(
            ["idstd", "wave"], ignore_index=True)
    codes["module -99"] = int((module.drop(columns=["idstd", "wave"]) == NO_ANSWER).to_numpy().sum())
    codes["module records without an interview"] = int(len(orphans))

    latent = pd.DataFrame({"firm_id": survey["idstd"], "year": survey["year"],
                           "cluster_id": rows["cluster_id"].to_numpy(), "governance": rows["governance"].to_numpy(),
                           **{k: v for k, v in x.items() if ":" not in k and k not in GOVERNANCE_STATES},
                           **outcomes,
                           "module": covered, "weight": survey["wmedian"]})
    return SurveyFixture(survey=survey, module=module, truth=truth, latent=latent, seed=int(seed),
                         codes=codes)


def _hazard_index(truth: SurveyTruth, upgrade: str, x: Mapping[str, np.ndarray]) -> np.ndarray:
    terms = truth.hazard(upgrade)
    eta = np.full(len(x["network"]), getattr(truth.params, f"{upgrade}_baseline_level"))
    for term, beta in terms.items():
        eta = eta + beta * x[term]
    return eta


def _draw_events(rows: pd.DataFrame, x: Mapping[str, np.ndarray], truth: SurveyTruth,
                 population: pd.DataFrame, window: int, rho: float,
                 rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Annual events with the covariates of the interview closing each year (module Notes)."""
    n = len(rows)
    firm = rows["firm_id"].to_numpy()
    year = rows["year"].to_numpy(dtype=np.int64)
    first = np.r_[True, firm[1:] != firm[:-1]]
    previous = np.where(first, 0, np.r_[0, year[:-1]])
    interval = year - previous  # rows: years since the firm's previous interview
    interval[first] = 0
    regions, region = np.unique(rows["cluster_id"].to_numpy(), return_inverse=True)
    start_state = population.set_index(["firm_id", "year"]).loc[
        list(zip(firm[first], year[first])), ["iso_certified", "function_level"]].to_numpy()
    # the firm position of each row and the state carried by firm
    firm_pos = np.cumsum(first) - 1
    iso = np.zeros(firm_pos.max() + 1, dtype=np.int64)
    level = np.zeros_like(iso)
    iso[:] = start_state[:, 0]
    level[:] = start_state[:, 1]
    hazard = {u: -np.expm1(-np.exp(_hazard_index(truth, u, x))) for u in HAZARDS}
    # the row whose covariates govern year s for each firm: the first interview at or after s
    lo, hi = int(year.min()) - window + 1, int(year.max())
    out_iso = np.zeros(n, dtype=np.int64)
    out_level = np.zeros(n, dtype=np.int64)
    product_event = np.zeros((iso.size, hi - lo + 1), dtype=bool)  # firm x calendar year
    row_start = np.where(first, year - window, previous)  # product flow from t1 - W
    for s in range(lo, hi + 1):
        # rows covering year s: (row_start, year] for the product flow, (previous, year] after t1
        cover_product = (row_start < s) & (s <= year)
        cover_state = cover_product & ~first
        shocks = {u: rng.standard_normal(len(regions)) for u in HAZARDS}
        for u, cover in (("product", cover_product), ("process", cover_state), ("functional", cover_state)):
            idx = np.flatnonzero(cover)
            if idx.size == 0:
                continue
            latent = (np.sqrt(rho) * shocks[u][region[idx]]
                      + np.sqrt(1.0 - rho) * rng.standard_normal(idx.size))
            happened = latent < ndtri(hazard[u][idx])
            f = firm_pos[idx]
            if u == "product":
                product_event[f[happened], s - lo] = True
            elif u == "process":
                iso[f] = np.maximum(iso[f], happened.astype(np.int64))
            else:
                level[f] = np.minimum(3, level[f] + (happened & (level[f] < 3)))
        closing = np.flatnonzero(year == s)
        out_iso[closing] = iso[firm_pos[closing]]
        out_level[closing] = level[firm_pos[closing]]
    # an interview reports a product event of any year in its recall window (t - W, t]
    cumulative = np.concatenate([np.zeros((iso.size, 1), np.int64), np.cumsum(product_event, axis=1)], axis=1)
    new_product = (cumulative[firm_pos, year - lo + 1] - cumulative[firm_pos, year - window - lo + 1] > 0)
    new_product = new_product.astype(np.int64)
    return {"iso_certified": out_iso, "new_product": new_product, "function_level": out_level,
            "interval": interval}


def _module_frame(rows: pd.DataFrame, outcomes: Mapping[str, np.ndarray], covered: np.ndarray,
                  masks: Mapping[str, np.ndarray], waves: tuple[int, ...],
                  rng: np.random.Generator) -> pd.DataFrame:
    """The researcher's governance module in its own codes (see :data:`MODULE_CODES`)."""
    yes_no = lambda v: np.where(np.asarray(v) == 1, 1, 2)  # noqa: E731 - the module's 1/2 coding
    values = {
        "gm_main_buyer_pct": (np.rint(100 * rows["main_buyer_share"].to_numpy(dtype=float)).astype(np.int64),
                              "main_buyer_share"),
        "gm_n_buyers": (rows["n_buyers"].to_numpy(dtype=np.int64), "n_buyers"),
        "gm_buyer_design": (yes_no(rows["buyer_sets_design"]), "buyer_sets_design"),
        "gm_buyer_audit": (yes_no(rows["buyer_monitors_process"]), "buyer_monitors_process"),
        "gm_buyer_owns": (yes_no(rows["buyer_owned"]), "buyer_owned"),
        "gm_joint_dev": (yes_no(rows["joint_development"]), "joint_development"),
        "gm_partners": (rows["n_partners"].to_numpy(dtype=np.int64), "n_partners"),
        "gm_alliance": (yes_no(rows["alliance"]), "alliance"),
        "gm_university": (yes_no(rows["university_link"]), "university_link"),
        "gm_association": (yes_no(rows["association_member"]), "association_member"),
        "gm_function": (np.asarray(outcomes["function_level"], dtype=np.int64) + 1, "function_level"),
    }
    wave_number = 1 + np.searchsorted(np.asarray(waves), rows["year"].to_numpy())
    module = pd.DataFrame({"idstd": 100000 + rows["firm_id"].to_numpy(dtype=np.int64), "wave": wave_number})
    for column, (value, canonical) in values.items():
        module[column] = np.where(masks[canonical], NO_ANSWER, value)
    return module[covered].reset_index(drop=True)


def main(argv: list[str] | None = None) -> int:
    """``python -m gvcpanel.gvc.survey_fixture FOLDER [--seed N] [--stata]``: write the fixture."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m gvcpanel.gvc.survey_fixture",
                                     description="Write the simulated Enterprise-Survey fixture "
                                                 "(es_panel.csv, governance_module.csv, truth.json).")
    parser.add_argument("folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-firms", type=int, default=2000)
    parser.add_argument("--stata", action="store_true", help="also write es_panel.dta")
    args = parser.parse_args(argv)
    paths = simulate_survey(n_firms=args.n_firms, seed=args.seed).write(args.folder, stata=args.stata)
    for path in paths.values():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
