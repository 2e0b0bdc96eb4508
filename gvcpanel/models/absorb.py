"""Absorb any number of fixed effects from a block of columns at once.

The engine projects columns onto the orthogonal complement of the span of the fixed-effect
dummies, ``x~ = M_D x`` with ``D = [D_1, ..., D_Q]``, without ever forming ``D``.  Effects are
integer codes ``0..G-1`` per row; every group sum is one :func:`numpy.bincount`.

Strategy
--------
1. Effects whose dummies lie in the span of another effect's dummies (``year`` when
   ``cluster_id^year`` is present, ``cluster_id`` when ``firm`` is present and firms never move)
   are redundant: they are dropped before solving and all their levels count as redundant.
2. The effect with most levels, ``A`` (firms, usually), is eliminated in closed form.  What
   remains is the Schur-complement system for the coefficients ``b`` of the other effects
   ``R = [D_2, ..., D_Q]`` (``L`` levels in total)::

       S b = r,   S = R'R - R'D_A (D_A'D_A)^{-1} D_A'R,   r = R'x - R'D_A (D_A'D_A)^{-1} D_A'x

   and then ``x~ = x - D_A a - R b`` with ``a = (D_A'D_A)^{-1} D_A'(x - R b)``.
3. ``S`` is at most ``L x L``.  When ``L <= direct_max`` (default 3,000; years, or cluster x
   year cells) it is formed densely and solved through its eigen-decomposition: the result is
   exact (closed form) for one effect, balanced or unbalanced two-way and any design whose
   extra effects are small.  Otherwise ``S`` is applied through sparse cross-tabulations and the
   system is solved by conjugate gradients with a Jacobi preconditioner, all columns together.

Convergence and tolerance
-------------------------
The projection is right when the result has mean zero within every level of every effect.
The solver stops (or, for the direct solve, checks) when::

    max over effects, levels l, columns j of |mean_l(x~_j)| / scale_j  <=  tol

with ``scale_j`` the standard deviation of the input column (1 for constant columns) and
``tol = 1e-10`` by default.  Level means of the eliminated effect ``A`` are zero by
construction; those of the other effects are the Schur residual ``r - S b`` divided by level
sizes, so the check costs nothing extra.  A :class:`~gvcpanel.errors.ConvergenceError` names the
effects when ``maxiter`` iterations do not reach ``tol``.

Degrees of freedom absorbed
---------------------------
``rank(D)``: the levels of all effects less the redundant ones.  With the direct solve the
count is exact for any number of effects, ``G_A + rank(S)`` (eigenvalues of ``S`` above
``1e-9`` times the largest count are nonzero).  With conjugate gradients: for two effects
``G_1 + G_2 - c`` with ``c`` the connected components of the bipartite graph of levels
(exact); for three or more, the first pair is counted exactly and every further effect is taken
to have one redundant level (as fixest and reghdfe do by default).  That undercounts
redundancy only in unusual designs and then overstates the absorbed count, so degrees of
freedom err on the conservative side.

Singletons
----------
Rows alone in a level of some effect are fitted perfectly and carry no information on the
slopes, but would inflate the observation count.  :func:`singleton_mask` finds them
iteratively (dropping one can create another), as fixest and reghdfe do.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from gvcpanel import kernels
from gvcpanel.errors import ConvergenceError, SpecificationError

#: absorbers of recent fits, held weakly (see :meth:`Absorber.reuse_or_prepare`)
_RECENT: list[weakref.ref] = []
_RECENT_MAX = 4
DEFAULT_TOL = 1e-10
DEFAULT_MAXITER = 10_000
DIRECT_MAX = 3_000
#: row chunks (each with an L x L sum) when C'D^{-1}C is formed from the firms' rows
SCHUR_CHUNKS = 4


@dataclass(frozen=True, eq=False)
class FixedEffect:
    """One fixed effect: a name and contiguous integer codes ``0..n_levels-1`` per row."""

    name: str
    codes: np.ndarray
    n_levels: int
    labels: np.ndarray | None = field(default=None, repr=False)

    def subset(self, keep: np.ndarray) -> "FixedEffect":
        """The effect on the rows in boolean mask ``keep``, recoded to stay contiguous."""
        codes, used = compress_codes(self.codes, self.n_levels, keep)
        labels = None if self.labels is None else self.labels[used]
        return FixedEffect(self.name, codes, int(used.size), labels)


def compress_codes(
    codes: np.ndarray, n_levels: int | None = None, keep: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Recode non-negative integer codes (of the rows ``keep``, when given) to ``0..G-1`` in
    order; return codes and the old codes used."""
    codes = np.asarray(codes)
    if keep is not None and np.asarray(keep).dtype != np.bool_:  # positions, not a mask
        codes, keep = codes[keep], None
    if codes.dtype.kind not in "iu":
        codes = codes.astype(np.int64)
    size = int(codes.max()) + 1 if n_levels is None and codes.size else int(n_levels or 0)
    rows = kernels.ALL_ROWS if keep is None else np.ascontiguousarray(keep)
    return kernels.compact_codes(np.ascontiguousarray(codes), size, rows)


