r"""Simulated firm-year panels with known governance and upgrading effects.

:func:`simulate_panel` draws a panel from the data-generating process (DGP) below;
:func:`example_panel` is the embedded default (seed 20050, 3,000 firms, 30 clusters, 6 countries,
2005-2019) that ``make replicate`` runs on, and :func:`example_truth` its true parameters.
The example panel is simulated: it illustrates the methods, it is not evidence about real firms.

Notes
-----
Indices: firm :math:`i`, year :math:`t`, cluster :math:`g(i)`, country :math:`k(g)`.
:math:`\Lambda(x) = 1/(1+e^{-x})`; :math:`\Phi` the standard normal cdf.

**Structure.** Cluster :math:`g` lies in country :math:`g \bmod K`; firms are spread uniformly over
clusters; each cluster has a main sector and a firm is in it with probability 0.85 (otherwise a
uniformly drawn sector). A share ``share_present_at_start`` of firms is observed from the first
year, the others enter in a uniformly drawn later year. After entry a firm stays with
probability :math:`1-` ``exit_rate`` each year (exit is independent of everything else), so the
panel is unbalanced without gaps.

**Capability and governance.** :math:`a_i \sim N(0,1)`, growth :math:`\gamma_i \sim U(0, 0.2)`,
capability :math:`\kappa_{it} = a_i + \gamma_i (t - e_i)` with :math:`e_i` the entry year.
Cluster propensity to serve a global buyer :math:`\lambda_g \sim N(0, \sigma_\lambda^2)` and a
cluster-year buyer-arrival shock :math:`b_{gt} \sim N(0, \sigma_b^2)`. Governance
:math:`G_{it} \in` {market, network, quasi_hierarchy, hierarchy} is a Markov chain. At entry,
:math:`P(G=j) \propto \exp(s_j)` with :math:`s_\text{market}=0`,
:math:`s_\text{network} = -2.5 + 0.6\kappa`, :math:`s_\text{qh} = -0.3 + \lambda_g - 0.3\kappa`,
:math:`s_\text{hier} = -3`. Yearly transitions (the rest of the mass stays):

- market -> quasi_hierarchy :math:`\Lambda(-2.2 + \lambda_g + b_{gt} - 0.2\kappa)` (entering a
  global buyer's chain), -> network :math:`\Lambda(-4 + 0.5\kappa)`, -> hierarchy 0.005;
- quasi_hierarchy -> network :math:`\Lambda(-4 + 0.8\kappa)`, -> market
  :math:`\Lambda(-3 + 0.4\kappa - 0.5\lambda_g)` (rising capability loosens quasi-hierarchy),
  -> hierarchy 0.01;
- network -> market 0.04, -> quasi_hierarchy :math:`\Lambda(-3.5 + \lambda_g)`, -> hierarchy 0.005;
- hierarchy -> quasi_hierarchy 0.03 (divestment).

Governance is correlated within clusters through :math:`\lambda_g` and :math:`b_{gt}`. It depends
on capability, never on the outcome shocks below, so it is strictly exogenous given the firm
effect. The capability-driven constants are the ``transition_*`` fields of :class:`TrueParameters`
(``transition_qh_network_capability`` = 0.8 is the 0.8 above, and so on); with the default
``transition_form="competing"`` the moves are exactly the ones above, a move from t-1 to t reading
:math:`\kappa_{it}`. With ``transition_form="multinomial"`` every move gets the index above
(:math:`\operatorname{logit}` of the fixed probabilities), reads the origin year's
:math:`\kappa_{i,t-1}`, and :math:`P(r \to j) = e^{s_{rj}}/(1 + \sum_l e^{s_{rl}})`: a
multinomial logit with staying as the base, the model of
:func:`gvcpanel.gvc.transitions.governance_transition_model` (exact for the moves out of
quasi-hierarchy when ``transition_qh_market_propensity`` = 0, as the unobserved
:math:`\lambda_g` then leaves them).

**Governance indicators** are drawn from :math:`G_{it}` so that the Humphrey-Schmitz rules of
:mod:`gvcpanel.gvc.governance` (default thresholds) recover it exactly where the indicators are
observed (``indicator_noise`` flips each 0/1 indicator with that probability to stress the
rules). Main-buyer share :math:`s`: market :math:`U(0.05, 0.4)`, network :math:`U(0.15, 0.45)`,
quasi_hierarchy :math:`0.55 + 0.4\,\text{Beta}(2,2)`, hierarchy :math:`0.6 + 0.4\,\text{Beta}(2,2)`;
``n_buyers`` :math:`= \max(\lceil 1/s \rceil, m) + \text{Poisson}(\mu)` with :math:`(m,\mu)` =
(3, 3) market, (2, 2) network, (2, 1) quasi_hierarchy, (1, 0.5) hierarchy. ``buyer_owned`` = 1
iff hierarchy. Quasi-hierarchy: buyer sets design w.p. 0.85, else monitors the process for sure;
otherwise monitors w.p. 0.6. Network: joint development = 1, design w.p. 0.3, monitoring w.p. 0.3.
Market: design = monitoring = joint development = 0. Hierarchy: design = monitoring = 1, joint
development w.p. 0.3. Five-type (GHS 2005) indices, drawn "high" :math:`U(0.55, 1)` or "low"
:math:`U(0, 0.45)`: market (C low, K high, S high), network -> modular or relational (K high for
firms with a codifiable product, probability 0.5), quasi_hierarchy -> captive (C high, K high,
S low), hierarchy (C high, K low, S low). ``global_buyer`` = 1 w.p. 0.2 / 0.3 / 0.9 / 0.95.

**Controls.** log employees :math:`= \mu_i + 0.03 (t - e_i) + \text{random walk (sd 0.08)}`,
:math:`\mu_i \sim N(3.8, 1)` for incumbents, :math:`N(3.0, 0.8)` for entrants; stored rounded
(at least 1). ``firm_age`` = year - founding year (integer years; incumbents' age in the first
year :math:`\sim` Poisson(14), entrants' age at entry :math:`\sim` Poisson(1.5)).
``foreign_owned`` :math:`\sim` Bernoulli(0.15) at entry, switching to 1 at rate 0.01 a year.
``export_share`` = clip(0.15 + 0.25 qh + 0.15 hier + 0.10 network + :math:`x_i` +
:math:`N(0, 0.05^2)`, 0, 1) rounded to 3 decimals, :math:`x_i \sim N(0, 0.12^2)`.
Hazards and regressions use the stored values.

**Strategic network, first and exogenous to upgrading.** With firm propensity
:math:`\nu_i \sim N(0, 0.6^2)` + cluster effect :math:`N(0, 0.3^2)`: ``n_partners`` ~
Poisson(exp(0.8 + :math:`\nu_i` + 0.5 network - 0.2 qh + 0.02 (t - t_0))), ``alliance`` ~
Bernoulli(:math:`\Lambda(-1.5 + \nu_i + 0.8` network)), ``university_link`` ~
Bernoulli(:math:`\Lambda(-2 + \nu_i + 0.3 a_i)`), ``association_member`` ~
Bernoulli(:math:`\Lambda(-0.5 + \alpha_g + 0.5\nu_i)`), :math:`\alpha_g \sim N(0,1)`.
Item missingness is applied next (below); then network strength is computed exactly as the
package defines it (:func:`gvcpanel.gvc.upgrading.network_strength`): with :math:`m, s` the mean and
standard deviation (ddof = 1) of :math:`\log(1 + \text{n\_partners})` over firm-years where it is
observed, :math:`I_{it} = (\log(1+n_{it}) - m)/s + \text{alliance} + \text{university\_link} +
\text{association\_member}` and :math:`\text{NS}^c_{it} = I_{it} - \bar I` with :math:`\bar I`
the mean over firm-years where :math:`I` is observed. Events use :math:`\text{NS}^c` computed
from the latent (unmasked) components with these same constants, so the estimator's centred
variable equals the DGP's wherever it is observed.

**Upgrading hazards** (complementary log-log, calendar-year baselines, no frailty). For
outcome :math:`u` and at-risk firm-year,

.. math::

    \log(-\log(1 - h^u_{it})) = \alpha^u_t + \beta^u_\text{net}\,\text{network} +
    \beta^u_\text{qh}\,\text{qh} + \beta^u_\text{hier}\,\text{hier} +
    \beta^u_\text{emp}\log(\text{employees}) + \beta^u_\text{age}\,\text{firm\_age} +
    \beta^u_\text{for}\,\text{foreign\_owned} + \beta^u_\text{exp}\,\text{export\_share}
    \;[+\; \beta_\text{ns}\text{NS}^c + \beta_\text{int}\,\text{qh}\cdot\text{NS}^c]_{u=\text{functional}}

with :math:`\alpha^u_t = \alpha^u_0 + \delta^u (t - t_0)`; ``firm_age`` in years. So the
coefficients are log hazard ratios of the discrete-time proportional hazards model.

- process: ``iso_certified`` is absorbing. The status in the first observed year is a draw
  from before the panel (left truncation: :math:`P = \Lambda(-1.5 + 0.8\,\text{qh} + 0.5\,
  \text{hier} + 0.3\,\text{foreign})`); from the second observed year on, a firm not yet
  certified certifies with probability :math:`h^\text{process}_{it}`. The risk set is therefore
  {(i, t): t after the firm's first year, iso_certified(i, t-1) = 0}; firms certified when first
  observed are never at risk.
- product: ``new_product`` is drawn in every observed year (the first year included) with
  probability :math:`h^\text{product}_{it}`. Because later new products follow the same hazard,
  the hazard of the first *observed* new product is :math:`h^\text{product}` whatever happened
  before the panel.
- functional: ``function_level`` (0-3) starts from a pre-panel draw (incumbents
  (0.5, 0.3, 0.13, 0.07), entrants (0.75, 0.2, 0.04, 0.01)); from the second observed year on, a
  firm below 3 steps up by one with probability :math:`h^\text{functional}_{it}`; the hazard
  does not depend on the current level, so every step has the same coefficients.
- intersectoral: ``new_sector_entry`` is drawn every observed year with :math:`h^\text{inter}`;
  from the second observed year on an event also moves ``sector`` to another sector (uniform
  over the others), so both the flow ``new_sector_entry`` and the change of ``sector`` (the risk
  set of :func:`gvcpanel.gvc.upgrading.risk_set`, whose first year is the entry year) carry the
  hazard :math:`h^\text{inter}` (events recur with the same hazard).

**Within-cluster correlation without frailty.** Event uniforms follow a Gaussian copula,
:math:`U^u_{it} = \Phi(\sqrt{\rho}\, c^u_{gt} + \sqrt{1-\rho}\,\varepsilon^u_{it})`,
:math:`c^u_{gt}, \varepsilon^u_{it}` iid :math:`N(0,1)`, independent over years and outcomes,
and the event occurs iff :math:`U^u_{it} < h^u_{it}`. Each :math:`U^u_{it}` is uniform and
independent of the covariates and of the firm's past, so :math:`P(\text{event} \mid
\text{at risk}, x_{it}) = h^u_{it}` exactly, while events are correlated within cluster-years
(clustered standard errors matter). There is no firm frailty: with a frailty :math:`v_i` the
coefficients above would be conditional on :math:`v_i`, and the estimator (which integrates
over :math:`v_i` and loses frail firms from the risk set) would estimate attenuated,
population-averaged log hazard ratios instead of the stored truth.

**Continuous outcomes** (two-way fixed-effects estimands). With firm effect
:math:`\eta_i = 3 + 0.3 a_i + N(0, 0.3^2)`, year effect :math:`\tau_t = 0.02 (t - t_0) +
N(0, 0.03^2)`, cluster-year shock :math:`\omega_{gt} \sim N(0, \sigma_\omega^2)` and noise
:math:`\epsilon_{it} \sim N(0, \sigma_\epsilon^2)` independent of everything above,

.. math::

    \text{labour\_productivity}_{it} = \eta_i + \tau_t + \omega_{gt} + \theta_\text{qh}\text{qh}
    + \theta_\text{net}\text{network} + \theta_\text{hier}\text{hier} + \theta_\text{emp}
    \log(\text{employees}) + \theta_\text{for}\text{foreign\_owned} + \theta_\text{exp}
    \text{export\_share} + \epsilon_{it},

and the same form for :math:`\log(\text{unit\_value})` (own firm effect
:math:`2 + 0.2 a_i + N(0, 0.3^2)`, own shocks, coefficients ``unit_value_*``). Capability enters
only through the firm effect, so governance is strictly exogenous given :math:`\eta_i`; firm age
has no effect (with firm and year effects it is collinear with them anyway).
``defect_rate`` = :math:`\Lambda(-2.5 + d_i - 0.3\,\text{qh} - 0.4\,\text{iso\_certified} +
N(0, 0.3^2))`, :math:`d_i \sim N(0, 0.5^2)`.

**Staggered chain entry** (:func:`simulate_chain_entry`, its own random stream, so it adds the
column ``export_sales`` without changing any other): a firm's cohort is its first observed
quasi-hierarchy year after an observed year outside it, and :math:`\log(\text{export\_sales})`
has firm, year and cluster-year effects plus :math:`\delta(g, e) = (\beta_0 + \beta_1
\min(e, 8))(1 + \kappa (T_1 - g)/(T_1 - T_0))` from entry on: effects grow with time since entry
and are larger for earlier cohorts, so the two-way fixed-effects event study is biased while the
heterogeneity-robust estimators are not (:attr:`SimulatedPanel.entry` holds the effects by cohort
and event time and their averages by event time).

**Item missingness** (MCAR): each value of ``main_buyer_share, n_buyers, buyer_sets_design,
buyer_monitors_process, buyer_owned, joint_development, global_buyer, transaction_complexity,
codifiability, supplier_capability, n_partners, alliance, university_link, association_member,
labour_productivity, defect_rate, unit_value`` is set missing independently with probability
``missing_rate`` (default 0.03); the counts are in :attr:`SimulatedPanel.missing_counts`. Keys,
``governance``, the event and level variables and the controls are complete.

**Dynamics block** (its own stream ``default_rng([seed, DYNAMICS_STREAM])``, so no column above
changes). ``capability_score`` = :math:`\kappa_{it}` rounded to 3 decimals, missing (MCAR) with
probability ``missing_rate``. Lock-in: with the stored main-buyer share :math:`s_{it}`,
``locked_in`` = 1 when :math:`s \ge` ``lock_in_threshold`` (0.5) in each of the last
``lock_in_years`` (3) observed years, counted from the firm's first year exactly as
:func:`gvcpanel.gvc.lockin.buyer_dependence` counts. Diversification ``new_buyer_or_market`` is
a flow drawn every observed year (copula as below) from the cloglog hazard
:math:`\alpha^\text{div}_t + x'\beta^\text{div} + \beta_\text{share} s_{it} +
\beta_\text{lock}\,\text{locked\_in}_{it}` with the controls and governance dummies of the
other hazards. The functional hazard below also carries ``functional_main_buyer_share``,
``functional_locked_in`` and ``functional_global_buyer`` times those variables; all three are 0
by default (the example's function levels are those drawn before the block existed), and only
``function_level`` changes when they are set.

**True parameters** (defaults; log hazard ratios for hazards, log points for the linear
outcomes), as stored in :class:`TrueParameters`:

==========================  =========  =========  ===========  =============  ============  ==========
term                        process    product    functional   intersectoral  productivity  unit_value
==========================  =========  =========  ===========  =============  ============  ==========
network                      0.35       0.30       0.40         0.30           0.10          0.05
quasi_hierarchy              0.60       0.40      -0.50        -0.30           0.15          0.12
hierarchy                    0.30       0.15      -0.40        -0.30           0.20          0.08
log(employees)               0.20       0.10       0.10         0.05           0.10          0.05
firm_age (per year)         -0.010     -0.010     -0.005        0.0            (absorbed)    (absorbed)
foreign_owned                0.25       0.20      -0.10         0.0            0.10          0.05
export_share                 0.50       0.30       0.20         0.0            0.20          0.10
network_strength_c                                 0.20
qh:network_strength_c                              0.30
baseline level (t0)         -3.30      -2.40      -3.20        -4.00
baseline trend per year      0.03       0.02       0.02         0.0
==========================  =========  =========  ===========  =============  ============  ==========

Diversification hazard: network 0.30, quasi_hierarchy 0, hierarchy -0.50, main_buyer_share -1.00,
locked_in -0.60, log(employees) 0.15, firm_age -0.010, foreign_owned 0, export_share 0.50, baseline
level -2.30 and trend 0.02.  Transitions (logit of the move): market -> quasi_hierarchy -2.2 +
:math:`\lambda_g + b_{gt}` - 0.2 capability, market -> network -4.0 + 0.5 capability,
quasi_hierarchy -> network -4.0 + 0.8 capability, quasi_hierarchy -> market -3.0 + 0.4
capability - 0.5 :math:`\lambda_g`.

Nuisance settings (``**options``, see :class:`SimulationOptions`): event copula correlation
:math:`\rho = 0.2`, :math:`\sigma_\lambda = 0.8`, :math:`\sigma_b = 0.5`,
:math:`\sigma_\omega = 0.1`, :math:`\sigma_\epsilon = 0.25`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, ndtri

from gvcpanel.errors import SpecificationError
from gvcpanel.gvc.columns import GOVERNANCE_TYPES

__all__ = [
    "ChainEntry",
    "SimulatedPanel",
    "example_chain_entry",
    "SimulationOptions",
    "TrueParameters",
    "example_panel",
    "example_truth",
    "simulate_panel",
]

EXAMPLE_SEED = 20050
GOVERNANCE_STATES = GOVERNANCE_TYPES
SECTORS = ("apparel", "footwear", "electronics", "auto_parts", "furniture")
HAZARD_OUTCOMES = ("process", "product", "functional", "intersectoral", "diversification")
LINEAR_OUTCOMES = ("productivity", "unit_value")
TRANSITION_FORMS = ("competing", "multinomial")
#: seed tag of the independent random stream of the dynamics block (capability score, lock-in
#: and diversification): ``default_rng([seed, DYNAMICS_STREAM])`` leaves the main stream, and so
#: every column drawn from it, exactly as it was before the block existed
DYNAMICS_STREAM = 1108
_TERMS = {
    "network": "network",
    "quasi_hierarchy": "quasi_hierarchy",
    "hierarchy": "hierarchy",
    "log_employees": "log(employees)",
    "firm_age": "firm_age",
    "foreign_owned": "foreign_owned",
    "export_share": "export_share",
    "network_strength": "network_strength_c",
    "interaction": "quasi_hierarchy:network_strength_c",
    "main_buyer_share": "main_buyer_share",
    "locked_in": "locked_in",
    "global_buyer": "global_buyer",
    "baseline_level": "baseline level (first year)",
    "baseline_trend": "baseline trend (per year)",
}
_OUTCOME_LABEL = {
    "process": "process hazard (first ISO certification)",
    "product": "product hazard (first new product)",
    "functional": "functional hazard (step up function_level)",
    "intersectoral": "intersectoral hazard (new_sector_entry)",
    "diversification": "diversification hazard (first new_buyer_or_market)",
    "transition": "governance transition (yearly move vs staying)",
    "productivity": "labour_productivity",
    "unit_value": "log(unit_value)",
    "defect": "logit(defect_rate)",
    "entry": "log(export_sales) after first quasi-hierarchy entry",
}
MISSING_FIELDS = (
    "main_buyer_share", "n_buyers", "buyer_sets_design", "buyer_monitors_process", "buyer_owned",
    "joint_development", "global_buyer", "transaction_complexity", "codifiability",
    "supplier_capability", "n_partners", "alliance", "university_link", "association_member",
    "labour_productivity", "defect_rate", "unit_value",
)


@dataclass(frozen=True)
class TrueParameters:
    """True coefficients of the simulation, on the scale the estimators report.

    Hazard coefficients (``process_*``, ``product_*``, ``functional_*``, ``intersectoral_*``) are
    log hazard ratios of the complementary log-log discrete-time hazard; ``firm_age`` is per
    year of age; ``functional_network_strength`` multiplies centred network strength and
    ``functional_interaction`` the product quasi_hierarchy x centred network strength.
    ``*_baseline_level`` and ``*_baseline_trend`` give the calendar-year log baseline
    :math:`\\alpha_t = \\text{level} + \\text{trend}(t - t_0)` at all covariates zero.
    ``productivity_*`` and ``unit_value_*`` are coefficients of ``labour_productivity`` and
    log(``unit_value``) in the two-way (firm, year) fixed-effects model; ``defect_*`` are on the
    logit scale of ``defect_rate``.
    """

    process_network: float = 0.35
    process_quasi_hierarchy: float = 0.60
    process_hierarchy: float = 0.30
    process_log_employees: float = 0.20
    process_firm_age: float = -0.010
    process_foreign_owned: float = 0.25
    process_export_share: float = 0.50
    process_baseline_level: float = -3.30
    process_baseline_trend: float = 0.03
    product_network: float = 0.30
    product_quasi_hierarchy: float = 0.40
    product_hierarchy: float = 0.15
    product_log_employees: float = 0.10
    product_firm_age: float = -0.010
    product_foreign_owned: float = 0.20
    product_export_share: float = 0.30
    product_baseline_level: float = -2.40
    product_baseline_trend: float = 0.02
    functional_network: float = 0.40
    functional_quasi_hierarchy: float = -0.50
    functional_hierarchy: float = -0.40
    functional_network_strength: float = 0.20
    functional_interaction: float = 0.30
    functional_log_employees: float = 0.10
    functional_firm_age: float = -0.005
    functional_foreign_owned: float = -0.10
    functional_export_share: float = 0.20
    functional_baseline_level: float = -3.20
    functional_baseline_trend: float = 0.02
    functional_main_buyer_share: float = 0.0
    functional_locked_in: float = 0.0
    functional_global_buyer: float = 0.0
    intersectoral_network: float = 0.30
    intersectoral_quasi_hierarchy: float = -0.30
    intersectoral_hierarchy: float = -0.30
    intersectoral_log_employees: float = 0.05
    intersectoral_firm_age: float = 0.0
    intersectoral_foreign_owned: float = 0.0
    intersectoral_export_share: float = 0.0
    intersectoral_baseline_level: float = -4.00
    intersectoral_baseline_trend: float = 0.0
    productivity_network: float = 0.10
    productivity_quasi_hierarchy: float = 0.15
    productivity_hierarchy: float = 0.20
    productivity_log_employees: float = 0.10
    productivity_foreign_owned: float = 0.10
    productivity_export_share: float = 0.20
    unit_value_network: float = 0.05
    unit_value_quasi_hierarchy: float = 0.12
    unit_value_hierarchy: float = 0.08
    unit_value_log_employees: float = 0.05
    unit_value_foreign_owned: float = 0.05
    unit_value_export_share: float = 0.10
    defect_quasi_hierarchy: float = -0.30
    defect_iso_certified: float = -0.40
    diversification_network: float = 0.30
    diversification_quasi_hierarchy: float = 0.0
    diversification_hierarchy: float = -0.50
    diversification_main_buyer_share: float = -1.00
    diversification_locked_in: float = -0.60
    diversification_log_employees: float = 0.15
    diversification_firm_age: float = -0.010
    diversification_foreign_owned: float = 0.0
    diversification_export_share: float = 0.50
    diversification_baseline_level: float = -2.30
    diversification_baseline_trend: float = 0.02
    transition_market_qh_level: float = -2.2
    transition_market_qh_capability: float = -0.2
    transition_market_network_level: float = -4.0
    transition_market_network_capability: float = 0.5
    transition_qh_network_level: float = -4.0
    transition_qh_network_capability: float = 0.8
    transition_qh_market_level: float = -3.0
    transition_qh_market_capability: float = 0.4
    transition_qh_market_propensity: float = -0.5
    # staggered chain entry (simulate_chain_entry): effect of first entering a quasi-hierarchical
    # chain on log(export_sales) e years after entry, for cohort g (entry year):
    # (level + slope * min(e, slope_years)) * (1 + cohort_gradient * (last_year - g) / (last_year - first_year))
    entry_effect_level: float = 0.05
    entry_effect_slope: float = 0.03
    entry_effect_cohort_gradient: float = 1.0
    first_year: int = 2005

    def as_dict(self) -> dict[str, float]:
        """Every coefficient by key (``first_year`` excluded)."""
        out = asdict(self)
        out.pop("first_year")
        return out

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: ``key``, ``outcome``, ``term`` (as the estimators label it), ``value``, ``scale``."""
        rows = []
        for key, value in self.as_dict().items():
            outcome = next(o for o in _OUTCOME_LABEL if key.startswith(o + "_"))
            name = key[len(outcome) + 1:]
            term = _transition_term(name) if outcome == "transition" else _TERMS.get(name, name)
            if outcome == "transition":
                scale = "log odds of the yearly move (see SimulationOptions.transition_form)"
            elif outcome in HAZARD_OUTCOMES:
                scale = "log hazard (baseline)" if name.startswith("baseline") else "log hazard ratio (cloglog)"
            elif outcome == "defect":
                scale = "logit"
            elif outcome == "entry":
                scale = "log points (event study; see SimulatedPanel.entry_effects)"
            else:
                scale = "log points (two-way FE)"
            rows.append({"key": key, "outcome": _OUTCOME_LABEL[outcome], "term": term,
                         "value": float(value), "scale": scale})
        return pd.DataFrame(rows)

    def baseline(self, outcome: str, years: tuple[int, int]) -> pd.Series:
        """Log baseline hazard :math:`\\alpha_t` of a hazard outcome for each year in ``years``."""
        if outcome not in HAZARD_OUTCOMES:
            raise SpecificationError(
                f"unknown hazard outcome {outcome!r}; expected one of {list(HAZARD_OUTCOMES)}."
            )
        grid = np.arange(years[0], years[1] + 1)
        level = getattr(self, f"{outcome}_baseline_level")
        trend = getattr(self, f"{outcome}_baseline_trend")
        return pd.Series(level + trend * (grid - self.first_year), index=pd.Index(grid, name="year"))


