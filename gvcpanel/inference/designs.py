"""What a fitted model hands to the inference layer: a least-squares or a likelihood design.

Linear estimators hand over a :class:`LinearDesign`: the regressors and outcome *after* the
fixed-effects, first-difference or quasi-demeaning transformation, so that every covariance is the
OLS sandwich on the transformed data (Frisch-Waugh-Lovell); CR2 and CR3, whose hat matrix is not
invariant to absorbing effects that cut across the clusters, add those effects back as dummy
columns (:class:`CrossedDummies`).  Likelihood estimators hand over a :class:`LikelihoodDesign`:
per-observation scores, the information matrix and the model's own callables for the score
bootstrap.

This is a base module of the inference layer: it imports only :mod:`gvcpanel.inference.spec`.
``design.inference(spec)`` is a convenience for :func:`gvcpanel.inference.dispatch.infer`, which
registers itself here when :mod:`gvcpanel.inference` is imported (the package's ``__init__``
imports the dispatcher), so that the designs need not import the modules built on them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from gvcpanel.inference.spec import Inference, InferenceSpec

_DISPATCH: list[Callable[[Any, InferenceSpec], Inference]] = []


def register_dispatcher(function: Callable[[Any, InferenceSpec], Inference]) -> None:
    """Install the function behind :meth:`LinearDesign.inference` (called by the dispatcher)."""
    _DISPATCH[:] = [function]


def _dispatch(design: Any, spec: InferenceSpec) -> Inference:
    if not _DISPATCH:  # only when this module is loaded outside its package, which Python never does
        raise RuntimeError("gvcpanel.inference.dispatch has not been imported")
    return _DISPATCH[0](design, spec)


@dataclass(frozen=True, eq=False)
class CrossedDummies:
    """Absorbed effects that are not nested in a clustering variable, as dummy columns.

    Attributes
    ----------
    effects : tuple of str
        The crossed effects (year effects when clustering by industrial cluster).
    nested : tuple of str
        The absorbed effects nested in the clustering variable.
    n_columns : int
        Dummy columns :meth:`build` returns: every level of every crossed effect.
    build : callable
        ``build()`` returns :math:`M_N C` (n x ``n_columns``, a new array): the dummies C of
        every level of the crossed effects, residualized on the nested effects N.  Redundant
        columns are left in; :func:`gvcpanel.inference.covariance.crossed_columns` removes them.
    """

    effects: tuple[str, ...]
    nested: tuple[str, ...]
    n_columns: int
    build: Callable[[], np.ndarray]


@dataclass(frozen=True, eq=False)
class LinearDesign:
    """Transformed least-squares problem y = X b + u.

    Attributes
    ----------
    X, y : ndarray
        Transformed regressors (n x k) and outcome (n).
    params, resid : ndarray
        OLS estimates and residuals on the transformed data.
    names : tuple of str
        Term names, one per column of X.
    groups : Mapping[str, ndarray]
        Integer codes (0..G-1, every code present) per row for each variable one may cluster on
        (``cluster_id``, ``firm_id``, ``year`` and any other the estimator kept).
    group_labels : Mapping[str, ndarray]
        The label of each code (``group_labels[name][code]``), so that bootstrap weights drawn per
        cluster label can be shared across models estimated on different samples.
    k_absorbed : int
        Parameters absorbed by the transformation (fixed effects, less redundant ones).
    absorbed_nested : Mapping[str, int]
        For each clustering variable, how many of the absorbed parameters belong to effects
        nested within it, counting every level of a nested effect (60 firm effects inside 12
        clusters count 60); Stata and fixest drop them from K but keep one for the intercept
        (see :func:`gvcpanel.inference.clusters.crv1_scale`).  Example: firm and year effects
        with firms nested in ``cluster_id`` give ``k_absorbed = n_firms + n_years - 1`` and
        ``absorbed_nested = {"cluster_id": n_firms, "firm_id": n_firms}``.
    default_cluster : tuple of str, optional
        The estimator's ``cluster=`` argument.
    time : str, optional
        Name of the entry of ``groups`` that orders periods (for Driscoll-Kraay).
    absorb : callable, optional
        The annihilator of the absorbed fixed effects, :math:`M_D`: takes an n x m float array
        and returns ``M_D`` applied to each column as a new array (the input is left alone).
        The wild bootstrap needs it when an absorbed effect cuts across the bootstrap clusters
        (year effects with industrial clusters), because its bootstrap residuals must then be
        absorbed again (see :mod:`gvcpanel.inference.bootstrap`).  None when nothing was
        absorbed, or when the caller cannot provide it (the bootstrap then treats the effects as
        partialled out once).
    absorbed_effects : tuple of str
        Names of the absorbed effects (for labels and reports).
    crossed : callable, optional
        ``crossed(cluster_name)`` gives the absorbed effects that are not nested in that
        clustering variable as :class:`CrossedDummies`, or None when every absorbed effect is
        nested in it.  CR2 and CR3 use it to compute the covariance of the dummy-variable
        regression.  None when nothing was absorbed or the estimator cannot tell; CR2/CR3 then
        use the transformed design alone.  For a weighted fit it gives every absorbed effect,
        the nested ones too (see :mod:`gvcpanel.inference.biasreduced`).
    weights : ndarray, optional
        Probability weights of the rows (positive).  When given, ``X``, ``y`` and ``resid`` are
        the weighted quantities :math:`W^{1/2}\\tilde X`, :math:`W^{1/2}\\tilde y`,
        :math:`W^{1/2}e` (so that every sandwich on them is the weighted one; ``absorb`` then
        acts on such weighted columns), and CR2 uses the probability-weight working model.
    gram : ndarray, optional
        :math:`X'X` when the estimator computed it (the covariances then do not form it again).
    score_cache : tuple, optional
        ``(name, X, resid, sums, sizes)``: the cluster sums of the scores by ``groups[name]`` and
        the cluster sizes, formed by the estimator in the pass that made the residuals; used only while ``X`` and ``resid``
        are these very arrays (see :func:`cached_score_sums`).
    """

    #: the model kind the dispatcher keys on
    model_kind: ClassVar[str] = "linear"

    X: np.ndarray
    y: np.ndarray
    params: np.ndarray
    resid: np.ndarray
    names: tuple[str, ...]
    groups: Mapping[str, np.ndarray]
    group_labels: Mapping[str, np.ndarray] = field(default_factory=dict)
    k_absorbed: int = 0
    absorbed_nested: Mapping[str, int] = field(default_factory=dict)
    default_cluster: tuple[str, ...] | None = None
    time: str | None = "year"
    absorb: Callable[[np.ndarray], np.ndarray] | None = None
    absorbed_effects: tuple[str, ...] = ()
    crossed: Callable[[str], CrossedDummies | None] | None = None
    weights: np.ndarray | None = None
    gram: np.ndarray | None = field(default=None, repr=False)
    score_cache: tuple | None = field(default=None, repr=False)

    @property
    def nobs(self) -> int:
        return int(self.X.shape[0])

    def inference(self, spec: InferenceSpec) -> Inference:
        """Covariance or bootstrap for this fit (:func:`gvcpanel.inference.dispatch.infer`)."""
        return _dispatch(self, spec)


@dataclass(frozen=True, eq=False)
class LikelihoodDesign:
    """A fitted likelihood model: per-observation scores and the information matrix.

    ``extra`` carries what the score bootstrap (``inference="score"``) needs, as callables of
    the model itself, so that the inference layer holds no likelihood of its own:

    - ``"score_fn"``: ``params -> n x k`` per-observation scores;
    - ``"information_fn"``: ``params -> k x k`` information matrix;
    - ``"fit_restricted"``: ``(R, r) -> params``, the maximum-likelihood estimate under the linear
      restriction R b = r (R a 1 x k array, r a float).

    Estimators may keep more there (the hazard keeps its estimation frame as ``"frame"`` and
    its baseline terms).  ``weights`` (optional) are the rows' probability weights; ``scores``,
    ``information`` and the callables are then those of the weighted log-likelihood
    :math:`\\sum_i w_i \\ell_i`.

    ``scores`` is an n x k array, or an object that stands for one without holding it: it has
    ``shape``, gives the array to ``numpy.asarray`` and sums its rows by group with
    ``group_sums(codes, n_groups)`` (:class:`gvcpanel.models.binary.BinaryScores`, so that a
    hazard on millions of rows keeps its scores as factors; cluster sandwiches use the sums).
    """

    #: the model kind the dispatcher keys on
    model_kind: ClassVar[str] = "likelihood"
    #: the callables ``extra`` must hold for the score bootstrap
    SCORE_BOOTSTRAP_KEYS: ClassVar[tuple[str, ...]] = ("score_fn", "information_fn", "fit_restricted")

    scores: np.ndarray
    information: np.ndarray
    params: np.ndarray
    names: tuple[str, ...]
    groups: Mapping[str, np.ndarray]
    group_labels: Mapping[str, np.ndarray] = field(default_factory=dict)
    default_cluster: tuple[str, ...] | None = None
    extra: Mapping[str, object] = field(default_factory=dict)
    weights: np.ndarray | None = None

    @property
    def nobs(self) -> int:
        return int(self.scores.shape[0])

    def inference(self, spec: InferenceSpec) -> Inference:
        """Covariance or bootstrap for this fit (:func:`gvcpanel.inference.dispatch.infer`)."""
        return _dispatch(self, spec)