def factorize(values: np.ndarray | pd.Index | pd.Series, name: str) -> FixedEffect:
    """Codes in sorted order of the labels (missing values are not allowed)."""
    codes, labels = pd.factorize(values, sort=True)
    if (codes < 0).any():
        raise SpecificationError(
            f"fixed effect {name!r} has missing values; exclude those rows or fill the column."
        )
    return FixedEffect(name, codes.astype(np.intp, copy=False), len(labels), np.asarray(labels))


def interact(first: FixedEffect, second: FixedEffect, name: str | None = None) -> FixedEffect:
    """The effect of each (first, second) pair of levels that occurs, e.g. ``cluster_id^year``."""
    joint = first.codes.astype(np.int64) * second.n_levels + second.codes
    if first.n_levels * second.n_levels <= 4 * joint.size + 1_000_000:
        codes, used = compress_codes(joint, first.n_levels * second.n_levels)
    else:
        used, codes = np.unique(joint, return_inverse=True)
    labels = None
    if first.labels is not None and second.labels is not None:
        a, b = np.divmod(used, second.n_levels)
        labels = np.array([f"{x}^{y}" for x, y in zip(first.labels[a], second.labels[b])], dtype=object)
    return FixedEffect(name or f"{first.name}^{second.name}", codes.astype(np.intp, copy=False), int(used.size), labels)


def singleton_mask(
    effects: Sequence[FixedEffect], keep: np.ndarray | None = None
) -> tuple[np.ndarray, dict[str, int]]:
    """Rows to keep after dropping singletons iteratively, and the rows dropped per effect.

    A row counts against the first effect (in the given order) in whose level it is alone at the
    sweep where it is found.  With ``keep`` (a boolean mask) only those rows take part; the codes
    of the others are never read.
    """
    keep, dropped, _ = singleton_sweep(effects, keep)
    return keep, dropped


def singleton_sweep(
    effects: Sequence[FixedEffect], keep: np.ndarray | None = None
) -> tuple[np.ndarray, dict[str, int], list[np.ndarray]]:
    """:func:`singleton_mask` and the rows left in each level of each effect."""
    n = effects[0].codes.size
    keep = np.ones(n, dtype=bool) if keep is None else np.array(keep, dtype=bool)
    codes = tuple(kernels.as_codes(fe.codes) for fe in effects)
    dropped_by = np.zeros(len(effects), dtype=np.int64)
    sizes = np.array([fe.n_levels for fe in effects], dtype=np.int64)
    # one compiled pass per effect and sweep (the NumPy version re-counted every level per sweep)
    counts = kernels.singleton_sweeps(codes, sizes, keep, dropped_by)
    dropped = {fe.name: int(c) for fe, c in zip(effects, dropped_by) if c}
    return keep, dropped, np.split(counts, np.cumsum(sizes)[:-1])


def refines(fine: FixedEffect, coarse: FixedEffect) -> bool:
    """True when every level of ``fine`` lies within one level of ``coarse`` (coarse in span of fine)."""
    if fine.codes.size != coarse.codes.size or fine.n_levels < coarse.n_levels:
        return False
    if fine is coarse or fine.codes is coarse.codes:
        return True
    # one pass that stops at the first row whose level was seen with another coarse level
    return bool(kernels.refines(kernels.as_codes(fine.codes), fine.n_levels, kernels.as_codes(coarse.codes)))


def _crosstab(a: FixedEffect, b: FixedEffect, weights: np.ndarray | None = None) -> sparse.csr_matrix:
    values = np.ones(a.codes.size) if weights is None else weights
    return sparse.csr_matrix((values, (a.codes, b.codes)), shape=(a.n_levels, b.n_levels))


def n_components(a: FixedEffect, b: FixedEffect) -> int:
    """Connected components of the bipartite graph linking levels of ``a`` and ``b`` that co-occur.

    One compiled union-find pass over the rows (the sparse graph of all rows took seconds on
    millions of rows).
    """
    return int(kernels.bipartite_components(kernels.as_codes(a.codes), a.n_levels, kernels.as_codes(b.codes),
                                            b.n_levels))