_STATE_ABBREVIATION = {"market": "market", "network": "network", "qh": "quasi_hierarchy",
                       "hierarchy": "hierarchy"}
_TRANSITION_REGRESSOR = {"level": "Intercept", "capability": "capability_score",
                         "propensity": "cluster propensity (not observed)"}


def _transition_term(name: str) -> str:
    """``qh_network_capability`` -> ``quasi_hierarchy->network:capability_score`` (the model's label)."""
    origin, destination, regressor = name.split("_", 2)
    return (f"{_STATE_ABBREVIATION[origin]}->{_STATE_ABBREVIATION[destination]}:"
            f"{_TRANSITION_REGRESSOR[regressor]}")


@dataclass(frozen=True)
class SimulationOptions:
    """Nuisance settings of the DGP (see the module Notes)."""

    share_present_at_start: float = 0.6
    exit_rate: float = 0.05
    missing_rate: float = 0.03
    event_rho: float = 0.2
    qh_cluster_sd: float = 0.8
    buyer_arrival_sd: float = 0.5
    outcome_cluster_year_sd: float = 0.10
    outcome_noise_sd: float = 0.25
    indicator_noise: float = 0.0
    transition_form: str = "competing"
    lock_in_threshold: float = 0.5
    lock_in_years: int = 3

    def __post_init__(self) -> None:
        for name in ("share_present_at_start", "exit_rate", "missing_rate", "indicator_noise",
                     "lock_in_threshold"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise SpecificationError(f"option {name} must lie in [0, 1], found {value!r}.")
        if not 0.0 <= self.event_rho < 1.0:
            raise SpecificationError(f"option event_rho must lie in [0, 1), found {self.event_rho!r}.")
        if self.transition_form not in TRANSITION_FORMS:
            raise SpecificationError(
                f"option transition_form={self.transition_form!r}; use one of {TRANSITION_FORMS}."
            )
        if isinstance(self.lock_in_years, bool) or not isinstance(self.lock_in_years, int) or self.lock_in_years < 1:
            raise SpecificationError(
                f"option lock_in_years must be a positive integer, found {self.lock_in_years!r}."
            )


@dataclass(frozen=True)
class SimulatedPanel:
    """A simulated panel with its truth.

    Attributes
    ----------
    frame : pandas.DataFrame
        The simulated firm-years (columns ``firm_id``, ``year``, ... in schema names).
    truth : TrueParameters
    options : SimulationOptions
    seed : int
    missing_counts : Mapping[str, int]
        Values set missing (MCAR) per field.
    network_strength_constants : Mapping[str, float]
        ``log1p_partners_mean``, ``log1p_partners_sd`` and ``index_mean`` used for centring.
    entry : ChainEntry
        Staggered first entry into quasi-hierarchy and its true effects on
        ``log(export_sales)`` (see :func:`simulate_chain_entry`).
    panel : FirmPanel
        The validated panel (built from ``frame`` on first access).
    """

    frame: pd.DataFrame = field(repr=False)
    truth: TrueParameters
    options: SimulationOptions
    seed: int
    missing_counts: Mapping[str, int]
    network_strength_constants: Mapping[str, float]
    entry: "ChainEntry | None" = None

    @functools.cached_property
    def panel(self) -> Any:
        from gvcpanel.data.io import load_panel

        return load_panel(self.frame)


def _resolve_params(params: Mapping[str, float] | None) -> TrueParameters:
    valid = {f.name for f in fields(TrueParameters)} - {"first_year"}
    unknown = sorted(set(params or {}) - valid)
    if unknown:
        raise SpecificationError(
            f"unknown true parameter(s) {unknown}; valid keys: {sorted(valid)}."
        )
    return replace(TrueParameters(), **{k: float(v) for k, v in (params or {}).items()})


def _resolve_options(options: Mapping[str, Any]) -> SimulationOptions:
    valid = {f.name for f in fields(SimulationOptions)}
    unknown = sorted(set(options) - valid)
    if unknown:
        raise SpecificationError(f"unknown simulation option(s) {unknown}; valid: {sorted(valid)}.")
    return SimulationOptions(**options)


def _categorical_draw(prob: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Row-wise draw from probability rows using one uniform per row."""
    return (u[:, None] > np.cumsum(prob, axis=1)[:, :-1]).sum(axis=1)


def _copula_events(rng: np.random.Generator, hazard: np.ndarray, cluster: np.ndarray,
                   n_clusters: int, rho: float) -> np.ndarray:
    """Event iff Phi(sqrt(rho) c_g + sqrt(1-rho) e_i) < h, i.e. latent normal < ndtri(h)."""
    return _copula_latent(rng, cluster, n_clusters, rho) < ndtri(hazard)


def _copula_latent(rng: np.random.Generator, cluster: np.ndarray, n_clusters: int, rho: float) -> np.ndarray:
    """The standard normal sqrt(rho) c_g + sqrt(1-rho) e_i behind one year's events."""
    shock = rng.standard_normal(n_clusters)[cluster]
    return np.sqrt(rho) * shock + np.sqrt(1.0 - rho) * rng.standard_normal(cluster.size)


# yearly moves that do not depend on capability (probabilities; see the module Notes)
_FIXED_MOVES = (("market", "hierarchy", 0.005), ("quasi_hierarchy", "hierarchy", 0.01),
                ("network", "market", 0.04), ("network", "hierarchy", 0.005),
                ("hierarchy", "quasi_hierarchy", 0.03))


def _transition_probabilities(tp: TrueParameters, form: str, prev: np.ndarray, k: np.ndarray,
                              propensity: np.ndarray, arrival: np.ndarray) -> np.ndarray:
    r"""N x 4 probabilities of next year's governance given this year's (``prev``) and capability.

    Each move r -> j has an index :math:`s_{rj}` (the capability-driven ones from ``tp``, the
    others :math:`\operatorname{logit}` of their fixed probability).  ``"competing"`` (the
    example panel): :math:`P(r \to j) = \Lambda(s_{rj})`, the rest of the mass stays.
    ``"multinomial"``: :math:`P(r \to j) = e^{s_{rj}} / (1 + \sum_l e^{s_{rl}})`, so that a
    multinomial logit of the next state with staying as the base is correctly specified.
    """
    N = prev.size
    state = {name: code for code, name in enumerate(GOVERNANCE_STATES)}
    index = np.full((N, 4), -np.inf)
    m, n, q = prev == 0, prev == 1, prev == 2  # from market, network, quasi-hierarchy
    index[m, 2] = (tp.transition_market_qh_level + propensity + arrival
                   + tp.transition_market_qh_capability * k)[m]
    index[m, 1] = (tp.transition_market_network_level + tp.transition_market_network_capability * k)[m]
    index[q, 1] = (tp.transition_qh_network_level + tp.transition_qh_network_capability * k)[q]
    index[q, 0] = (tp.transition_qh_market_level + tp.transition_qh_market_capability * k
                   + tp.transition_qh_market_propensity * propensity)[q]
    index[n, 2] = (-3.5 + propensity)[n]
    for origin, destination, probability in _FIXED_MOVES:
        index[prev == state[origin], state[destination]] = np.log(probability / (1.0 - probability))
    rows = np.arange(N)
    if form == "competing":
        move = np.where(np.isfinite(index), expit(index), 0.0)
        # the fixed moves enter as their probabilities themselves, not through logit and back
        for origin, destination, probability in _FIXED_MOVES:
            move[prev == state[origin], state[destination]] = probability
        move[rows, prev] = 0.0
        move[rows, prev] = 1.0 - move.sum(axis=1)
        return move
    index[rows, prev] = 0.0
    weight = np.exp(index - index.max(axis=1, keepdims=True))
    return weight / weight.sum(axis=1, keepdims=True)


def _cloglog(eta: np.ndarray) -> np.ndarray:
    return -np.expm1(-np.exp(eta))


def _linear_index(tp: TrueParameters, prefix: str, state: np.ndarray, log_emp: np.ndarray,
                  age: np.ndarray, foreign: np.ndarray, export: np.ndarray,
                  with_age: bool = True) -> np.ndarray:
    eta = (getattr(tp, f"{prefix}_network") * (state == 1)
           + getattr(tp, f"{prefix}_quasi_hierarchy") * (state == 2)
           + getattr(tp, f"{prefix}_hierarchy") * (state == 3)
           + getattr(tp, f"{prefix}_log_employees") * log_emp
           + getattr(tp, f"{prefix}_foreign_owned") * foreign
           + getattr(tp, f"{prefix}_export_share") * export)
    if with_age:
        eta = eta + getattr(tp, f"{prefix}_firm_age") * age
    return eta


# --------------------------------------------------------------------------------------------
# dynamics: lock-in, functional steps, diversification, capability score (issue 11, items 3-5)
@dataclass(frozen=True, eq=False)
class _Dynamics:
    """Wide (firm x year) arrays of the dynamics block; zero outside a firm's observed years."""

    share: np.ndarray  # main_buyer_share as stored (rounded to 3 decimals, before masking)
    global_buyer: np.ndarray  # 0/1, before masking
    locked_in: np.ndarray  # 0/1: share >= threshold in each of the last `lock_in_years` years
    new_buyer_or_market: np.ndarray  # 0/1 flow
    capability_score: np.ndarray  # long (one value per firm-year row)
    capability_missing: np.ndarray  # long MCAR mask of capability_score


def _dependence_run(share: np.ndarray, present: np.ndarray, threshold: float, years: int) -> np.ndarray:
    """Consecutive observed years up to t with share >= threshold, capped at ``years`` (0 if not).

    The count starts at the firm's first observed year, as :func:`gvcpanel.gvc.lockin.buyer_dependence`
    does (spells are left-censored there), so the two agree wherever the package can tell.
    """
    run = np.zeros(share.shape, dtype=np.int64)
    dependent = present & (share >= threshold)
    for t in range(share.shape[1]):
        before = run[:, t - 1] if t > 0 else 0
        run[:, t] = np.where(dependent[:, t], np.minimum(before + 1, years), 0)
    return run


def _dynamics_block(rng: np.random.Generator, tp: TrueParameters, opt: SimulationOptions,
                    rows: tuple[np.ndarray, np.ndarray], present: np.ndarray, entry: np.ndarray,
                    cluster: np.ndarray, n_clusters: int, state: np.ndarray, log_emp: np.ndarray,
                    firm_age: np.ndarray, foreign: np.ndarray, export: np.ndarray,
                    share_long: np.ndarray, global_buyer_long: np.ndarray,
                    capability: np.ndarray) -> _Dynamics:
    """Lock-in, diversification events and the capability score, from the stream ``rng``.

    Draws, in this order: the MCAR mask of ``capability_score``, then one copula year of
    diversification events per calendar year.  Nothing here touches the main stream.
    """
    N, T = present.shape
    capability_missing = rng.random(rows[0].size) < opt.missing_rate
    capability_score = np.round(capability[rows], 3)
    share = np.zeros((N, T))
    share[rows] = share_long
    global_buyer = np.zeros((N, T))
    global_buyer[rows] = global_buyer_long
    run = _dependence_run(share, present, opt.lock_in_threshold, opt.lock_in_years)
    locked_in = (run >= opt.lock_in_years).astype(np.int8)
    base = tp.diversification_baseline_level + tp.diversification_baseline_trend * np.arange(T)
    new = np.zeros((N, T), dtype=np.int8)
    for t in range(T):
        eta = (base[t] + _linear_index(tp, "diversification", state[:, t], log_emp[:, t], firm_age[:, t],
                                       foreign[:, t], export[:, t])
               + tp.diversification_main_buyer_share * share[:, t]
               + tp.diversification_locked_in * locked_in[:, t])
        events = _copula_events(rng, _cloglog(eta), cluster, n_clusters, opt.event_rho)
        new[:, t] = present[:, t] & events
    return _Dynamics(share, global_buyer, locked_in, new, capability_score, capability_missing)


def _functional_levels(tp: TrueParameters, eta: np.ndarray, latent: np.ndarray, level0: np.ndarray,
                       present: np.ndarray, entry: np.ndarray, dynamics: _Dynamics) -> np.ndarray:
    """function_level paths: a step up when the copula latent falls below ndtri(hazard).

    The lock-in and destination terms are added only when their coefficients are not zero, so
    that with the defaults the index, and every step, is bit for bit what it was without them.
    """
    for coefficient, values in ((tp.functional_main_buyer_share, dynamics.share),
                                (tp.functional_locked_in, dynamics.locked_in),
                                (tp.functional_global_buyer, dynamics.global_buyer)):
        if coefficient != 0.0:
            eta = eta + coefficient * values
    events = latent < ndtri(_cloglog(eta))
    N, T = eta.shape
    level = np.zeros((N, T), dtype=np.int8)
    level[:, 0] = level0
    for t in range(1, T):
        first = entry == t
        cont = present[:, t] & ~first
        step = cont & (level[:, t - 1] < 3) & events[:, t]
        level[:, t] = np.where(first, level0, np.where(cont, level[:, t - 1] + step, 0))
    return level


def simulate_panel(
    n_firms: int = 3000,
    n_clusters: int = 30,
    n_countries: int = 6,
    years: tuple[int, int] = (2005, 2019),
    seed: int = 0,
    params: Mapping[str, float] | None = None,
    **options: Any,
) -> SimulatedPanel:
    """Simulate a firm-year panel from the documented DGP (module Notes).

    Parameters
    ----------
    n_firms, n_clusters, n_countries : int
        Firms are spread over clusters; cluster ``g`` lies in country ``g mod n_countries``.
    years : (int, int)
        First and last calendar year, inclusive.
    seed : int
        Seed of :func:`numpy.random.default_rng`; equal seeds give equal panels.
    params : Mapping[str, float], optional
        Overrides of :class:`TrueParameters` by key (for example
        ``{"process_quasi_hierarchy": 0.0}`` for size checks). Random draws do not depend on the
        parameters, so panels with the same seed differ only through the changed effects.
    **options
        Fields of :class:`SimulationOptions` (for example ``missing_rate=0.0``).

    Returns
    -------
    SimulatedPanel

    Raises
    ------
    SpecificationError
        Unknown parameter or option key, or impossible dimensions.
    """
    tp = _resolve_params(params)
    tp = replace(tp, first_year=int(years[0]))
    opt = _resolve_options(options)
    n_years = int(years[1]) - int(years[0]) + 1
    if n_firms < 1 or n_clusters < 1 or n_countries < 1 or n_years < 2:
        raise SpecificationError(
            f"need n_firms, n_clusters, n_countries >= 1 and at least two years; found "
            f"n_firms={n_firms}, n_clusters={n_clusters}, n_countries={n_countries}, years={years}."
        )
    if n_countries > n_clusters:
        raise SpecificationError(
            f"n_countries ({n_countries}) exceeds n_clusters ({n_clusters}): every country needs a cluster."
        )
    rng = np.random.default_rng(seed)
    N, T, G = n_firms, n_years, n_clusters
    t_grid = np.arange(T)

    # --- structure: clusters, sectors, entry and exit ---------------------------------------
    cluster = rng.integers(0, G, N)
    cluster_sector = rng.integers(0, len(SECTORS), G)
    sector = np.where(rng.random(N) < 0.85, cluster_sector[cluster], rng.integers(0, len(SECTORS), N))
    incumbent = rng.random(N) < opt.share_present_at_start
    entry = np.where(incumbent, 0, rng.integers(1, T, N))
    stay = rng.geometric(max(opt.exit_rate, 1e-12), N) if opt.exit_rate > 0 else np.full(N, T)
    last = np.minimum(entry + stay - 1, T - 1)
    present = (t_grid[None, :] >= entry[:, None]) & (t_grid[None, :] <= last[:, None])
    since_entry = np.maximum(t_grid[None, :] - entry[:, None], 0)

    # --- capability and governance Markov chain ---------------------------------------------
    ability = rng.standard_normal(N)
    growth = rng.uniform(0.0, 0.2, N)
    capability = ability[:, None] + growth[:, None] * since_entry
    propensity = rng.normal(0.0, opt.qh_cluster_sd, G)[cluster]
    arrival = rng.normal(0.0, opt.buyer_arrival_sd, (G, T))[cluster]
    state = np.zeros((N, T), dtype=np.int8)
    for t in range(T):
        k = capability[:, t]
        u = rng.random(N)
        scores = np.column_stack([np.zeros(N), -2.5 + 0.6 * k, -0.3 + propensity - 0.3 * k,
                                  np.full(N, -3.0)])
        initial = np.exp(scores - scores.max(axis=1, keepdims=True))
        initial /= initial.sum(axis=1, keepdims=True)
        new_state = _categorical_draw(initial, u)
        if t > 0:
            # the example's competing moves read this year's capability (as they always have); the
            # multinomial form reads the origin year's, the year a transition model measures it in
            driver = k if opt.transition_form == "competing" else capability[:, t - 1]
            move = _transition_probabilities(tp, opt.transition_form, state[:, t - 1], driver, propensity,
                                             arrival[:, t])
            carried = _categorical_draw(move, u)
            new_state = np.where(t > entry, carried, new_state)
        state[:, t] = new_state

    # --- controls ---------------------------------------------------------------------------
    log_emp0 = np.where(incumbent, rng.normal(3.8, 1.0, N), rng.normal(3.0, 0.8, N))
    walk = np.cumsum(rng.normal(0.0, 0.08, (N, T)), axis=1)
    log_emp_latent = log_emp0[:, None] + 0.03 * since_entry + walk - walk[np.arange(N), entry][:, None]
    employees = np.maximum(1, np.rint(np.exp(log_emp_latent))).astype(np.int64)
    log_emp = np.log(employees)
    age_at_entry = np.where(incumbent, rng.poisson(14.0, N), rng.poisson(1.5, N))
    firm_age = age_at_entry[:, None] + since_entry
    foreign0 = rng.random(N) < 0.15
    switch = entry + rng.geometric(0.01, N)
    foreign = (foreign0[:, None] | (t_grid[None, :] >= switch[:, None])).astype(np.int8)
    export_trait = rng.normal(0.0, 0.12, N)
    export = np.clip(0.15 + 0.25 * (state == 2) + 0.15 * (state == 3) + 0.10 * (state == 1)
                     + export_trait[:, None] + rng.normal(0.0, 0.05, (N, T)), 0.0, 1.0).round(3)

    # --- strategic network (first, exogenous to upgrading) ---------------------------------
    net_trait = rng.normal(0.0, 0.6, N) + rng.normal(0.0, 0.3, G)[cluster]
    assoc_cluster = rng.normal(0.0, 1.0, G)[cluster]
    is_net = (state == 1).astype(float)
    is_qh = (state == 2).astype(float)
    n_partners = rng.poisson(np.exp(0.8 + net_trait[:, None] + 0.5 * is_net - 0.2 * is_qh
                                     + 0.02 * t_grid[None, :]))
    alliance = rng.random((N, T)) < expit(-1.5 + net_trait[:, None] + 0.8 * is_net)
    university = rng.random((N, T)) < expit(-2.0 + net_trait[:, None] + 0.3 * ability[:, None])
    association = rng.random((N, T)) < expit(-0.5 + assoc_cluster[:, None] + 0.5 * net_trait[:, None])

    # --- item missingness (MCAR), drawn before events: network strength is centred on it ----
    rows = np.nonzero(present)
    n_rows = rows[0].size
    masks = {name: rng.random(n_rows) < opt.missing_rate for name in MISSING_FIELDS}
    partners_long = np.log1p(n_partners[rows]).astype(float)
    observed_partners = ~masks["n_partners"]
    if observed_partners.sum() < 2:
        raise SpecificationError("too few observed n_partners values to standardise network strength.")
    p_mean = float(partners_long[observed_partners].mean())
    p_sd = float(partners_long[observed_partners].std(ddof=1))
    index_long = ((partners_long - p_mean) / p_sd + alliance[rows] + university[rows]
                  + association[rows])
    index_observed = ~(masks["n_partners"] | masks["alliance"] | masks["university_link"]
                       | masks["association_member"])
    index_mean = float(index_long[index_observed].mean())
    ns_c = np.zeros((N, T))
    ns_c[rows] = index_long - index_mean

    # --- upgrading events -------------------------------------------------------------------
    base = {u: getattr(tp, f"{u}_baseline_level") + getattr(tp, f"{u}_baseline_trend") * t_grid
            for u in HAZARD_OUTCOMES}
    iso = np.zeros((N, T), dtype=np.int8)
    # functional steps are settled after the governance indicators (main-buyer share and global
    # buyer may enter their hazard): keep the index and the copula latent drawn here, in order
    eta_functional = np.zeros((N, T))
    latent_functional = np.zeros((N, T))
    new_product = np.zeros((N, T), dtype=np.int8)
    new_sector = np.zeros((N, T), dtype=np.int8)
    sector_path = np.repeat(sector[:, None], T, axis=1)
    iso0 = rng.random(N) < expit(-1.5 + 0.8 * (state[np.arange(N), entry] == 2)
                                 + 0.5 * (state[np.arange(N), entry] == 3) + 0.3 * foreign0)
    level0 = np.where(incumbent,
                      _categorical_draw(np.tile([0.5, 0.3, 0.13, 0.07], (N, 1)), rng.random(N)),
                      _categorical_draw(np.tile([0.75, 0.2, 0.04, 0.01], (N, 1)), rng.random(N)))
    for t in range(T):
        s, le, ag, fo, ex = state[:, t], log_emp[:, t], firm_age[:, t], foreign[:, t], export[:, t]
        pres = present[:, t]
        first = entry == t
        cont = pres & ~first
        h_p = _cloglog(base["process"][t] + _linear_index(tp, "process", s, le, ag, fo, ex))
        h_d = _cloglog(base["product"][t] + _linear_index(tp, "product", s, le, ag, fo, ex))
        eta_f = (base["functional"][t] + _linear_index(tp, "functional", s, le, ag, fo, ex)
                 + tp.functional_network_strength * ns_c[:, t]
                 + tp.functional_interaction * (s == 2) * ns_c[:, t])
        eta_functional[:, t] = eta_f
        h_s = _cloglog(base["intersectoral"][t] + _linear_index(tp, "intersectoral", s, le, ag, fo, ex))
        ev_p = _copula_events(rng, h_p, cluster, G, opt.event_rho)
        ev_d = _copula_events(rng, h_d, cluster, G, opt.event_rho)
        latent_functional[:, t] = _copula_latent(rng, cluster, G, opt.event_rho)
        ev_s = _copula_events(rng, h_s, cluster, G, opt.event_rho)
        if t == 0:
            iso[:, t] = iso0
        else:
            iso[:, t] = np.where(first, iso0, np.where(cont, iso[:, t - 1] | ev_p, 0))
        # a sector change needs a different sector: shift by 1..S-1 places on the sector list
        shift = rng.integers(1, len(SECTORS), N)
        if t > 0:
            moved = cont & ev_s
            sector_path[:, t] = np.where(moved, (sector_path[:, t - 1] + shift) % len(SECTORS),
                                         sector_path[:, t - 1])
        new_product[:, t] = pres & ev_d
        new_sector[:, t] = pres & ev_s

    # --- continuous outcomes -----------------------------------------------------------------
    def two_way(level_: float, ability_weight: float, prefix: str) -> np.ndarray:
        firm_effect = level_ + ability_weight * ability + rng.normal(0.0, 0.3, N)
        year_effect = 0.02 * t_grid + rng.normal(0.0, 0.03, T)
        shock = rng.normal(0.0, opt.outcome_cluster_year_sd, (G, T))[cluster]
        noise = rng.normal(0.0, opt.outcome_noise_sd, (N, T))
        return (firm_effect[:, None] + year_effect[None, :] + shock + noise
                + _linear_index(tp, prefix, state, log_emp, firm_age, foreign, export, with_age=False))

    productivity = two_way(3.0, 0.3, "productivity")
    log_unit_value = two_way(2.0, 0.2, "unit_value")
    defect_trait = rng.normal(0.0, 0.5, N)
    defect = expit(-2.5 + defect_trait[:, None] + tp.defect_quasi_hierarchy * (state == 2)
                   + tp.defect_iso_certified * iso + rng.normal(0.0, 0.3, (N, T)))

    # --- governance indicators drawn from the state ----------------------------------------
    st = state[rows]
    n = n_rows
    beta = rng.beta(2.0, 2.0, n)
    share = np.select([st == 0, st == 1, st == 2], [rng.uniform(0.05, 0.4, n),
                      rng.uniform(0.15, 0.45, n), 0.55 + 0.4 * beta], 0.6 + 0.4 * beta)
    floor = np.select([st == 0, st == 1, st == 2], [3, 2, 2], 1)
    extra = rng.poisson(np.select([st == 0, st == 1, st == 2], [3.0, 2.0, 1.0], 0.5))
    n_buyers = np.maximum(np.ceil(1.0 / share - 1e-9), floor).astype(np.int64) + extra
    u1, u2, u3 = rng.random(n), rng.random(n), rng.random(n)
    design = np.select([st == 1, st == 2, st == 3], [u1 < 0.3, u1 < 0.85, True], False)
    monitors = np.select([st == 1, st == 2, st == 3], [u2 < 0.3, ~design | (u2 < 0.6), True], False)
    joint = np.select([st == 1, st == 3], [True, u3 < 0.3], False)
    owned = st == 3
    if opt.indicator_noise > 0:
        design, monitors, joint, owned = (
            x ^ (rng.random(n) < opt.indicator_noise) for x in (design, monitors, joint, owned))
    codifiable_product = rng.random(N)[rows[0]] < 0.5
    high = rng.uniform(0.55, 1.0, (3, n)).round(2)
    low = rng.uniform(0.0, 0.45, (3, n)).round(2)
    c_high = st != 0
    k_high = np.select([st == 0, st == 1, st == 2], [True, codifiable_product, True], False)
    s_high = st <= 1
    global_buyer = rng.random(n) < np.array([0.2, 0.3, 0.9, 0.95])[st]

    # --- dynamics: lock-in, functional steps, diversification, capability score -------------
    dynamics = _dynamics_block(
        np.random.default_rng([int(seed), DYNAMICS_STREAM]), tp, opt, rows, present, entry, cluster, G,
        state, log_emp, firm_age, foreign, export, share.round(3), global_buyer, capability,
    )
    level = _functional_levels(tp, eta_functional, latent_functional, level0, present, entry, dynamics)

    # --- assemble the long frame ------------------------------------------------------------
    firm_ids = np.arange(1, N + 1)
    country_of = np.arange(G) % n_countries
    cl = cluster[rows[0]]
    width = max(2, len(str(G)))
    frame = pd.DataFrame({
        "firm_id": firm_ids[rows[0]],
        "year": int(years[0]) + rows[1],
        "cluster_id": pd.array([f"cluster_{g + 1:0{width}d}" for g in range(G)], dtype="string")[cl],
        "country": pd.array([f"country_{c + 1:02d}" for c in range(n_countries)],
                            dtype="string")[country_of[cl]],
        "sector": pd.array(list(SECTORS), dtype="string")[sector_path[rows]],
        "new_sector_entry": new_sector[rows],
        "main_buyer_share": share.round(3),
        "n_buyers": n_buyers,
        "buyer_sets_design": design.astype(np.int8),
        "buyer_monitors_process": monitors.astype(np.int8),
        "buyer_owned": owned.astype(np.int8),
        "joint_development": joint.astype(np.int8),
        "global_buyer": global_buyer.astype(np.int8),
        "governance": pd.array(np.array(GOVERNANCE_STATES, dtype=object)[st], dtype="string"),
        "transaction_complexity": np.where(c_high, high[0], low[0]),
        "codifiability": np.where(k_high, high[1], low[1]),
        "supplier_capability": np.where(s_high, high[2], low[2]),
        "iso_certified": iso[rows],
        "labour_productivity": productivity[rows],
        "defect_rate": defect[rows],
        "new_product": new_product[rows],
        "unit_value": np.exp(log_unit_value[rows]),
        "function_level": level[rows],
        "n_partners": n_partners[rows].astype(np.int64),
        "alliance": alliance[rows].astype(np.int8),
        "university_link": university[rows].astype(np.int8),
        "association_member": association[rows].astype(np.int8),
        "employees": employees[rows],
        "firm_age": firm_age[rows].astype(np.int64),
        "foreign_owned": foreign[rows],
        "export_share": export[rows],
        "capability_score": pd.array(dynamics.capability_score, dtype="Float64"),
        "new_buyer_or_market": dynamics.new_buyer_or_market[rows],
    })
    frame["capability_score"] = frame["capability_score"].mask(dynamics.capability_missing)
    for name in MISSING_FIELDS:
        column = frame[name]
        nullable = "Float64" if pd.api.types.is_float_dtype(column) else (
            "Int64" if column.dtype == np.int64 else "Int8")
        frame[name] = column.astype(nullable).mask(masks[name])
    entry_block = simulate_chain_entry(state, present, cluster, ability, int(years[0]), tp, int(seed),
                                       opt.missing_rate)
    frame["export_sales"] = entry_block.export_sales
    return SimulatedPanel(
        frame=frame,
        truth=tp,
        options=opt,
        seed=int(seed),
        missing_counts={**{name: int(masks[name].sum()) for name in MISSING_FIELDS},
                        "capability_score": int(dynamics.capability_missing.sum())},
        network_strength_constants={"log1p_partners_mean": p_mean, "log1p_partners_sd": p_sd,
                                    "index_mean": index_mean},
        entry=entry_block,
    )


# --- staggered chain entry (issue 11): its own block and random stream ------------------------------
#: tag of the chain-entry random stream: default_rng([seed, ENTRY_STREAM]) is independent of the
#: main stream, so the block adds columns without changing any other column of the panel
ENTRY_STREAM = 1101


@dataclass(frozen=True, eq=False)
class ChainEntry:
    """Staggered first entry into a quasi-hierarchical chain and its true effects.

    Attributes
    ----------
    export_sales : ndarray
        The ``export_sales`` column (rows in the order of the panel, missing as NaN).
    cohort : ndarray
        Per firm (``firm_id`` - 1): calendar year of the first observed quasi-hierarchy year when
        the firm was observed outside quasi-hierarchy before it; NaN for firms never in
        quasi-hierarchy and for firms already in it when first observed (left-censored entry).
    effects : pandas.DataFrame
        One row per (cohort, event_time) cell of the entering firms: ``effect`` (true effect on
        log export sales), ``n_firms`` (firms of the cohort) and ``n_firm_years`` (firm-years
        observed in the cell, missing outcomes included).
    """

    export_sales: np.ndarray = field(repr=False)
    cohort: np.ndarray = field(repr=False)
    effects: pd.DataFrame = field(repr=False)
    truth: TrueParameters

    def effect(self, cohort: np.ndarray | float, event_time: np.ndarray | float) -> np.ndarray:
        """True effect of cohort ``cohort`` at ``event_time`` (0 before entry)."""
        return entry_effect(self.truth, cohort, event_time, self.last_year)

    @property
    def last_year(self) -> int:
        return int(self.effects.attrs["last_year"])

    def att_by_event_time(self, weights: pd.DataFrame | str = "firm_years") -> pd.Series:
        """Average true effect by event time.

        Parameters
        ----------
        weights : {"firm_years", "firms"} or DataFrame
            ``"firm_years"``: cells weighted by their firm-years (the weights of Sun-Abraham
            and the imputation estimator on a complete sample); ``"firms"``: by the cohort's
            firms (Callaway-Sant'Anna on a balanced panel).  A DataFrame with columns ``term``,
            ``cohort``, ``period`` and ``weight`` (an event-study result's ``weights``) gives
            the truth of each of its terms exactly.
        """
        if isinstance(weights, pd.DataFrame):
            truth = self.effect(weights["cohort"].to_numpy(), (weights["period"] - weights["cohort"]).to_numpy())
            return (weights.assign(value=truth * weights["weight"]).groupby("term", sort=False)["value"].sum()
                    .rename("true_effect"))
        if weights not in ("firm_years", "firms"):
            raise SpecificationError(f"weights={weights!r}; use 'firm_years', 'firms' or a weight table.")
        cells = self.effects[self.effects["event_time"] >= 0]
        column = "n_firm_years" if weights == "firm_years" else "n_firms"
        weighted = cells.assign(value=cells["effect"] * cells[column])
        grouped = weighted.groupby("event_time")
        return (grouped["value"].sum() / grouped[column].sum()).rename("true_effect")


def entry_effect(tp: TrueParameters, cohort: Any, event_time: Any, last_year: int) -> np.ndarray:
    """:math:`\\delta(g, e)` of :func:`simulate_chain_entry` (0 for e < 0)."""
    g = np.asarray(cohort, dtype=float)
    e = np.asarray(event_time, dtype=float)
    span = max(last_year - tp.first_year, 1)
    scale = 1.0 + tp.entry_effect_cohort_gradient * (last_year - g) / span
    path = tp.entry_effect_level + tp.entry_effect_slope * np.minimum(e, ENTRY_SLOPE_YEARS)
    return np.where(e >= 0, path * scale, 0.0)


#: the effect grows for this many years after entry and is flat afterwards
ENTRY_SLOPE_YEARS = 8


def simulate_chain_entry(
    state: np.ndarray,
    present: np.ndarray,
    cluster: np.ndarray,
    ability: np.ndarray,
    first_year: int,
    tp: TrueParameters,
    seed: int,
    missing_rate: float,
) -> ChainEntry:
    r"""Export sales with a staggered, cohort-specific effect of first entering quasi-hierarchy.

    The entry year of firm :math:`i` is the first year it is observed in quasi-hierarchy after
    having been observed outside it (the governance path of :func:`simulate_panel`, driven by
    capability and the cluster's buyer arrivals: entry is staggered and correlated within
    clusters).  With :math:`g_i` that year and :math:`e = t - g_i`,

    .. math::

        \log(\text{export\_sales}_{it}) = \mu_i + \tau_t + \omega_{g(i)t} + \epsilon_{it}
            + 1[e \ge 0]\,\delta(g_i, e),

    .. math::

        \delta(g, e) = (\beta_0 + \beta_1 \min(e, 8))\,(1 + \kappa\,(T_1 - g)/(T_1 - T_0)),

    :math:`\mu_i = 5 + 0.3 a_i + N(0, 0.5^2)` (:math:`a_i` the firm's ability),
    :math:`\tau_t = 0.03 (t - T_0) + N(0, 0.02^2)`, :math:`\omega_{gt} \sim N(0, 0.1^2)`,
    :math:`\epsilon_{it} \sim N(0, 0.2^2)`, with :math:`\beta_0` = ``entry_effect_level``,
    :math:`\beta_1` = ``entry_effect_slope`` and :math:`\kappa` =
    ``entry_effect_cohort_gradient`` (earlier entrants gain more: with :math:`\kappa = 1` the
    first cohort's effects are twice the last one's).  Firms already in quasi-hierarchy when
    first observed get the same path counted from that year (their entry is unobserved).
    Untreated export sales do not depend on capability growth or buyer arrivals, so parallel
    trends hold; selection into entry on ability is absorbed by :math:`\mu_i`.  Each value is
    missing (MCAR) with probability ``missing_rate``.  The draws come from
    ``default_rng([seed, ENTRY_STREAM])``, so no other column of the panel changes.
    """
    rng = np.random.default_rng([seed, ENTRY_STREAM])
    N, T = state.shape
    last_year = first_year + T - 1
    t_grid = np.arange(T)
    observed_qh = present & (state == 2)
    first_obs = np.argmax(present, axis=1)
    first_qh = np.where(observed_qh.any(axis=1), np.argmax(observed_qh, axis=1), -1)
    entered = (first_qh > first_obs)
    censored = first_qh == first_obs
    cohort = np.where(entered, first_year + first_qh, np.nan)
    start = np.where(entered, first_qh, np.where(censored, first_obs, T + 100))
    event = t_grid[None, :] - start[:, None]
    firm_effect = 5.0 + 0.3 * ability + rng.normal(0.0, 0.5, N)
    year_effect = 0.03 * t_grid + rng.normal(0.0, 0.02, T)
    shock = rng.normal(0.0, 0.1, (int(cluster.max()) + 1, T))[cluster]
    noise = rng.normal(0.0, 0.2, (N, T))
    delta = entry_effect(tp, (first_year + start)[:, None], event, last_year)
    log_sales = firm_effect[:, None] + year_effect[None, :] + shock + noise + delta
    rows = np.nonzero(present)
    sales = np.exp(log_sales[rows])
    sales[rng.random(sales.size) < missing_rate] = np.nan
    cells = []
    for g in np.unique(cohort[entered]):
        mine = entered & (cohort == g)
        for t in range(T):
            n_years = int((mine & present[:, t]).sum())
            if n_years:
                e = first_year + t - g
                cells.append((g, e, float(entry_effect(tp, g, e, last_year)), int(mine.sum()), n_years))
    effects = pd.DataFrame(cells, columns=["cohort", "event_time", "effect", "n_firms", "n_firm_years"])
    effects.attrs["last_year"] = last_year
    return ChainEntry(export_sales=sales, cohort=cohort, effects=effects, truth=tp)


@functools.lru_cache(maxsize=1)
def _example() -> SimulatedPanel:
    return simulate_panel(n_firms=3000, n_clusters=30, n_countries=6, years=(2005, 2019),
                          seed=EXAMPLE_SEED)


def example_panel() -> Any:
    """The embedded example panel (simulated; seed 20050, 3,000 firms, 30 clusters, 6 countries,
    2005-2019). Deterministic; see the module Notes for the DGP and :func:`example_truth`."""
    return _example().panel


def example_chain_entry() -> ChainEntry:
    """Staggered quasi-hierarchy entry of :func:`example_panel` and its true effects on
    ``log(export_sales)`` by cohort and event time (:class:`ChainEntry`)."""
    return _example().entry


def example_truth() -> TrueParameters:
    """True parameters of :func:`example_panel` (the defaults of :class:`TrueParameters`)."""
    return _example().truth
