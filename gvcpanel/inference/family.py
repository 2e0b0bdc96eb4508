r"""Bootstraps of a family of tests with shared draws, and the Romano-Wolf step-down over them.

A family is a list of fitted designs (least squares or likelihood), one restriction on each
(a term, or a contrast as ``{term: weight}``) and the alternative of each test.  Every test is
bootstrapped under its own null with the *same weight for the same cluster label*, whichever
sample its model was fitted on, so that the bootstrap statistics keep their joint distribution,
which the Romano-Wolf step-down needs (Romano and Wolf 2005, *Econometrica* 73(4)).  Each
model gets the bootstrap that suits it (:func:`gvcpanel.inference.dispatch.bootstrap_test`):
the restricted wild cluster bootstrap for least squares, the score bootstrap for likelihood
models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from gvcpanel.errors import SpecificationError
from gvcpanel.inference import dispatch, multiple
from gvcpanel.inference.clusters import warn_few_clusters
from gvcpanel.inference.resampling import choose_weights, smallest_pvalue_note
from gvcpanel.inference.spec import InferenceSpec
from gvcpanel.options import check_choice
from gvcpanel.progress import progress

ALTERNATIVES = (">", "<", "two-sided")


@dataclass(frozen=True, eq=False)
class FamilyBootstrap:
    """Bootstrap statistics of a family of tests drawn with shared cluster weights.

    ``t_boot[:, j]`` is the bootstrap distribution of test j under its null; ``p_values[j]`` the
    bootstrap p-value against ``alternatives[j]`` (one-sided for ``">"`` and ``"<"``).
    """

    t_obs: np.ndarray
    t_boot: np.ndarray
    alternatives: tuple[str, ...]
    p_values: np.ndarray
    methods: tuple[str, ...]
    details: Mapping[str, Any]

    # the names the hypothesis registry has always used
    @property
    def signs(self) -> tuple[str, ...]:
        return self.alternatives

    @property
    def p_one_sided(self) -> np.ndarray:
        return self.p_values


def family_bootstrap(
    designs: Sequence[Any],
    restrictions: Sequence[str | Mapping[str, float] | np.ndarray],
    alternatives: Sequence[str],
    spec: InferenceSpec,
    cluster: str | None = None,
) -> FamilyBootstrap:
    """Bootstrap every test of a family with the same weight for the same cluster label.

    Parameters
    ----------
    designs : sequence of LinearDesign or LikelihoodDesign
        The fitted models (one per test; a model may appear several times).
    restrictions : sequence
        What each test restricts to zero: a term, ``{term: weight}`` or a coefficient vector.
    alternatives : sequence of {">", "<", "two-sided"}
    spec : InferenceSpec
        Draws, weights and seed (its kind is ignored: each model gets its own bootstrap).
    cluster : str, optional
        The clustering variable; default ``spec.cluster``, then the first design's.

    Returns
    -------
    FamilyBootstrap

    Notes
    -----
    The weights are drawn (or enumerated) once for the union of cluster labels over the family.
    One-sided p-values are the share of draws with :math:`t^*` at least as far in the
    alternative's direction as t; two-sided ones compare :math:`|t^*|` and :math:`|t|`.
    """
    if not designs:
        raise SpecificationError("a bootstrap family needs at least one test.")
    if not (len(designs) == len(restrictions) == len(alternatives)):
        raise SpecificationError(
            f"a family needs one restriction and one alternative per model; found {len(designs)} models, "
            f"{len(restrictions)} restrictions and {len(alternatives)} alternatives."
        )
    for alternative in alternatives:
        check_choice(alternative, ALTERNATIVES, "alternative")
    names = (cluster,) if cluster else (spec.cluster or getattr(designs[0], "default_cluster", None))
    if not names:
        raise SpecificationError("the family bootstrap needs clusters; pass cluster='cluster_id'.")
    name = names[0]
    missing = [j for j, d in enumerate(designs) if name not in getattr(d, "group_labels", {})]
    if missing:
        raise SpecificationError(
            f"the family bootstrap shares weights by the labels of {name!r}, which models {missing} do not keep."
        )
    labels = sorted({str(lab) for design in designs for lab in design.group_labels[name]})
    boot_spec = replace(spec, kind="wild", cluster=(name,), bootstrap="restricted")
    weights, kind, enumerated = choose_weights(len(labels), boot_spec)
    warn_few_clusters(len(labels), "wild", name, smallest_pvalue_note(weights, kind, enumerated, len(labels)))
    frame = pd.DataFrame(weights, columns=labels)
    t_obs, t_boot, methods = [], [], []
    for design, restriction in progress(list(zip(designs, restrictions)), desc="family bootstrap", unit="test"):
        own = list(design.group_labels[name])
        aligned = frame[[str(lab) for lab in own]].set_axis(own, axis=1)
        test, method = dispatch.bootstrap_test(design, restriction, 0.0, boot_spec, weights=aligned)
        methods.append(method)
        t_obs.append(test.statistic)
        t_boot.append(test.t_boot)
    t_obs_arr, t_boot_arr = np.array(t_obs), np.column_stack(t_boot)
    p_values = np.empty(len(alternatives))
    for j, alternative in enumerate(alternatives):
        if alternative == "two-sided":
            p_values[j] = np.mean(np.abs(t_boot_arr[:, j]) >= abs(t_obs_arr[j]) - 1e-12)
        else:
            orient = 1.0 if alternative == ">" else -1.0
            # share of draws at least as extreme in the expected direction
            p_values[j] = np.mean(t_boot_arr[:, j] * orient >= t_obs_arr[j] * orient - 1e-12)
    details = {
        "draws": int(weights.shape[0]),
        "weights": kind,
        "enumerated": bool(enumerated),
        "clusters": len(labels),
        "seed": spec.seed,
    }
    return FamilyBootstrap(t_obs_arr, t_boot_arr, tuple(alternatives), p_values, tuple(methods), details)


def romano_wolf_family(
    designs: Sequence[Any],
    restrictions: Sequence[str | Mapping[str, float] | np.ndarray],
    alternatives: Sequence[str],
    spec: InferenceSpec,
    cluster: str | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Romano-Wolf step-down adjusted p-values over a family (see :func:`family_bootstrap`).

    Returns the adjusted p-values in the family's order and a description of the bootstrap.
    """
    fam = family_bootstrap(designs, restrictions, alternatives, spec, cluster)
    adjusted = multiple.romano_wolf(fam.t_obs, fam.t_boot, list(alternatives))
    details = {"method": "Romano-Wolf step-down (restricted wild / score bootstrap, shared cluster weights)",
               **fam.details}
    return adjusted, details