def rank_of(effects: Sequence[FixedEffect]) -> tuple[int, bool]:
    """Rank of the stacked dummies of ``effects`` and whether the count is exact.

    Exact for one or two effects (connected components) and after removing effects refined by
    another; for three or more remaining effects each one beyond the first pair is taken to have
    one redundant level.
    """
    kept = _drop_refined(list(effects))
    if not kept:
        return 0, True
    if len(kept) == 1:
        return kept[0].n_levels, True
    total = sum(fe.n_levels for fe in kept)
    redundant = n_components(kept[0], kept[1]) + (len(kept) - 2)
    return total - redundant, len(kept) == 2


def _drop_refined(effects: list[FixedEffect]) -> list[FixedEffect]:
    """Remove effects whose dummies are in the span of another kept effect's dummies."""
    kept = list(effects)
    changed = True
    while changed:
        changed = False
        for coarse in kept:
            if any(fine is not coarse and fine.n_levels >= coarse.n_levels and refines(fine, coarse) for fine in kept):
                kept.remove(coarse)
                changed = True
                break
    return kept


@dataclass(frozen=True)
class AbsorbInfo:
    """What an absorption did.

    ``column_sums`` and ``column_ss`` are the (weighted) sums and sums of squares of the input
    columns, read in the same pass as the level sums, so that callers need no pass of their own
    for means or raw sums of squares; ``gram`` the cross-products of the result when asked.
    """

    method: str  # "none", "one-way", "direct", "conjugate gradient"
    effects: tuple[str, ...]
    n_levels: tuple[int, ...]
    redundant_effects: tuple[str, ...]  # in the span of another effect, dropped before solving
    k_absorbed: int
    dof_exact: bool
    iterations: int
    max_level_mean: float  # the convergence criterion reached (relative to column scale)
    column_sums: np.ndarray | None = field(default=None, repr=False, compare=False)
    column_ss: np.ndarray | None = field(default=None, repr=False, compare=False)
    gram: np.ndarray | None = field(default=None, repr=False, compare=False)  # X'WX of the result


