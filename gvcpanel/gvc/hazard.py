"""The upgrading hazard: an upgrading risk set handed to the generic discrete-time hazard.

``upgrading_hazard(panel, "process ~ quasi_hierarchy + network + log(employees)")`` builds the
risk set of process upgrading (:func:`gvcpanel.gvc.upgrading.risk_rows`: who is at risk in which
year, the event, the spell duration, and every other row counted by reason) and fits
:func:`gvcpanel.models.hazard.discrete_hazard` on it, with the governance dummies and network
strength of :mod:`gvcpanel.gvc.columns` available as terms.

The outcome of the formula names the upgrading type (``process``, ``product``, ``functional``,
``intersectoral``), or a column of the panel: one of the types' canonical columns
(``iso_certified``, ``new_product``, ``function_level``, ``sector``), or any other column coded
like one of them, with ``upgrade=`` saying which type's rules read it
(``upgrading_hazard(panel, "my_certificate ~ ...", upgrade="process")``).  ``upgrade=`` has that
one role; the list form of earlier versions (``upgrade="process", covariates=[...]``) raises an
error that spells out the formula to write.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from gvcpanel.errors import SpecificationError
from gvcpanel.formula.frame import panel_frame
from gvcpanel.formula.parse import parse_formula
from gvcpanel.gvc.columns import DEFAULT_COVARIATES, DOMAIN_COLUMNS, domain_frame
from gvcpanel.gvc.intervals import design_of, interval_risk_rows
from gvcpanel.gvc.upgrading import OUTCOME_COLUMN, UPGRADES
from gvcpanel.inference.spec import InferenceSpec
from gvcpanel.models.hazard import check_options, discrete_hazard
from gvcpanel.results import EstimationResult

_TYPE_OF_COLUMN = {column: kind for kind, column in OUTCOME_COLUMN.items()}


def upgrading_hazard(
    panel: Any,
    formula: str | None = None,
    *,
    upgrade: str | None = None,
    cluster: str | Sequence[str] | None = "cluster_id",
    link: str = "cloglog",
    baseline: str = "year",
    inference: str | Mapping[str, Any] | InferenceSpec = "cluster",
    covariates: Sequence[str] | None = None,
    weights: str | None = None,
    recall: Mapping[str, int] | None = None,
) -> EstimationResult:
    """Discrete-time hazard of an upgrading event with cluster-robust inference.

    On survey waves it is the grouped-duration (interval) hazard: each row at risk covers the
    years since the firm's previous interview (or a recall question's window), entered as the
    offset :math:`\\log L` (:mod:`gvcpanel.gvc.intervals`); on annual data every interval is one
    year and it is the annual discrete-time hazard.

    Parameters
    ----------
    panel : FirmPanel or pandas.DataFrame
        Firm-year panel indexed by (firm_id, year).
    formula : str
        ``"<type or column> ~ terms"``: the outcome names the upgrading type or the column read
        (see the module docstring); terms as in :mod:`gvcpanel.formula.parse`, including
        ``network``, ``quasi_hierarchy``, ``hierarchy`` (governance against market),
        ``governance`` (the same dummies, named ``governance[T.network]``, ...),
        ``network_strength`` and ``network_strength_c`` (computed on the whole panel), lags such
        as ``l(log(employees), 1)`` (read from the panel, also from years not at risk).
    upgrade : {"process", "product", "functional", "intersectoral"}, optional
        Which type's risk-set rules read an outcome column that is not a canonical one.
    cluster, link, baseline, inference, weights
        As in :func:`gvcpanel.models.hazard.discrete_hazard` (``weights``: a column of
        probability weights, e.g. ``"weight"`` read from Enterprise Surveys' wmedian).
    recall : Mapping[str, int], optional
        Recall windows in years by column (``{"new_product": 3}``), added to those the panel's
        mapping declares (``panel.observation.recall``).
    covariates : None
        Removed: write the covariates in ``formula``.  Passing them raises an error that shows
        the formula.

    Returns
    -------
    EstimationResult
        As :func:`~gvcpanel.models.hazard.discrete_hazard`'s; ``spec.dependent`` reads
        ``"<type> upgrading event"``, ``spec.option("upgrade")`` and ``("outcome")`` give the type
        and the column; ``fit_stats`` adds ``upgrade``, ``n_left_truncated``, ``risk_set``
        (the risk set's exclusion report), ``observation`` (the observation design) and
        ``intervals`` (firm-periods used by interval length).  ``exclusions`` counts every panel row not used: the
        risk set's reasons first, then the model's.

    Notes
    -----
    The risk sets (entry, exit, left truncation, gaps) are described in
    :mod:`gvcpanel.gvc.upgrading`; the likelihood, baseline and covariance in
    :func:`gvcpanel.models.hazard.discrete_hazard`.

    Examples
    --------
    >>> import gvcpanel as gp
    >>> res = gp.upgrading_hazard(gp.example_panel(),
    ...                           "process ~ network + quasi_hierarchy + hierarchy + log(employees)")
    >>> res.spec.option("upgrade"), res.spec.option("outcome")
    ('process', 'iso_certified')
    """
    if formula is not None and not isinstance(formula, str):
        raise SpecificationError(
            f"formula={formula!r}; give the model as a string, e.g. 'process ~ network + quasi_hierarchy'."
        )
    if covariates is not None or formula is None or "~" not in formula:
        raise _old_form(formula, upgrade, covariates)
    check_options(link, baseline, cluster, inference)  # before the data are touched
    parsed = parse_formula(formula)
    if parsed.effects is not None:
        raise SpecificationError(
            f"formula {formula!r}: a hazard takes no '| effects'; its baseline dummies (baseline='year' or "
            "'duration') play that part."
        )
    frame, provenance = panel_frame(panel)
    frame = domain_frame(frame)
    kind, column = _outcome(formula, parsed.dependent, frame, upgrade)
    rows = interval_risk_rows(frame, kind, outcome=column, design=design_of(panel, frame, recall))
    event = kind if kind not in frame.columns else "event"
    data = frame.assign(**{event: rows.event, "duration": rows.duration})
    # annual rows all cover one year: no offset, the annual estimator exactly
    offset = rows.offset if (rows.interval[rows.at_risk] != 1).any() else None
    rhs = formula.split("~", 1)[1]
    result = discrete_hazard(
        data,
        f"{event} ~ {rhs}",
        baseline=baseline,
        link=link,
        cluster=cluster,
        inference=inference,
        at_risk=rows.at_risk,
        exclusions=rows.exclusions,
        derived=DOMAIN_COLUMNS,
        weights=weights,
        offset=offset,
    )
    spec = replace(
        result.spec,
        dependent=f"{kind} upgrading event",
        formula=formula,
        options=(("upgrade", kind), *result.spec.options, ("outcome", column)),
    )
    if offset is None:  # every interval at risk is one year
        lengths, counts = np.array([1]), np.array([result.nobs])
    else:  # the model's rows are a mask over ``data``, which is ``frame`` with two more columns
        lengths, counts = np.unique(rows.interval[result.model.extra["rows"]], return_counts=True)
    fit_stats = {**result.fit_stats, "n_left_truncated": rows.n_left_truncated, "upgrade": kind,
                 "risk_set": rows.report, "observation": rows.design.text(),
                 "intervals": dict(zip(lengths.tolist(), counts.tolist())),
                 **({"recall_window": rows.window} if rows.window is not None else {})}
    return replace(result, spec=spec, fit_stats=fit_stats, provenance=provenance)


def _outcome(formula: str, dependent: Any, frame: Any, upgrade: str | None) -> tuple[str, str]:
    """(upgrading type, outcome column) named by the formula's outcome and ``upgrade=``."""
    if upgrade is not None and upgrade not in UPGRADES:
        raise SpecificationError(f"upgrade={upgrade!r} is not known; choose one of {', '.join(UPGRADES)}.")
    name = dependent.column if dependent.kind == "column" else None
    if name is None:
        raise SpecificationError(
            f"formula {formula!r}: the outcome of an upgrading hazard is an upgrading type "
            f"({', '.join(UPGRADES)}) or an event column, not {dependent.expr!r}."
        )
    if name in UPGRADES and name not in frame.columns:
        if upgrade is not None and upgrade != name:
            raise SpecificationError(
                f"formula {formula!r} models {name} upgrading but upgrade={upgrade!r}; drop upgrade= "
                "(it only says how to read an outcome column of your own)."
            )
        return name, OUTCOME_COLUMN[name]
    if name in frame.columns:
        kind = upgrade or _TYPE_OF_COLUMN.get(name)
        if kind is None:
            raise SpecificationError(
                f"formula {formula!r}: {name!r} is not one of the upgrading outcome columns "
                f"({', '.join(_TYPE_OF_COLUMN)}); say which type's rules read it, e.g. upgrade='process'."
            )
        return kind, name
    close = difflib.get_close_matches(name, [*UPGRADES, *map(str, frame.columns)], n=3, cutoff=0.6)
    hint = f" (closest: {', '.join(close)})" if close else ""
    raise SpecificationError(
        f"formula {formula!r}: the outcome {name!r} is neither an upgrading type ({', '.join(UPGRADES)}) "
        f"nor a column of the panel{hint}."
    )


def _old_form(formula: Any, upgrade: str | None, covariates: Sequence[str] | None) -> SpecificationError:
    """The error for ``upgrading_hazard(panel, upgrade=..., covariates=[...])`` and bare types."""
    kind = upgrade or (formula if formula in UPGRADES else "process")
    terms = covariates if covariates is not None else DEFAULT_COVARIATES
    if isinstance(terms, str) or not isinstance(terms, (list, tuple)):
        terms = [terms]
    example = f"{kind} ~ {' + '.join(map(str, terms))}"
    return SpecificationError(
        f"upgrading_hazard takes a formula whose outcome names the upgrading type; write "
        f"upgrading_hazard(panel, {example!r})."
    )