class Absorber:
    """Projection onto the complement of a set of fixed effects, prepared once, applied many times.

    Parameters
    ----------
    effects : sequence of FixedEffect
        Effects over the same rows (drop singletons first with :func:`singleton_mask`).
    tol : float
        Largest level mean of the result, relative to each column's standard deviation.
    maxiter : int
        Conjugate-gradient iterations before :class:`ConvergenceError`.
    direct_max : int
        Largest number of levels of the non-eliminated effects solved densely.
    weights : ndarray, optional
        Non-negative, finite weight per row: the projection is then the weighted one,
        :math:`M_D^W x = x - D (D'WD)^+ D'Wx` (weighted level means).

    Notes
    -----
    With ``A`` the largest effect and ``R`` the others, ``M_D x = M_A (x - R b)`` where ``b``
    solves ``(R' M_A R) b = R' M_A x`` (Frisch-Waugh-Lovell applied to the dummies); with weights
    every count is a sum of weights and every sum a weighted sum.  Preparing the absorber (codes,
    redundancy, cross-tabulations, the factorized Schur complement) is done once: refits with new
    outcomes reuse it through :meth:`demean`, refits with new weights through :meth:`reweighted`,
    which keeps the structural analysis.  A level whose rows all have weight zero gets no
    coefficient (its rows are left as they are; they carry no weight in a weighted fit).
    """

    def __init__(
        self,
        effects: Sequence[FixedEffect],
        tol: float = DEFAULT_TOL,
        maxiter: int = DEFAULT_MAXITER,
        direct_max: int = DIRECT_MAX,
        weights: np.ndarray | None = None,
        *,
        _structure: "Absorber | None" = None,
    ) -> None:
        if not effects:
            raise SpecificationError("Absorber needs at least one fixed effect.")
        sizes = {fe.codes.size for fe in effects}
        if len(sizes) != 1:
            raise SpecificationError(f"fixed effects cover different numbers of rows: {sorted(sizes)}.")
        self.effects = tuple(effects)
        self.n = sizes.pop()
        self.tol, self.maxiter, self.direct_max = float(tol), int(maxiter), int(direct_max)
        self.weights = _check_weights(weights, self.n)
        if _structure is None:
            kept = _drop_refined(list(effects))
            self.redundant = tuple(fe.name for fe in effects if fe not in kept)
            kept.sort(key=lambda fe: -fe.n_levels)
            self.main, self.rest = kept[0], tuple(kept[1:])
            self._main_codes = kernels.as_codes(self.main.codes)
            if len(self.rest) == 1:  # an n x 1 view of the codes, no copy
                self._rest_codes = kernels.as_codes(self.rest[0].codes)[:, None]
            else:
                self._rest_codes = np.empty((self.n, len(self.rest)), dtype=np.int64, order="F")
                for r, fe in enumerate(self.rest):
                    self._rest_codes[:, r] = fe.codes
            self.offsets = np.cumsum([0] + [fe.n_levels for fe in self.rest]).astype(np.int64)
            # in a panel sorted by firm the main effect's levels are runs of rows: its sums can then
            # be formed by row chunks on every core (empty when they are not)
            self._bounds = kernels.run_bounds(self._main_codes, kernels.RUN_CHUNK)
        else:  # a reweighted copy shares the codes and the structural analysis
            for name in ("redundant", "main", "rest", "_main_codes", "_rest_codes", "offsets", "_bounds"):
                setattr(self, name, getattr(_structure, name))
        self.L = int(self.offsets[-1])
        self._reweighted: tuple[np.ndarray, Absorber] | None = None
        w = kernels.as_weights(self.weights)
        G = self.main.n_levels
        self._k_exact: int | None = None
        self._dense_cross = bool(self.rest) and G * self.L <= max(4 * self.n, 1_000_000)
        # too many other levels for a dense table, firms as runs of rows, the direct solve: C'D^{-1}C
        # and the counts from the firms' rows (for a few levels the table and BLAS are faster)
        by_runs = (bool(self.rest) and not self._dense_cross and self._bounds.size > 0 and self.L <= direct_max
                   and kernels.run_squared_sizes(self._main_codes, self._bounds) * len(self.rest) ** 2 <= 64 * self.n)
        self._cross_t = None
        if by_runs:  # no G_A x L table (made only if something asks for the cross-tabulation)
            self._cross = None
            cwc, self.main_counts, self.rest_counts = kernels.run_schur_counts(
                self._main_codes, G, self._rest_codes, self.offsets, w, _coarse(self._bounds, SCHUR_CHUNKS))
        elif self._dense_cross:  # few levels besides the main effect: a small dense G_A x L table
            if self._bounds.size:  # a chunk of rows fills the rows of its firms: every core
                self._cross, self.main_counts, self.rest_counts = kernels.cross_counts_by_runs(
                    self._main_codes, G, self._rest_codes, self.offsets, w, self._bounds)
            else:
                self._cross, self.main_counts, self.rest_counts = kernels.cross_counts(
                    self._main_codes, G, self._rest_codes, self.offsets, w)
        else:
            self._cross = None
            self.main_counts = np.bincount(self.main.codes, self.weights, minlength=G).astype(float)
            self.rest_counts = (
                np.concatenate([np.bincount(fe.codes, self.weights, fe.n_levels) for fe in self.rest]).astype(float)
                if self.rest
                else np.zeros(0)
            )
            # the sparse cross-tabulation is made when something asks for it (below, or
            # solve_dummies): the direct solve from the firms' rows does not need it
        # levels without weight get no coefficient: divide by 1 instead of 0
        self._main_div = np.where(self.main_counts > 0, self.main_counts, 1.0)
        self._rest_div = np.where(self.rest_counts > 0, self.rest_counts, 1.0)
        if not self.rest:
            self.method = "one-way"
            return
        # R'R: level counts on the diagonal blocks, cross-tabulations off it
        self.rr = sparse.bmat(
            [
                [sparse.diags(self.rest_counts[lo : lo + f.n_levels]) if f is g else _crosstab(f, g, self.weights)
                 for g in self.rest]
                for f, lo in zip(self.rest, self.offsets)
            ],
            format="csr",
        )
        if by_runs:
            diag_cwc = np.diag(cwc).copy()
        elif self._dense_cross:
            cwc = _scaled_gram(self.cross, self._main_div)
            diag_cwc = np.diag(cwc).copy()
        elif (self.L <= direct_max
              and kernels.sum_squared_sizes(self._main_codes, G) * len(self.rest) ** 2 <= 64 * self.n):
            # small main levels (firms): C'D^{-1}C from the rows of each level, no sparse product
            cwc = kernels.schur_cross(self._main_codes, G, self._rest_codes, self.offsets, w, self._main_div)
            diag_cwc = np.diag(cwc).copy()
        else:
            weighted = self.cross.multiply(1.0 / self._main_div[:, None]).tocsr()
            cwc = None
            diag_cwc = np.asarray(self.cross.multiply(weighted).sum(axis=0)).ravel()
        if self.L <= direct_max:
            self.method = "direct"
            if cwc is None:
                cwc = (self.cross_t @ weighted).toarray()
            schur = self.rr.toarray() - cwc
            schur = (schur + schur.T) / 2  # remove rounding asymmetry before eigh
            self._pinv, rank = _block_pinv(schur)
            self._schur = schur
            self._k_exact = self.main.n_levels + rank
        else:
            self.method = "conjugate gradient"
            self._diag = self.rest_counts - diag_cwc
            self._diag = np.where(self._diag > 1e-12, self._diag, 1.0)
            if not self._dense_cross:
                self._cross_t = self.cross.T.tocsr()

    @property
    def cross(self) -> np.ndarray | sparse.csr_matrix:
        """C: rows (or weight) per (main level, stacked other level); dense when small."""
        if self._cross is None:
            self._cross = sparse.hstack([_crosstab(self.main, fe, self.weights) for fe in self.rest], format="csr")
        return self._cross

    @property
    def cross_t(self) -> np.ndarray | sparse.spmatrix:
        """C' (a view, CSC when C is sparse; a CSR copy for the conjugate-gradient solver)."""
        return self.cross.T if self._cross_t is None else self._cross_t

    @property
    def run_bounds(self) -> np.ndarray:
        """Row chunks at changes of the main effect's level (empty unless its levels are runs of
        rows; see :func:`gvcpanel.kernels.run_bounds`)."""
        return self._bounds

    @classmethod
    def reuse_or_prepare(
        cls,
        effects: Sequence[FixedEffect],
        tol: float = DEFAULT_TOL,
        maxiter: int = DEFAULT_MAXITER,
        weights: np.ndarray | None = None,
    ) -> "Absorber":
        """An absorber for ``effects``: one still alive from an earlier fit on the same rows (the
        same codes of every effect, the same weights and settings), else a new one.

        Models fitted one after the other on one sample (the outcomes of a hypothesis family,
        specification curves, refits under other regressors) then share the structural analysis
        and the factorized Schur complement.  Earlier absorbers are held weakly: one is found
        while a result that uses it is alive, and no memory is kept for the cache.  A match is
        checked element by element, so a reused absorber is exactly the one this call would build.
        """
        for ref in list(_RECENT):
            old = ref()
            if old is None:
                _RECENT.remove(ref)
            elif old._same_problem(effects, tol, maxiter, weights):
                return old
        new = cls(effects, tol=tol, maxiter=maxiter, weights=weights)
        _RECENT.append(weakref.ref(new))
        del _RECENT[:-_RECENT_MAX]
        return new

    def _same_problem(self, effects: Sequence[FixedEffect], tol: float, maxiter: int,
                      weights: np.ndarray | None) -> bool:
        if (len(effects) != len(self.effects) or self.tol != float(tol) or self.maxiter != int(maxiter)
                or self.direct_max != DIRECT_MAX or (weights is None) != (self.weights is None)):
            return False
        for new, old in zip(effects, self.effects):
            if new.name != old.name or new.n_levels != old.n_levels or new.codes.size != old.codes.size:
                return False
        if weights is not None and not np.array_equal(weights, self.weights):
            return False
        return all(new.codes is old.codes or np.array_equal(new.codes, old.codes)
                   for new, old in zip(effects, self.effects))

    def reweighted(self, weights: np.ndarray | None) -> "Absorber":
        """The same effects with other row weights, reusing the codes and the structural analysis.

        The last reweighted absorber is kept, so that a loop that alternates outcomes under one
        set of weights prepares it once.
        """
        if weights is None and self.weights is None:
            return self
        if weights is not None and self.weights is not None and (
            weights is self.weights or np.array_equal(weights, self.weights)
        ):
            return self
        if self._reweighted is not None:
            last_weights, last = self._reweighted
            if weights is last_weights or (weights is not None and np.array_equal(weights, last_weights)):
                return last
        other = Absorber(self.effects, self.tol, self.maxiter, self.direct_max, weights, _structure=self)
        self._reweighted = (weights, other)
        return other

    # --- degrees of freedom ----------------------------------------------------------------
    def dof(self) -> tuple[int, bool]:
        """Absorbed parameters (rank of the dummies) and whether the count is exact."""
        if self._k_exact is not None:
            return self._k_exact, True
        return rank_of([self.main, *self.rest])

    # --- pieces of the Schur system ---------------------------------------------------------
    def _apply_schur(self, b: np.ndarray) -> np.ndarray:
        return self.rr @ b - self.cross_t @ ((self.cross @ b) / self._main_div[:, None])

    def _solve(self, rhs: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, int, float]:
        """Solve S b = rhs column-wise; return b, iterations, reached criterion."""
        target = self.tol * scale
        if self.method == "direct":
            b = self._pinv @ rhs
            crit = self._criterion(rhs - self._schur @ b, scale)
            steps = 0
            while crit > self.tol and steps < 3:  # iterative refinement for ill-conditioned S
                b += self._pinv @ (rhs - self._schur @ b)
                crit = self._criterion(rhs - self._schur @ b, scale)
                steps += 1
            if crit > self.tol:
                raise self._failure(steps, crit, "direct-solve refinement")
            return b, steps, crit
        b = np.zeros_like(rhs)
        res = rhs.copy()
        z = res / self._diag[:, None]
        p = z.copy()
        rz = np.einsum("ij,ij->j", res, z)
        crit = self._criterion(res, scale)
        it = 0
        while crit > self.tol and it < self.maxiter:
            sp = self._apply_schur(p)
            denom = np.einsum("ij,ij->j", p, sp)
            active = np.abs(res / self._rest_div[:, None]).max(axis=0) > target
            alpha = np.where(active & (denom > 0), rz / np.where(denom > 0, denom, 1.0), 0.0)
            b += p * alpha
            res -= sp * alpha
            z = res / self._diag[:, None]
            rz_new = np.einsum("ij,ij->j", res, z)
            beta = np.where(rz > 0, rz_new / np.where(rz > 0, rz, 1.0), 0.0)
            p = z + p * beta
            rz = rz_new
            it += 1
            if it % 25 == 0:  # recompute the true residual so that rounding cannot fake convergence
                res = rhs - self._apply_schur(b)
                rz = np.einsum("ij,ij->j", res, res / self._diag[:, None])
            crit = self._criterion(res, scale)
        if crit > self.tol:
            raise self._failure(it, crit, "conjugate-gradient")
        return b, it, crit

    def _failure(self, steps: int, crit: float, what: str) -> ConvergenceError:
        names = ", ".join(fe.name for fe in self.effects)
        return ConvergenceError(
            f"absorbing fixed effects ({names}) did not converge: after {steps} {what} "
            f"iterations the largest level mean is {crit:.3g} of the column scale, above "
            f"tol={self.tol:g}. The design is probably very weakly connected; raise maxiter, "
            "loosen tol, or drop the effect with the fewest movers."
        )

    def _criterion(self, res: np.ndarray, scale: np.ndarray) -> float:
        if res.size == 0:
            return 0.0
        return float((np.abs(res / self._rest_div[:, None]) / scale).max())

    # --- coefficients of the dummies -----------------------------------------------------------
    def solve_dummies(self, sums: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Coefficients ``c`` of the stacked dummies that solve ``D'D c = s`` for given ``s``.

        Parameters
        ----------
        sums : sequence of ndarray
            One array per effect (in the order given to the constructor), ``n_levels x m``: the
            right-hand side by level.  With ``s = D'x`` the result gives the fitted effects
            ``D c``, the projection of ``x`` on the dummies.

        Returns
        -------
        list of ndarray
            Per effect, ``n_levels x m`` coefficients (zeros for a redundant effect, whose
            dummies lie in another effect's span).  ``D c`` is unique when ``s`` lies in the
            column space of ``D'`` (always true for ``s = D'x``); ``c`` itself is one solution.

        Notes
        -----
        The same Schur-complement solve as :meth:`demean`:
        ``S b = s_R - R'D_A (D_A'D_A)^{-1} s_A`` and ``a = (D_A'D_A)^{-1}(s_A - D_A'R b)``.
        """
        by_name = {fe.name: np.asarray(s, dtype=np.float64) for fe, s in zip(self.effects, sums)}
        s_main = by_name[self.main.name]
        if s_main.ndim == 1:
            s_main = s_main[:, None]
        m = s_main.shape[1]
        coef = {fe.name: np.zeros((fe.n_levels, m)) for fe in self.effects}
        if self.rest:
            s_rest = np.vstack([by_name[fe.name].reshape(fe.n_levels, m) for fe in self.rest])
            rhs = s_rest - self.cross_t @ (s_main / self._main_div[:, None])
            scale = np.maximum(np.abs(s_main / self._main_div[:, None]).max(axis=0), 1.0)
            b, _, _ = self._solve(rhs, scale)
            coef[self.main.name] = (s_main - self.cross @ b) / self._main_div[:, None]
            for fe, lo in zip(self.rest, self.offsets):
                coef[fe.name] = b[lo : lo + fe.n_levels]
        else:
            coef[self.main.name] = s_main / self._main_div[:, None]
        return [coef[fe.name] for fe in self.effects]

    # --- the projection ----------------------------------------------------------------------
    def demean(
        self,
        X: np.ndarray,
        weights: np.ndarray | None = None,
        *,
        gram: bool = False,
        check: Callable[[np.ndarray], None] | None = None,
    ) -> AbsorbInfo:
        """Replace the columns of ``X`` (n x p, float64, preferably Fortran-ordered) in place by
        their residuals on the fixed effects.

        ``weights`` (one per row, non-negative) gives the weighted projection; the absorber
        prepared for them is kept for the next call (see :meth:`reweighted`).  Without
        ``weights`` the absorber's own weights (None: unweighted) are used.  ``gram=True`` also
        returns the (weighted) cross-products of the result, ``info.gram`` (p x p), computed in
        the same pass as the subtraction.  ``check`` is called with the columns' (weighted) sums
        of squares after the first pass, while ``X`` is still unchanged (to refuse overflowing
        columns without a pass of its own).
        """
        if weights is not None:
            return self.reweighted(weights).demean(X, gram=gram, check=check)
        if X.ndim != 2 or X.shape[0] != self.n:
            raise SpecificationError(f"expected an array of {self.n} rows, found shape {X.shape}.")
        if X.dtype != np.float64 or not X.flags.writeable:
            raise SpecificationError("demean works in place on a writeable float64 array.")
        w = kernels.as_weights(self.weights)
        rhs = None
        if self._bounds.size:  # the Schur right-hand side comes with the sums
            sum_main, rhs, col_sum, col_ss = kernels.effect_sums_by_runs(
                X, self._main_codes, self._main_div, self._rest_codes, self.offsets, w, self._bounds)
        else:
            sum_main, sum_rest, col_sum, col_ss = kernels.effect_sums(
                X, self._main_codes, self.main.n_levels, self._rest_codes, self.offsets, w)
        if check is not None:
            check(col_ss)
        total = float(self.n if self.weights is None else self.main_counts.sum())
        scale = _scales(col_sum, col_ss, total)
        iterations, crit = 0, 0.0
        if self._bounds.size:
            b, iterations, crit = self._solve(rhs, scale) if self.rest else (np.zeros((0, X.shape[1])), 0, 0.0)
            # a = (D_A'D_A)^{-1}(D_A'x - D_A'R b), level by level inside the subtraction
            cross_products = kernels.subtract_effects_by_runs(
                X, self._main_codes, sum_main, self._main_div, self._rest_codes, self.offsets,
                np.ascontiguousarray(b), gram, w, self._bounds)
            return self._info(iterations, crit, col_sum, col_ss, cross_products if gram else None)
        if self.rest and self._dense_cross:
            if rhs is None:
                rhs = kernels.schur_rhs(sum_rest, self.cross, sum_main, self._main_div)
            b, iterations, crit = self._solve(rhs, scale)
            # a = (D_A'D_A)^{-1}(D_A'x - D_A'R b)
            main_coef = kernels.main_coefficients(sum_main, self.cross, b, self._main_div)
        elif self.rest:
            if rhs is None:
                rhs = sum_rest - self.cross_t @ (sum_main / self._main_div[:, None])
            b, iterations, crit = self._solve(rhs, scale)
            main_coef = (sum_main - self.cross @ b) / self._main_div[:, None]
        else:
            b = np.zeros((0, X.shape[1]))
            main_coef = sum_main / self._main_div[:, None]
        cross_products = kernels.subtract_effects(X, self._main_codes, np.ascontiguousarray(main_coef),
                                                  self._rest_codes, self.offsets, np.ascontiguousarray(b), gram, w)
        return self._info(iterations, crit, col_sum, col_ss, cross_products if gram else None)

    def _info(self, iterations: int, crit: float, col_sum: np.ndarray, col_ss: np.ndarray,
              gram: np.ndarray | None) -> AbsorbInfo:
        k, exact = self.dof()
        return AbsorbInfo(
            method=self.method,
            effects=tuple(fe.name for fe in self.effects),
            n_levels=tuple(fe.n_levels for fe in self.effects),
            redundant_effects=self.redundant,
            k_absorbed=k,
            dof_exact=exact,
            iterations=iterations,
            max_level_mean=crit,
            column_sums=col_sum,
            column_ss=col_ss,
            gram=gram,
        )


def _check_weights(weights: np.ndarray | None, n: int) -> np.ndarray | None:
    if weights is None:
        return None
    w = np.ascontiguousarray(weights, dtype=np.float64)
    if w.shape != (n,):
        raise SpecificationError(f"weights must be one number per row ({n} rows); found shape {w.shape}.")
    if not np.isfinite(w).all() or (w < 0).any():
        raise SpecificationError("weights must be finite and non-negative; check the weight column.")
    return w


def _coarse(bounds: np.ndarray, parts: int) -> np.ndarray:
    """About ``parts`` chunks from the boundaries of :func:`gvcpanel.kernels.run_bounds` (every
    boundary is still at a change of level; the choice depends on the data alone)."""
    picks = np.unique(np.linspace(0, bounds.size - 1, parts + 1).round().astype(np.int64))
    return np.ascontiguousarray(bounds[picks])


def _scaled_gram(cross: np.ndarray, div: np.ndarray, rows: int = 1 << 14) -> np.ndarray:
    r""":math:`C' \mathrm{diag}(1/d) C` of a dense G x L table, by blocks of rows through BLAS
    (one block-sized temporary instead of a scaled copy of C)."""
    out = np.zeros((cross.shape[1], cross.shape[1]))
    for lo in range(0, cross.shape[0], rows):
        scaled = cross[lo : lo + rows] / np.sqrt(div[lo : lo + rows])[:, None]
        out += scaled.T @ scaled
    return out


def _block_pinv(schur: np.ndarray) -> tuple[np.ndarray, int]:
    """Pseudo-inverse and rank of a symmetric PSD matrix, block by block.

    ``S`` is block-diagonal over the connected components of the levels (a cluster's cells never
    meet another cluster's), so each block is decomposed on its own: cheaper, and every block
    has its own scale for deciding which eigenvalues are zero.
    """
    n_comp, labels = connected_components(sparse.csr_matrix(np.abs(schur) > 0), directed=False)
    pinv = np.zeros_like(schur)
    rank = 0
    for comp in range(n_comp):
        idx = np.flatnonzero(labels == comp)
        block = schur[np.ix_(idx, idx)]
        values, vectors = np.linalg.eigh(block)
        # exact zeros come out near eps * ||S|| * size; true eigenvalues are far above this
        nonzero = values > max(float(values.max()), 1.0) * idx.size * 1e-13
        pinv[np.ix_(idx, idx)] = (vectors[:, nonzero] / values[nonzero]) @ vectors[:, nonzero].T
        rank += int(nonzero.sum())
    return pinv, rank


def _scales(col_sum: np.ndarray, col_ss: np.ndarray, total: float) -> np.ndarray:
    """(Weighted) standard deviation of each column from its first two moments (1 when constant)."""
    total = max(total, 1e-300)
    mean = col_sum / total
    var = col_ss / total - mean * mean
    with np.errstate(invalid="ignore"):
        sd = np.where(var > 1e-24 * np.maximum(mean * mean, 1e-300), np.sqrt(np.maximum(var, 0.0)), 0.0)
    return np.where(sd > 0, sd, 1.0)


def demean(
    X: np.ndarray,
    effects: Sequence[FixedEffect],
    tol: float = DEFAULT_TOL,
    maxiter: int = DEFAULT_MAXITER,
    direct_max: int = DIRECT_MAX,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, AbsorbInfo]:
    """Residuals of the columns of ``X`` on the fixed effects (a new array; ``X`` is unchanged).

    Parameters
    ----------
    X : array_like, n x p or n
        Columns to demean.
    effects : sequence of FixedEffect
        One or more effects over the same n rows.
    tol, maxiter, direct_max, weights
        See :class:`Absorber`.

    Returns
    -------
    ndarray, AbsorbInfo
        The demeaned columns (same shape as ``X``) and what was done.

    Notes
    -----
    The result is ``M_D X = X - D (D'D)^+ D'X`` for the stacked dummies ``D`` (with weights
    ``W``: ``X - D (D'WD)^+ D'WX``), computed without forming ``D`` (see the module docstring).
    """
    arr = np.asarray(X, dtype=np.float64)
    flat = arr.ndim == 1
    out = np.array(arr.reshape(-1, 1) if flat else arr, dtype=np.float64, order="F", copy=True)
    info = Absorber(effects, tol=tol, maxiter=maxiter, direct_max=direct_max, weights=weights).demean(out)
    return (out.ravel() if flat else out), info
